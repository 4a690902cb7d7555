import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ApiKey,
  ErrorCode,
  decodeRecordBatchesSync,
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultMetadataRequest,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import { startBroker } from '../src/index.js'
import { createTopic, fetchPartition, produce, text } from './partition-client.js'
import { RawClient } from './raw-client.js'

const READ_COMMITTED = 1

async function setup(t: TestContext, partitions = 1) {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const consumer = await RawClient.connect(broker.bootstrap)
  const producer = await RawClient.connect(broker.bootstrap)
  t.after(() => {
    consumer.close()
    producer.close()
  })
  const topicId = await createTopic(producer, 'polled', partitions)
  return { broker, consumer, producer, topicId }
}

const one = (value: string) => encodeRecordBatchSync({ records: [{ value: Buffer.from(value) }] })

async function timed<T>(work: Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now()
  const result = await work
  return { result, ms: performance.now() - start }
}

test('a long-poll on an empty partition answers as soon as a record is produced', async (t) => {
  const { consumer, producer } = await setup(t)
  const pending = timed(fetchPartition(consumer, 'polled', { maxWaitMs: 5000, minBytes: 1 }))
  await sleep(200)
  assert.equal((await produce(producer, 'polled', one('wake-up'))).errorCode, ErrorCode.NONE)
  const { result, ms } = await pending
  assert.equal(result.errorCode, ErrorCode.NONE)
  assert.deepEqual(
    result.records.map((r) => text(r.value)),
    ['wake-up'],
  )
  assert.equal(result.highWatermark, 1)
  assert.ok(ms >= 150 && ms < 1500, `answered after ${Math.round(ms)} ms`)
})

test('a long-poll with nothing produced answers after maxWaitMs with no records', async (t) => {
  const { consumer } = await setup(t)
  const { result, ms } = await timed(fetchPartition(consumer, 'polled', { maxWaitMs: 300, minBytes: 1 }))
  assert.equal(result.errorCode, ErrorCode.NONE)
  assert.equal(result.records.length, 0)
  assert.equal(result.highWatermark, 0)
  assert.ok(ms >= 280 && ms < 1500, `answered after ${Math.round(ms)} ms`)
})

test('a long-poll is not completed by appends to other partitions, nor by fewer than minBytes', async (t) => {
  const { consumer, producer } = await setup(t, 2)
  const elsewhere = timed(fetchPartition(consumer, 'polled', { partition: 0, maxWaitMs: 600, minBytes: 1 }))
  await sleep(100)
  assert.equal((await produce(producer, 'polled', one('p1'), { partition: 1 })).errorCode, ErrorCode.NONE)
  const first = await elsewhere
  assert.ok(first.ms >= 550, `woken by another partition after ${Math.round(first.ms)} ms`)
  assert.equal(first.result.records.length, 0)

  // minBytes 100 KB: a small append does not satisfy it; at maxWaitMs the broker returns what it has.
  const large = timed(fetchPartition(consumer, 'polled', { maxWaitMs: 600, minBytes: 100_000 }))
  await sleep(100)
  assert.equal((await produce(producer, 'polled', one('small'))).errorCode, ErrorCode.NONE)
  const second = await large
  assert.ok(second.ms >= 550, `answered after ${Math.round(second.ms)} ms with fewer than minBytes`)
  assert.deepEqual(
    second.result.records.map((r) => text(r.value)),
    ['small'],
  )
})

test('requests pipelined behind a long-poll on the same connection are answered after it, in order', async (t) => {
  const { consumer } = await setup(t)
  const start = performance.now()
  // Written back to back on one socket. RawClient hands response frames to requests in sending
  // order and checks each correlation id, so an out-of-order answer fails the request.
  const fetching = fetchPartition(consumer, 'polled', { maxWaitMs: 300, minBytes: 1 })
  const metadata = consumer
    .request(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null })
    .then((response) => ({ response, ms: performance.now() - start }))
  const [fetched, answered] = await Promise.all([fetching, metadata])
  assert.equal(fetched.errorCode, ErrorCode.NONE)
  assert.equal(answered.response.topics.length, 1)
  assert.ok(answered.ms >= 280, `Metadata answered after ${Math.round(answered.ms)} ms, before the Fetch`)
})

test('broker.close() answers a pending long-poll at once', async (t) => {
  const { broker, consumer } = await setup(t)
  const pending = timed(
    fetchPartition(consumer, 'polled', { maxWaitMs: 10_000, minBytes: 1 }).then(
      (p) => ({ answered: true, records: p.records.length, errorCode: p.errorCode }),
      () => ({ answered: false, records: 0, errorCode: -1 }),
    ),
  )
  await sleep(100)
  const closed = timed(broker.close())
  const { result, ms } = await pending
  assert.ok(ms < 1500, `the pending fetch settled after ${Math.round(ms)} ms`)
  // Kafka completes delayed fetches on shutdown with what it has: an empty, error-free answer.
  assert.deepEqual(result, { answered: true, records: 0, errorCode: ErrorCode.NONE })
  assert.ok((await closed).ms < 1500)
})

test('Fetch size limits: partitionMaxBytes and maxBytes cut at batch boundaries; a first batch comes whole (KIP-74)', async (t) => {
  const { consumer, producer } = await setup(t, 2)
  const batches = Array.from({ length: 5 }, (_, i) =>
    encodeRecordBatchSync({ records: [{ value: Buffer.alloc(900, 97 + i) }] }),
  )
  const size = batches[0].length
  for (const partition of [0, 1]) {
    for (const batch of batches) {
      assert.equal((await produce(producer, 'polled', batch, { partition })).errorCode, ErrorCode.NONE)
    }
  }

  const two = await fetchPartition(consumer, 'polled', { partitionMaxBytes: size * 2 + size / 2 })
  assert.deepEqual(
    two.records.map((r) => r.offset),
    [0, 1],
  )
  const tiny = await fetchPartition(consumer, 'polled', { partitionMaxBytes: 10 })
  assert.deepEqual(
    tiny.records.map((r) => r.offset),
    [0],
    'the first batch is returned whole even though it is larger than partitionMaxBytes',
  )
  assert.equal(tiny.records[0].value?.length, 900)
  const fromMiddle = await fetchPartition(consumer, 'polled', { offset: 3, partitionMaxBytes: 1 << 20 })
  assert.deepEqual(
    fromMiddle.records.map((r) => r.offset),
    [3, 4],
  )

  // Response-level maxBytes across two partitions: the first partition takes what fits, the second
  // gets nothing once the budget is spent, and is not given a first-batch exception.
  const both = await fetchBoth(consumer, { maxBytes: size * 2 + size / 2 })
  assert.deepEqual(both, [[0, 1], []])
  const tinyTotal = await fetchBoth(consumer, { maxBytes: 10 })
  assert.deepEqual(tinyTotal, [[0], []])
})

test('Fetch offsets outside [logStartOffset, highWatermark] are OFFSET_OUT_OF_RANGE; at the high watermark is empty', async (t) => {
  const { consumer, producer } = await setup(t)
  for (let i = 0; i < 3; i++) await produce(producer, 'polled', one(`m${i}`))
  const atEnd = await fetchPartition(consumer, 'polled', { offset: 3 })
  assert.equal(atEnd.errorCode, ErrorCode.NONE)
  assert.equal(atEnd.records.length, 0)
  assert.equal(atEnd.highWatermark, 3)
  for (const offset of [4, 1000, -1]) {
    const { result, ms } = await timed(fetchPartition(consumer, 'polled', { offset, maxWaitMs: 2000 }))
    assert.equal(result.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset}`)
    assert.equal(result.highWatermark, 3)
    assert.equal(result.logStartOffset, 0)
    assert.equal(result.records.length, 0)
    assert.ok(ms < 1000, `an error is answered without waiting (${Math.round(ms)} ms)`)
  }
})

test('Fetch v13+ names topics by id; an unknown id is UNKNOWN_TOPIC_ID, answered at once', async (t) => {
  const { consumer, producer, topicId } = await setup(t)
  await produce(producer, 'polled', one('by-id'))
  for (const version of [13, 15, 16]) {
    const p = await fetchPartition(consumer, '', { version, topicId })
    assert.equal(p.errorCode, ErrorCode.NONE, `v${version}`)
    assert.equal(p.topic.topicId, topicId)
    assert.deepEqual(
      p.records.map((r) => text(r.value)),
      ['by-id'],
    )
  }
  const { result, ms } = await timed(
    fetchPartition(consumer, '', { version: 13, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ', maxWaitMs: 2000 }),
  )
  assert.equal(result.errorCode, ErrorCode.UNKNOWN_TOPIC_ID)
  assert.equal(result.topic.topicId, 'AAAAAAAAAAAAAAAAAAAAAQ')
  assert.ok(ms < 1000, `answered after ${Math.round(ms)} ms`)

  const byName = await fetchPartition(consumer, 'no-such-topic', { version: 12, maxWaitMs: 2000 })
  assert.equal(byName.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const badPartition = await fetchPartition(consumer, 'polled', { version: 12, partition: 5 })
  assert.equal(badPartition.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
})

test('read_committed: lastStableOffset equals the high watermark and every record is visible', async (t) => {
  const { consumer, producer, topicId } = await setup(t)
  for (let i = 0; i < 4; i++) await produce(producer, 'polled', one(`c${i}`))
  for (const version of [4, 11, 12, 16]) {
    const p = await fetchPartition(consumer, 'polled', {
      version,
      isolationLevel: READ_COMMITTED,
      topicId,
    })
    assert.equal(p.errorCode, ErrorCode.NONE, `v${version}`)
    assert.equal(p.highWatermark, 4)
    assert.equal(p.lastStableOffset, 4, `v${version}`)
    assert.deepEqual(p.abortedTransactions, [])
    assert.equal(p.records.length, 4)
  }
})

/** One Fetch for partitions 0 and 1 of 'polled' with each partition's limit 1 MB; returns offsets per partition. */
async function fetchBoth(client: RawClient, { maxBytes }: { maxBytes: number }): Promise<number[][]> {
  const response = await client.request(ApiKey.Fetch, 12, {
    ...defaultFetchRequest(),
    minBytes: 1,
    maxBytes,
    topics: [
      {
        topic: 'polled',
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [0, 1].map((partition) => ({
          ...defaultFetchRequestFetchPartition(),
          partition,
          partitionMaxBytes: 1 << 20,
        })),
      },
    ],
  })
  return response.responses[0].partitions.map((p) => {
    assert.equal(p.errorCode, ErrorCode.NONE)
    return p.records && p.records.length > 0
      ? decodeRecordBatchesSync(p.records).flatMap((b) => b.records.map((r) => r.offset))
      : []
  })
}
