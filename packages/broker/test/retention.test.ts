import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ApiKey,
  ErrorCode,
  decodeRecordBatchesSync,
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultProduceRequest,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import pino from 'pino'
import { Cluster } from '../src/cluster/cluster.js'
import { runRetention } from '../src/cluster/retention.js'
import { parseBrokerConfig } from '../src/config.js'
import { startBroker } from '../src/index.js'
import { openFileStore } from '../src/storage/file.js'
import { createMemoryStore } from '../src/storage/memory.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

const HOUR_MS = 3_600_000
const EARLIEST = -2
const LATEST = -1

// Keyed: a compacted topic refuses records without a key.
const batch = (value: string, timestamp: number) =>
  encodeRecordBatchSync({ records: [{ key: Buffer.from(value), value: Buffer.from(value), timestamp }] })

async function createTopic(client: RawClient, name: string, configs: Record<string, string>) {
  const response = await client.request(ApiKey.CreateTopics, 7, {
    topics: [
      {
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  })
  assert.equal(response.topics[0].errorCode, ErrorCode.NONE, response.topics[0].errorMessage ?? undefined)
}

async function produce(client: RawClient, topic: string, records: Buffer): Promise<number> {
  const response = await client.request(ApiKey.Produce, 9, {
    ...defaultProduceRequest(),
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  })
  const p = response.responses[0].partitionResponses[0]
  assert.equal(p.errorCode, ErrorCode.NONE)
  return p.baseOffset
}

async function listOffset(client: RawClient, topic: string, timestamp: number): Promise<number> {
  const response = await client.request(ApiKey.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 1000,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
      },
    ],
  })
  const p = response.topics[0].partitions[0]
  assert.equal(p.errorCode, ErrorCode.NONE)
  return p.offset
}

async function fetchAt(client: RawClient, topic: string, offset: number) {
  const response = await client.request(ApiKey.Fetch, 12, {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            ...defaultFetchRequestFetchPartition(),
            partition: 0,
            fetchOffset: offset,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
  })
  const p = response.responses[0].partitions[0]
  const values = p.records
    ? decodeRecordBatchesSync(p.records).flatMap((b) => b.records.map((r) => r.value?.toString()))
    : []
  return { errorCode: p.errorCode, logStartOffset: p.logStartOffset, values }
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

test('the broker deletes expired segments every log.retention.check.interval.ms (file)', async (t) => {
  const dataDir = await tempDir(t)
  const broker = await startBroker({
    port: 0,
    storage: 'file',
    dataDir,
    config: { 'log.retention.check.interval.ms': '100' },
  })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  const old = Date.now() - HOUR_MS

  // segment.bytes cannot go below 1 MiB; segment.ms rolls a segment per produce spaced > 100 ms.
  await createTopic(client, 'aging', { 'retention.ms': '600000', 'segment.ms': '100' })
  await createTopic(client, 'expired', { 'retention.ms': '1000' })
  await createTopic(client, 'compacted', { 'retention.ms': '1000', 'cleanup.policy': 'compact' })
  for (const topic of ['expired', 'compacted']) {
    assert.equal(await produce(client, topic, batch('a', old)), 0)
    assert.equal(await produce(client, topic, batch('b', old)), 1)
  }
  assert.equal(await produce(client, 'aging', batch('a', old)), 0)
  await sleep(150)
  assert.equal(await produce(client, 'aging', batch('b', old)), 1)
  await sleep(150)
  assert.equal(await produce(client, 'aging', batch('c', Date.now())), 2)

  // 'aging': the two hour-old segments go; the segment holding the fresh record stays.
  await until(async () => (await listOffset(client, 'aging', EARLIEST)) === 2, "'aging' earliest offset 2")
  assert.equal(await listOffset(client, 'aging', LATEST), 3)
  assert.deepEqual(await fetchAt(client, 'aging', 0), {
    errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
    logStartOffset: 2,
    values: [],
  })
  assert.deepEqual(await fetchAt(client, 'aging', 2), {
    errorCode: ErrorCode.NONE,
    logStartOffset: 2,
    values: ['c'],
  })

  // 'expired': its only (active) segment is wholly past retention.ms: rolled, then deleted.
  await until(
    async () => (await listOffset(client, 'expired', EARLIEST)) === 2,
    "'expired' earliest offset 2",
  )
  assert.equal(await listOffset(client, 'expired', LATEST), 2)
  assert.equal((await fetchAt(client, 'expired', 1)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.deepEqual(await fetchAt(client, 'expired', 2), {
    errorCode: ErrorCode.NONE,
    logStartOffset: 2,
    values: [],
  })

  // cleanup.policy=compact alone: retention never deletes.
  assert.equal(await listOffset(client, 'compacted', EARLIEST), 0)
  assert.deepEqual((await fetchAt(client, 'compacted', 0)).values, ['a', 'b'])

  // The start offset survives a restart.
  await client.close()
  await broker.close()
  const again = await startBroker({ port: 0, storage: 'file', dataDir })
  t.after(() => again.close())
  const second = await RawClient.connect(again.bootstrap)
  t.after(() => second.close())
  assert.equal(await listOffset(second, 'aging', EARLIEST), 2)
  assert.equal(await listOffset(second, 'expired', EARLIEST), 2)
  assert.equal(await listOffset(second, 'expired', LATEST), 2)
})

for (const storage of ['memory', 'file'] as const) {
  test(`runRetention applies each delete topic's limits through the partition layer (${storage})`, async (t) => {
    const logger = pino({ level: 'silent' })
    const store =
      storage === 'file' ? await openFileStore({ dataDir: await tempDir(t), logger }) : createMemoryStore()
    t.after(() => store.close())
    const { config } = parseBrokerConfig({})
    const cluster = new Cluster(
      store,
      config,
      { nodeId: 1, host: '127.0.0.1', port: 9092, rack: null },
      logger,
    )
    await cluster.load()
    const now = Date.now()
    const byTime = await cluster.createTopic('by-time', 2, 1, { 'retention.ms': '60000' })
    const bySize = await cluster.createTopic('by-size', 1, 1, { 'retention.bytes': '0' })
    const kept = await cluster.createTopic('kept', 1, 1, { 'retention.ms': '-1' })
    for (const topic of [byTime, bySize, kept]) {
      for (const partition of topic.partitions) {
        const appended = await partition.append(batch('old', now - HOUR_MS), false)
        assert.equal(appended.errorCode, ErrorCode.NONE)
      }
    }

    const deleted = await runRetention(cluster, now, logger)
    const summary = deleted.map(({ topic, partition, deletedSegments, logStartOffset }) => ({
      topic,
      partition,
      deletedSegments,
      logStartOffset,
    }))
    assert.deepEqual(summary, [
      { topic: 'by-time', partition: 0, deletedSegments: 1, logStartOffset: 1 },
      { topic: 'by-time', partition: 1, deletedSegments: 1, logStartOffset: 1 },
      { topic: 'by-size', partition: 0, deletedSegments: 1, logStartOffset: 1 },
    ])
    const read = await byTime.partitions[0].read(0, 1 << 20)
    assert.equal(read.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
    assert.equal(read.logStartOffset, 1)
    assert.equal((await kept.partitions[0].read(0, 1 << 20)).errorCode, ErrorCode.NONE)
    // A second pass finds nothing more to delete; a deleted topic is skipped without errors.
    await cluster.deleteTopic(kept)
    assert.deepEqual(await runRetention(cluster, now, logger), [])
  })
}
