import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { Compression, murmur2, partitionForKey } from '@fluxo/protocol'
import { Kafka } from '../src/index.js'
import { BuiltInPartitioner } from '../src/internal.js'
import { jsonSerde } from '../src/serde.js'
import { broker, fetchBatches } from './support.js'

const require = createRequire(import.meta.url)
const { Partitioners } = require('kafkajs') as typeof import('kafkajs')

test('murmur2 matches the Java client vectors and KafkaJS DefaultPartitioner for 2000 keys', () => {
  // Vectors from Kafka's UtilsTest.testMurmur2.
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [input, expected] of vectors) assert.equal(murmur2(Buffer.from(input)), expected, input)
  const kafkajs = Partitioners.DefaultPartitioner()
  for (const partitions of [1, 3, 7, 12]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 1 }))
    for (let i = 0; i < 500; i++) {
      const key = `key-${i}-${'x'.repeat(i % 13)}`
      const theirs = kafkajs({ topic: 't', partitionMetadata, message: { key, value: 'v' } } as never)
      assert.equal(partitionForKey(Buffer.from(key), partitions), theirs, `${key} on ${partitions}`)
    }
  }
})

test('the sticky partitioner keeps keyless records on one partition until its batch closes (KIP-480)', () => {
  let n = 0
  const p = new BuiltInPartitioner(() => [0.5, 0.1, 0.9][n++ % 3])
  const first = p.partition('t', null, 6)
  for (let i = 0; i < 50; i++) assert.equal(p.partition('t', null, 6), first)
  p.onBatchClosed('t', first, 6)
  const second = p.partition('t', null, 6)
  assert.notEqual(second, first)
  p.onBatchClosed('t', first, 6) // a batch of a non-sticky partition does not move it
  assert.equal(p.partition('t', null, 6), second)
  assert.equal(p.partition('t', Buffer.from('k'), 6), partitionForKey(Buffer.from('k'), 6))
})

test('send resolves with consecutive offsets; records of one tick share a few batches', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap], clientId: 'producer-test' })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'batched', partitions: 1 }])
  const producer = kafka.producer({ lingerMs: 20 })
  t.after(() => producer.close())
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      producer.send({ topic: 'batched', key: `k${i}`, value: `value-${i}`, headers: { i: String(i) } }),
    ),
  )
  assert.deepEqual(
    results.map((r) => r.offset),
    Array.from({ length: 1000 }, (_, i) => i),
  )
  assert.ok(results.every((r) => r.partition === 0 && r.topic === 'batched'))
  const batches = await fetchBatches(b.bootstrap, 'batched', 0)
  assert.ok(batches.length <= 5, `1000 small records in ${batches.length} batches`)
  const records = batches.flatMap((x) => x.records)
  assert.equal(records.length, 1000)
  assert.equal(records[999].value?.toString(), 'value-999')
  assert.equal(records[999].headers[0].value?.toString(), '999')
})

test('lingerMs 0 sends the records of one tick together, and a lone record at once', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'no-linger', partitions: 1 }])
  const producer = kafka.producer({ lingerMs: 0 })
  t.after(() => producer.close())
  await producer.send({ topic: 'no-linger', value: 'first' })
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => producer.send({ topic: 'no-linger', value: `v${i}` })),
  )
  assert.deepEqual(
    results.map((r) => r.offset),
    Array.from({ length: 200 }, (_, i) => i + 1),
  )
  const started = performance.now()
  await producer.send({ topic: 'no-linger', value: 'alone' })
  assert.ok(performance.now() - started < 500)
  const batches = await fetchBatches(b.bootstrap, 'no-linger', 0)
  assert.equal(batches.length, 3, `batch sizes ${batches.map((x) => x.records.length)}`)
  assert.deepEqual(
    batches.map((x) => x.records.length),
    [1, 200, 1],
  )
})

test('batch.size closes batches early; keyless records stick to one partition per batch', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'sticky', partitions: 6 }])
  const producer = kafka.producer({ lingerMs: 1000, batchSize: 4096, idempotent: false })
  t.after(() => producer.close())
  const value = 'v'.repeat(100)
  const started = Date.now()
  const sends = Array.from({ length: 200 }, () => producer.send({ topic: 'sticky', value }))
  await sends[0]
  assert.ok(Date.now() - started < 900, 'a full batch goes before linger.ms')
  await producer.flush()
  const results = await Promise.all(sends)
  const used = new Set(results.map((r) => r.partition))
  assert.ok(used.size > 1, 'moves on after each full batch')
  const sizes: number[] = []
  for (const p of used)
    for (const batch of await fetchBatches(b.bootstrap, 'sticky', p)) sizes.push(batch.records.length)
  assert.ok(sizes.length <= 10, `${sizes.length} batches`)
  // Only the remainder flushed at the end may be small.
  assert.ok(sizes.filter((n) => n < 10).length <= 1, `batch sizes ${sizes}`)
})

test('each of the four codecs round-trips, keyed records land on murmur2 partitions', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const topic = `codec-${codec}`
    await admin.createTopics([{ name: topic, partitions: 3 }])
    const producer = kafka.producer({ compression: codec, lingerMs: 5 })
    const sent = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        producer.send({ topic, key: `user-${i % 20}`, value: `${codec} ${i} ${'z'.repeat(i % 50)}` }),
      ),
    )
    await producer.close()
    for (let i = 0; i < sent.length; i++)
      assert.equal(sent[i].partition, partitionForKey(Buffer.from(`user-${i % 20}`), 3))
    let total = 0
    for (let p = 0; p < 3; p++) {
      const batches = await fetchBatches(b.bootstrap, topic, p)
      for (const batch of batches) assert.equal(batch.compression, Compression[codec])
      total += batches.reduce((n, x) => n + x.records.length, 0)
    }
    assert.equal(total, 300, codec)
  }
})

test('idempotent producer: producer id and per-partition sequences, ordering kept with 5 in flight', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'ordered', partitions: 2 }])
  // Tiny batches so that many requests are in flight at once.
  const producer = kafka.producer({ idempotent: true, lingerMs: 0, batchSize: 200, maxInFlight: 5 })
  t.after(() => producer.close())
  const sends: Promise<{ partition: number; offset: number }>[] = []
  for (let i = 0; i < 2000; i++)
    sends.push(producer.send({ topic: 'ordered', partition: i % 2, value: `${i}` }))
  const results = await Promise.all(sends)
  assert.ok(producer.producerId >= 0, 'got a producer id')
  for (let p = 0; p < 2; p++) {
    const batches = await fetchBatches(b.bootstrap, 'ordered', p)
    const values = batches.flatMap((x) => x.records.map((r) => Number(r.value!.toString())))
    assert.deepEqual(
      values,
      Array.from({ length: 1000 }, (_, i) => i * 2 + p),
      `partition ${p} in send order`,
    )
    let expected = 0
    for (const batch of batches) {
      assert.equal(batch.producerId, producer.producerId)
      assert.equal(batch.baseSequence, expected)
      expected += batch.records.length
    }
    assert.ok(batches.length > 5, `${batches.length} batches`)
  }
  assert.ok(results.every((r, i) => r.partition === i % 2))
})

test('flush sends lingering records; close flushes; sends after close fail', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const producer = kafka.producer({ lingerMs: 60_000, idempotent: false })
  let acknowledged = 0
  const first = producer.send({ topic: 'auto-created', value: 'one' }).then((m) => {
    acknowledged++
    return m
  })
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(acknowledged, 0, 'still lingering')
  await producer.flush()
  assert.equal(acknowledged, 1)
  assert.equal((await first).offset, 0)
  const second = producer.send({ topic: 'auto-created', value: 'two' })
  await producer.close()
  assert.equal((await second).offset, 1)
  await assert.rejects(producer.send({ topic: 'auto-created', value: 'three' }), {
    code: 'ERR_FLUXO_ILLEGAL_STATE',
  })
})

test('flush and close wait for records still waiting for their topic metadata', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  for (const end of ['flush', 'close'] as const) {
    const producer = kafka.producer({ lingerMs: 60_000 })
    let acknowledged = 0
    const sends = Array.from({ length: 50 }, (_, i) =>
      producer.send({ topic: `fresh-${end}`, value: `${i}` }).then(() => acknowledged++),
    )
    // The topic is unknown to the producer: every record first waits for Metadata.
    await producer[end]()
    assert.equal(acknowledged, 50, `${end}() returned before every record was acknowledged`)
    await Promise.all(sends)
    if (end === 'flush') await producer.close()
    const batches = await fetchBatches(b.bootstrap, `fresh-${end}`, 0)
    assert.equal(
      batches.reduce((n, batch) => n + batch.records.length, 0),
      50,
    )
  }
})

test('typed serializers per topic, explicit partitions and timestamps, headers as pairs', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'json', partitions: 2 }])
  const producer = kafka.producer<string, { n: number }>({ valueSerializer: jsonSerde<{ n: number }>() })
  t.after(() => producer.close())
  const m = await producer.send({
    topic: 'json',
    partition: 1,
    key: 'k',
    value: { n: 42 },
    timestamp: 1_700_000_000_000,
    headers: [
      ['dup', 'a'],
      ['dup', 'b'],
    ],
  })
  assert.deepEqual(m, { topic: 'json', partition: 1, offset: 0, timestamp: 1_700_000_000_000 })
  const [batch] = await fetchBatches(b.bootstrap, 'json', 1)
  assert.deepEqual(JSON.parse(batch.records[0].value!.toString()), { n: 42 })
  assert.equal(batch.records[0].timestamp, 1_700_000_000_000)
  assert.deepEqual(
    batch.records[0].headers.map((h) => `${h.key}=${h.value}`),
    ['dup=a', 'dup=b'],
  )
  await assert.rejects(producer.send({ topic: 'json', partition: 5, value: { n: 1 } }), {
    errorName: 'UNKNOWN_TOPIC_OR_PARTITION',
  })
})
