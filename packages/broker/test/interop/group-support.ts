// Helpers shared by the consumer-group interop tests (KafkaJS members, producing, assignment checks).
import { type Admin, AssignerProtocol, type Consumer, type ConsumerConfig, type Kafka } from 'kafkajs'

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  detail: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${detail()}`)
    await sleep(20)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Rejects after `ms` if `promise` has not settled (the promise itself keeps running). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export interface Received {
  member: string
  partition: number
  offset: number
  value: string
}

export interface Member {
  name: string
  consumer: Consumer
  /** The partitions of the latest assignment (sorted) and when it arrived. */
  state: { assigned: number[]; at: number; joins: number }
  run(): Promise<void>
}

/** A KafkaJS consumer (connected and subscribed, not yet running) that records what it receives. */
export async function member(
  kafka: Kafka,
  name: string,
  groupId: string,
  topic: string,
  received: Received[],
  options: Partial<ConsumerConfig> = {},
): Promise<Member> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 100,
    ...options,
  })
  const state = { assigned: [] as number[], at: 0, joins: 0 }
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    state.assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
    state.at = performance.now()
    state.joins++
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  return {
    name,
    consumer,
    state,
    run: () =>
      consumer.run({
        eachMessage: async ({ partition, message }) => {
          received.push({
            member: name,
            partition,
            offset: Number(message.offset),
            value: message.value!.toString(),
          })
        },
      }),
  }
}

/** Produces `m<from>`…`m<from+count-1>` keyed `k<i % 101>`, in batches; returns the values. */
export async function produce(kafka: Kafka, topic: string, from: number, count: number): Promise<string[]> {
  const producer = kafka.producer()
  await producer.connect()
  try {
    const messages = Array.from({ length: count }, (_, i) => ({
      key: `k${(from + i) % 101}`,
      value: `m${from + i}`,
    }))
    for (let i = 0; i < messages.length; i += 1000)
      await producer.send({ topic, messages: messages.slice(i, i + 1000) })
    return messages.map((m) => m.value)
  } finally {
    await producer.disconnect()
  }
}

/** True if the assignments are disjoint, none empty, and together cover partitions 0…n-1. */
export function coversExactlyOnce(assignments: number[][], partitions: number): boolean {
  if (assignments.some((a) => a.length === 0)) return false
  const all = assignments.flat().sort((a, b) => a - b)
  return all.length === partitions && all.every((p, i) => p === i)
}

/** The group as DescribeGroups shows it, with each member's assignment decoded. */
export async function describeGroup(admin: Admin, groupId: string, topic: string) {
  const { groups } = await admin.describeGroups([groupId])
  const group = groups[0]
  return {
    state: group.state,
    protocol: group.protocol,
    members: group.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      partitions: [
        ...((m.memberAssignment.length > 0
          ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic]
          : undefined) ?? []),
      ].sort((a, b) => a - b),
    })),
  }
}

/** Committed offsets and high watermarks of a topic, by partition. */
export async function committedAndEnds(admin: Admin, groupId: string, topic: string) {
  const ends = await admin.fetchTopicOffsets(topic)
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
  const byPartition = new Map(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]))
  return ends
    .map((e) => ({
      partition: e.partition,
      high: Number(e.high),
      committed: byPartition.get(e.partition) ?? -1,
    }))
    .sort((a, b) => a.partition - b.partition)
}
