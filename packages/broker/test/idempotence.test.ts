// Idempotent produce over the wire (KIP-98): retries answer with the original offset and append
// nothing, gaps and stale epochs are refused, and the state survives a restart of file storage.
import assert from 'node:assert/strict'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { ApiKey, ErrorCode, encodeRecordBatchSync } from '@fluxo/protocol'
import { type Broker, startBroker } from '../src/index.js'
import { createTopic, fetchPartition, produce, readPartition, text } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

async function connect(t: TestContext, broker: Broker): Promise<RawClient> {
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  return client
}

/** One idempotent batch of `count` records: values "<tag>-<sequence>". */
function idempotent(producerId: number, producerEpoch: number, baseSequence: number, count = 1, tag = 'v') {
  return encodeRecordBatchSync({
    producerId,
    producerEpoch,
    baseSequence,
    records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`${tag}-${baseSequence + i}`) })),
  })
}

test('a retried batch answers with its original offset and appends nothing; any of the last five is recognised', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await connect(t, broker)
  await createTopic(client, 'idem')

  const first = await produce(client, 'idem', idempotent(1000, 0, 0, 3))
  assert.equal(first.errorCode, ErrorCode.NONE)
  assert.equal(first.baseOffset, 0)
  for (let seq = 3; seq < 18; seq += 3) {
    assert.equal((await produce(client, 'idem', idempotent(1000, 0, seq, 3))).baseOffset, seq)
  }
  // Offsets 0-17 in six batches; the last five (sequences 3..17) are remembered.
  for (let seq = 3; seq < 18; seq += 3) {
    const retry = await produce(client, 'idem', idempotent(1000, 0, seq, 3))
    assert.equal(retry.errorCode, ErrorCode.NONE)
    assert.equal(retry.baseOffset, seq)
  }
  const tooOld = await produce(client, 'idem', idempotent(1000, 0, 0, 3))
  assert.equal(tooOld.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)

  const { records, highWatermark } = await readPartition(client, 'idem')
  assert.equal(highWatermark, 18)
  assert.deepEqual(
    records.map((r) => text(r.value)),
    Array.from({ length: 18 }, (_, i) => `v-${i}`),
  )
})

test('the same batch sent on ten connections at once is appended exactly once', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const clients = await Promise.all(Array.from({ length: 10 }, () => connect(t, broker)))
  await createTopic(clients[0], 'race')
  for (let round = 0; round < 20; round++) {
    const responses = await Promise.all(
      clients.map((c) => produce(c, 'race', idempotent(7, 0, round * 2, 2), { acks: -1 })),
    )
    for (const r of responses) {
      assert.equal(r.errorCode, ErrorCode.NONE)
      assert.equal(r.baseOffset, round * 2)
    }
  }
  const { records } = await readPartition(clients[0], 'race')
  assert.deepEqual(
    records.map((r) => text(r.value)),
    Array.from({ length: 40 }, (_, i) => `v-${i}`),
  )
})

test('a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER; a stale epoch INVALID_PRODUCER_EPOCH; a new epoch restarts at 0', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await connect(t, broker)
  await createTopic(client, 'seq')

  assert.equal((await produce(client, 'seq', idempotent(5, 1, 0, 2))).baseOffset, 0)
  const gap = await produce(client, 'seq', idempotent(5, 1, 3))
  assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.match(gap.errorMessage ?? '', /3 \(incoming seq\. number\), 1 \(current end sequence number\)/)
  assert.equal(gap.baseOffset, -1)

  const stale = await produce(client, 'seq', idempotent(5, 0, 2))
  assert.equal(stale.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)

  assert.equal(
    (await produce(client, 'seq', idempotent(5, 2, 2))).errorCode,
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  )
  assert.equal((await produce(client, 'seq', idempotent(5, 2, 0, 1, 'e2'))).baseOffset, 2)
  assert.equal(
    (await produce(client, 'seq', idempotent(5, 1, 2))).errorCode,
    ErrorCode.INVALID_PRODUCER_EPOCH,
  )

  // A producer this partition has never seen may start anywhere (KIP-360).
  assert.equal((await produce(client, 'seq', idempotent(6, 0, 500))).errorCode, ErrorCode.NONE)
  const { records } = await readPartition(client, 'seq')
  assert.deepEqual(
    records.map((r) => text(r.value)),
    ['v-0', 'v-1', 'e2-0', 'v-500'],
  )
})

test('a duplicate on a LogAppendTime topic answers with the append time of the first attempt', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await connect(t, broker)
  await createTopic(client, 'lat', 1, { 'message.timestamp.type': 'LogAppendTime' })
  const first = await produce(client, 'lat', idempotent(3, 0, 0))
  await new Promise((resolve) => setTimeout(resolve, 5))
  const retry = await produce(client, 'lat', idempotent(3, 0, 0))
  assert.equal(retry.baseOffset, first.baseOffset)
  assert.equal(retry.logAppendTimeMs, first.logAppendTimeMs)
})

test('DescribeProducers lists each producer with its epoch, last sequence and open transaction', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await connect(t, broker)
  await createTopic(client, 'described', 2)
  await produce(client, 'described', idempotent(11, 4, 0, 3))
  await produce(client, 'described', idempotent(11, 4, 3, 2))
  await produce(client, 'described', idempotent(12, 0, 0), { partition: 1 })

  const response = await client.request(ApiKey.DescribeProducers, 0, {
    topics: [
      { name: 'described', partitionIndexes: [0, 1, 7] },
      { name: 'missing', partitionIndexes: [0] },
    ],
  })
  const [described, missing] = response.topics
  const [p0, p1, p7] = described.partitions
  assert.equal(p0.errorCode, ErrorCode.NONE)
  assert.equal(p0.activeProducers.length, 1)
  const producer = p0.activeProducers[0]
  assert.deepEqual(
    {
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      lastSequence: producer.lastSequence,
      coordinatorEpoch: producer.coordinatorEpoch,
      currentTxnStartOffset: producer.currentTxnStartOffset,
    },
    { producerId: 11, producerEpoch: 4, lastSequence: 4, coordinatorEpoch: -1, currentTxnStartOffset: -1 },
  )
  assert.ok(producer.lastTimestamp > 0)
  assert.deepEqual(
    p1.activeProducers.map((p) => p.producerId),
    [12],
  )
  assert.equal(p7.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(missing.partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
})

async function startFile(t: TestContext, dataDir: string, config: Record<string, string> = {}) {
  const broker = await startBroker({ port: 0, storage: 'file', dataDir, config })
  t.after(() => broker.close())
  return broker
}

test('dedup survives a broker restart: from the snapshot written at close, and by scanning the log without one', async (t) => {
  const dataDir = await tempDir(t)
  let broker = await startFile(t, dataDir)
  let client = await connect(t, broker)
  await createTopic(client, 'durable')
  for (let seq = 0; seq < 20; seq += 4) await produce(client, 'durable', idempotent(77, 2, seq, 4))
  await broker.close()
  client.close()

  const partitionDir = join(dataDir, 'durable-0')
  const snapshots = (await readdir(partitionDir)).filter((f) => f.endsWith('.snapshot'))
  assert.deepEqual(snapshots, ['00000000000000000020.snapshot'])

  broker = await startFile(t, dataDir)
  client = await connect(t, broker)
  const retried = await produce(client, 'durable', idempotent(77, 2, 16, 4))
  assert.equal(retried.errorCode, ErrorCode.NONE)
  assert.equal(retried.baseOffset, 16)
  assert.equal(
    (await produce(client, 'durable', idempotent(77, 2, 21))).errorCode,
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  )
  assert.equal(
    (await produce(client, 'durable', idempotent(77, 1, 20))).errorCode,
    ErrorCode.INVALID_PRODUCER_EPOCH,
  )
  assert.equal((await produce(client, 'durable', idempotent(77, 2, 20))).baseOffset, 20)
  await broker.close()
  client.close()

  // As after a crash: no snapshot, so the state comes from the batch headers in the log.
  for (const f of await readdir(partitionDir)) if (f.endsWith('.snapshot')) await rm(join(partitionDir, f))
  broker = await startFile(t, dataDir)
  client = await connect(t, broker)
  assert.equal((await produce(client, 'durable', idempotent(77, 2, 20))).baseOffset, 20)
  assert.equal((await produce(client, 'durable', idempotent(77, 2, 8, 4))).baseOffset, 8)
  // Batches at sequences 4..20 are the last five; the one at 0 fell out of the window.
  assert.equal((await produce(client, 'durable', idempotent(77, 2, 4, 4))).baseOffset, 4)
  assert.equal(
    (await produce(client, 'durable', idempotent(77, 2, 0, 4))).errorCode,
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  )
  const { records } = await readPartition(client, 'durable')
  assert.deepEqual(
    records.map((r) => text(r.value)),
    Array.from({ length: 21 }, (_, i) => `v-${i}`),
  )
})

test('segment rolls write producer snapshots; a restart after a crash scans only past the newest', async (t) => {
  const dataDir = await tempDir(t)
  let broker = await startFile(t, dataDir)
  let client = await connect(t, broker)
  // segment.bytes is at least 1 MiB: batches of 400 kB roll a segment every other batch.
  await createTopic(client, 'rolling', 1, { 'segment.bytes': String(1 << 20) })
  const value = 'x'.repeat(400_000)
  for (let seq = 0; seq < 12; seq++) {
    const batch = encodeRecordBatchSync({
      producerId: 90,
      producerEpoch: 0,
      baseSequence: seq,
      records: [{ value: Buffer.from(`${seq}:${value}`) }],
    })
    assert.equal((await produce(client, 'rolling', batch)).baseOffset, seq)
  }
  const partitionDir = join(dataDir, 'rolling-0')
  const files = await readdir(partitionDir)
  const segments = files.filter((f) => f.endsWith('.log')).sort()
  const snapshots = files.filter((f) => f.endsWith('.snapshot'))
  assert.ok(segments.length >= 4, `segments: ${segments}`)
  // One snapshot, at the base offset of the newest segment.
  assert.deepEqual(snapshots, [segments.at(-1)!.replace('.log', '.snapshot')])

  // As after a crash, when close wrote no snapshot: the roll snapshot plus the tail past it must
  // rebuild the state (close writes one; it is replaced by the roll snapshot kept aside here).
  const rollSnapshot = await readFile(join(partitionDir, snapshots[0]))
  await broker.close()
  client.close()
  for (const f of await readdir(partitionDir)) if (f.endsWith('.snapshot')) await rm(join(partitionDir, f))
  await writeFile(join(partitionDir, snapshots[0]), rollSnapshot)
  // Rewrite the producer id in the first batch's header: a scan from offset 0 would see producer 91.
  const firstSegment = join(partitionDir, segments[0])
  const bytes = await readFile(firstSegment)
  bytes.writeBigInt64BE(91n, 43)
  await writeFile(firstSegment, bytes)
  broker = await startFile(t, dataDir)
  client = await connect(t, broker)
  for (let seq = 7; seq < 12; seq++) {
    const batch = encodeRecordBatchSync({
      producerId: 90,
      producerEpoch: 0,
      baseSequence: seq,
      records: [{ value: Buffer.from(`${seq}:${value}`) }],
    })
    assert.equal((await produce(client, 'rolling', batch)).baseOffset, seq, `retry of ${seq}`)
  }
  const fetched = await fetchPartition(client, 'rolling', { offset: 11 })
  assert.equal(fetched.highWatermark, 12)
  const described = await client.request(ApiKey.DescribeProducers, 0, {
    topics: [{ name: 'rolling', partitionIndexes: [0] }],
  })
  assert.deepEqual(
    described.topics[0].partitions[0].activeProducers.map((p) => [p.producerId, p.lastSequence]),
    [[90, 11]],
  )
})
