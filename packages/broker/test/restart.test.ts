import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { ApiKey, ErrorCode, encodeRecordBatchSync } from '@fluxo/protocol'
import { CompressionTypes, Kafka, logLevel } from 'kafkajs'
import { type Broker, startBroker } from '../src/index.js'
import { createTopic, describeTopics, produce, readPartition, text } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

async function start(t: TestContext, dataDir: string): Promise<Broker> {
  const broker = await startBroker({
    port: 0,
    storage: 'file',
    dataDir,
    config: { 'auto.create.topics.enable': 'false' },
  })
  t.after(() => broker.close())
  return broker
}

function kafkaFor(t: TestContext, broker: Broker) {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  const producer = kafka.producer()
  t.after(() => Promise.all([admin.disconnect(), producer.disconnect()]))
  return { admin, producer }
}

interface Sent {
  key: string
  value: string
  header: string | null
}

/** What each partition must hold, in offset order. */
type Expected = Map<string, Sent[][]>

async function sendBatches(
  producer: ReturnType<Kafka['producer']>,
  expected: Expected,
  topic: string,
  batches: number,
  perBatch: number,
  compression: CompressionTypes,
  valueBytes = 20,
) {
  const partitions = expected.get(topic)!
  for (let b = 0; b < batches; b++) {
    const messages = Array.from({ length: perBatch }, (_, i) => {
      const partition = (b * perBatch + i) % partitions.length
      const n = partitions.reduce((sum, p) => sum + p.length, 0)
      const sent = {
        key: `k${i % 5}`,
        value: `${topic}-${b}-${i}-${'v'.repeat(valueBytes)}-${n}`,
        header: `h${n}`,
      }
      partitions[partition].push(sent)
      return { partition, key: sent.key, value: sent.value, headers: { n: sent.header } }
    })
    await producer.send({ topic, messages, compression, acks: -1 })
  }
}

async function assertContents(client: RawClient, expected: Expected) {
  for (const [topic, partitions] of expected) {
    for (let partition = 0; partition < partitions.length; partition++) {
      const { records, highWatermark } = await readPartition(client, topic, partition)
      assert.equal(highWatermark, partitions[partition].length, `${topic}-${partition} high watermark`)
      assert.deepEqual(
        records.map((r) => r.offset),
        partitions[partition].map((_, i) => i),
        `${topic}-${partition} offsets are contiguous from 0`,
      )
      assert.deepEqual(
        records.map((r) => ({
          key: text(r.key),
          value: text(r.value),
          header: text(r.headers.find((h) => h.key === 'n')?.value ?? null),
        })),
        partitions[partition],
        `${topic}-${partition} contents`,
      )
    }
  }
}

test('file storage: topics, ids, configs and every message survive a clean restart; producing continues', async (t) => {
  const dataDir = await tempDir(t)
  const first = await start(t, dataDir)
  const { admin, producer } = kafkaFor(t, first)
  await admin.connect()
  await admin.createTopics({
    topics: [
      {
        topic: 'alpha',
        numPartitions: 3,
        configEntries: [
          { name: 'retention.ms', value: '3600000' },
          { name: 'message.timestamp.type', value: 'LogAppendTime' },
        ],
      },
      { topic: 'beta', numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: '1048576' }] },
      { topic: 'gamma', numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '3000' }] },
    ],
  })
  const expected: Expected = new Map([
    ['alpha', [[], [], []]],
    ['beta', [[]]],
    ['gamma', [[], []]],
  ])
  await producer.connect()
  await sendBatches(producer, expected, 'alpha', 6, 100, CompressionTypes.GZIP)
  // beta: 1.5 MB uncompressed, so it spans two segments of 1 MB.
  await sendBatches(producer, expected, 'beta', 30, 50, CompressionTypes.None, 1000)
  await sendBatches(producer, expected, 'gamma', 4, 10, CompressionTypes.GZIP)

  const client = await RawClient.connect(first.bootstrap)
  const before = await describeTopics(client)
  assert.equal(before.clusterId, first.clusterId)
  client.close()
  await admin.disconnect()
  await producer.disconnect()
  await first.close()
  const segments = (await readdir(join(dataDir, 'beta-0'))).filter((f) => f.endsWith('.log'))
  assert.ok(segments.length >= 2, `beta spans ${segments.length} segment(s)`)

  const second = await start(t, dataDir)
  assert.equal(second.clusterId, first.clusterId)
  const again = kafkaFor(t, second)
  await again.admin.connect()
  assert.deepEqual((await again.admin.listTopics()).sort(), ['alpha', 'beta', 'gamma'])
  const metadata = await again.admin.fetchTopicMetadata({ topics: ['alpha', 'beta', 'gamma'] })
  assert.deepEqual(metadata.topics.map((x) => [x.name, x.partitions.length]).sort(), [
    ['alpha', 3],
    ['beta', 1],
    ['gamma', 2],
  ])
  const reader = await RawClient.connect(second.bootstrap)
  t.after(() => reader.close())
  const after = await describeTopics(reader)
  assert.deepEqual(after, before, 'cluster id and topic ids are unchanged')
  await assertContents(reader, expected)

  // Offsets continue where they stopped, per partition.
  await again.producer.connect()
  const results = await again.producer.send({
    topic: 'alpha',
    acks: -1,
    messages: [0, 1, 2].map((partition) => ({ partition, key: 'late', value: `late-${partition}` })),
  })
  assert.deepEqual(
    results.map((r) => [r.partition, Number(r.baseOffset)]).sort(),
    [0, 1, 2].map((p) => [p, expected.get('alpha')![p].length]),
  )
  for (const partition of [0, 1, 2]) {
    expected.get('alpha')![partition].push({ key: 'late', value: `late-${partition}`, header: null })
  }
  await sendBatches(again.producer, expected, 'beta', 2, 10, CompressionTypes.GZIP)
  await assertContents(reader, expected)

  // Topic configs came back too: alpha stamps LogAppendTime, gamma still rejects large batches.
  const alphaBatch = encodeRecordBatchSync({ records: [{ value: Buffer.from('stamped'), timestamp: 1000 }] })
  const stamped = await produce(reader, 'alpha', alphaBatch)
  assert.equal(stamped.errorCode, ErrorCode.NONE)
  assert.ok(stamped.logAppendTimeMs > 1000, 'message.timestamp.type=LogAppendTime survived the restart')
  const { records } = await readPartition(reader, 'alpha', 0, stamped.baseOffset)
  assert.equal(records[0].timestamp, stamped.logAppendTimeMs)
  const big = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(4000, 1) }] })
  assert.equal((await produce(reader, 'gamma', big)).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
})

test('file storage: a second broker cannot open a data directory in use; it can once the first closed', async (t) => {
  const dataDir = await tempDir(t)
  const first = await start(t, dataDir)
  await assert.rejects(
    startBroker({ port: 0, storage: 'file', dataDir }),
    /in use/,
    'two brokers on one data directory would corrupt it',
  )
  await first.close()
  const second = await start(t, dataDir)
  assert.equal(second.clusterId, first.clusterId)
})

test('file storage: restarting with nothing produced keeps empty partitions at offset 0', async (t) => {
  const dataDir = await tempDir(t)
  const first = await start(t, dataDir)
  const client = await RawClient.connect(first.bootstrap)
  const topicId = await createTopic(client, 'empty', 2)
  client.close()
  await first.close()
  const second = await start(t, dataDir)
  const reader = await RawClient.connect(second.bootstrap)
  t.after(() => reader.close())
  assert.equal((await describeTopics(reader)).topics.get('empty')?.topicId, topicId)
  const batch = encodeRecordBatchSync({ records: [{ value: Buffer.from('first') }] })
  const r = await produce(reader, 'empty', batch, { partition: 1 })
  assert.equal(r.baseOffset, 0)
  const read = await readPartition(reader, 'empty', 1)
  assert.deepEqual(
    read.records.map((x) => [x.offset, text(x.value)]),
    [[0, 'first']],
  )
})

test('file storage: a deleted topic stays deleted; one re-created under its name starts empty', async (t) => {
  const dataDir = await tempDir(t)
  const first = await start(t, dataDir)
  const client = await RawClient.connect(first.bootstrap)
  const oldId = await createTopic(client, 'reborn')
  await createTopic(client, 'doomed')
  const batch = (v: string) => encodeRecordBatchSync({ records: [{ value: Buffer.from(v) }] })
  for (const v of ['old-0', 'old-1']) await produce(client, 'reborn', batch(v))
  await produce(client, 'doomed', batch('gone'))
  for (const name of ['reborn', 'doomed']) {
    const deleted = await client.request(ApiKey.DeleteTopics, 6, {
      topics: [{ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      topicNames: [],
      timeoutMs: 1000,
    })
    assert.equal(deleted.responses[0].errorCode, ErrorCode.NONE)
  }
  const newId = await createTopic(client, 'reborn')
  assert.notEqual(newId, oldId)
  assert.equal((await produce(client, 'reborn', batch('new-0'))).baseOffset, 0)
  client.close()
  await first.close()

  const second = await start(t, dataDir)
  const reader = await RawClient.connect(second.bootstrap)
  t.after(() => reader.close())
  const { topics } = await describeTopics(reader)
  assert.deepEqual([...topics.keys()], ['reborn'])
  assert.equal(topics.get('reborn')?.topicId, newId)
  const { records } = await readPartition(reader, 'reborn', 0)
  assert.deepEqual(
    records.map((r) => [r.offset, text(r.value)]),
    [[0, 'new-0']],
  )
})

test('file storage with default flush.ms (Long.MAX: never by time) emits no TimeoutOverflowWarning', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const dataDir = await tempDir(t)
  const broker = await start(t, dataDir)
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'flushy')
  const batch = encodeRecordBatchSync({ records: [{ value: Buffer.from('x') }] })
  assert.equal((await produce(client, 'flushy', batch)).errorCode, ErrorCode.NONE)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(
    warnings.filter((w) => w.startsWith('TimeoutOverflowWarning')),
    [],
    'flush.ms of Long.MAX was handed to setTimeout, which fires after 1 ms instead of never',
  )
})
