// Rebalance stress with KafkaJS: for FLUXO_STRESS_SECONDS (default 60) a pool of consumers in one group
// joins and leaves every few hundred milliseconds while a producer keeps producing to a 6-partition
// topic. Errors the members see during the churn (rebalances, fenced generations, their own crashes
// and restarts) are expected; only the end state matters: two stable members drain the topic, every
// produced message was consumed at least once over the whole run, and the final assignment covers
// every partition exactly once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import {
  committedAndEnds,
  coversExactlyOnce,
  describeGroup,
  sleep,
  waitFor,
  withTimeout,
} from './group-support.js'

const SECONDS = Number(process.env.FLUXO_STRESS_SECONDS ?? 60)
const P = 6
const POOL = 4

interface Slot {
  consumer?: Consumer
  /** The join or leave in progress, if any. */
  busy?: Promise<void>
}

test(
  `KafkaJS rebalance stress: members join and leave for ${SECONDS} s while producing; nothing lost`,
  { timeout: (SECONDS + 60) * 1000 },
  async (t) => {
    const broker = await startBroker({ port: 0 })
    const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'stress', logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    const producer = kafka.producer()
    const everyConsumer = new Set<Consumer>()
    t.after(async () => {
      await Promise.allSettled(
        [...everyConsumer].map((c) => withTimeout(c.disconnect(), 10_000, 'disconnect')),
      )
      await Promise.allSettled([producer.disconnect(), admin.disconnect()])
      await broker.close()
    })
    await admin.connect()
    await producer.connect()
    const topic = 'churn'
    const group = 'churn-group'
    await admin.createTopics({ topics: [{ topic, numPartitions: P }] })

    const produced: string[] = []
    const consumed = new Map<string, number>()
    const stats = {
      joins: 0,
      leaves: 0,
      groupJoins: 0,
      crashes: 0,
      opErrors: 0,
      opTimeouts: 0,
      produceErrors: 0,
    }

    // The producer: 20 messages every 50 ms until told to stop.
    let producing = true
    const producerLoop = (async () => {
      let next = 0
      while (producing) {
        const batch = Array.from({ length: 20 }, (_, i) => ({
          key: `k${(next + i) % 97}`,
          value: `v${next + i}`,
        }))
        try {
          await producer.send({ topic, messages: batch })
          produced.push(...batch.map((m) => m.value))
          next += batch.length
        } catch {
          stats.produceErrors++
        }
        await sleep(50)
      }
    })()

    function newConsumer(name: string) {
      const consumer = kafka.consumer({
        groupId: group,
        sessionTimeout: 6000,
        heartbeatInterval: 200,
        rebalanceTimeout: 5000,
        maxWaitTimeInMs: 100,
        retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      })
      everyConsumer.add(consumer)
      const state = { assigned: [] as number[] }
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        stats.groupJoins++
        state.assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
      })
      consumer.on(consumer.events.CRASH, () => stats.crashes++)
      const start = async () => {
        await consumer.connect()
        await consumer.subscribe({ topic, fromBeginning: true })
        await consumer.run({
          eachMessage: async ({ message }) => {
            const value = message.value!.toString()
            consumed.set(value, (consumed.get(value) ?? 0) + 1)
          },
        })
      }
      return { name, consumer, state, start }
    }

    // The churn: every 150–500 ms one pool slot toggles (a new member joins, or a member leaves).
    const slots: Slot[] = Array.from({ length: POOL }, () => ({}))
    const churnStart = Date.now()
    let round = 0
    while (Date.now() - churnStart < SECONDS * 1000) {
      await sleep(150 + Math.random() * 350)
      const slot = slots[Math.floor(Math.random() * POOL)]
      if (slot.busy) continue
      const op = slot.consumer
        ? (() => {
            const consumer = slot.consumer
            slot.consumer = undefined
            stats.leaves++
            return consumer.disconnect()
          })()
        : (() => {
            const m = newConsumer(`churn-${round++}`)
            slot.consumer = m.consumer
            stats.joins++
            return m.start()
          })()
      slot.busy = withTimeout(op, 15_000, 'join or leave')
        .catch((err: Error) => {
          if (err.message.includes('no answer after')) stats.opTimeouts++
          else stats.opErrors++
        })
        .finally(() => {
          slot.busy = undefined
        })
    }

    // The churn stops: pending joins and leaves settle, then every pool member leaves.
    await Promise.allSettled(slots.map((s) => s.busy))
    await Promise.allSettled(
      slots.map(async (s) => {
        if (!s.consumer) return
        await withTimeout(s.consumer.disconnect(), 15_000, 'final leave').catch(() => stats.opTimeouts++)
        s.consumer = undefined
      }),
    )
    producing = false
    await producerLoop
    const churnMs = Date.now() - churnStart

    // Two stable members take over and drain the topic.
    const stable = [newConsumer('stable-1'), newConsumer('stable-2')]
    await Promise.all(stable.map((m) => withTimeout(m.start(), 20_000, `${m.name} join`)))
    const missing = () => produced.filter((v) => !consumed.has(v))
    await waitFor(
      'the stable members to hold every partition between them',
      () =>
        coversExactlyOnce(
          stable.map((m) => m.state.assigned),
          P,
        ),
      20_000,
      () => JSON.stringify(stable.map((m) => m.state.assigned)),
    )
    await waitFor(
      'every produced message consumed at least once',
      () => missing().length === 0,
      20_000,
      () => `(${missing().length} of ${produced.length} missing, e.g. ${missing().slice(0, 5)})`,
    )

    const redelivered = [...consumed.values()].filter((n) => n > 1).length
    t.diagnostic(
      `${churnMs} ms of churn: ${stats.joins} joins, ${stats.leaves} leaves, ${stats.groupJoins} assignments received, ` +
        `${stats.crashes} consumer crashes (restarted by KafkaJS), ${stats.opErrors} failed and ${stats.opTimeouts} timed-out joins/leaves, ` +
        `${stats.produceErrors} failed produce batches; ${produced.length} produced, ${consumed.size} distinct consumed, ` +
        `${redelivered} redelivered`,
    )
    assert.ok(produced.length > SECONDS * 100, `kept producing (${produced.length})`)
    assert.ok(stats.joins >= SECONDS, `the group churned (${stats.joins} joins)`)

    const described = await describeGroup(admin, group, topic)
    assert.equal(described.state, 'Stable')
    assert.equal(described.members.length, 2, JSON.stringify(described.members))
    assert.ok(
      coversExactlyOnce(
        described.members.map((m) => m.partitions),
        P,
      ),
      `final assignment covers every partition exactly once: ${JSON.stringify(described.members)}`,
    )
    assert.deepEqual(
      described.members.map((m) => m.partitions.join()).sort(),
      stable.map((m) => m.state.assigned.join()).sort(),
    )
    let offsets = await committedAndEnds(admin, group, topic)
    await waitFor(
      'committed offsets at the high watermarks',
      async () => {
        offsets = await committedAndEnds(admin, group, topic)
        return offsets.every((o) => o.committed === o.high)
      },
      10_000,
      () => JSON.stringify(offsets),
    )
  },
)
