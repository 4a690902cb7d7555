import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ApiKey, Compression, ErrorCode, encodeRecordBatchSync } from '@fluxo/protocol'
import { Kafka, logLevel } from 'kafkajs'
import { type Broker, startBroker } from '../src/index.js'
import { createTopic, produce } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const T = 1_700_000_000_000

/**
 * Three batches whose record timestamps are not monotonic inside a batch, as producers may send:
 *   offsets 0-2: T+1000, T+2000, T+3000
 *   offsets 3-5: T+5000, T+9000, T+6000   (batch maxTimestamp T+9000, at offset 4)
 *   offsets 6-7: T+7000, T+8000
 */
const BATCHES = [
  [1000, 2000, 3000],
  [5000, 9000, 6000],
  [7000, 8000],
]

async function seeded(t: import('node:test').TestContext, storage: 'memory' | 'file') {
  const dataDir = storage === 'file' ? await tempDir(t) : undefined
  const broker = await startBroker({ port: 0, storage, dataDir })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'timed', 2)
  let offset = 0
  for (const timestamps of BATCHES) {
    const batch = encodeRecordBatchSync({
      records: timestamps.map((ts, i) => ({ value: Buffer.from(`r${offset + i}`), timestamp: T + ts })),
    })
    const r = await produce(client, 'timed', batch)
    assert.equal(r.errorCode, ErrorCode.NONE)
    assert.equal(r.baseOffset, offset)
    offset += timestamps.length
  }
  return { broker, client, dataDir }
}

async function listOffset(
  client: RawClient,
  timestamp: number,
  version: number,
  topic = 'timed',
  partition = 0,
) {
  const response = await client.request(ApiKey.ListOffsets, version, {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 1000,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
      },
    ],
  })
  assert.equal(response.topics[0].name, topic)
  const p = response.topics[0].partitions[0]
  assert.equal(p.partitionIndex, partition)
  return { errorCode: p.errorCode, offset: p.offset, timestamp: p.timestamp }
}

for (const storage of ['memory', 'file'] as const) {
  test(`ListOffsets (${storage}): earliest, latest and max timestamp (KIP-734)`, async (t) => {
    const { client } = await seeded(t, storage)
    for (const version of [1, 5, 8]) {
      assert.deepEqual(
        pick(await listOffset(client, EARLIEST, version)),
        { errorCode: 0, offset: 0 },
        `v${version}`,
      )
      assert.deepEqual(
        pick(await listOffset(client, LATEST, version)),
        { errorCode: 0, offset: 8 },
        `v${version}`,
      )
    }
    // The record with the largest timestamp is offset 4, in the middle of its batch, not the batch's last.
    for (const version of [7, 8]) {
      assert.deepEqual(await listOffset(client, MAX_TIMESTAMP, version), {
        errorCode: 0,
        offset: 4,
        timestamp: T + 9000,
      })
    }
    // An empty partition: earliest = latest = 0, and no record has a timestamp.
    assert.deepEqual(pick(await listOffset(client, EARLIEST, 8, 'timed', 1)), { errorCode: 0, offset: 0 })
    assert.deepEqual(pick(await listOffset(client, LATEST, 8, 'timed', 1)), { errorCode: 0, offset: 0 })
    assert.deepEqual(await listOffset(client, MAX_TIMESTAMP, 8, 'timed', 1), {
      errorCode: 0,
      offset: -1,
      timestamp: -1,
    })
    const unknown = await listOffset(client, LATEST, 8, 'no-such-topic')
    assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    const badPartition = await listOffset(client, LATEST, 8, 'timed', 7)
    assert.equal(badPartition.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })

  test(`ListOffsets (${storage}) by timestamp: the first record at or after it, not its batch`, async (t) => {
    const { client } = await seeded(t, storage)
    // target → [offset, timestamp] Kafka answers: the first record (in offset order) with ts >= target.
    const expected: [number, number, number][] = [
      [0, 0, T + 1000],
      [T, 0, T + 1000],
      [T + 1000, 0, T + 1000],
      [T + 1500, 1, T + 2000],
      [T + 3000, 2, T + 3000],
      [T + 3001, 3, T + 5000],
      [T + 5500, 4, T + 9000],
      [T + 6000, 4, T + 9000],
      [T + 6500, 4, T + 9000],
      [T + 9000, 4, T + 9000],
      [T + 9001, -1, -1],
    ]
    for (const version of [1, 4, 8]) {
      for (const [target, offset, timestamp] of expected) {
        assert.deepEqual(
          await listOffset(client, target, version),
          { errorCode: 0, offset, timestamp },
          `v${version} timestamp T+${target - T}`,
        )
      }
    }
  })
}

test('ListOffsets by timestamp after a restart of file storage', async (t) => {
  const { broker, client, dataDir } = await seeded(t, 'file')
  client.close()
  await broker.close()
  const reopened = await startBroker({ port: 0, storage: 'file', dataDir })
  t.after(() => reopened.close())
  const again = await RawClient.connect(reopened.bootstrap)
  t.after(() => again.close())
  assert.deepEqual(await listOffset(again, T + 1500, 8), { errorCode: 0, offset: 1, timestamp: T + 2000 })
  assert.deepEqual(await listOffset(again, T + 5500, 8), { errorCode: 0, offset: 4, timestamp: T + 9000 })
  assert.deepEqual(await listOffset(again, T + 9001, 8), { errorCode: 0, offset: -1, timestamp: -1 })
  assert.deepEqual(await listOffset(again, MAX_TIMESTAMP, 8), {
    errorCode: 0,
    offset: 4,
    timestamp: T + 9000,
  })
})

test('ListOffsets by timestamp and max timestamp look inside compressed batches', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  const codecs = Object.entries(Compression).filter(([name]) => name !== 'none')
  for (const [name, compression] of codecs) {
    const topic = `ts-${name}`
    await createTopic(client, topic)
    // Offsets 0-2 uncompressed as padding, then one compressed batch at offsets 3-5.
    const padding = encodeRecordBatchSync({
      records: [0, 1, 2].map((i) => ({ value: Buffer.from(`p${i}`), timestamp: T + i })),
    })
    assert.equal((await produce(client, topic, padding)).errorCode, ErrorCode.NONE)
    const batch = encodeRecordBatchSync({
      compression,
      records: [1000, 3000, 2000].map((ts, i) => ({ value: Buffer.from(`c${i}`), timestamp: T + ts })),
    })
    assert.equal((await produce(client, topic, batch)).errorCode, ErrorCode.NONE)
    assert.deepEqual(
      await listOffset(client, T + 1500, 8, topic),
      { errorCode: 0, offset: 4, timestamp: T + 3000 },
      name,
    )
    assert.deepEqual(
      await listOffset(client, T + 3, 8, topic),
      { errorCode: 0, offset: 3, timestamp: T + 1000 },
      name,
    )
    assert.deepEqual(
      await listOffset(client, MAX_TIMESTAMP, 8, topic),
      { errorCode: 0, offset: 4, timestamp: T + 3000 },
      name,
    )
  }
})

test('KafkaJS admin.fetchTopicOffsetsByTimestamp finds the first record at or after the timestamp', async (t) => {
  const { broker } = await seeded(t, 'memory')
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  const at = async (ts: number) =>
    (await admin.fetchTopicOffsetsByTimestamp('timed', ts)).map((p) => [p.partition, Number(p.offset)])
  assert.deepEqual(await at(T + 1500), [
    [0, 1],
    [1, 0],
  ])
  assert.deepEqual(await at(T + 3001), [
    [0, 3],
    [1, 0],
  ])
  // Past every record KafkaJS substitutes the high watermark for Kafka's -1.
  assert.deepEqual(await at(T + 10_000), [
    [0, 8],
    [1, 0],
  ])
  const offsets = await admin.fetchTopicOffsets('timed')
  assert.deepEqual(
    offsets.map((p) => [p.partition, p.low, p.high]),
    [
      [0, '0', '8'],
      [1, '0', '0'],
    ],
  )
})

test('ListOffsets by timestamp sees batches produced after the first lookup', async (t) => {
  const broker: Broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'growing')
  assert.deepEqual(await listOffset(client, T, 8, 'growing'), { errorCode: 0, offset: -1, timestamp: -1 })
  for (let i = 0; i < 5; i++) {
    const batch = encodeRecordBatchSync({ records: [{ value: Buffer.from(`g${i}`), timestamp: T + i * 10 }] })
    assert.equal((await produce(client, 'growing', batch)).errorCode, ErrorCode.NONE)
    assert.deepEqual(await listOffset(client, T + i * 10 - 5, 8, 'growing'), {
      errorCode: 0,
      offset: i,
      timestamp: T + i * 10,
    })
  }
})

function pick(r: { errorCode: number; offset: number }) {
  return { errorCode: r.errorCode, offset: r.offset }
}
