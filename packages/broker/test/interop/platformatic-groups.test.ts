import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  Admin,
  Consumer,
  type MessagesStream,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'
import { startBroker } from '../../src/index.js'

/**
 * @platformatic/kafka with `groupProtocol: 'consumer'`: the KIP-848 protocol (ConsumerGroupHeartbeat
 * with server-side assignment, member epochs on OffsetCommit/OffsetFetch). The broker's heartbeat
 * interval is lowered so reconciliation takes milliseconds instead of Kafka's 5 s steps.
 */

const TIMEOUT = 30_000

async function waitFor(what: string, check: () => boolean, timeoutMs = TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

interface Received {
  member: string
  partition: number
  offset: number
  value: string
}

async function setup(t: TestContext) {
  const broker = await startBroker({
    port: 0,
    config: {
      'auto.create.topics.enable': 'false',
      'group.consumer.heartbeat.interval.ms': '100',
      'group.consumer.session.timeout.ms': '6000',
    },
  })
  // Cleanups run last-registered first, so members leave before the broker stops.
  const cleanups: (() => Promise<unknown>)[] = [() => broker.close()]
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })
  const options = { clientId: 'platformatic-848', bootstrapBrokers: [broker.bootstrap], retries: 5 }
  const admin = new Admin(options)
  const producer = new Producer({ ...options, serializers: stringSerializers })
  cleanups.push(() => Promise.all([admin.close(), producer.close()]))
  return { broker, admin, producer, options, cleanups }
}

async function member(
  cleanups: (() => Promise<unknown>)[],
  options: { clientId: string; bootstrapBrokers: string[]; retries: number },
  name: string,
  groupId: string,
  topic: string,
  received: Received[],
) {
  const consumer = new Consumer({
    ...options,
    clientId: name,
    groupId,
    groupProtocol: 'consumer',
    deserializers: stringDeserializers,
    maxWaitTime: 100,
  })
  const stream: MessagesStream<string, string, string, string> = await consumer.consume({
    topics: [topic],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: 100,
  })
  stream.on('data', (m) => {
    received.push({ member: name, partition: m.partition, offset: Number(m.offset), value: m.value })
  })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await stream.close()
    await consumer.close()
  }
  cleanups.push(close)
  const partitions = () =>
    (consumer.assignments ?? [])
      .filter((a) => a.topic === topic)
      .flatMap((a) => a.partitions)
      .sort()
  return { consumer, close, partitions }
}

async function produce(
  producer: Producer<string, string, string, string>,
  topic: string,
  from: number,
  count: number,
) {
  const messages = Array.from({ length: count }, (_, i) => ({
    topic,
    key: `k${from + i}`,
    value: `m${from + i}`,
    partition: (from + i) % 4,
  }))
  await producer.send({ messages, acks: -1 })
}

test('@platformatic/kafka KIP-848: two consumers share a topic, each message once, commits resume', async (t) => {
  const { admin, producer, options, cleanups } = await setup(t)
  const topic = 'pl-848'
  const groupId = 'pl-848-group'
  await admin.createTopics({ topics: [topic], partitions: 4, replicas: 1 })

  const received: Received[] = []
  const a = await member(cleanups, options, 'a', groupId, topic, received)
  await waitFor('a owns every partition', () => a.partitions().length === 4)
  const b = await member(cleanups, options, 'b', groupId, topic, received)
  await waitFor(
    'the group to split the partitions',
    () => a.partitions().length === 2 && b.partitions().length === 2,
  )
  assert.deepEqual([...a.partitions(), ...b.partitions()].sort(), [0, 1, 2, 3])

  await produce(producer, topic, 0, 200)
  await waitFor('200 messages', () => received.length >= 200)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(received.length, 200, 'no message twice')
  assert.deepEqual(new Set(received.map((r) => r.value)).size, 200)
  for (const r of received) {
    const owner = r.member === 'a' ? a : b
    assert.ok(
      owner.partitions().includes(r.partition),
      `${r.member} read partition ${r.partition} it does not own`,
    )
  }

  // Both leave (epoch -1) after their last autocommit; a new member resumes from the commits.
  await a.close()
  await b.close()
  await produce(producer, topic, 200, 40)
  const resumed: Received[] = []
  const c = await member(cleanups, options, 'c', groupId, topic, resumed)
  await waitFor('the 40 new messages', () => resumed.length >= 40)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.deepEqual(
    resumed.map((r) => r.value).sort(),
    Array.from({ length: 40 }, (_, i) => `m${200 + i}`).sort(),
  )
  assert.equal(c.partitions().length, 4)
})

test('@platformatic/kafka KIP-848: a member that leaves hands its partitions over', async (t) => {
  const { admin, producer, options, cleanups } = await setup(t)
  const topic = 'pl-848-leave'
  const groupId = 'pl-848-leave-group'
  await admin.createTopics({ topics: [topic], partitions: 4, replicas: 1 })

  const received: Received[] = []
  const a = await member(cleanups, options, 'a', groupId, topic, received)
  const b = await member(cleanups, options, 'b', groupId, topic, received)
  await waitFor('a split', () => a.partitions().length === 2 && b.partitions().length === 2)
  await produce(producer, topic, 0, 40)
  await waitFor('40 messages', () => received.length >= 40)
  await b.close()
  await waitFor('a takes every partition', () => a.partitions().length === 4)
  await produce(producer, topic, 40, 40)
  await waitFor('80 messages', () => new Set(received.map((r) => r.value)).size === 80)
  assert.ok(received.filter((r) => Number(r.value.slice(1)) >= 40).every((r) => r.member === 'a'))
})
