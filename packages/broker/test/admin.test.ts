// The admin APIs over the wire, every served version: CreatePartitions, DescribeCluster,
// DescribeLogDirs, DeleteRecords, OffsetForLeaderEpoch, DescribeTopicPartitions, ElectLeaders, and
// ListOffsets v9-10.
import assert from 'node:assert/strict'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import {
  ApiKey,
  ErrorCode,
  ZERO_UUID,
  defaultApiVersionsRequest,
  defaultMetadataRequest,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import { startBroker } from '../src/index.js'
import { createTopic, fetchPartition, produce } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

const T = 1_700_000_000_000

async function setup(t: TestContext, storage: 'memory' | 'file' = 'memory', dataDir?: string) {
  const dir = storage === 'file' ? (dataDir ?? (await tempDir(t))) : undefined
  const broker = await startBroker({ port: 0, storage, dataDir: dir })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  return { broker, client, dataDir: dir }
}

/**
 * Produces one batch per entry of `batches`, each record's timestamp given in seconds after `base`
 * (T by default), keyed so that compacted topics take them too.
 */
async function seed(
  client: RawClient,
  topic: string,
  batches: number[][],
  partition = 0,
  base = T,
): Promise<void> {
  for (const seconds of batches) {
    const batch = encodeRecordBatchSync({
      records: seconds.map((s) => ({
        key: Buffer.from(`k${s}`),
        value: Buffer.from(`at ${s}`),
        timestamp: base + s * 1000,
      })),
    })
    const r = await produce(client, topic, batch, { partition })
    assert.equal(r.errorCode, ErrorCode.NONE)
  }
}

async function metadataPartitions(client: RawClient, topic: string): Promise<number> {
  const md = await client.request(ApiKey.Metadata, 12, {
    ...defaultMetadataRequest(),
    topics: [{ topicId: ZERO_UUID, name: topic }],
    allowAutoTopicCreation: false,
  })
  assert.equal(md.topics[0].errorCode, ErrorCode.NONE)
  return md.topics[0].partitions.length
}

function createPartitions(
  client: RawClient,
  version: number,
  topics: { name: string; count: number; assignments?: number[][] | null }[],
  validateOnly = false,
) {
  return client.request(ApiKey.CreatePartitions, version, {
    topics: topics.map((t) => ({
      name: t.name,
      count: t.count,
      assignments:
        t.assignments === undefined || t.assignments === null
          ? null
          : t.assignments.map((brokerIds) => ({ brokerIds })),
    })),
    timeoutMs: 5000,
    validateOnly,
  })
}

async function listOffset(
  client: RawClient,
  topic: string,
  timestamp: number,
  version = 10,
  currentLeaderEpoch = -1,
) {
  const response = await client.request(ApiKey.ListOffsets, version, {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 1000,
    topics: [
      { name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch, timestamp, maxNumOffsets: 1 }] },
    ],
  })
  const { errorCode, offset, timestamp: ts, leaderEpoch } = response.topics[0].partitions[0]
  return { errorCode, offset, timestamp: ts, leaderEpoch }
}

async function deleteRecords(
  client: RawClient,
  version: number,
  topic: string,
  offset: number,
  partition = 0,
) {
  const response = await client.request(ApiKey.DeleteRecords, version, {
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset }] }],
    timeoutMs: 5000,
  })
  assert.equal(response.topics[0].name, topic)
  const p = response.topics[0].partitions[0]
  assert.equal(p.partitionIndex, partition)
  return { errorCode: p.errorCode, lowWatermark: p.lowWatermark }
}

test('ApiVersions advertises the admin APIs and ListOffsets up to v10', async (t) => {
  const { client } = await setup(t)
  const { apiKeys } = await client.request(ApiKey.ApiVersions, 3, defaultApiVersionsRequest())
  const served = new Map(apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]))
  assert.deepEqual(served.get(ApiKey.ListOffsets), [1, 10])
  assert.deepEqual(served.get(ApiKey.CreatePartitions), [0, 3])
  assert.deepEqual(served.get(ApiKey.DescribeCluster), [0, 1])
  assert.deepEqual(served.get(ApiKey.DescribeLogDirs), [1, 4])
  assert.deepEqual(served.get(ApiKey.DeleteRecords), [0, 2])
  assert.deepEqual(served.get(ApiKey.OffsetForLeaderEpoch), [2, 4])
  assert.deepEqual(served.get(ApiKey.DescribeTopicPartitions), [0, 0])
  assert.deepEqual(served.get(ApiKey.ElectLeaders), [0, 2])
})

test('CreatePartitions v0-3 grows topics; Metadata lists the new partitions and they take records', async (t) => {
  const { client } = await setup(t)
  for (const version of [0, 1, 2, 3]) {
    const name = `grow-v${version}`
    await createTopic(client, name, 1)
    const response = await createPartitions(client, version, [{ name, count: 3 }])
    assert.deepEqual(response.results, [{ name, errorCode: ErrorCode.NONE, errorMessage: null }])
    assert.equal(await metadataPartitions(client, name), 3)
    const r = await produce(
      client,
      name,
      encodeRecordBatchSync({ records: [{ value: Buffer.from('new') }] }),
      {
        partition: 2,
      },
    )
    assert.equal(r.errorCode, ErrorCode.NONE)
    const fetched = await fetchPartition(client, name, { partition: 2 })
    assert.deepEqual(
      fetched.records.map((rec) => rec.value?.toString()),
      ['new'],
    )
  }

  // Manual assignments naming this broker (node 1) once per new partition are accepted.
  await createTopic(client, 'assigned', 1)
  const assigned = await createPartitions(client, 3, [
    { name: 'assigned', count: 3, assignments: [[1], [1]] },
  ])
  assert.equal(assigned.results[0].errorCode, ErrorCode.NONE)
  assert.equal(await metadataPartitions(client, 'assigned'), 3)
})

test('CreatePartitions answers Kafka errors and validateOnly changes nothing', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'events', 2)
  const one = async (
    topic: { name: string; count: number; assignments?: number[][] | null },
    validateOnly = false,
  ) => (await createPartitions(client, 3, [topic], validateOnly)).results[0]

  assert.deepEqual(await one({ name: 'events', count: 2 }), {
    name: 'events',
    errorCode: ErrorCode.INVALID_PARTITIONS,
    errorMessage: 'Topic already has 2 partition(s).',
  })
  assert.deepEqual(await one({ name: 'events', count: 1 }), {
    name: 'events',
    errorCode: ErrorCode.INVALID_PARTITIONS,
    errorMessage: 'The topic events currently has 2 partition(s); 1 would not be an increase.',
  })
  assert.equal((await one({ name: 'missing', count: 4 })).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  for (const assignments of [[[1]], [[1], []], [[1], [2]], [[1], [1, 1]]]) {
    const result = await one({ name: 'events', count: 4, assignments })
    assert.equal(result.errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT, JSON.stringify(assignments))
    assert.ok(result.errorMessage)
  }
  assert.equal(await metadataPartitions(client, 'events'), 2)

  // validateOnly: checks pass, nothing is created; a failing check still fails.
  assert.equal((await one({ name: 'events', count: 5 }, true)).errorCode, ErrorCode.NONE)
  assert.equal((await one({ name: 'events', count: 2 }, true)).errorCode, ErrorCode.INVALID_PARTITIONS)
  assert.equal(await metadataPartitions(client, 'events'), 2)

  // A topic named twice gets one INVALID_REQUEST result and is left alone; the others proceed.
  await createTopic(client, 'other', 1)
  const duplicated = await createPartitions(client, 3, [
    { name: 'events', count: 3 },
    { name: 'other', count: 2 },
    { name: 'events', count: 4 },
  ])
  assert.deepEqual(duplicated.results, [
    { name: 'events', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' },
    { name: 'other', errorCode: ErrorCode.NONE, errorMessage: null },
  ])
  assert.equal(await metadataPartitions(client, 'events'), 2)
  assert.equal(await metadataPartitions(client, 'other'), 2)

  // __consumer_offsets keeps its partition count: groups are found by hashing over it.
  await client.request(ApiKey.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['g'] })
  assert.equal((await one({ name: '__consumer_offsets', count: 100 })).errorCode, ErrorCode.INVALID_REQUEST)

  // Concurrent growth of one topic: each is checked against the count the previous left.
  await createTopic(client, 'racy', 1)
  const raced = await Promise.all([
    createPartitions(client, 3, [{ name: 'racy', count: 3 }]),
    createPartitions(client, 3, [{ name: 'racy', count: 3 }]),
  ])
  assert.deepEqual(
    raced.map((r) => r.results[0].errorCode),
    [ErrorCode.NONE, ErrorCode.INVALID_PARTITIONS],
  )
})

test('CreatePartitions persists the new partitions across a restart (file)', async (t) => {
  const dataDir = await tempDir(t)
  {
    const broker = await startBroker({ port: 0, storage: 'file', dataDir })
    const client = await RawClient.connect(broker.bootstrap)
    await createTopic(client, 'durable', 1)
    assert.equal((await createPartitions(client, 3, [{ name: 'durable', count: 4 }])).results[0].errorCode, 0)
    await seed(client, 'durable', [[1], [2]], 3)
    client.close()
    await broker.close()
  }
  const { client } = await setup(t, 'file', dataDir)
  assert.equal(await metadataPartitions(client, 'durable'), 4)
  const fetched = await fetchPartition(client, 'durable', { partition: 3 })
  assert.deepEqual(
    fetched.records.map((r) => r.value?.toString()),
    ['at 1', 'at 2'],
  )
})

test('DescribeCluster v0-1: this broker, its cluster id and controller; KIP-919 endpoint types', async (t) => {
  const { broker, client } = await setup(t)
  for (const version of [0, 1]) {
    const response = await client.request(ApiKey.DescribeCluster, version, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    })
    assert.equal(response.errorCode, ErrorCode.NONE)
    assert.equal(response.clusterId, broker.clusterId)
    assert.equal(response.controllerId, 1)
    assert.deepEqual(response.brokers, [{ brokerId: 1, host: broker.host, port: broker.port, rack: null }])
    assert.equal(response.clusterAuthorizedOperations, -2147483648)
    if (version >= 1) assert.equal(response.endpointType, 1)
  }
  // With no authorizer every CLUSTER operation is allowed: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
  // DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
  const withOps = await client.request(ApiKey.DescribeCluster, 1, {
    includeClusterAuthorizedOperations: true,
    endpointType: 1,
  })
  assert.equal(withOps.clusterAuthorizedOperations, 8096)

  const controllers = await client.request(ApiKey.DescribeCluster, 1, {
    includeClusterAuthorizedOperations: false,
    endpointType: 2,
  })
  assert.equal(controllers.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE)
  assert.equal(
    controllers.errorMessage,
    'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER',
  )
  assert.deepEqual(controllers.brokers, [])
  const unknown = await client.request(ApiKey.DescribeCluster, 1, {
    includeClusterAuthorizedOperations: false,
    endpointType: 7,
  })
  assert.equal(unknown.errorCode, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE)
  assert.equal(unknown.errorMessage, 'Unsupported endpoint type 7')
})

for (const storage of ['memory', 'file'] as const) {
  test(`DescribeLogDirs v1-4 (${storage}): one log dir, each partition's size in bytes`, async (t) => {
    const { client, dataDir } = await setup(t, storage)
    await createTopic(client, 'sized', 2)
    await createTopic(client, 'empty', 1)
    const batch = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(500, 1) }] })
    const batchBytes = batch.length
    for (let i = 0; i < 3; i++)
      assert.equal((await produce(client, 'sized', Buffer.from(batch))).errorCode, 0)

    for (const version of [1, 2, 3, 4]) {
      const response = await client.request(ApiKey.DescribeLogDirs, version, { topics: null })
      assert.equal(response.errorCode, ErrorCode.NONE)
      assert.equal(response.results.length, 1)
      const [dir] = response.results
      assert.equal(dir.errorCode, ErrorCode.NONE)
      assert.equal(dir.logDir, storage === 'file' ? path.resolve(dataDir!) : 'memory')
      const sizes = Object.fromEntries(
        dir.topics.flatMap((topic) =>
          topic.partitions.map((p) => {
            assert.equal(p.offsetLag, 0)
            assert.equal(p.isFutureKey, false)
            return [`${topic.name}-${p.partitionIndex}`, p.partitionSize]
          }),
        ),
      )
      assert.deepEqual(sizes, { 'sized-0': 3 * batchBytes, 'sized-1': 0, 'empty-0': 0 }, `v${version}`)
      if (version >= 4 && storage === 'file') {
        assert.ok(dir.totalBytes > 0, `totalBytes ${dir.totalBytes}`)
        assert.ok(dir.usableBytes >= 0 && dir.usableBytes <= dir.totalBytes, `usableBytes ${dir.usableBytes}`)
      } else {
        assert.equal(dir.totalBytes, -1)
        assert.equal(dir.usableBytes, -1)
      }
    }

    // Named partitions only; unknown topics and partitions are left out.
    const some = await client.request(ApiKey.DescribeLogDirs, 4, {
      topics: [
        { topic: 'sized', partitions: [0, 9] },
        { topic: 'missing', partitions: [0] },
      ],
    })
    assert.deepEqual(
      some.results[0].topics.map((topic) => [topic.name, topic.partitions.map((p) => p.partitionIndex)]),
      [['sized', [0]]],
    )
    const none = await client.request(ApiKey.DescribeLogDirs, 4, { topics: [] })
    assert.deepEqual(none.results[0].topics, [])
  })

  test(`DeleteRecords v0-2 (${storage}) moves the log start at once; fetches below it are out of range`, async (t) => {
    const { client } = await setup(t, storage)
    for (const version of [0, 1, 2]) {
      const topic = `trim-v${version}`
      await createTopic(client, topic, 1)
      await seed(client, topic, [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9, 10],
      ])
      assert.deepEqual(await deleteRecords(client, version, topic, 4), { errorCode: 0, lowWatermark: 4 })
      assert.equal((await listOffset(client, topic, -2)).offset, 4)
      assert.equal((await listOffset(client, topic, -4)).offset, 4)
      const below = await fetchPartition(client, topic, { offset: 3 })
      assert.equal(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
      assert.equal(below.logStartOffset, 4)
      const at = await fetchPartition(client, topic, { offset: 4 })
      assert.equal(at.errorCode, ErrorCode.NONE)
      assert.equal(at.logStartOffset, 4)
      // The batch holding offset 4 comes back whole, as Kafka's fetch does; the consumer skips 3.
      assert.deepEqual(
        at.records.map((r) => r.offset),
        [3, 4, 5, 6, 7, 8, 9],
      )
      // Lower offsets change nothing; -1 means the high watermark; past it is out of range.
      assert.deepEqual(await deleteRecords(client, version, topic, 2), { errorCode: 0, lowWatermark: 4 })
      assert.deepEqual(await deleteRecords(client, version, topic, 11), {
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        lowWatermark: -1,
      })
      assert.deepEqual(await deleteRecords(client, version, topic, -7), {
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        lowWatermark: -1,
      })
      assert.deepEqual(await deleteRecords(client, version, topic, -1), { errorCode: 0, lowWatermark: 10 })
      assert.deepEqual(await listOffset(client, topic, -2), {
        errorCode: 0,
        offset: 10,
        timestamp: -1,
        leaderEpoch: 0,
      })
      // The log goes on at the high watermark.
      await seed(client, topic, [[11]])
      const after = await fetchPartition(client, topic, { offset: 10 })
      assert.deepEqual(
        after.records.map((r) => r.offset),
        [10],
      )
    }
  })
}

test('DeleteRecords errors: unknown topics and partitions, compacted and internal topics', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'plain', 1)
  await createTopic(client, 'compacted', 1, { 'cleanup.policy': 'compact' })
  await createTopic(client, 'both', 1, { 'cleanup.policy': 'compact,delete' })
  for (const topic of ['plain', 'compacted', 'both']) await seed(client, topic, [[1, 2]])
  await client.request(ApiKey.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['g'] })

  const fail = (errorCode: number) => ({ errorCode, lowWatermark: -1 })
  assert.deepEqual(await deleteRecords(client, 2, 'missing', 0), fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
  assert.deepEqual(await deleteRecords(client, 2, 'plain', 0, 3), fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
  assert.deepEqual(await deleteRecords(client, 2, 'compacted', 1), fail(ErrorCode.POLICY_VIOLATION))
  assert.deepEqual(
    await deleteRecords(client, 2, '__consumer_offsets', 0),
    fail(ErrorCode.INVALID_TOPIC_EXCEPTION),
  )
  assert.deepEqual(await deleteRecords(client, 2, 'both', 1), { errorCode: 0, lowWatermark: 1 })

  // Several topics and partitions in one request, each answered on its own.
  const response = await client.request(ApiKey.DeleteRecords, 2, {
    topics: [
      {
        name: 'plain',
        partitions: [
          { partitionIndex: 0, offset: 1 },
          { partitionIndex: 5, offset: 0 },
        ],
      },
      { name: 'compacted', partitions: [{ partitionIndex: 0, offset: 1 }] },
    ],
    timeoutMs: 1000,
  })
  assert.deepEqual(response.topics, [
    {
      name: 'plain',
      partitions: [
        { partitionIndex: 0, lowWatermark: 1, errorCode: 0 },
        { partitionIndex: 5, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ],
    },
    {
      name: 'compacted',
      partitions: [{ partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.POLICY_VIOLATION }],
    },
  ])
})

test('DeleteRecords: the start survives a restart and retention then deletes the segments below it (file)', async (t) => {
  const dataDir = await tempDir(t)
  {
    const broker = await startBroker({ port: 0, storage: 'file', dataDir })
    const client = await RawClient.connect(broker.bootstrap)
    // segment.ms=1 with a pause between produces: one segment per batch.
    await createTopic(client, 'kept', 1, { 'segment.ms': '1' })
    // Recent timestamps: retention.ms (7 days) must not delete these segments by age.
    for (const s of [1, 2, 3]) {
      await seed(client, 'kept', [[s, s]], 0, Date.now())
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    assert.deepEqual(await deleteRecords(client, 2, 'kept', 3), { errorCode: 0, lowWatermark: 3 })
    client.close()
    await broker.close()
  }
  const broker = await startBroker({
    port: 0,
    storage: 'file',
    dataDir,
    config: { 'log.retention.check.interval.ms': '50' },
  })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  assert.equal((await listOffset(client, 'kept', -2)).offset, 3)
  const sizes = async () => {
    const dirs = await client.request(ApiKey.DescribeLogDirs, 4, {
      topics: [{ topic: 'kept', partitions: [0] }],
    })
    return dirs.results[0].topics[0].partitions[0].partitionSize
  }
  const before = await sizes()
  // Segment [0-1] lies wholly below 3 and goes; [2-3] holds offset 3 and stays.
  const deadline = Date.now() + 5000
  while ((await sizes()) === before) {
    assert.ok(Date.now() < deadline, 'retention never deleted the segment below the log start')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.equal(await sizes(), (before * 2) / 3)
  assert.equal((await listOffset(client, 'kept', -2)).offset, 3)
  const fetched = await fetchPartition(client, 'kept', { offset: 3 })
  assert.deepEqual(
    fetched.records.map((r) => r.offset),
    [2, 3, 4, 5],
  )
})

test('ListOffsets by timestamp never answers below the log start offset', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'timed', 1)
  // offsets 0-2 at 1, 5, 2 s; offsets 3-4 at 3, 4 s.
  await seed(client, 'timed', [
    [1, 5, 2],
    [3, 4],
  ])
  assert.deepEqual(await listOffset(client, 'timed', T + 2000), {
    errorCode: 0,
    offset: 1,
    timestamp: T + 5000,
    leaderEpoch: 0,
  })
  await deleteRecords(client, 2, 'timed', 2)
  // Offset 1 (5 s) is gone: the first record at or after 2 s from offset 2 on is offset 2 itself.
  assert.deepEqual(await listOffset(client, 'timed', T + 2000), {
    errorCode: 0,
    offset: 2,
    timestamp: T + 2000,
    leaderEpoch: 0,
  })
  // Only offset 1 had 5 s: nothing from the log start on reaches it.
  assert.deepEqual(await listOffset(client, 'timed', T + 4500), {
    errorCode: 0,
    offset: -1,
    timestamp: -1,
    leaderEpoch: -1,
  })
  assert.deepEqual(await listOffset(client, 'timed', T + 2500), {
    errorCode: 0,
    offset: 3,
    timestamp: T + 3000,
    leaderEpoch: 0,
  })
  await deleteRecords(client, 2, 'timed', 4)
  assert.deepEqual(await listOffset(client, 'timed', 0), {
    errorCode: 0,
    offset: 4,
    timestamp: T + 4000,
    leaderEpoch: 0,
  })
})

test('ListOffsets v9-10: latest tiered (-5) has no tiered offset, earliest local (-4) is the log start', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'events', 1)
  await seed(client, 'events', [[1, 2, 3]])
  await deleteRecords(client, 2, 'events', 1)
  for (const version of [9, 10]) {
    assert.deepEqual(await listOffset(client, 'events', -5, version), {
      errorCode: 0,
      offset: -1,
      timestamp: -1,
      leaderEpoch: -1,
    })
    assert.deepEqual(await listOffset(client, 'events', -4, version), {
      errorCode: 0,
      offset: 1,
      timestamp: -1,
      leaderEpoch: 0,
    })
    assert.equal((await listOffset(client, 'events', -1, version)).offset, 3)
    assert.equal((await listOffset(client, 'events', -3, version)).offset, 2)
  }
  // -5 before v9 is not a special timestamp.
  assert.equal((await listOffset(client, 'events', -5, 8)).errorCode, ErrorCode.INVALID_REQUEST)
  // The current leader epoch is 0: older is fenced, newer unknown.
  assert.equal((await listOffset(client, 'events', -1, 10, 0)).errorCode, ErrorCode.NONE)
  assert.equal((await listOffset(client, 'events', -1, 10, 1)).errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH)
  assert.equal((await listOffset(client, 'events', -1, 10, -3)).errorCode, ErrorCode.FENCED_LEADER_EPOCH)
})

test('OffsetForLeaderEpoch v2-4: epoch 0 ends at the log end; other epochs as Kafka answers', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'events', 2)
  await seed(client, 'events', [[1, 2], [3]])
  const md = await client.request(ApiKey.Metadata, 12, {
    ...defaultMetadataRequest(),
    topics: [{ topicId: ZERO_UUID, name: 'events' }],
  })
  assert.equal(md.topics[0].partitions[0].leaderEpoch, 0)

  const ask = async (
    version: number,
    partitions: { partition: number; leaderEpoch: number; currentLeaderEpoch?: number }[],
    topic = 'events',
    replicaId = -1,
  ) => {
    const response = await client.request(ApiKey.OffsetForLeaderEpoch, version, {
      replicaId,
      topics: [
        {
          topic,
          partitions: partitions.map((p) => ({ currentLeaderEpoch: -1, ...p })),
        },
      ],
    })
    assert.equal(response.topics[0].topic, topic)
    return response.topics[0].partitions.map(({ errorCode, partition, leaderEpoch, endOffset }) => ({
      errorCode,
      partition,
      leaderEpoch,
      endOffset,
    }))
  }
  for (const version of [2, 3, 4]) {
    assert.deepEqual(
      await ask(version, [
        { partition: 0, leaderEpoch: 0 },
        { partition: 1, leaderEpoch: 0 },
        { partition: 0, leaderEpoch: -1 },
        { partition: 0, leaderEpoch: 3 },
        { partition: 0, leaderEpoch: 0, currentLeaderEpoch: 0 },
        { partition: 0, leaderEpoch: 0, currentLeaderEpoch: 1 },
        { partition: 0, leaderEpoch: 0, currentLeaderEpoch: -2 },
        { partition: 7, leaderEpoch: 0 },
      ]),
      [
        { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 3 },
        { errorCode: 0, partition: 1, leaderEpoch: 0, endOffset: 0 },
        { errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 },
        { errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 },
        { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 3 },
        { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1 },
        { errorCode: ErrorCode.FENCED_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1 },
        { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: 7, leaderEpoch: -1, endOffset: -1 },
      ],
      `v${version}`,
    )
    assert.deepEqual(await ask(version, [{ partition: 0, leaderEpoch: 0 }], 'missing'), [
      { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: 0, leaderEpoch: -1, endOffset: -1 },
    ])
  }
  // v3+ replica ids: a consumer (-1), the debugging id (-2) and a follower id get the leader's answer.
  for (const replicaId of [-1, -2, 1]) {
    assert.deepEqual(await ask(4, [{ partition: 0, leaderEpoch: 0 }], 'events', replicaId), [
      { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 3 },
    ])
  }
})

test('DescribeTopicPartitions v0: topics in name order, paged by responsePartitionLimit with a cursor', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'b-topic', 3)
  await createTopic(client, 'a-topic', 2)
  await createTopic(client, 'c-topic', 1)
  const describe = (
    topics: string[],
    responsePartitionLimit = 2000,
    cursor: { topicName: string; partitionIndex: number } | null = null,
  ) =>
    client.request(ApiKey.DescribeTopicPartitions, 0, {
      topics: topics.map((name) => ({ name })),
      responsePartitionLimit,
      cursor,
    })
  const shape = (response: Awaited<ReturnType<typeof describe>>) => ({
    topics: response.topics.map((topic) => [
      topic.name,
      topic.errorCode,
      topic.partitions.map((p) => p.partitionIndex),
    ]),
    next: response.nextCursor,
  })

  const all = await describe([])
  assert.deepEqual(shape(all), {
    topics: [
      ['a-topic', 0, [0, 1]],
      ['b-topic', 0, [0, 1, 2]],
      ['c-topic', 0, [0]],
    ],
    next: null,
  })
  const [first] = all.topics
  assert.equal(first.isInternal, false)
  assert.equal(first.topicAuthorizedOperations, 3576)
  assert.deepEqual(first.partitions[0], {
    errorCode: 0,
    partitionIndex: 0,
    leaderId: 1,
    leaderEpoch: 0,
    replicaNodes: [1],
    isrNodes: [1],
    eligibleLeaderReplicas: [],
    lastKnownElr: [],
    offlineReplicas: [],
  })

  // Paging through three partitions at a time.
  assert.deepEqual(shape(await describe([], 3)), {
    topics: [
      ['a-topic', 0, [0, 1]],
      ['b-topic', 0, [0]],
    ],
    next: { topicName: 'b-topic', partitionIndex: 1 },
  })
  assert.deepEqual(shape(await describe([], 3, { topicName: 'b-topic', partitionIndex: 1 })), {
    topics: [
      ['b-topic', 0, [1, 2]],
      ['c-topic', 0, [0]],
    ],
    next: null,
  })
  // The limit runs out exactly at a topic's end: the cursor names the next topic at partition 0.
  assert.deepEqual(shape(await describe([], 2)), {
    topics: [['a-topic', 0, [0, 1]]],
    next: { topicName: 'b-topic', partitionIndex: 0 },
  })

  // Named topics, missing ones with errors; a cursor outside the named list is INVALID_REQUEST.
  assert.deepEqual(shape(await describe(['c-topic', 'missing', 'a-topic', 'bad name!'])), {
    topics: [
      ['a-topic', 0, [0, 1]],
      ['bad name!', ErrorCode.INVALID_TOPIC_EXCEPTION, []],
      ['c-topic', 0, [0]],
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []],
    ],
    next: null,
  })
  assert.deepEqual(shape(await describe(['a-topic'], 2000, { topicName: 'b-topic', partitionIndex: 0 })), {
    topics: [['a-topic', ErrorCode.INVALID_REQUEST, []]],
    next: null,
  })
  assert.deepEqual(shape(await describe([], 2000, { topicName: 'a-topic', partitionIndex: -1 })).topics, [])
})

test('ElectLeaders v0-2: the preferred leader already leads, so no election is needed', async (t) => {
  const { client } = await setup(t)
  await createTopic(client, 'events', 2)
  await createTopic(client, 'other', 1)
  const notNeeded = {
    errorCode: ErrorCode.ELECTION_NOT_NEEDED,
    errorMessage: 'Leader election not needed for topic partition.',
  }
  for (const version of [0, 1, 2]) {
    for (const electionType of version === 0 ? [0] : [0, 1]) {
      const response = await client.request(ApiKey.ElectLeaders, version, {
        electionType,
        topicPartitions: [
          { topic: 'events', partitions: [0, 1, 5] },
          { topic: 'missing', partitions: [0] },
        ],
        timeoutMs: 1000,
      })
      assert.equal(response.errorCode, ErrorCode.NONE)
      assert.deepEqual(response.replicaElectionResults, [
        {
          topic: 'events',
          partitionResult: [
            { partitionId: 0, ...notNeeded },
            { partitionId: 1, ...notNeeded },
            {
              partitionId: 5,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: 'No such partition as events-5',
            },
          ],
        },
        {
          topic: 'missing',
          partitionResult: [
            {
              partitionId: 0,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: 'No such topic as missing',
            },
          ],
        },
      ])
    }
    // Every partition: each topic listed, the partitions needing no election left out.
    const all = await client.request(ApiKey.ElectLeaders, version, {
      electionType: 0,
      topicPartitions: null,
      timeoutMs: 1000,
    })
    assert.deepEqual(
      all.replicaElectionResults.filter((r) => !r.topic.startsWith('__')),
      [
        { topic: 'events', partitionResult: [] },
        { topic: 'other', partitionResult: [] },
      ],
    )
  }
  const bad = await client.request(ApiKey.ElectLeaders, 2, {
    electionType: 9,
    topicPartitions: [{ topic: 'events', partitions: [0] }],
    timeoutMs: 1000,
  })
  assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST)
  assert.deepEqual(bad.replicaElectionResults, [
    {
      topic: 'events',
      partitionResult: [
        { partitionId: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown election type 9' },
      ],
    },
  ])
})
