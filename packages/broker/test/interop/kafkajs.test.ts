import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { partitionForKey } from '@fluxo/protocol'
import { CompressionTypes, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'

const require = createRequire(import.meta.url)
const { Partitioners } = require('kafkajs') as typeof import('kafkajs')

/**
 * KafkaJS's low-level cluster (its own Metadata, Fetch and record-batch decoding). Consumer groups
 * arrive with the group coordinator; until then this reads partitions the way a group member would
 * after assignment, with KafkaJS's own Fetch.
 */
function kafkajsCluster(kafka: Kafka) {
  const symbol = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  )
  // biome-ignore lint/suspicious/noExplicitAny: KafkaJS internals are untyped
  const create = (kafka as any)[symbol!]
  return create({ allowAutoTopicCreation: false })
}

test('KafkaJS: 10,000 keyed gzip messages on 3 partitions come back in per-key order, in murmur2 partitions', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'interop', logLevel: logLevel.NOTHING })

  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  assert.equal(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] }), true)
  const listed = await admin.fetchTopicMetadata({ topics: ['orders'] })
  assert.equal(listed.topics[0].partitions.length, 3)

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  t.after(() => producer.disconnect())
  const keys = Array.from({ length: 50 }, (_, i) => `customer-${i}`)
  const sent = new Map<string, string[]>()
  for (let batch = 0; batch < 20; batch++) {
    const messages = Array.from({ length: 500 }, (_, i) => {
      const n = batch * 500 + i
      const key = keys[n % keys.length]
      const value = `order-${n}`
      sent.set(key, [...(sent.get(key) ?? []), value])
      return { key, value, headers: { n: String(n) } }
    })
    await producer.send({ topic: 'orders', compression: CompressionTypes.GZIP, messages, acks: -1 })
  }

  const offsets = await admin.fetchTopicOffsets('orders')
  const total = offsets.reduce((sum, p) => sum + Number(p.high), 0)
  assert.equal(total, 10_000)

  const cluster = kafkajsCluster(kafka)
  await cluster.connect()
  t.after(() => cluster.disconnect())
  await cluster.addTargetTopic('orders')
  const received = new Map<string, string[]>()
  for (const { partition, high } of offsets) {
    const leader = await cluster.findBroker({
      nodeId: String(cluster.findTopicPartitionMetadata('orders')[0].leader),
    })
    let offset = 0
    while (offset < Number(high)) {
      const response = await leader.fetch({
        maxWaitTime: 100,
        topics: [
          { topic: 'orders', partitions: [{ partition, fetchOffset: String(offset), maxBytes: 1 << 20 }] },
        ],
      })
      const messages = response.responses[0].partitions[0].messages
      assert.ok(messages.length > 0, `partition ${partition} returned nothing at offset ${offset}`)
      for (const m of messages) {
        const key = m.key.toString()
        assert.equal(partitionForKey(m.key, 3), partition, `key ${key} is not in its murmur2 partition`)
        received.set(key, [...(received.get(key) ?? []), m.value.toString()])
        assert.equal(m.headers.n.toString(), m.value.toString().slice('order-'.length))
        offset = Number(m.offset) + 1
      }
    }
  }
  assert.deepEqual(received, sent)
})

test('KafkaJS: admin lists, creates with configs and deletes topics; bad requests get Kafka errors', async (t) => {
  const broker = await startBroker({ port: 0, config: { 'auto.create.topics.enable': 'false' } })
  t.after(() => broker.close())
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())

  await admin.createTopics({
    topics: [
      { topic: 'a', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '60000' }] },
      { topic: 'b' },
    ],
  })
  assert.deepEqual((await admin.listTopics()).sort(), ['a', 'b'])
  await assert.rejects(
    admin.createTopics({ topics: [{ topic: 'c', replicationFactor: 3 }] }),
    (err: Error & { errors?: { type: string }[] }) => err.errors?.[0]?.type === 'INVALID_REPLICATION_FACTOR',
  )
  await assert.rejects(
    admin.createTopics({ topics: [{ topic: 'bad/name' }] }),
    (err: Error & { errors?: { type: string }[] }) => err.errors?.[0]?.type === 'INVALID_TOPIC_EXCEPTION',
  )
  await admin.deleteTopics({ topics: ['a'] })
  assert.deepEqual(await admin.listTopics(), ['b'])

  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  await assert.rejects(
    producer.send({ topic: 'missing', messages: [{ value: 'x' }] }),
    /does not host this topic-partition/,
  )
})
