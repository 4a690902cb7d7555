import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  ErrorCode,
  type ErrorCodeName,
  FluxoError,
  KafkaProtocolError,
  errorInfo,
  isFluxoError,
  kafkaErrors,
} from '../src/errors.js'

describe('ErrorCode', () => {
  it('has Kafka’s codes', () => {
    const known: [ErrorCodeName, number][] = [
      ['UNKNOWN_SERVER_ERROR', -1],
      ['NONE', 0],
      ['OFFSET_OUT_OF_RANGE', 1],
      ['CORRUPT_MESSAGE', 2],
      ['UNKNOWN_TOPIC_OR_PARTITION', 3],
      ['NOT_LEADER_OR_FOLLOWER', 6],
      ['MESSAGE_TOO_LARGE', 10],
      ['INVALID_TOPIC_EXCEPTION', 17],
      ['INVALID_GROUP_ID', 24],
      ['UNSUPPORTED_VERSION', 35],
      ['TOPIC_ALREADY_EXISTS', 36],
      ['INVALID_REPLICATION_FACTOR', 38],
      ['INVALID_CONFIG', 40],
      ['UNSUPPORTED_FOR_MESSAGE_FORMAT', 43],
      ['KAFKA_STORAGE_ERROR', 56],
      ['INVALID_RECORD', 87],
      ['UNKNOWN_TOPIC_ID', 100],
      ['VOTER_NOT_FOUND', 127],
    ]
    for (const [name, code] of known) assert.equal(ErrorCode[name], code, name)
  })

  it('covers every code from -1 to the highest without gaps', () => {
    const codes = Object.values(ErrorCode).sort((a, b) => a - b)
    assert.equal(codes[0], -1)
    codes.forEach((code, i) => assert.equal(code, i - 1))
  })

  it('has unique codes and names', () => {
    const names = Object.keys(ErrorCode)
    assert.equal(new Set(Object.values(ErrorCode)).size, names.length)
    assert.equal(kafkaErrors.size, names.length)
    for (const info of kafkaErrors.values()) assert.equal(ErrorCode[info.name], info.code)
  })
})

describe('kafkaErrors', () => {
  it('marks retriable codes as Kafka does', () => {
    const retriable: ErrorCodeName[] = [
      'CORRUPT_MESSAGE',
      'UNKNOWN_TOPIC_OR_PARTITION',
      'LEADER_NOT_AVAILABLE',
      'NOT_LEADER_OR_FOLLOWER',
      'REQUEST_TIMED_OUT',
      'NETWORK_EXCEPTION',
      'COORDINATOR_LOAD_IN_PROGRESS',
      'COORDINATOR_NOT_AVAILABLE',
      'NOT_COORDINATOR',
      'NOT_ENOUGH_REPLICAS',
      'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
      'KAFKA_STORAGE_ERROR',
      'CONCURRENT_TRANSACTIONS',
      'UNKNOWN_TOPIC_ID',
    ]
    const notRetriable: ErrorCodeName[] = [
      'UNKNOWN_SERVER_ERROR',
      'NONE',
      'OFFSET_OUT_OF_RANGE',
      'MESSAGE_TOO_LARGE',
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_GROUP_ID',
      'UNSUPPORTED_VERSION',
      'TOPIC_ALREADY_EXISTS',
      'INVALID_REPLICATION_FACTOR',
      'INVALID_CONFIG',
      'UNSUPPORTED_FOR_MESSAGE_FORMAT',
      'INVALID_RECORD',
      'PRODUCER_FENCED',
    ]
    for (const name of retriable) assert.equal(errorInfo(ErrorCode[name]).retriable, true, name)
    for (const name of notRetriable) assert.equal(errorInfo(ErrorCode[name]).retriable, false, name)
  })

  it('describes every error but NONE', () => {
    assert.equal(errorInfo(0).message, '')
    for (const info of kafkaErrors.values())
      if (info.code !== 0) assert.ok(info.message.length > 0, info.name)
    assert.match(errorInfo(ErrorCode.MESSAGE_TOO_LARGE).message, /larger than the max message size/)
  })

  it('reports an unknown code as a non-retriable UNKNOWN_SERVER_ERROR keeping the code', () => {
    for (const code of [-2, 9999, 32767]) {
      const info = errorInfo(code)
      assert.deepEqual(
        { code: info.code, name: info.name, retriable: info.retriable },
        {
          code,
          name: 'UNKNOWN_SERVER_ERROR',
          retriable: false,
        },
      )
      assert.match(info.message, new RegExp(String(code)))
    }
  })
})

describe('FluxoError', () => {
  it('carries a code and a cause', () => {
    const cause = new Error('disk')
    const err = new FluxoError('ERR_FLUXO_TEST', 'failed', { cause })
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'ERR_FLUXO_TEST')
    assert.equal(err.message, 'failed')
    assert.equal(err.cause, cause)
    assert.equal(err.name, 'FluxoError')
    assert.ok(isFluxoError(err))
    assert.ok(!isFluxoError(new Error('x')))
    assert.ok(!isFluxoError(null))
  })

  it('KafkaProtocolError exposes the Kafka code, name and retriable flag', () => {
    const err = new KafkaProtocolError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    assert.ok(err instanceof FluxoError)
    assert.equal(err.name, 'KafkaProtocolError')
    assert.equal(err.code, 'ERR_FLUXO_KAFKA_PROTOCOL')
    assert.equal(err.errorCode, 6)
    assert.equal(err.errorName, 'NOT_LEADER_OR_FOLLOWER')
    assert.equal(err.retriable, true)
    assert.match(err.message, /^NOT_LEADER_OR_FOLLOWER \(6\): For requests intended only for the leader/)

    const withMessage = new KafkaProtocolError(ErrorCode.INVALID_CONFIG, 'Unknown topic config name: foo')
    assert.equal(withMessage.retriable, false)
    assert.equal(withMessage.message, 'INVALID_CONFIG (40): Unknown topic config name: foo')

    const unknown = new KafkaProtocolError(1234)
    assert.equal(unknown.errorCode, 1234)
    assert.equal(unknown.errorName, 'UNKNOWN_SERVER_ERROR')
  })
})
