/**
 * KIP-848 server-side assignors: pure functions from the group's members (subscriptions and current
 * assignments) and the subscribed topics (ids and partition counts) to a target assignment per member,
 * keyed by topic id as the ConsumerGroupHeartbeat response carries it.
 *
 * - `uniform` (Kafka's UniformAssignor, the default): every partition of a subscribed topic goes to one
 *   subscriber, counts differ by at most one between members that could trade a partition, and a member
 *   keeps what it owns wherever balance allows (sticky), so a rebalance moves as few partitions as it can.
 *   Kafka uses two builders (homogeneous and heterogeneous subscriptions); this is one greedy pass
 *   (keep, fill the least loaded, then move from the most to the least loaded until no move helps),
 *   which gives the same balance for homogeneous subscriptions and a local optimum otherwise.
 * - `range` (Kafka's RangeAssignor): per topic, the subscribers in member-id order each take a
 *   contiguous range, the first `partitions % members` one more, so topics with the same partition
 *   count are co-partitioned. Kafka 4.0's server-side range also keeps current owners within quota;
 *   this one is the plain deterministic range (the classic client's), which is co-partitioned as well.
 *
 * Rack awareness (rackId) is not used by either.
 */

/** Partitions per topic id. */
export type TopicAssignment = Map<string, number[]>

export interface AssignorMember {
  memberId: string
  /** Topic ids the member subscribes to (names and regex already resolved). */
  subscribedTopicIds: ReadonlySet<string>
  /** What the member owns now (its current target), for stickiness. */
  currentAssignment: ReadonlyMap<string, readonly number[]>
}

export interface AssignorTopic {
  topicId: string
  numPartitions: number
}

export type AssignorName = 'uniform' | 'range'

export const ASSIGNOR_NAMES: readonly AssignorName[] = ['uniform', 'range']

export function isAssignorName(name: string): name is AssignorName {
  return (ASSIGNOR_NAMES as readonly string[]).includes(name)
}

/** The target assignment of every member (members with nothing get an empty map). */
export function assignPartitions(
  assignor: AssignorName,
  members: readonly AssignorMember[],
  topics: readonly AssignorTopic[],
): Map<string, TopicAssignment> {
  return assignor === 'range' ? rangeAssign(members, topics) : uniformAssign(members, topics)
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export function rangeAssign(
  members: readonly AssignorMember[],
  topics: readonly AssignorTopic[],
): Map<string, TopicAssignment> {
  const result = emptyResult(members)
  const sorted = [...members].sort((a, b) => byId(a.memberId, b.memberId))
  for (const topic of [...topics].sort((a, b) => byId(a.topicId, b.topicId))) {
    const subscribers = sorted.filter((m) => m.subscribedTopicIds.has(topic.topicId))
    if (subscribers.length === 0) continue
    const quota = Math.floor(topic.numPartitions / subscribers.length)
    const extra = topic.numPartitions % subscribers.length
    let next = 0
    subscribers.forEach((m, i) => {
      const count = quota + (i < extra ? 1 : 0)
      if (count === 0) return
      const partitions: number[] = []
      for (let k = 0; k < count; k++) partitions.push(next++)
      result.get(m.memberId)!.set(topic.topicId, partitions)
    })
  }
  return result
}

interface Slot {
  topicId: string
  partition: number
  /** Indexes into the sorted member list of the members subscribed to the topic. */
  eligible: number[]
  owner: number
}

export function uniformAssign(
  members: readonly AssignorMember[],
  topics: readonly AssignorTopic[],
): Map<string, TopicAssignment> {
  const sorted = [...members].sort((a, b) => byId(a.memberId, b.memberId))
  const owned: Set<Slot>[] = sorted.map(() => new Set())
  const slots: Slot[] = []
  const slotByKey = new Map<string, Slot>()
  for (const topic of [...topics].sort((a, b) => byId(a.topicId, b.topicId))) {
    const eligible: number[] = []
    sorted.forEach((m, i) => {
      if (m.subscribedTopicIds.has(topic.topicId)) eligible.push(i)
    })
    if (eligible.length === 0) continue
    for (let p = 0; p < topic.numPartitions; p++) {
      const slot: Slot = { topicId: topic.topicId, partition: p, eligible, owner: -1 }
      slots.push(slot)
      slotByKey.set(`${topic.topicId}:${p}`, slot)
    }
  }

  // 1. Stickiness: a member keeps the partitions it owns that still exist and that it still
  // subscribes to; a partition claimed twice stays with the first member in id order.
  sorted.forEach((m, i) => {
    for (const [topicId, partitions] of m.currentAssignment) {
      if (!m.subscribedTopicIds.has(topicId)) continue
      for (const p of partitions) {
        const slot = slotByKey.get(`${topicId}:${p}`)
        if (slot && slot.owner === -1) {
          slot.owner = i
          owned[i]!.add(slot)
        }
      }
    }
  })

  // 2. Every unowned partition to its least loaded subscriber (ties: member id order).
  for (const slot of slots) {
    if (slot.owner !== -1) continue
    let best = slot.eligible[0]!
    for (const i of slot.eligible) if (owned[i]!.size < owned[best]!.size) best = i
    slot.owner = best
    owned[best]!.add(slot)
  }

  // 3. Balance: move a partition from a member to a subscriber holding at least two fewer, until no
  // such move exists. Each move lowers the sum of squared counts, so this ends; the members are taken
  // from the most loaded down and each gives away its most recently added partitions first, so what
  // it owned before stays where it was as far as balance allows.
  for (let moved = true; moved; ) {
    moved = false
    const order = sorted.map((_, i) => i).sort((a, b) => owned[b]!.size - owned[a]!.size || a - b)
    for (const from of order) {
      const mine = [...owned[from]!].reverse()
      for (const slot of mine) {
        let to = -1
        for (const i of slot.eligible) {
          if (owned[i]!.size <= owned[from]!.size - 2 && (to === -1 || owned[i]!.size < owned[to]!.size))
            to = i
        }
        if (to === -1) continue
        owned[from]!.delete(slot)
        owned[to]!.add(slot)
        slot.owner = to
        moved = true
      }
      if (moved) break
    }
  }

  const result = emptyResult(members)
  sorted.forEach((m, i) => {
    const assignment = result.get(m.memberId)!
    for (const slot of owned[i]!) {
      const list = assignment.get(slot.topicId)
      if (list) list.push(slot.partition)
      else assignment.set(slot.topicId, [slot.partition])
    }
    for (const list of assignment.values()) list.sort((a, b) => a - b)
  })
  return result
}

function emptyResult(members: readonly AssignorMember[]): Map<string, TopicAssignment> {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]))
}
