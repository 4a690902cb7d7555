import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { type TestContext, test } from 'node:test'
import { type Consumer, type ConsumerOptions, Kafka, type TopicPartition, stringSerde } from '../src/index.js'
import { sleep, take, until } from './consumer-support.js'
import { broker } from './support.js'

const require = createRequire(import.meta.url)
const kafkajs = require('kafkajs') as typeof import('kafkajs')

/** A broker with topics; consumers made through `consumer` are closed before the broker stops. */
async function setup(t: TestContext, topics: Record<string, number>, config: Record<string, string> = {}) {
  const open: Consumer<string, string>[] = []
  t.after(() => Promise.all(open.map((c) => c.close())))
  const b = await broker(t, config)
  const kafka = new Kafka({ bootstrap: [b.bootstrap], clientId: 'group-test' })
  const admin = kafka.admin()
  await admin.createTopics(Object.entries(topics).map(([name, partitions]) => ({ name, partitions })))
  await admin.close()
  const consumer = (options: ConsumerOptions<string, string>) => {
    const c = kafka.consumer<string, string>({
      heartbeatIntervalMs: 100,
      keyDeserializer: stringSerde,
      valueDeserializer: stringSerde,
      ...options,
    })
    open.push(c)
    return c
  }
  return { b, kafka, consumer }
}

async function produce(kafka: Kafka, topic: string, count: number, partitions: number, from = 0) {
  const producer = kafka.producer({ lingerMs: 2 })
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      producer.send({
        topic,
        partition: (from + i) % partitions,
        key: `k${from + i}`,
        value: `v${from + i}`,
      }),
    ),
  )
  await producer.close()
}

const sortTps = (tps: TopicPartition[]) =>
  [...tps].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))

test('auto-commit: a new member of the group resumes after the committed offsets, as KafkaJS admin sees them', async (t) => {
  const { b, kafka, consumer } = await setup(t, { orders: 3 })
  await produce(kafka, 'orders', 90, 3)
  const first = consumer({ groupId: 'resume', autoOffsetReset: 'earliest', autoCommitIntervalMs: 100 })
  first.subscribe(['orders'])
  const got = await take(first, 60)
  assert.equal(new Set(got.map((r) => r.value)).size, 60)
  await first.close() // commits what was consumed: 59 records (the 60th was never followed by next())
  const js = new kafkajs.Kafka({ brokers: [b.bootstrap], logLevel: kafkajs.logLevel.NOTHING })
  const jsAdmin = js.admin()
  await jsAdmin.connect()
  t.after(() => jsAdmin.disconnect())
  const committed = await jsAdmin.fetchOffsets({ groupId: 'resume', topics: ['orders'] })
  const committedTotal = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0)
  assert.equal(committedTotal, 59, JSON.stringify(committed))

  const second = consumer({ groupId: 'resume', autoOffsetReset: 'earliest' })
  second.subscribe(['orders'])
  const rest = await take(second, 31)
  for (const r of rest) {
    const c = committed[0].partitions.find((p) => p.partition === r.partition)!
    assert.ok(
      r.offset >= Number(c.offset),
      `${r.partition}@${r.offset} is at or after the commit ${c.offset}`,
    )
  }
  const all = new Set([...got.slice(0, 59), ...rest].map((r) => r.value))
  assert.equal(all.size, 90, 'every record once, the 60th redelivered')
  const ours = await second.committed([0, 1, 2].map((partition) => ({ topic: 'orders', partition })))
  assert.deepEqual(
    ours.map((o) => o.offset),
    [0, 1, 2].map((p) => Number(committed[0].partitions.find((x) => x.partition === p)!.offset)),
  )
})
