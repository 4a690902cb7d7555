/**
 * Partition assignors, run by the group leader over every member's subscription. They follow
 * Kafka's RangeAssignor, RoundRobinAssignor and CooperativeStickyAssignor so that a Fluxo member
 * can lead a group of Java, librdkafka or KafkaJS consumers and produce the same shapes.
 */
import { IllegalStateError } from '../errors.js'
import type { TopicPartition } from './fetcher.js'

export type AssignorName = 'range' | 'roundrobin' | 'cooperative-sticky'

export interface MemberSubscription {
  memberId: string
  groupInstanceId: string | null
  topics: string[]
  ownedPartitions: TopicPartition[]
  /** The generation the owned partitions are from (-1 when unknown). */
  generationId: number
}

export interface Assignor {
  name: AssignorName
  /** KIP-429: members keep partitions across a rebalance and only give up those that move. */
  cooperative: boolean
  /** Member id → assigned partitions. `partitionCounts` has every subscribed topic that exists. */
  assign(
    members: MemberSubscription[],
    partitionCounts: ReadonlyMap<string, number>,
  ): Map<string, TopicPartition[]>
}

/** Kafka sorts members by group.instance.id when set (so static members keep their place), else member id. */
function memberOrder(a: MemberSubscription, b: MemberSubscription): number {
  const ka = a.groupInstanceId ?? a.memberId
  const kb = b.groupInstanceId ?? b.memberId
  if (a.groupInstanceId !== null && b.groupInstanceId === null) return -1
  if (a.groupInstanceId === null && b.groupInstanceId !== null) return 1
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

function emptyResult(members: MemberSubscription[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, []]))
}

/** Per topic, consecutive ranges: the first `partitions % members` members get one extra. */
export const rangeAssignor: Assignor = {
  name: 'range',
  cooperative: false,
  assign(members, partitionCounts) {
    const out = emptyResult(members)
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort()
    for (const topic of topics) {
      const n = partitionCounts.get(topic)
      if (n === undefined) continue
      const consumers = members.filter((m) => m.topics.includes(topic)).sort(memberOrder)
      const per = Math.floor(n / consumers.length)
      const extra = n % consumers.length
      let next = 0
      consumers.forEach((m, i) => {
        const count = per + (i < extra ? 1 : 0)
        for (let p = next; p < next + count; p++) out.get(m.memberId)!.push({ topic, partition: p })
        next += count
      })
    }
    return out
  },
}

/** Every partition of every topic in (topic, partition) order, dealt in turn to the members subscribed to it. */
export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  cooperative: false,
  assign(members, partitionCounts) {
    const out = emptyResult(members)
    const sorted = [...members].sort(memberOrder)
    const topics = [...new Set(members.flatMap((m) => m.topics))].filter((t) => partitionCounts.has(t)).sort()
    let i = 0
    for (const topic of topics) {
      for (let p = 0; p < partitionCounts.get(topic)!; p++) {
        for (let tries = 0; tries < sorted.length; tries++) {
          const m = sorted[i++ % sorted.length]
          if (m.topics.includes(topic)) {
            out.get(m.memberId)!.push({ topic, partition: p })
            break
          }
        }
      }
    }
    return out
  },
}

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`

/**
 * Sticky and balanced: members keep what they own (claims from the highest generation win) up to
 * their fair share, the rest goes to the least loaded subscribed members. Cooperative (KIP-429): a
 * partition that moves from one member to another is left out of this round's assignment, so its
 * owner revokes it first; the rebalance its owner then triggers hands it to the new member.
 */
export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  cooperative: true,
  assign(members, partitionCounts) {
    const sorted = [...members].sort(memberOrder)
    const all: TopicPartition[] = []
    for (const topic of [...new Set(members.flatMap((m) => m.topics))].sort()) {
      const n = partitionCounts.get(topic)
      if (n !== undefined) for (let p = 0; p < n; p++) all.push({ topic, partition: p })
    }
    const subscribed = (m: MemberSubscription, tp: TopicPartition) => m.topics.includes(tp.topic)
    const valid = new Set(all.map(key))
    // Previous owner of each partition: the claim with the highest generation.
    const owner = new Map<string, { member: MemberSubscription; generation: number }>()
    for (const m of sorted) {
      for (const tp of m.ownedPartitions) {
        const k = key(tp)
        if (!valid.has(k) || !subscribed(m, tp)) continue
        const prev = owner.get(k)
        if (!prev || m.generationId > prev.generation) owner.set(k, { member: m, generation: m.generationId })
      }
    }
    const assigned = new Map<string, TopicPartition[]>(sorted.map((m) => [m.memberId, []]))
    for (const tp of all) {
      const o = owner.get(key(tp))
      if (o) assigned.get(o.member.memberId)!.push(tp)
    }
    // Fair shares: `all.length / members`, the remainder as one extra for the first members.
    const minQuota = Math.floor(all.length / sorted.length)
    let extras = all.length % sorted.length
    const unassigned: TopicPartition[] = all.filter((tp) => !owner.has(key(tp)))
    const byLoad = [...sorted].sort(
      (a, b) => assigned.get(b.memberId)!.length - assigned.get(a.memberId)!.length,
    )
    for (const m of byLoad) {
      const list = assigned.get(m.memberId)!
      let quota = minQuota
      if (extras > 0 && list.length > minQuota) {
        quota = minQuota + 1
        extras--
      }
      if (list.length > quota) unassigned.push(...list.splice(quota))
    }
    unassigned.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    for (const tp of unassigned) {
      let best: MemberSubscription | undefined
      for (const m of sorted) {
        if (!subscribed(m, tp)) continue
        if (!best || assigned.get(m.memberId)!.length < assigned.get(best.memberId)!.length) best = m
      }
      if (best) assigned.get(best.memberId)!.push(tp)
    }
    // KIP-429: hold back partitions still owned by another member; they come in the next rebalance.
    for (const m of sorted) {
      const list = assigned.get(m.memberId)!
      assigned.set(
        m.memberId,
        list.filter((tp) => {
          const o = owner.get(key(tp))
          return !o || o.member === m
        }),
      )
    }
    return assigned
  },
}

export function assignorFor(name: string): Assignor {
  switch (name) {
    case 'range':
      return rangeAssignor
    case 'roundrobin':
      return roundRobinAssignor
    case 'cooperative-sticky':
      return cooperativeStickyAssignor
    default:
      throw new IllegalStateError(`unknown assignor ${name}: use range, roundrobin or cooperative-sticky`)
  }
}
