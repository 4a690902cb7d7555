import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Consumer, type ConsumerOptions, Kafka, type TopicPartition, stringSerde } from '../src/index.js'
import { sleep, take, until } from './consumer-support.js'
import { broker } from './support.js'

async function setup(t: import('node:test').TestContext, partitions: number) {
  const open: Consumer<string, string>[] = []
  t.after(() => Promise.all(open.map((c) => c.close())))
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  await admin.createTopics([{ name: 'kip848', partitions }])
  await admin.close()
  const consumer = (options: ConsumerOptions<string, string>) => {
    const c = kafka.consumer<string, string>({
      groupProtocol: 'consumer',
      valueDeserializer: stringSerde,
      ...options,
    })
    open.push(c)
    return c
  }
  return { kafka, consumer }
}

test('groupProtocol consumer (KIP-848): the coordinator splits partitions, a leaving member hands them over, offsets resume', async (t) => {
  const { kafka, consumer } = await setup(t, 4)
  const producer = kafka.producer()
  t.after(() => producer.close())
  await producer.sendBatch(
    Array.from({ length: 40 }, (_, i) => ({ topic: 'kip848', partition: i % 4, value: `a${i}` })),
  )
  const revoked: TopicPartition[][] = []
  const c1 = consumer({
    groupId: 'g848',
    autoOffsetReset: 'earliest',
    onPartitionsRevoked: (tps) => void revoked.push(tps),
  })
  c1.subscribe(['kip848'])
  const first = await take(c1, 40)
  assert.equal(new Set(first.map((r) => r.value)).size, 40)
  assert.equal(c1.assignment().length, 4)
  await c1.commit() // the 40th record too (the iterator counts it consumed only once it asks for more)
  assert.ok(c1.groupMetadata().generationId > 0, 'a member epoch')

  const c2 = consumer({ groupId: 'g848', autoOffsetReset: 'earliest' })
  c2.subscribe(['kip848'])
  await until(
    () => c1.assignment().length === 2 && c2.assignment().length === 2,
    'two partitions each',
    10_000,
  )
  assert.equal(revoked.flat().length, 2, 'c1 revoked only what moved')
  const c1Kept = new Set(c1.assignment().map((tp) => tp.partition))
  assert.ok(c2.assignment().every((tp) => !c1Kept.has(tp.partition)))
  // c2 starts at c1's commits (made before the revocation): nothing old is read again.
  await producer.sendBatch(
    Array.from({ length: 40 }, (_, i) => ({ topic: 'kip848', partition: i % 4, value: `b${i}` })),
  )
  const mine = await take(c2, 20)
  assert.ok(
    mine.every((r) => r.value!.startsWith('b')),
    mine.map((r) => r.value).join(','),
  )
  await take(c1, 20)

  await c2.close()
  await until(() => c1.assignment().length === 4, 'c1 takes everything back after c2 leaves', 10_000)
  await sleep(100)
})

test('groupProtocol consumer with a RegExp subscription and unsubscribe()', async (t) => {
  const { consumer } = await setup(t, 2)
  const c = consumer({ groupId: 'g848-regex' })
  c.subscribe(/^kip8/)
  await until(() => c.assignment().length === 2, 'both partitions', 10_000)
  await c.unsubscribe()
  assert.deepEqual(c.assignment(), [])
  c.subscribe(['kip848'])
  await until(() => c.assignment().length === 2, 'assigned again', 10_000)
})

test('groupProtocol consumer, static membership: a restarted instance takes its partitions back, the other member keeps its own', async (t) => {
  const { consumer } = await setup(t, 4)
  const revoked: TopicPartition[][] = []
  const a = consumer({ groupId: 'g848-static', groupInstanceId: 'a' })
  const b = consumer({
    groupId: 'g848-static',
    groupInstanceId: 'b',
    onPartitionsRevoked: (tps) => void revoked.push(tps),
  })
  a.subscribe(['kip848'])
  await until(() => a.assignment().length === 4, 'a owns all four', 10_000)
  b.subscribe(['kip848'])
  await until(() => a.assignment().length === 2 && b.assignment().length === 2, 'two each', 10_000)
  const aHad = a
    .assignment()
    .map((tp) => tp.partition)
    .sort()
  const bHad = b
    .assignment()
    .map((tp) => tp.partition)
    .sort()
  await a.close() // member epoch -2: the coordinator keeps a's place and partitions
  await sleep(300)
  assert.deepEqual(
    b
      .assignment()
      .map((tp) => tp.partition)
      .sort(),
    bHad,
    'b was not given a’s partitions',
  )
  const again = consumer({ groupId: 'g848-static', groupInstanceId: 'a' })
  again.subscribe(['kip848'])
  await until(() => again.assignment().length === 2, 'the restarted instance is assigned', 10_000)
  assert.deepEqual(
    again
      .assignment()
      .map((tp) => tp.partition)
      .sort(),
    aHad,
  )
  assert.deepEqual(
    b
      .assignment()
      .map((tp) => tp.partition)
      .sort(),
    bHad,
  )
  assert.equal(revoked.length, 0)
})
