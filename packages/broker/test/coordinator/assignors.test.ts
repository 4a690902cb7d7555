import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type AssignorMember,
  type AssignorTopic,
  type TopicAssignment,
  rangeAssign,
  uniformAssign,
} from '../../src/coordinator/assignors.js'

function member(memberId: string, topics: string[], current: Record<string, number[]> = {}): AssignorMember {
  return {
    memberId,
    subscribedTopicIds: new Set(topics),
    currentAssignment: new Map(Object.entries(current)),
  }
}

const topic = (topicId: string, numPartitions: number): AssignorTopic => ({ topicId, numPartitions })

function count(a: TopicAssignment): number {
  let n = 0
  for (const ps of a.values()) n += ps.length
  return n
}

/** Every partition of every subscribed topic exactly once, only to subscribers. */
function assertComplete(
  result: Map<string, TopicAssignment>,
  members: AssignorMember[],
  topics: AssignorTopic[],
) {
  const seen = new Set<string>()
  for (const [memberId, a] of result) {
    const m = members.find((x) => x.memberId === memberId)!
    for (const [topicId, ps] of a) {
      assert.ok(m.subscribedTopicIds.has(topicId), `${memberId} got unsubscribed ${topicId}`)
      for (const p of ps) {
        const key = `${topicId}:${p}`
        assert.ok(!seen.has(key), `${key} assigned twice`)
        seen.add(key)
      }
    }
  }
  for (const t of topics) {
    if (!members.some((m) => m.subscribedTopicIds.has(t.topicId))) continue
    for (let p = 0; p < t.numPartitions; p++)
      assert.ok(seen.has(`${t.topicId}:${p}`), `${t.topicId}:${p} unassigned`)
  }
}

function spread(result: Map<string, TopicAssignment>): number {
  const counts = [...result.values()].map(count)
  return Math.max(...counts) - Math.min(...counts)
}

describe('uniform assignor', () => {
  test('one to three members share a topic evenly', () => {
    const topics = [topic('A', 6)]
    for (const n of [1, 2, 3]) {
      const members = Array.from({ length: n }, (_, i) => member(`m${i}`, ['A']))
      const result = uniformAssign(members, topics)
      assertComplete(result, members, topics)
      for (const a of result.values()) assert.equal(count(a), 6 / n)
    }
  })

  test('uneven counts differ by at most one across topics', () => {
    const topics = [topic('A', 5), topic('B', 3), topic('C', 1)]
    const members = ['x', 'y', 'z', 'w'].map((id) => member(id, ['A', 'B', 'C']))
    const result = uniformAssign(members, topics)
    assertComplete(result, members, topics)
    assert.ok(spread(result) <= 1)
  })

  test('sticky: a joining member takes partitions without moving the others between old members', () => {
    const topics = [topic('A', 6)]
    const before = uniformAssign([member('a', ['A']), member('b', ['A'])], topics)
    const current = (id: string) => Object.fromEntries(before.get(id)!)
    const members = [member('a', ['A'], current('a')), member('b', ['A'], current('b')), member('c', ['A'])]
    const after = uniformAssign(members, topics)
    assertComplete(after, members, topics)
    for (const id of ['a', 'b']) {
      const kept = after.get(id)!.get('A')!
      for (const p of kept)
        assert.ok(before.get(id)!.get('A')!.includes(p), `${id} gained ${p} from another old member`)
      assert.equal(kept.length, 2)
    }
    assert.equal(count(after.get('c')!), 2)
  })

  test('sticky: a leaving member’s partitions spread, the rest stay', () => {
    const topics = [topic('A', 7)]
    const members = [
      member('a', ['A'], { A: [0, 1, 2] }),
      member('b', ['A'], { A: [3, 4] }),
      member('c', ['A'], { A: [5, 6] }),
    ]
    const after = uniformAssign(members.slice(1), topics)
    assertComplete(after, members.slice(1), topics)
    assert.ok(spread(after) <= 1)
    for (const p of [3, 4]) assert.ok(after.get('b')!.get('A')!.includes(p))
    for (const p of [5, 6]) assert.ok(after.get('c')!.get('A')!.includes(p))
  })

  test('current ownership of an unsubscribed or deleted topic is dropped, double claims resolved', () => {
    const topics = [topic('A', 2)]
    const members = [member('a', ['A'], { A: [0, 1], GONE: [0] }), member('b', ['A'], { A: [0] })]
    const result = uniformAssign(members, topics)
    assertComplete(result, members, topics)
    assert.equal(result.get('a')!.has('GONE'), false)
    assert.equal(spread(result), 0)
  })

  test('heterogeneous subscriptions: each topic only to its subscribers, balanced where possible', () => {
    const topics = [topic('A', 4), topic('B', 4)]
    const members = [member('a', ['A']), member('b', ['A', 'B']), member('c', ['B'])]
    const result = uniformAssign(members, topics)
    assertComplete(result, members, topics)
    assert.ok(spread(result) <= 1)
  })

  test('more members than partitions: some get nothing', () => {
    const topics = [topic('A', 2)]
    const members = ['a', 'b', 'c'].map((id) => member(id, ['A']))
    const result = uniformAssign(members, topics)
    assertComplete(result, members, topics)
    assert.deepEqual([...result.values()].map(count).sort(), [0, 1, 1])
  })

  test('deterministic regardless of member order', () => {
    const topics = [topic('A', 5), topic('B', 2)]
    const members = ['c', 'a', 'b'].map((id) => member(id, ['A', 'B']))
    const one = uniformAssign(members, topics)
    const two = uniformAssign([...members].reverse(), topics)
    for (const id of ['a', 'b', 'c']) assert.deepEqual(one.get(id), two.get(id))
  })
})

describe('range assignor', () => {
  test('contiguous ranges in member-id order, the first members take the extras', () => {
    const topics = [topic('A', 7)]
    const members = ['b', 'a', 'c'].map((id) => member(id, ['A']))
    const result = rangeAssign(members, topics)
    assertComplete(result, members, topics)
    assert.deepEqual(result.get('a')!.get('A'), [0, 1, 2])
    assert.deepEqual(result.get('b')!.get('A'), [3, 4])
    assert.deepEqual(result.get('c')!.get('A'), [5, 6])
  })

  test('co-partitions topics with the same partition count', () => {
    const topics = [topic('A', 4), topic('B', 4)]
    const members = ['a', 'b'].map((id) => member(id, ['A', 'B']))
    const result = rangeAssign(members, topics)
    for (const id of ['a', 'b']) assert.deepEqual(result.get(id)!.get('A'), result.get(id)!.get('B'))
  })

  test('per-topic subscribers only', () => {
    const topics = [topic('A', 2), topic('B', 2)]
    const members = [member('a', ['A']), member('b', ['A', 'B'])]
    const result = rangeAssign(members, topics)
    assertComplete(result, members, topics)
    assert.deepEqual(result.get('b')!.get('B'), [0, 1])
    assert.equal(result.get('a')!.has('B'), false)
  })
})
