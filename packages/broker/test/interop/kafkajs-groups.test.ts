import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AssignerProtocol, type Consumer, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import { tempDir } from '../support.js'

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

/** A KafkaJS consumer that records what it receives and its latest assignment. */
async function member(kafka: Kafka, name: string, groupId: string, topic: string, received: Received[]) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 100,
  })
  const state = { assigned: [] as number[], generation: -1 }
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    state.assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort()
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      received.push({
        member: name,
        partition,
        offset: Number(message.offset),
        value: message.value!.toString(),
      })
    },
  })
  return { consumer, state }
}

async function produce(kafka: Kafka, topic: string, from: number, count: number): Promise<void> {
  const producer = kafka.producer()
  await producer.connect()
  const messages = Array.from({ length: count }, (_, i) => ({
    key: `k${(from + i) % 37}`,
    value: `m${from + i}`,
  }))
  for (let i = 0; i < messages.length; i += 500)
    await producer.send({ topic, messages: messages.slice(i, i + 500) })
  await producer.disconnect()
}

test('KafkaJS consumer group: members share partitions, rebalance on leave, commits resume, admin APIs', async (t) => {
  const broker = await startBroker({ port: 0 })
  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'groups', logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const consumers: Consumer[] = []
  // Clients first, the broker last: a consumer disconnecting from a closed broker retries for long.
  t.after(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  const topic = 'shared'
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] })

  const received: Received[] = []
  const a = await member(kafka, 'a', 'g1', topic, received)
  const b = await member(kafka, 'b', 'g1', topic, received)
  consumers.push(a.consumer, b.consumer)
  await waitFor('both members assigned', () => a.state.assigned.length > 0 && b.state.assigned.length > 0)
  await waitFor('a 2+2 split', () => a.state.assigned.length + b.state.assigned.length === 4)
  assert.deepEqual(
    [...a.state.assigned, ...b.state.assigned].sort(),
    [0, 1, 2, 3],
    'every partition exactly once',
  )

  const N = 2000
  await produce(kafka, topic, 0, N)
  await waitFor(`${N} messages`, () => received.length >= N)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(received.length, N, 'nothing consumed twice')
  assert.deepEqual(new Set(received.map((r) => r.value)).size, N)
  for (let p = 0; p < 4; p++) {
    const readers = new Set(received.filter((r) => r.partition === p).map((r) => r.member))
    assert.equal(readers.size, 1, `partition ${p} read by exactly one member`)
    const owner = [...readers][0] === 'a' ? a : b
    assert.ok(owner.state.assigned.includes(p))
  }

  // b leaves: a rebalances and gets every partition.
  await b.consumer.disconnect()
  consumers.pop()
  await waitFor('a owns all partitions', () => a.state.assigned.length === 4)
  await produce(kafka, topic, N, 200)
  await waitFor('the next 200', () => received.length >= N + 200)
  assert.ok(received.slice(N).every((r) => r.member === 'a'))

  // Commits survive the members: a stops, the offsets equal the log end.
  await a.consumer.disconnect()
  consumers.pop()
  const ends = await admin.fetchTopicOffsets(topic)
  const committed = await admin.fetchOffsets({ groupId: 'g1', topics: [topic] })
  assert.deepEqual(
    committed[0].partitions.map((p) => [p.partition, Number(p.offset)]).sort(),
    ends.map((p) => [p.partition, Number(p.high)]).sort(),
  )

  // A new member resumes from the committed offsets: only new messages arrive.
  const resumed: Received[] = []
  const c = await member(kafka, 'c', 'g1', topic, resumed)
  consumers.push(c.consumer)
  await waitFor('c assigned', () => c.state.assigned.length === 4)
  await produce(kafka, topic, N + 200, 5)
  await waitFor('5 new messages', () => resumed.length >= 5)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.deepEqual(resumed.map((r) => r.value).sort(), ['m2200', 'm2201', 'm2202', 'm2203', 'm2204'])

  const described = await admin.describeGroups(['g1'])
  const group = described.groups[0]
  assert.equal(group.state, 'Stable')
  assert.equal(group.protocolType, 'consumer')
  assert.equal(group.protocol, 'RoundRobinAssigner')
  assert.equal(group.members.length, 1)
  assert.equal(group.members[0].clientId, 'groups')
  assert.match(group.members[0].clientHost, /^\/127\.0\.0\.1$/)
  const assignment = AssignerProtocol.MemberAssignment.decode(group.members[0].memberAssignment)
  assert.deepEqual([...(assignment?.assignment[topic] ?? [])].sort(), [0, 1, 2, 3])
  const listed = await admin.listGroups()
  assert.deepEqual(listed.groups, [{ groupId: 'g1', protocolType: 'consumer' }])

  await assert.rejects(admin.deleteGroups(['g1']), (err: { groups?: { error: { type: string } }[] }) => {
    assert.equal(err.groups?.[0].error.type, 'NON_EMPTY_GROUP')
    return true
  })
  await c.consumer.disconnect()
  consumers.pop()
  await admin.deleteGroups(['g1'])
  const after = await admin.fetchOffsets({ groupId: 'g1', topics: [topic] })
  assert.ok(after[0].partitions.every((p) => p.offset === '-1'))
  assert.deepEqual((await admin.listGroups()).groups, [])
})

test('KafkaJS: committed offsets survive a broker restart (file storage)', async (t) => {
  const dataDir = await tempDir(t)
  let broker = await startBroker({ port: 0, storage: 'file', dataDir })
  const kafka = () =>
    new Kafka({ brokers: [broker.bootstrap], clientId: 'restart', logLevel: logLevel.NOTHING })
  const topic = 'durable'
  {
    const admin = kafka().admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
    await admin.disconnect()
    await produce(kafka(), topic, 0, 100)
    const received: Received[] = []
    const m = await member(kafka(), 'a', 'durable-group', topic, received)
    await waitFor('100 messages', () => received.length >= 100)
    await m.consumer.disconnect()
    // Metadata strings round-trip too.
    const admin2 = kafka().admin()
    await admin2.connect()
    await admin2.setOffsets({ groupId: 'simple', topic, partitions: [{ partition: 1, offset: '7' }] })
    await admin2.disconnect()
  }
  await broker.close()

  broker = await startBroker({ port: 0, storage: 'file', dataDir })
  const admin = kafka().admin()
  const consumers: Consumer[] = []
  t.after(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  const ends = await admin.fetchTopicOffsets(topic)
  const committed = await admin.fetchOffsets({ groupId: 'durable-group', topics: [topic] })
  assert.deepEqual(
    committed[0].partitions.map((p) => [p.partition, Number(p.offset)]).sort(),
    ends.map((p) => [p.partition, Number(p.high)]).sort(),
  )
  const simple = await admin.fetchOffsets({ groupId: 'simple', topics: [topic] })
  assert.equal(simple[0].partitions.find((p) => p.partition === 1)?.offset, '7')
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort()
  assert.deepEqual(groups, ['durable-group', 'simple'])

  // A consumer in the group resumes: nothing old is delivered again.
  const received: Received[] = []
  const m = await member(kafka(), 'b', 'durable-group', topic, received)
  consumers.push(m.consumer)
  await waitFor('assigned', () => m.state.assigned.length === 2)
  await produce(kafka(), topic, 100, 3)
  await waitFor('3 new messages', () => received.length >= 3)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.deepEqual(received.map((r) => r.value).sort(), ['m100', 'm101', 'm102'])
})
