import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import { sleep, waitFor } from './group-support.js'

const T = 1_700_000_000_000

test('KafkaJS admin: createPartitions, describeCluster, deleteTopicRecords, fetchTopicOffsetsByTimestamp', async (t) => {
  const broker = await startBroker({ port: 0 })
  const kafka = new Kafka({
    brokers: [broker.bootstrap],
    clientId: 'admin-interop',
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  const producer = kafka.producer()
  const consumers: Consumer[] = []
  // Clients first, the broker last: a client disconnecting from a closed broker retries for long.
  t.after(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()))
    await producer.disconnect()
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  await producer.connect()

  const cluster = await admin.describeCluster()
  assert.equal(cluster.clusterId, broker.clusterId)
  assert.equal(cluster.controller, 1)
  assert.deepEqual(cluster.brokers, [{ nodeId: 1, host: broker.host, port: broker.port }])

  // createPartitions: 1 → 3, then a record goes to the new partition 2 and is read back there.
  await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 1 }] })
  await admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 3 }] })
  const metadata = await admin.fetchTopicMetadata({ topics: ['growing'] })
  assert.deepEqual(metadata.topics[0].partitions.map((p) => p.partitionId).sort(), [0, 1, 2])
  const [sent] = await producer.send({
    topic: 'growing',
    messages: [{ value: 'to the new partition', partition: 2 }],
  })
  assert.equal(sent.partition, 2)
  assert.equal(sent.errorCode, 0)
  await assert.rejects(
    admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 2 }] }),
    (err: { type?: string }) => err.type === 'INVALID_PARTITIONS',
  )

  // Ten records with known timestamps (T + i s), in two batches.
  await admin.createTopics({ topics: [{ topic: 'trimmed', numPartitions: 1 }] })
  for (const from of [0, 5]) {
    await producer.send({
      topic: 'trimmed',
      messages: Array.from({ length: 5 }, (_, i) => ({
        value: `r${from + i}`,
        timestamp: String(T + (from + i) * 1000),
      })),
    })
  }
  const byTimestamp = async (ts: number) =>
    (await admin.fetchTopicOffsetsByTimestamp('trimmed', ts)).map((p) => [p.partition, p.offset])
  assert.deepEqual(await byTimestamp(T + 3000), [[0, '3']])
  assert.deepEqual(await byTimestamp(T + 3500), [[0, '4']])
  assert.deepEqual(await byTimestamp(T), [[0, '0']])
  // Past the last record: the high watermark, as KafkaJS maps Kafka's -1.
  assert.deepEqual(await byTimestamp(T + 60_000), [[0, '10']])

  // deleteTopicRecords in the middle of the first batch: the low watermark moves at once.
  await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '3' }] })
  assert.deepEqual(
    (await admin.fetchTopicOffsets('trimmed')).map(({ partition, low, high }) => ({ partition, low, high })),
    [{ partition: 0, low: '3', high: '10' }],
  )
  // Timestamps before the new start answer the start.
  assert.deepEqual(await byTimestamp(T), [[0, '3']])

  // A consumer from the beginning starts at the low watermark.
  const received: number[] = []
  const consumer = kafka.consumer({ groupId: 'from-start', maxWaitTimeInMs: 100 })
  consumers.push(consumer)
  await consumer.connect()
  await consumer.subscribe({ topic: 'trimmed', fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push(Number(message.offset))
    },
  })
  await waitFor('7 records', () => received.length >= 7, 15_000)
  await sleep(200)
  assert.deepEqual(received, [3, 4, 5, 6, 7, 8, 9])

  // '-1' deletes everything up to the high watermark.
  await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '-1' }] })
  assert.deepEqual(
    (await admin.fetchTopicOffsets('trimmed')).map(({ low, high }) => [low, high]),
    [['10', '10']],
  )
})
