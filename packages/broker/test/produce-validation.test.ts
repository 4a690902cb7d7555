// Record-level produce checks driven by topic configs (Kafka's LogValidator): keys on compacted
// topics, CreateTime timestamp bounds (KIP-937), compression.type recompression, LogAppendTime,
// and max.message.bytes after an alter.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import {
  ApiKey,
  BatchAttributes,
  Compression,
  type CompressionType,
  ErrorCode,
  TimestampType,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import { Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../src/index.js'
import { createTopic, fetchPartition, produce, text } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { requireTool } from './support.js'

async function setup(t: import('node:test').TestContext) {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  return { broker, client }
}

function kcat(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

const codecOf = (attributes: number) => attributes & BatchAttributes.compressionMask

test('compacted topic: a batch with keyless records is INVALID_RECORD, with each keyless record in recordErrors', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'compacted', 1, { 'cleanup.policy': 'compact' })

  const mixed = encodeRecordBatchSync({
    records: [
      { key: Buffer.from('k0'), value: Buffer.from('v0') },
      { key: null, value: Buffer.from('v1') },
      { key: Buffer.from('k2'), value: Buffer.from('v2') },
      { key: null, value: Buffer.from('v3') },
    ],
  })
  const rejected = await produce(client, 'compacted', mixed, { version: 9 })
  assert.equal(rejected.errorCode, ErrorCode.INVALID_RECORD)
  assert.deepEqual(
    rejected.recordErrors.map((e) => e.batchIndex),
    [1, 3],
  )
  assert.match(
    rejected.recordErrors[0].batchIndexErrorMessage ?? '',
    /Compacted topic cannot accept message without key in topic partition compacted-0/,
  )
  assert.match(rejected.errorMessage ?? '', /rejected due to 2 record errors/)
  assert.equal(rejected.baseOffset, -1)

  // Nothing of the rejected batch was appended; a keyed batch (tombstones too) is accepted.
  const keyed = encodeRecordBatchSync({
    records: [
      { key: Buffer.from('k0'), value: Buffer.from('v0') },
      { key: Buffer.from('k1'), value: null },
    ],
  })
  const accepted = await produce(client, 'compacted', keyed, { version: 9 })
  assert.equal(accepted.errorCode, ErrorCode.NONE)
  assert.equal(accepted.baseOffset, 0)

  // compact,delete counts as compacted too; a delete-only topic takes keyless records.
  await createTopic(client, 'both', 1, { 'cleanup.policy': 'compact,delete' })
  const keyless = encodeRecordBatchSync({ records: [{ value: Buffer.from('no key') }] })
  assert.equal((await produce(client, 'both', keyless, { version: 9 })).errorCode, ErrorCode.INVALID_RECORD)
  await createTopic(client, 'plain')
  assert.equal((await produce(client, 'plain', keyless, { version: 9 })).errorCode, ErrorCode.NONE)
})

test('KafkaJS: sending a keyless message to a compacted topic fails with INVALID_RECORD', async (t) => {
  const { broker } = await setup(t)
  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'compact', logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  await admin.createTopics({
    topics: [{ topic: 'users', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
  })
  const producer = kafka.producer({ retry: { retries: 0 } })
  await producer.connect()
  t.after(() => producer.disconnect())

  await producer.send({ topic: 'users', messages: [{ key: 'alice', value: 'v1' }] })
  await assert.rejects(
    producer.send({ topic: 'users', messages: [{ value: 'anonymous' }] }),
    (err: Error & { type?: string }) => {
      assert.equal(err.type, 'INVALID_RECORD')
      return true
    },
  )
  const offsets = await admin.fetchTopicOffsets('users')
  assert.equal(offsets[0].high, '1')
})

test('compression.type: batches are recompressed into the topic codec with keys, headers, timestamps and producer fields kept', async (t) => {
  const { client } = await setup(t)
  const cases: [string, CompressionType, CompressionType][] = [
    ['gzip', Compression.lz4, Compression.gzip],
    ['uncompressed', Compression.zstd, Compression.none],
    ['snappy', Compression.none, Compression.snappy],
    ['producer', Compression.lz4, Compression.lz4],
  ]
  const t0 = Date.now() - 10_000
  for (const [config, produced, stored] of cases) {
    const topic = `codec-${config}`
    await createTopic(client, topic, 1, { 'compression.type': config })
    const batch = encodeRecordBatchSync({
      compression: produced,
      producerId: 7,
      producerEpoch: 0,
      baseSequence: 0,
      records: Array.from({ length: 20 }, (_, i) => ({
        key: i % 4 === 0 ? null : Buffer.from(`key-${i}`),
        value: Buffer.from(`value ${i} ${'z'.repeat(i * 10)}`),
        headers: [{ key: 'n', value: Buffer.from(String(i)) }],
        timestamp: t0 + i * 3,
      })),
    })
    const response = await produce(client, topic, batch)
    assert.equal(response.errorCode, ErrorCode.NONE, `${config}: ${response.errorMessage}`)

    const fetched = await fetchPartition(client, topic)
    assert.equal(fetched.batches.length, 1)
    const [b] = fetched.batches
    assert.equal(codecOf(b.attributes), stored, `${topic} stores codec ${stored}`)
    assert.equal(b.producerId, 7)
    assert.equal(b.producerEpoch, 0)
    assert.equal(b.baseSequence, 0)
    assert.equal(b.maxTimestamp, t0 + 57)
    assert.deepEqual(
      fetched.records.map((r) => [
        r.offset,
        text(r.key),
        text(r.value),
        r.timestamp,
        text(r.headers[0].value),
      ]),
      Array.from({ length: 20 }, (_, i) => [
        i,
        i % 4 === 0 ? null : `key-${i}`,
        `value ${i} ${'z'.repeat(i * 10)}`,
        t0 + i * 3,
        String(i),
      ]),
    )
  }
})

test('max.message.bytes applies to the batch as stored: decompressing into an uncompressed topic can exceed it', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'small', 1, { 'compression.type': 'uncompressed', 'max.message.bytes': '4096' })
  const batch = encodeRecordBatchSync({
    compression: Compression.gzip,
    records: [{ value: Buffer.alloc(20_000, 'a') }],
  })
  assert.ok(batch.length < 4096)
  const response = await produce(client, 'small', batch)
  assert.equal(response.errorCode, ErrorCode.MESSAGE_TOO_LARGE)
  assert.match(response.errorMessage ?? '', /exceeds the maximum configured size of 4096/)
})

test('max.message.bytes is read from the topic config after IncrementalAlterConfigs changes it', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'altered', 1, { 'max.message.bytes': '100000' })
  const batch = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(5000, 'b') }] })
  assert.equal((await produce(client, 'altered', batch)).errorCode, ErrorCode.NONE)

  const altered = await client.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [
      {
        resourceType: 2,
        resourceName: 'altered',
        configs: [{ name: 'max.message.bytes', configOperation: 0, value: '1000' }],
      },
    ],
    validateOnly: false,
  })
  assert.equal(altered.responses[0].errorCode, ErrorCode.NONE, altered.responses[0].errorMessage ?? '')
  const again = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(5000, 'b') }] })
  assert.equal((await produce(client, 'altered', again)).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
})

test('CreateTime timestamps outside [now - before.max.ms, now + after.max.ms] are INVALID_TIMESTAMP (KIP-937)', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'bounded', 1, {
    'message.timestamp.before.max.ms': '3600000',
    'message.timestamp.after.max.ms': '60000',
  })
  const now = Date.now()
  const batch = (timestamps: number[], compression: CompressionType = Compression.none) =>
    encodeRecordBatchSync({
      compression,
      records: timestamps.map((timestamp, i) => ({ value: Buffer.from(`r${i}`), timestamp })),
    })

  const old = await produce(client, 'bounded', batch([now, now - 2 * 3600_000, now - 1000]))
  assert.equal(old.errorCode, ErrorCode.INVALID_TIMESTAMP)
  assert.equal(old.errorMessage, 'One or more records have been rejected due to invalid timestamp')
  assert.deepEqual(
    old.recordErrors.map((e) => e.batchIndex),
    [1],
  )
  assert.match(
    old.recordErrors[0].batchIndexErrorMessage ?? '',
    /^Timestamp \d+ of message with offset 1 is out of range\. The timestamp should be within \[\d+, \d+\]$/,
  )

  // The upper bound, found from the header's maxTimestamp, then per record (compressed here).
  const future = await produce(client, 'bounded', batch([now, now + 5 * 60_000], Compression.gzip))
  assert.equal(future.errorCode, ErrorCode.INVALID_TIMESTAMP)
  assert.deepEqual(
    future.recordErrors.map((e) => e.batchIndex),
    [1],
  )

  const fine = await produce(client, 'bounded', batch([now - 3000_000, now, now + 30_000]))
  assert.equal(fine.errorCode, ErrorCode.NONE)
  assert.equal(fine.baseOffset, 0)
  assert.equal((await fetchPartition(client, 'bounded')).records.length, 3)

  // Kafka 4.0's defaults: no lower bound, one hour ahead at most.
  await createTopic(client, 'defaults')
  assert.equal((await produce(client, 'defaults', batch([Date.UTC(2001, 0, 1)]))).errorCode, ErrorCode.NONE)
  assert.equal(
    (await produce(client, 'defaults', batch([Date.now() + 2 * 3600_000]))).errorCode,
    ErrorCode.INVALID_TIMESTAMP,
  )
})

test('LogAppendTime topics ignore producer timestamps and stamp the append time; producers may not send LogAppendTime batches', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'appended', 1, {
    'message.timestamp.type': 'LogAppendTime',
    'message.timestamp.after.max.ms': '0',
  })
  const before = Date.now()
  const response = await produce(
    client,
    'appended',
    encodeRecordBatchSync({
      records: [
        { value: Buffer.from('a'), timestamp: Date.UTC(1990, 0, 1) },
        { value: Buffer.from('b'), timestamp: Date.now() + 86_400_000 },
      ],
    }),
  )
  assert.equal(response.errorCode, ErrorCode.NONE)
  assert.ok(response.logAppendTimeMs >= before && response.logAppendTimeMs <= Date.now())
  const fetched = await fetchPartition(client, 'appended')
  assert.ok((fetched.batches[0].attributes & BatchAttributes.timestampTypeLogAppend) !== 0)
  assert.deepEqual(
    fetched.records.map((r) => r.timestamp),
    [response.logAppendTimeMs, response.logAppendTimeMs],
  )

  const claimed = await produce(
    client,
    'appended',
    encodeRecordBatchSync({
      timestampType: TimestampType.logAppendTime,
      records: [{ value: Buffer.from('c') }],
    }),
  )
  assert.equal(claimed.errorCode, ErrorCode.INVALID_TIMESTAMP)
  assert.match(
    claimed.recordErrors[0].batchIndexErrorMessage ?? '',
    /should not set timestamp type to LogAppendTime/,
  )
})

test('kcat lz4 into a gzip topic: stored as gzip, read back by kcat and KafkaJS', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const { broker, client } = await setup(t)
  await createTopic(client, 'gz', 1, { 'compression.type': 'gzip' })
  const lines = Array.from({ length: 300 }, (_, i) => `k${i % 10}:message ${i} ${'y'.repeat(i % 50)}`)
  const produced = await kcat(
    ['-b', broker.bootstrap, '-P', '-t', 'gz', '-p', '0', '-z', 'lz4', '-K', ':'],
    `${lines.join('\n')}\n`,
  )
  assert.equal(produced.code, 0, produced.stderr)

  const fetched = await fetchPartition(client, 'gz')
  assert.ok(fetched.batches.length > 0)
  for (const b of fetched.batches) assert.equal(codecOf(b.attributes), Compression.gzip)

  const consumed = await kcat(['-b', broker.bootstrap, '-C', '-t', 'gz', '-p', '0', '-e', '-K', ':', '-q'])
  assert.equal(consumed.code, 0, consumed.stderr)
  assert.deepEqual(consumed.stdout.trim().split('\n'), lines)

  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'gz-reader', logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: 'gz-readers' })
  await consumer.connect()
  t.after(() => consumer.disconnect())
  await consumer.subscribe({ topic: 'gz', fromBeginning: true })
  const seen: string[] = []
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push(`${message.key?.toString()}:${message.value?.toString()}`)
          if (seen.length === lines.length) resolve()
        },
      })
      .catch(reject)
  })
  assert.deepEqual(seen, lines)
})
