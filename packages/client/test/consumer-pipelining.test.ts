// Pipelined fetches: with records waiting in several partitions of one leader, the fetcher keeps two
// Fetches in flight. A scripted broker holds each Fetch until the test answers it, so seek and pause
// can land while a fetch is in flight.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ApiKey, ZERO_UUID, encodeRecordBatchSync } from '@fluxo/protocol'
import { Fetcher } from '../src/consumer/fetcher.js'
import type { Cluster } from '../src/internal.js'
import { until } from './consumer-support.js'

interface FetchBody {
  topics: { topic: string; partitions: { partition: number; fetchOffset: number }[] }[]
}
interface HeldFetch {
  partitions: { partition: number; fetchOffset: number }[]
  answer: (records: Map<number, Buffer | null>) => void
}

const HIGH_WATERMARK = 100

function scriptedCluster(lastStableOffset = HIGH_WATERMARK) {
  const held: HeldFetch[] = []
  const connection = {
    versionFor: () => 12,
    request: (apiKey: number, body: FetchBody) => {
      assert.equal(apiKey, ApiKey.Fetch)
      return new Promise((resolve) => {
        held.push({
          partitions: body.topics.flatMap((t) => t.partitions),
          answer: (records) =>
            resolve({
              throttleTimeMs: 0,
              errorCode: 0,
              sessionId: 0,
              responses: [
                {
                  topic: 't',
                  topicId: ZERO_UUID,
                  partitions: body.topics[0].partitions.map((p) => ({
                    partitionIndex: p.partition,
                    errorCode: 0,
                    highWatermark: HIGH_WATERMARK,
                    lastStableOffset,
                    logStartOffset: 0,
                    divergingEpoch: null,
                    currentLeader: null,
                    snapshotId: null,
                    abortedTransactions: null,
                    preferredReadReplica: -1,
                    records: records.get(p.partition) ?? null,
                  })),
                },
              ],
              nodeEndpoints: [],
            }),
        })
      })
    },
    destroy: () => {},
    onClose: () => {},
    inFlight: 0,
  }
  const cluster = {
    options: { bootstrap: ['fake:1'], requestTimeoutMs: 1000 },
    retryOptions: { retries: 5, initialRetryTimeMs: 10, maxRetryTimeMs: 20 },
    leader: () => 1,
    topic: () => ({ topicId: ZERO_UUID }),
    invalidate: () => {},
    topics: async () => new Map(),
    connection: async () => connection,
  }
  return { cluster: cluster as unknown as Cluster, held }
}

/** Records `from` .. `from + count - 1` of one partition, valued `p<partition>@<offset>`. */
function batch(partition: number, from: number, count: number): Buffer {
  return encodeRecordBatchSync({
    baseOffset: from,
    records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`p${partition}@${from + i}`) })),
  })
}

/** Everything handed out now, as `p<partition>@<offset>`. */
function drain(fetcher: Fetcher): string[] {
  const out: string[] = []
  for (let t = fetcher.take(100); t; t = fetcher.take(100))
    for (const r of t.records) out.push(r.record.value!.toString())
  return out
}

/** Starts two partitions at offset 0 and answers the first fetch: then two fetches are in flight. */
async function pipelined(t: import('node:test').TestContext) {
  const { cluster, held } = scriptedCluster()
  const fetcher = new Fetcher(cluster, {
    isolationLevel: 'read_uncommitted',
    autoOffsetReset: 'none',
    minBytes: 1,
    maxBytes: 1 << 20,
    maxPartitionBytes: 1 << 20,
    maxWaitMs: 500,
  })
  t.after(() => fetcher.close())
  fetcher.add([
    { topic: 't', partition: 0, offset: 0 },
    { topic: 't', partition: 1, offset: 0 },
  ])
  await until(() => held.length === 1, 'the first fetch', 3000)
  assert.deepEqual(
    held[0].partitions.map((p) => [p.partition, p.fetchOffset]),
    [
      [0, 0],
      [1, 0],
    ],
  )
  held.shift()!.answer(
    new Map([
      [0, batch(0, 0, 2)],
      [1, batch(1, 0, 2)],
    ]),
  )
  // Both partitions are known to have records past offset 2: one fetch each, the second pipelined.
  await until(() => held.length === 2, 'two fetches in flight', 3000)
  assert.deepEqual(
    held.map((h) => h.partitions.map((p) => [p.partition, p.fetchOffset])),
    [[[0, 2]], [[1, 2]]],
  )
  assert.deepEqual(drain(fetcher).sort(), ['p0@0', 'p0@1', 'p1@0', 'p1@1'])
  return { fetcher, held }
}

test('a seek while a pipelined fetch is in flight drops its records and delivers from the seek offset', async (t) => {
  const { fetcher, held } = await pipelined(t)
  fetcher.seek('t', 0, 50)
  const [forP0, forP1] = held.splice(0, 2)
  forP0.answer(new Map([[0, batch(0, 2, 3)]])) // fetched from offset 2, before the seek
  forP1.answer(new Map([[1, batch(1, 2, 3)]]))
  await until(() => held.some((h) => h.partitions.some((p) => p.partition === 0)), 'a fetch from 50', 3000)
  const again = held.find((h) => h.partitions.some((p) => p.partition === 0))!
  assert.equal(again.partitions.find((p) => p.partition === 0)!.fetchOffset, 50)
  again.answer(new Map([[0, batch(0, 50, 2)]]))
  await until(() => fetcher.get('t', 0)!.bufferedBytes > 0, 'records from 50', 3000)
  const out = drain(fetcher)
  assert.deepEqual(
    out.filter((v) => v.startsWith('p0')),
    ['p0@50', 'p0@51'],
  )
  assert.deepEqual(
    out.filter((v) => v.startsWith('p1')),
    ['p1@2', 'p1@3', 'p1@4'],
  )
  assert.equal(fetcher.get('t', 0)!.position, 52)
})

test('a pause while a pipelined fetch is in flight hands out nothing more of that partition until resume', async (t) => {
  const { fetcher, held } = await pipelined(t)
  fetcher.setPaused([{ topic: 't', partition: 1 }], true)
  const [forP0, forP1] = held.splice(0, 2)
  forP0.answer(new Map([[0, batch(0, 2, 3)]]))
  forP1.answer(new Map([[1, batch(1, 2, 3)]]))
  await until(
    () => fetcher.get('t', 1)!.bufferedBytes > 0 && fetcher.get('t', 0)!.bufferedBytes > 0,
    'both answers',
    3000,
  )
  assert.deepEqual(drain(fetcher), ['p0@2', 'p0@3', 'p0@4'])
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.ok(
    held.every((h) => h.partitions.every((p) => p.partition !== 1)),
    'a paused partition is not fetched',
  )
  assert.equal(fetcher.get('t', 1)!.position, 2)
  fetcher.setPaused([{ topic: 't', partition: 1 }], false)
  assert.deepEqual(drain(fetcher), ['p1@2', 'p1@3', 'p1@4'])
})

test('read_committed: no fetch is pipelined for partitions at their last stable offset (the broker would park it)', async (t) => {
  const { cluster, held } = scriptedCluster(2) // an open transaction from offset 2 on
  const fetcher = new Fetcher(cluster, {
    isolationLevel: 'read_committed',
    autoOffsetReset: 'none',
    minBytes: 1,
    maxBytes: 1 << 20,
    maxPartitionBytes: 1 << 20,
    maxWaitMs: 500,
  })
  t.after(() => fetcher.close())
  fetcher.add([
    { topic: 't', partition: 0, offset: 0 },
    { topic: 't', partition: 1, offset: 0 },
  ])
  await until(() => held.length === 1, 'the first fetch', 3000)
  held.shift()!.answer(
    new Map([
      [0, batch(0, 0, 2)],
      [1, batch(1, 0, 2)],
    ]),
  )
  await until(() => held.length === 1, 'the next fetch', 3000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(
    held.map((h) => h.partitions.map((p) => [p.partition, p.fetchOffset])),
    [
      [
        [0, 2],
        [1, 2],
      ],
    ],
  )
  assert.deepEqual(drain(fetcher).sort(), ['p0@0', 'p0@1', 'p1@0', 'p1@1'])
})
