import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { startBroker } from '../../src/index.js'

const compatDir = join(import.meta.dirname, '..', '..', '..', '..', 'compat', 'confluent')

/**
 * @confluentinc/kafka-javascript compiles librdkafka, so it lives outside the root install
 * (compat/confluent, installed by .ci/run). Skipped locally when absent; a failure under CI=true.
 */
function loadConfluent(t: TestContext) {
  try {
    return createRequire(join(compatDir, 'package.json'))('@confluentinc/kafka-javascript')
  } catch (err) {
    if (process.env.CI) throw new Error(`@confluentinc/kafka-javascript is required under CI=true: ${err}`)
    t.skip('compat/confluent not installed (cd compat/confluent && CKJS_LINKING=dynamic npm install)')
    return undefined
  }
}

test('@confluentinc/kafka-javascript (librdkafka 2.15): admin, lz4 produce, classic consumer group', async (t) => {
  const confluent = loadConfluent(t)
  if (!confluent) return
  const { Kafka, logLevel } = confluent.KafkaJS
  const broker = await startBroker({ port: 0 })
  // Clients first, broker last: librdkafka waits for a broker that is gone.
  const cleanup: (() => Promise<void>)[] = [() => broker.close()]
  t.after(async () => {
    for (const close of cleanup.reverse()) await close()
  })
  const kafka = new Kafka({ kafkaJS: { brokers: [broker.bootstrap], logLevel: logLevel.NOTHING } })

  const admin = kafka.admin()
  await admin.connect()
  cleanup.push(() => admin.disconnect())
  await admin.createTopics({ topics: [{ topic: 'ck', numPartitions: 3 }] })
  assert.deepEqual(await admin.listTopics(), ['ck'])

  const producer = kafka.producer({ 'compression.codec': 'lz4' })
  await producer.connect()
  cleanup.push(() => producer.disconnect())
  const sent = Array.from({ length: 300 }, (_, i) => ({
    key: `k${i % 7}`,
    value: `v${i}`,
    headers: { i: String(i) },
  }))
  await producer.send({ topic: 'ck', messages: sent })

  const consumer = kafka.consumer({ kafkaJS: { groupId: 'ck-group', fromBeginning: true } })
  await consumer.connect()
  cleanup.push(() => consumer.disconnect())
  await consumer.subscribe({ topic: 'ck' })
  const started = Date.now()
  const byKey = new Map<string, string[]>()
  let count = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed only ${count} of 300`)), 30_000)
    consumer.run({
      eachMessage: async ({
        message,
      }: { message: { key: Buffer; value: Buffer; headers: Record<string, Buffer> } }) => {
        const key = message.key.toString()
        byKey.set(key, [...(byKey.get(key) ?? []), message.value.toString()])
        assert.equal(message.headers.i.toString(), message.value.toString().slice(1))
        if (++count === sent.length) {
          clearTimeout(timer)
          resolve()
        }
      },
    })
  })
  t.diagnostic(`consumed in ${Date.now() - started} ms`)
  for (const [key, values] of byKey) {
    assert.deepEqual(
      values,
      // The client turns the sent values into Buffers in place.
      sent
        .filter((m) => String(m.key) === key)
        .map((m) => String(m.value)),
      `order of ${key}`,
    )
  }
})

test('@confluentinc/kafka-javascript: two KIP-848 consumers (group.protocol=consumer) share a topic', async (t) => {
  const confluent = loadConfluent(t)
  if (!confluent) return
  const { Kafka, logLevel } = confluent.KafkaJS
  const broker = await startBroker({ port: 0 })
  const cleanup: (() => Promise<void>)[] = [() => broker.close()]
  t.after(async () => {
    for (const close of cleanup.reverse()) await close()
  })
  const kafka = new Kafka({ kafkaJS: { brokers: [broker.bootstrap], logLevel: logLevel.NOTHING } })
  const admin = kafka.admin()
  await admin.connect()
  cleanup.push(() => admin.disconnect())
  await admin.createTopics({ topics: [{ topic: 'k848', numPartitions: 4 }] })
  const producer = kafka.producer()
  await producer.connect()
  cleanup.push(() => producer.disconnect())
  const seen = new Map<string, string>() // value -> consumer
  // At-least-once: a record consumed before a revocation but not yet committed may come again.
  let duplicates = 0
  const partitionsBy = new Map<string, Set<number>>()
  for (const name of ['a', 'b']) {
    const consumer = kafka.consumer({
      kafkaJS: { groupId: 'k848-group', fromBeginning: true },
      'group.protocol': 'consumer',
    })
    await consumer.connect()
    cleanup.push(() => consumer.disconnect())
    await consumer.subscribe({ topic: 'k848' })
    partitionsBy.set(name, new Set())
    consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: { value: Buffer } }) => {
        const value = message.value.toString()
        if (seen.has(value)) duplicates++
        seen.set(value, name)
        partitionsBy.get(name)?.add(partition)
      },
    })
  }
  // Produce in rounds until both members have received records: the second member joins while the
  // first is already consuming, so the group must move partitions to it (revocation, then assignment).
  let sent = 0
  const deadline = Date.now() + 40_000
  const both = () => (partitionsBy.get('a')?.size ?? 0) > 0 && (partitionsBy.get('b')?.size ?? 0) > 0
  while (!both() && Date.now() < deadline) {
    for (let p = 0; p < 4; p++) {
      const messages = Array.from({ length: 5 }, () => ({ partition: p, value: `${p}-${sent++}` }))
      await producer.send({ topic: 'k848', messages })
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  while (seen.size < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.equal(seen.size, sent, 'every record consumed')
  t.diagnostic(`${sent} records, ${duplicates} redelivered after the rebalance`)
  const [a, b] = [partitionsBy.get('a'), partitionsBy.get('b')]
  assert.ok(
    a && b && a.size > 0 && b.size > 0,
    `both members got partitions: ${[...(a ?? [])]} / ${[...(b ?? [])]}`,
  )
})
