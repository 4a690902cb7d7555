// Leader and coordinator moves, which one embedded broker cannot produce: the fetcher and the group
// member run against a scripted cluster whose brokers answer with the errors Kafka sends.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ApiKey, ErrorCode, ZERO_UUID, encodeRecordBatchSync } from '@fluxo/protocol'
import { Fetcher } from '../src/consumer/fetcher.js'
import { GroupMember } from '../src/consumer/group.js'
import { type Cluster, retry } from '../src/internal.js'
import { until } from './consumer-support.js'

type Handler = (apiKey: number, body: unknown) => unknown
type CommitBody = { topics: { partitions: { committedOffset: number }[] }[] }

function fakeCluster(handlers: Record<number, Handler>, leader: { node: number }) {
  const calls: { node: number; apiKey: number; body: unknown }[] = []
  const invalidated: string[] = []
  let refreshes = 0
  const connection = (node: number) => ({
    versionFor: () => 12,
    request: async (apiKey: number, body: unknown) => {
      calls.push({ node, apiKey, body })
      return handlers[node](apiKey, body)
    },
    destroy: () => {},
    onClose: () => {},
    inFlight: 0,
  })
  const retryOptions = { retries: 5, initialRetryTimeMs: 10, maxRetryTimeMs: 20 }
  const cluster = {
    options: { bootstrap: ['fake:1'], requestTimeoutMs: 1000 },
    retryOptions,
    leader: () => leader.node,
    topic: () => ({ topicId: ZERO_UUID }),
    invalidate: (topic: string) => void invalidated.push(topic),
    topics: async () => {
      refreshes++
      return new Map()
    },
    connection: async (node: number) => connection(node),
    request: async (node: number, apiKey: number, body: unknown) => connection(node).request(apiKey, body),
    coordinator: async () => connection(leader.node),
    invalidateCoordinator: (key: string) => void invalidated.push(`coordinator:${key}`),
    retry: <T>(fn: (attempt: number) => Promise<T>, options = {}) =>
      retry(fn, { ...retryOptions, ...options }),
  }
  return { cluster: cluster as unknown as Cluster, calls, invalidated, refreshes: () => refreshes }
}

const fetchResponse = (errorCode: number, records: Buffer | null, highWatermark = 0) => ({
  throttleTimeMs: 0,
  errorCode: 0,
  sessionId: 0,
  responses: [
    {
      topic: 't',
      topicId: ZERO_UUID,
      partitions: [
        {
          partitionIndex: 0,
          errorCode,
          highWatermark,
          lastStableOffset: highWatermark,
          logStartOffset: 0,
          divergingEpoch: null,
          currentLeader: null,
          snapshotId: null,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records,
        },
      ],
    },
  ],
  nodeEndpoints: [],
})

test('NOT_LEADER_OR_FOLLOWER: the fetcher refreshes metadata and fetches from the new leader', async () => {
  const leader = { node: 1 }
  const batch = encodeRecordBatchSync({
    baseOffset: 5,
    records: [{ value: Buffer.from('five') }, { value: Buffer.from('six') }],
  })
  const { cluster, calls, invalidated, refreshes } = fakeCluster(
    {
      1: (apiKey) => {
        assert.equal(apiKey, ApiKey.Fetch)
        leader.node = 2 // leadership moved; this broker says so
        return fetchResponse(ErrorCode.NOT_LEADER_OR_FOLLOWER, null)
      },
      2: () => fetchResponse(ErrorCode.NONE, batch, 7),
    },
    leader,
  )
  const fetcher = new Fetcher(cluster, {
    isolationLevel: 'read_uncommitted',
    autoOffsetReset: 'none',
    minBytes: 1,
    maxBytes: 1 << 20,
    maxPartitionBytes: 1 << 20,
    maxWaitMs: 10,
  })
  try {
    fetcher.add([{ topic: 't', partition: 0, offset: 5 }])
    await until(() => fetcher.get('t', 0)!.bufferedBytes > 0, 'records from the new leader', 3000)
    const taken = fetcher.take(10)!
    assert.deepEqual(
      taken.records.map((r) => r.record.value!.toString()),
      ['five', 'six'],
    )
    assert.ok(invalidated.includes('t'), 'metadata marked stale')
    assert.ok(refreshes() >= 1, 'metadata fetched again')
    assert.deepEqual(
      calls
        .filter((c) => c.apiKey === ApiKey.Fetch)
        .map((c) => c.node)
        .slice(0, 2),
      [1, 2],
    )
  } finally {
    fetcher.close()
  }
})

function member(cluster: Cluster) {
  return new GroupMember(cluster, {
    groupId: 'g',
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
    assignors: ['range'],
    listeners: {},
    owned: () => [],
    addPartitions: () => {},
    releasePartitions: () => {},
    removePartitions: () => {},
    pausePartitions: () => {},
    commitBeforeRevoke: async () => {},
    notify: () => {},
  })
}

test('NOT_COORDINATOR on OffsetCommit: the coordinator is looked up again and the commit retried there', async () => {
  const leader = { node: 1 }
  const partitionResult = (errorCode: number) => ({
    throttleTimeMs: 0,
    topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode }] }],
  })
  const { cluster, calls, invalidated } = fakeCluster(
    {
      1: () => {
        leader.node = 2 // the group moved to broker 2
        return partitionResult(ErrorCode.NOT_COORDINATOR)
      },
      2: () => partitionResult(ErrorCode.NONE),
    },
    leader,
  )
  await member(cluster).commit([{ topic: 't', partition: 0, offset: 42 }])
  assert.deepEqual(
    calls.map((c) => [c.node, c.apiKey, (c.body as CommitBody).topics[0].partitions[0].committedOffset]),
    [
      [1, ApiKey.OffsetCommit, 42],
      [2, ApiKey.OffsetCommit, 42],
    ],
  )
  assert.deepEqual(invalidated, ['coordinator:g'])
})

test('COORDINATOR_LOAD_IN_PROGRESS on OffsetFetch is retried; a non-retriable error is thrown as a KafkaError', async () => {
  let attempts = 0
  const { cluster } = fakeCluster(
    {
      1: () => {
        attempts++
        const errorCode = attempts === 1 ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          topics: [],
          groups: [
            {
              groupId: 'g',
              errorCode,
              topics: [
                {
                  name: 't',
                  partitions: [
                    {
                      partitionIndex: 0,
                      committedOffset: 9,
                      committedLeaderEpoch: 3,
                      metadata: null,
                      errorCode: 0,
                    },
                  ],
                },
              ],
            },
          ],
        }
      },
    },
    { node: 1 },
  )
  const committed = await member(cluster).fetchCommitted([{ topic: 't', partition: 0 }])
  assert.deepEqual([...committed.values()], [{ offset: 9, leaderEpoch: 3 }])
  assert.equal(attempts, 2)

  const denied = fakeCluster(
    {
      1: () => ({
        throttleTimeMs: 0,
        errorCode: 0,
        topics: [],
        groups: [{ groupId: 'g', errorCode: 30, topics: [] }],
      }),
    },
    { node: 1 },
  )
  await assert.rejects(member(denied.cluster).fetchCommitted([{ topic: 't', partition: 0 }]), {
    errorName: 'GROUP_AUTHORIZATION_FAILED',
    retriable: false,
  })
})
