import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ApiKey } from '@fluxo/protocol'
import { Kafka as KafkaJS, logLevel } from 'kafkajs'
import { Kafka, KafkaError } from '../src/index.js'
import { broker } from './support.js'

test('admin: create, list, describe, grow and delete topics; errors carry Kafka names', async (t) => {
  const b = await broker(t)
  const admin = new Kafka({ bootstrap: [b.bootstrap] }).admin()
  t.after(() => admin.close())
  const created = await admin.createTopics([
    { name: 'a', partitions: 3, configs: { 'retention.ms': '60000' } },
    { name: 'b', partitions: 1 },
  ])
  assert.deepEqual(
    created.map((c) => [c.name, c.partitions]),
    [
      ['a', 3],
      ['b', 1],
    ],
  )
  await assert.rejects(admin.createTopics([{ name: 'a', partitions: 1 }]), (err) => {
    assert.ok(err instanceof KafkaError)
    assert.equal(err.errorName, 'TOPIC_ALREADY_EXISTS')
    assert.equal(err.retriable, false)
    assert.equal(err.topic, 'a')
    return true
  })
  assert.deepEqual(await admin.createTopics([{ name: 'a' }], { ifNotExists: true }), [])
  assert.deepEqual(await admin.listTopics(), ['a', 'b'])
  const [a] = await admin.describeTopics(['a'])
  assert.equal(a.partitions.length, 3)
  assert.ok(a.partitions.every((p) => p.leader === 1))

  if (
    admin.cluster.brokers().length &&
    (await admin.cluster.anyConnection()).supports(ApiKey.CreatePartitions)
  ) {
    await admin.createPartitions([{ topic: 'b', count: 4 }])
    assert.equal((await admin.describeTopics(['b']))[0].partitions.length, 4)
  }
  await admin.deleteTopics(['b'])
  assert.deepEqual(await admin.listTopics(), ['a'])
  await assert.rejects(admin.describeTopics(['b']), { errorName: 'UNKNOWN_TOPIC_OR_PARTITION' })
})

test('admin: describe and alter topic configs, describe the cluster', async (t) => {
  const b = await broker(t)
  const admin = new Kafka({ bootstrap: [b.bootstrap] }).admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'configs', partitions: 1, configs: { 'retention.ms': '60000' } }])
  const [described] = await admin.describeConfigs([{ type: 'topic', name: 'configs' }])
  const retention = described.configs.find((c) => c.name === 'retention.ms')
  assert.equal(retention?.value, '60000')
  assert.equal(retention?.isDefault, false)
  await admin.incrementalAlterConfigs([
    { type: 'topic', name: 'configs', changes: [{ name: 'cleanup.policy', value: 'compact' }] },
  ])
  const [after] = await admin.describeConfigs([
    { type: 'topic', name: 'configs', keys: ['cleanup.policy', 'retention.ms'] },
  ])
  assert.deepEqual(after.configs.map((c) => [c.name, c.value]).sort(), [
    ['cleanup.policy', 'compact'],
    ['retention.ms', '60000'],
  ])
  await admin.alterConfigs([{ type: 'topic', name: 'configs', configs: { 'retention.ms': '120000' } }])
  const [replaced] = await admin.describeConfigs([
    { type: 'topic', name: 'configs', keys: ['retention.ms', 'cleanup.policy'] },
  ])
  const byName = new Map(replaced.configs.map((c) => [c.name, c]))
  assert.equal(byName.get('retention.ms')?.value, '120000')
  assert.equal(byName.get('cleanup.policy')?.isDefault, true, 'AlterConfigs replaces the whole set')

  const cluster = await admin.describeCluster()
  assert.equal(cluster.clusterId, b.clusterId)
  assert.deepEqual(cluster.brokers, [{ nodeId: 1, host: b.host, port: b.port, rack: null }])
})

test('admin: list offsets by time, delete records, reset/fetch/delete group offsets, list groups', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'events', partitions: 2 }])
  const producer = kafka.producer({ lingerMs: 0 })
  for (let i = 0; i < 10; i++)
    await producer.send({ topic: 'events', partition: 0, value: `${i}`, timestamp: 1000 + i * 100 })
  await producer.close()

  assert.deepEqual(
    (await admin.listOffsets('events', 'earliest')).map((p) => p.offset),
    [0, 0],
  )
  assert.deepEqual(
    (await admin.listOffsets('events', 'latest')).map((p) => p.offset),
    [10, 0],
  )
  const byTime = await admin.listOffsets('events', 1450)
  assert.equal(byTime[0].offset, 5)
  assert.equal(byTime[0].timestamp, 1500)
  assert.equal(byTime[1].offset, -1, 'no record at or after the time')

  const reset = await admin.resetOffsets('readers', 'events', 'latest')
  assert.deepEqual(reset, [
    { partition: 0, offset: 10 },
    { partition: 1, offset: 0 },
  ])
  await admin.resetOffsets('readers', 'events', { 0: 3 })
  assert.deepEqual(await admin.fetchOffsets('readers', ['events']), [
    {
      topic: 'events',
      partitions: [
        { partition: 0, offset: 3 },
        { partition: 1, offset: 0 },
      ],
    },
  ])
  assert.ok((await admin.listGroups()).some((g) => g.groupId === 'readers'))
  const [group] = await admin.describeGroups(['readers'])
  assert.equal(group.state, 'Empty')
  assert.deepEqual(group.members, [])
  await admin.deleteGroups(['readers'])
  assert.deepEqual(await admin.fetchOffsets('readers', ['events']), [{ topic: 'events', partitions: [] }])

  const conn = await admin.cluster.connection(1)
  if (conn.supports(21)) {
    assert.deepEqual(await admin.deleteRecords('events', { 0: 4 }), [{ partition: 0, lowWatermark: 4 }])
    assert.equal((await admin.listOffsets('events', 'earliest'))[0].offset, 4)
  } else t.diagnostic('broker has no DeleteRecords yet')
})

test('admin: describeGroups decodes the partitions assigned to each consumer member', async (t) => {
  const b = await broker(t)
  const admin = new Kafka({ bootstrap: [b.bootstrap] }).admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'assigned', partitions: 3 }])
  const kafkajs = new KafkaJS({
    brokers: [b.bootstrap],
    clientId: 'member-client',
    logLevel: logLevel.NOTHING,
  })
  const consumer = kafkajs.consumer({ groupId: 'watchers' })
  t.after(() => consumer.disconnect())
  await consumer.connect()
  await consumer.subscribe({ topic: 'assigned' })
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
  await consumer.run({ eachMessage: async () => {} })
  await joined
  const [group] = await admin.describeGroups(['watchers'])
  assert.equal(group.state, 'Stable')
  assert.equal(group.protocolType, 'consumer')
  assert.equal(group.members.length, 1)
  assert.equal(group.members[0].clientId, 'member-client')
  assert.deepEqual(group.members[0].assignment, [{ topic: 'assigned', partitions: [0, 1, 2] }])
})
