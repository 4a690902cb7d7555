import assert from 'node:assert/strict'
import { appendFile, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { ErrorCode, encodeRecordBatchSync } from '@fluxo/protocol'
import { CompressionTypes, Kafka, logLevel } from 'kafkajs'
import { startFluxo } from '../../cli/test/fluxo-process.js'
import { type Broker, startBroker } from '../src/index.js'
import { createTopic, produce, readPartition, text } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

const SEGMENT = '00000000000000000000.log'

async function reopen(t: TestContext, dataDir: string): Promise<Broker> {
  const broker = await startBroker({
    port: 0,
    storage: 'file',
    dataDir,
    config: { 'auto.create.topics.enable': 'false' },
  })
  t.after(() => broker.close())
  return broker
}

/** Acknowledged batches of one partition: base offset → values. */
type Acked = Map<number, string[]>

async function assertAckedPresent(client: RawClient, topic: string, partition: number, acked: Acked) {
  const { records, highWatermark } = await readPartition(client, topic, partition)
  assert.deepEqual(
    records.map((r) => r.offset),
    Array.from({ length: highWatermark }, (_, i) => i),
    `${topic}-${partition}: offsets 0..${highWatermark - 1} are contiguous`,
  )
  const stored = new Map(records.map((r) => [r.offset, text(r.value)]))
  for (const [baseOffset, values] of acked) {
    values.forEach((value, i) => {
      assert.equal(stored.get(baseOffset + i), value, `acknowledged ${value} at offset ${baseOffset + i}`)
    })
  }
  return highWatermark
}

test('SIGKILL mid-produce loses no acknowledged message (acks=1 and acks=-1)', async (t) => {
  const dataDir = await tempDir(t)
  const fluxo = await startFluxo(t, ['--data-dir', dataDir, '--storage', 'file'])
  const setup = await RawClient.connect(fluxo.bootstrap)
  await createTopic(setup, 'durable', 2)
  setup.close()

  const acksLeader: Acked = new Map()
  const acksAll: Acked = new Map()
  let killed = false

  // Partition 0: raw Produce v9 with acks=1, one 5-record batch per request.
  const leaderLoop = (async () => {
    const client = await RawClient.connect(fluxo.bootstrap)
    for (let n = 0; !killed; n++) {
      const values = Array.from({ length: 5 }, (_, i) => `one-${n}-${i}`)
      const batch = encodeRecordBatchSync({ records: values.map((v) => ({ value: Buffer.from(v) })) })
      try {
        const r = await produce(client, 'durable', batch, { acks: 1 })
        assert.equal(r.errorCode, ErrorCode.NONE)
        acksLeader.set(r.baseOffset, values)
      } catch {
        break
      }
    }
    client.close()
  })()

  // Partition 1: KafkaJS with acks=-1 and gzip.
  const kafka = new Kafka({
    brokers: [fluxo.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  })
  const producer = kafka.producer()
  await producer.connect()
  const allLoop = (async () => {
    for (let n = 0; !killed; n++) {
      const values = Array.from({ length: 10 }, (_, i) => `all-${n}-${i}`)
      try {
        const [result] = await producer.send({
          topic: 'durable',
          acks: -1,
          compression: CompressionTypes.GZIP,
          messages: values.map((value) => ({ partition: 1, value })),
        })
        assert.equal(result.errorCode, 0)
        acksAll.set(Number(result.baseOffset), values)
      } catch {
        break
      }
    }
  })()

  while (acksLeader.size < 100 || acksAll.size < 50) await new Promise((resolve) => setTimeout(resolve, 10))
  killed = true
  fluxo.child.kill('SIGKILL')
  assert.deepEqual(await fluxo.exited, { code: null, signal: 'SIGKILL' })
  await Promise.all([leaderLoop, allLoop])
  await producer.disconnect().catch(() => {})

  // The dead process's lock is stale: a new broker takes the directory over.
  const broker = await reopen(t, dataDir)
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  const end0 = await assertAckedPresent(client, 'durable', 0, acksLeader)
  const end1 = await assertAckedPresent(client, 'durable', 1, acksAll)
  assert.ok(
    end0 >= acksLeader.size * 5,
    `partition 0 holds ${end0} records, ${acksLeader.size * 5} acknowledged`,
  )
  assert.ok(end1 >= acksAll.size * 10, `partition 1 holds ${end1} records, ${acksAll.size * 10} acknowledged`)

  const next = await produce(
    client,
    'durable',
    encodeRecordBatchSync({ records: [{ value: Buffer.from('after') }] }),
  )
  assert.equal(next.errorCode, ErrorCode.NONE)
  assert.equal(next.baseOffset, end0, 'producing continues at the recovered log end offset')
})

test('a torn or garbage tail of the active segment is cut on restart; complete batches stay, producing continues', async (t) => {
  const dataDir = await tempDir(t)
  const segment = join(dataDir, 'torn-0', SEGMENT)
  const expected: string[] = []

  async function produceSome(client: RawClient, count: number) {
    for (let i = 0; i < count; i++) {
      const values = [0, 1, 2].map((j) => `b${expected.length / 3}-${j}`)
      const r = await produce(
        client,
        'torn',
        encodeRecordBatchSync({ records: values.map((v) => ({ value: Buffer.from(v) })) }),
      )
      assert.equal(r.errorCode, ErrorCode.NONE)
      assert.equal(r.baseOffset, expected.length)
      expected.push(...values)
    }
  }

  async function check(broker: Broker) {
    const client = await RawClient.connect(broker.bootstrap)
    try {
      const { records, highWatermark } = await readPartition(client, 'torn', 0)
      assert.equal(highWatermark, expected.length, 'log end offset after recovery')
      assert.deepEqual(
        records.map((r) => [r.offset, text(r.value)]),
        expected.map((v, i) => [i, v]),
      )
      await produceSome(client, 2)
    } finally {
      client.close()
    }
  }

  let broker = await reopen(t, dataDir)
  let client = await RawClient.connect(broker.bootstrap)
  await createTopic(client, 'torn')
  await produceSome(client, 10)
  client.close()
  await broker.close()
  const wholeLog = await readFile(segment)

  // A valid batch carrying the next offset, as the broker would have written it.
  const next = () =>
    encodeRecordBatchSync({ baseOffset: expected.length, records: [{ value: Buffer.from('never-acked') }] })
  const tails: [string, () => Buffer][] = [
    // What a crash during write() leaves.
    ['half of a batch', () => next().subarray(0, Math.floor(next().length / 2))],
    ['a batch header prefix shorter than the length field', () => Buffer.from([0, 0, 0])],
    ['random bytes', () => Buffer.from('c0ffee00deadbeef0badf00d'.repeat(40), 'hex')],
    ['a whole batch with a bad CRC', () => corruptCrc(next())],
    ['zeroes (preallocated space)', () => Buffer.alloc(4096)],
  ]
  for (const [name, tail] of tails) {
    const size = (await stat(segment)).size
    await appendFile(segment, tail())
    broker = await reopen(t, dataDir)
    await t.test(name, () => check(broker))
    await broker.close()
    // The cut is persisted (the file ends at a batch boundary again) and the new batches follow it.
    assert.ok((await stat(segment)).size > size, 'the two batches produced after recovery were appended')
  }
  assert.deepEqual(
    wholeLog,
    (await readFile(segment)).subarray(0, wholeLog.length),
    'complete batches kept byte for byte',
  )

  broker = await reopen(t, dataDir)
  client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  const { highWatermark } = await readPartition(client, 'torn', 0)
  assert.equal(highWatermark, expected.length)
})

function corruptCrc(batch: Buffer): Buffer {
  const copy = Buffer.from(batch)
  copy[copy.length - 1] ^= 0xff
  return copy
}
