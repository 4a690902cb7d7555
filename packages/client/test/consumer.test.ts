import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DeserializationError, Kafka, jsonSerde, stringSerde } from '../src/index.js'
import { sleep, take } from './consumer-support.js'
import { broker } from './support.js'

async function setup(t: import('node:test').TestContext, topic: string, partitions: number, count: number) {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap], clientId: 'consumer-test' })
  const admin = kafka.admin()
  await admin.createTopics([{ name: topic, partitions }])
  await admin.close()
  const producer = kafka.producer({ lingerMs: 5 })
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      producer.send({ topic, partition: i % partitions, key: `k${i}`, value: `v${i}` }),
    ),
  )
  await producer.close()
  return { b, kafka }
}

test('manual assign from an offset, seek back and forth, pause and resume one partition', async (t) => {
  const { kafka } = await setup(t, 'manual', 2, 200)
  const consumer = kafka.consumer({ keyDeserializer: stringSerde, valueDeserializer: stringSerde })
  t.after(() => consumer.close())
  consumer.assign([
    { topic: 'manual', partition: 0, offset: 90 },
    { topic: 'manual', partition: 1, offset: 0 },
  ])
  assert.deepEqual(
    consumer.assignment().sort((a, b) => a.partition - b.partition),
    [
      { topic: 'manual', partition: 0 },
      { topic: 'manual', partition: 1 },
    ],
  )
  const first = await take(consumer, 110)
  const p0 = first.filter((r) => r.partition === 0).map((r) => r.offset)
  const p1 = first.filter((r) => r.partition === 1).map((r) => r.offset)
  assert.deepEqual(
    p0,
    Array.from({ length: 10 }, (_, i) => 90 + i),
  )
  assert.deepEqual(
    p1,
    Array.from({ length: 100 }, (_, i) => i),
  )
  const r = first.find((x) => x.partition === 0 && x.offset === 95)!
  // Partition 0 holds the even records: offset 95 is record 190.
  assert.equal(r.key, 'k190')
  assert.equal(r.value, 'v190')
  assert.equal(r.timestampType, 'CreateTime')
  assert.ok(Math.abs(r.timestamp - Date.now()) < 60_000)
  assert.equal(await consumer.position({ topic: 'manual', partition: 0 }), 100)

  consumer.seek({ topic: 'manual', partition: 0, offset: 97 })
  assert.equal(await consumer.position({ topic: 'manual', partition: 0 }), 97)
  const again = await take(consumer, 3)
  assert.deepEqual(
    again.map((x) => [x.partition, x.offset]),
    [
      [0, 97],
      [0, 98],
      [0, 99],
    ],
  )

  consumer.pause([{ topic: 'manual', partition: 1 }])
  assert.deepEqual(consumer.paused(), [{ topic: 'manual', partition: 1 }])
  consumer.seek({ topic: 'manual', partition: 1, offset: 50 })
  consumer.seek({ topic: 'manual', partition: 0, offset: 0 })
  const whilePaused = await take(consumer, 100)
  assert.ok(
    whilePaused.every((x) => x.partition === 0),
    'nothing from the paused partition',
  )
  assert.equal(whilePaused[0].offset, 0)
  consumer.resume([{ topic: 'manual', partition: 1 }])
  assert.deepEqual(consumer.paused(), [])
  const resumed = await take(consumer, 50)
  assert.deepEqual(
    resumed.map((x) => [x.partition, x.offset]),
    Array.from({ length: 50 }, (_, i) => [1, 50 + i]),
  )
})

test('the iterator waits for new records (long poll) and ends after close()', async (t) => {
  const { kafka } = await setup(t, 'live', 1, 0)
  const consumer = kafka.consumer({ valueDeserializer: stringSerde, autoOffsetReset: 'latest' })
  consumer.assign([{ topic: 'live', partition: 0 }])
  assert.equal(await consumer.position({ topic: 'live', partition: 0 }), 0)
  const producer = kafka.producer()
  t.after(() => producer.close())
  const got = take(consumer, 3)
  await sleep(300)
  const sentAt = Date.now()
  await producer.sendBatch(['a', 'b', 'c'].map((value) => ({ topic: 'live', value })))
  const records = await got
  assert.deepEqual(
    records.map((r) => r.value),
    ['a', 'b', 'c'],
  )
  assert.ok(Date.now() - sentAt < 2000, 'delivered within the long poll, not after a timeout')
  const rest = (async () => {
    const seen = []
    for await (const r of consumer) seen.push(r)
    return seen
  })()
  await sleep(100)
  const closing = Date.now()
  await consumer.close()
  assert.deepEqual(await rest, [])
  assert.ok(Date.now() - closing < 2000, `close took ${Date.now() - closing} ms`)
  assert.throws(() => consumer.assign([{ topic: 'live', partition: 0 }]), /closed/)
})

test('a value the deserializer rejects throws DeserializationError and stays put until a seek skips it', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const producer = kafka.producer()
  await producer.sendBatch(['{"n":1}', 'not json', '{"n":3}'].map((value) => ({ topic: 'json', value })))
  await producer.close()
  const consumer = kafka.consumer({
    valueDeserializer: jsonSerde<{ n: number }>(),
    autoOffsetReset: 'earliest',
  })
  t.after(() => consumer.close())
  consumer.assign([{ topic: 'json', partition: 0 }])
  assert.deepEqual((await take(consumer, 1))[0].value, { n: 1 })
  for (let attempt = 0; attempt < 2; attempt++) {
    await assert.rejects(
      take(consumer, 1),
      (err) => err instanceof DeserializationError && err.offset === 1 && err.cause instanceof SyntaxError,
    )
  }
  assert.equal(await consumer.position({ topic: 'json', partition: 0 }), 1)
  consumer.seek({ topic: 'json', partition: 0, offset: 2 })
  assert.deepEqual((await take(consumer, 1))[0].value, { n: 3 })
})

test('backpressure: a consumer that stops taking records stops fetching once its partition buffer is full', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  await admin.createTopics([{ name: 'big', partitions: 1 }])
  await admin.close()
  const producer = kafka.producer({ lingerMs: 5, batchSize: 16_384 })
  const value = 'x'.repeat(1000)
  await producer.sendBatch(Array.from({ length: 4000 }, () => ({ topic: 'big', value })))
  await producer.close()
  const consumer = kafka.consumer({ autoOffsetReset: 'earliest', maxPartitionBytes: 65_536 })
  t.after(() => consumer.close())
  consumer.assign([{ topic: 'big', partition: 0 }])
  await take(consumer, 1)
  await sleep(1000) // time for many fetches, were they not held back
  const [s] = consumer.stats()
  assert.equal(s.position, 1)
  assert.equal(s.highWatermark, 4000)
  assert.equal(s.lag, 3999)
  assert.ok(
    s.bufferedBytes > 0 && s.bufferedBytes <= 2 * 65_536 + 16_384,
    `${s.bufferedBytes} bytes buffered`,
  )
  assert.ok(s.bufferedRecords < 200, `${s.bufferedRecords} records buffered of 4000`)
  // Taking records lets fetching go on.
  const rest = await take(consumer, 3999)
  assert.equal(rest[rest.length - 1].offset, 3999)
  assert.equal(consumer.stats()[0].lag, 0)
})

test('manual assignment with a groupId: auto-commit and the final commit on close, without joining the group', async (t) => {
  const { kafka } = await setup(t, 'standalone', 1, 10)
  const consumer = kafka.consumer({
    groupId: 'standalone',
    autoOffsetReset: 'earliest',
    autoCommitIntervalMs: 60_000,
  })
  consumer.assign([{ topic: 'standalone', partition: 0 }])
  await take(consumer, 5) // the fifth is handed out but not consumed yet
  await consumer.close()
  const admin = kafka.admin()
  t.after(() => admin.close())
  assert.deepEqual(await admin.fetchOffsets('standalone', ['standalone']), [
    { topic: 'standalone', partitions: [{ partition: 0, offset: 4 }] },
  ])
  const groups = await admin.describeGroups(['standalone'])
  assert.equal(groups[0].members.length, 0, 'never a member')
})

test('commit() of the position is not undone by the auto-commit on close', async (t) => {
  const { kafka } = await setup(t, 'no-regress', 1, 10)
  const consumer = kafka.consumer({ groupId: 'no-regress', autoOffsetReset: 'earliest' })
  consumer.assign([{ topic: 'no-regress', partition: 0 }])
  await take(consumer, 5)
  await consumer.commit() // position 5, though the iterator counts only 4 as consumed
  await consumer.close()
  const admin = kafka.admin()
  t.after(() => admin.close())
  assert.deepEqual(await admin.fetchOffsets('no-regress', ['no-regress']), [
    { topic: 'no-regress', partitions: [{ partition: 0, offset: 5 }] },
  ])
})
