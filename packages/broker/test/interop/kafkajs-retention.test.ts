// Retention in action with real consumers: old segments go, the earliest offset moves, and consumers
// whose committed offset fell below the log start get OFFSET_OUT_OF_RANGE and reset by their policy.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import { tempDir } from '../support.js'
import { sleep, waitFor } from './group-support.js'

const RETENTION_MS = 60_000
const EXPIRES_IN_MS = 4000

for (const storage of ['memory', 'file'] as const) {
  test(`KafkaJS (${storage}): retention deletes old segments and consumers below the log start reset`, async (t) => {
    const dataDir = storage === 'file' ? await tempDir(t) : undefined
    const broker = await startBroker({
      port: 0,
      storage,
      dataDir,
      config: { 'log.retention.check.interval.ms': '100' },
    })
    const kafka = new Kafka({
      brokers: [broker.bootstrap],
      clientId: 'retention',
      logLevel: logLevel.NOTHING,
    })
    const admin = kafka.admin()
    const producer = kafka.producer()
    const consumers: Consumer[] = []
    t.after(async () => {
      await Promise.all(consumers.map((c) => c.disconnect()))
      await producer.disconnect()
      await admin.disconnect()
      await broker.close()
    })
    await admin.connect()
    await producer.connect()
    const topic = 'aging'
    // segment.bytes cannot go below 1 MiB (Kafka 4.0); segment.ms rolls a segment per produce when
    // produces are more than 100 ms apart. The first records carry timestamps that pass
    // retention.ms (60 s) a few seconds from now: time for two groups to read them first.
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [
            { name: 'retention.ms', value: String(RETENTION_MS) },
            { name: 'segment.ms', value: '100' },
          ],
        },
      ],
    })
    const aging = String(Date.now() - RETENTION_MS + EXPIRES_IN_MS)
    const send = (values: string[], timestamp?: string) =>
      producer.send({ topic, messages: values.map((value) => ({ value, timestamp })) })

    // Two groups read the first two records and commit offset 2, below what retention will keep.
    await send(['old-0', 'old-1'], aging)
    await Promise.all(
      ['earliest', 'latest'].map(async (groupId) => {
        const seen: string[] = []
        const reader = kafka.consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 300 })
        await reader.connect()
        await reader.subscribe({ topic, fromBeginning: true })
        await reader.run({
          eachMessage: async ({ message }) => {
            seen.push(String(message.value))
          },
        })
        await waitFor(`${groupId} to read the old records`, () => seen.length >= 2, EXPIRES_IN_MS)
        await reader.disconnect()
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
        assert.equal(committed.partitions[0].offset, '2')
      }),
    )
    await sleep(150)
    await send(['old-2', 'old-3'], aging)
    await sleep(150)
    await send(['fresh-4', 'fresh-5'])

    // The two expired segments go; the segment with fresh records stays.
    await waitFor(
      'the log start to reach 4',
      async () => (await admin.fetchTopicOffsets(topic))[0].low === '4',
      EXPIRES_IN_MS + 5000,
    )
    assert.deepEqual(
      (await admin.fetchTopicOffsets(topic)).map(({ low, high }) => [low, high]),
      [['4', '6']],
    )

    // Committed offset 2 is below the log start: OFFSET_OUT_OF_RANGE, then each group's policy.
    const run = async (groupId: string, fromBeginning: boolean) => {
      const received: string[] = []
      const fetches = { count: 0 }
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 300 })
      consumers.push(consumer)
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning })
      let joined = false
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true
      })
      consumer.on(consumer.events.FETCH, () => {
        fetches.count++
      })
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(`${message.offset}:${message.value}`)
        },
      })
      await waitFor(`${groupId} joined`, () => joined, 15_000)
      return { received, fetches }
    }
    const { received: fromEarliest } = await run('earliest', true)
    await waitFor('the earliest group to reset to the log start', () => fromEarliest.length >= 2, 15_000)
    assert.deepEqual(fromEarliest, ['4:fresh-4', '5:fresh-5'])

    const { received: fromLatest, fetches } = await run('latest', false)
    // Reset to the log end: nothing old arrives, only what is produced after the reset.
    await waitFor(
      'the latest group to reset to the log end',
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId: 'latest', topics: [topic] })
        return committed.partitions[0].offset !== '2'
      },
      15_000,
    )
    // Two fetches after the reset: the consumer has resolved the log end and fetches from there.
    const resetAt = fetches.count
    await waitFor('fetches after the reset', () => fetches.count >= resetAt + 2, 15_000)
    await send(['new-6', 'new-7'])
    await waitFor('the latest group to see new records', () => fromLatest.length >= 2, 15_000)
    await sleep(200)
    assert.deepEqual(fromLatest, ['6:new-6', '7:new-7'])
    assert.deepEqual(fromEarliest, ['4:fresh-4', '5:fresh-5', '6:new-6', '7:new-7'])
  })
}
