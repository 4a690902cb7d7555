import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type MemberSubscription,
  cooperativeStickyAssignor,
  rangeAssignor,
  roundRobinAssignor,
} from '../src/consumer/assignors.js'

const member = (
  memberId: string,
  topics: string[],
  owned: string[] = [],
  generationId = -1,
  groupInstanceId: string | null = null,
): MemberSubscription => ({
  memberId,
  groupInstanceId,
  topics,
  ownedPartitions: owned.map((s) => {
    const [topic, p] = s.split('-')
    return { topic, partition: Number(p) }
  }),
  generationId,
})

const names = (result: Map<string, { topic: string; partition: number }[]>) =>
  Object.fromEntries(
    [...result].map(([m, tps]) => [
      m,
      tps
        .map((tp) => `${tp.topic}-${tp.partition}`)
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true })),
    ]),
  )

test('range: per topic, the first members (by id) take one extra; unsubscribed members get none of a topic', () => {
  const counts = new Map([
    ['t', 5],
    ['u', 2],
  ])
  const result = rangeAssignor.assign(
    [member('m2', ['t']), member('m1', ['t', 'u']), member('m3', ['t', 'u'])],
    counts,
  )
  assert.deepEqual(names(result), {
    m1: ['t-0', 't-1', 'u-0'],
    m2: ['t-2', 't-3'],
    m3: ['t-4', 'u-1'],
  })
})

test('range: static members are ordered by group.instance.id, ahead of dynamic ones', () => {
  const result = rangeAssignor.assign(
    [member('a', ['t'], [], -1, null), member('z', ['t'], [], -1, 'i-1'), member('b', ['t'], [], -1, 'i-2')],
    new Map([['t', 3]]),
  )
  assert.deepEqual(names(result), { z: ['t-0'], b: ['t-1'], a: ['t-2'] })
})

test('roundrobin: partitions dealt in turn, skipping members not subscribed to the topic', () => {
  const counts = new Map([
    ['t', 3],
    ['u', 3],
  ])
  const result = roundRobinAssignor.assign([member('m1', ['t', 'u']), member('m2', ['u'])], counts)
  assert.deepEqual(names(result), { m1: ['t-0', 't-1', 't-2', 'u-1'], m2: ['u-0', 'u-2'] })
})

test('cooperative-sticky: a new member receives nothing owned by another in the first round, only free partitions', () => {
  const counts = new Map([['t', 6]])
  const first = cooperativeStickyAssignor.assign(
    [member('a', ['t'], ['t-0', 't-1', 't-2', 't-3', 't-4', 't-5'], 3), member('b', ['t'])],
    counts,
  )
  // a keeps its fair share, the three it gives up are withheld from b this round.
  assert.equal(first.get('a')!.length, 3)
  assert.equal(first.get('b')!.length, 0)
  const kept = names(first).a
  // Second round: a owns 3, b nothing; the withheld three go to b.
  const second = cooperativeStickyAssignor.assign(
    [member('a', ['t'], kept, 4), member('b', ['t'], [], 4)],
    counts,
  )
  assert.deepEqual(names(second).a, kept, 'a keeps the same three partitions')
  assert.equal(second.get('b')!.length, 3)
  const union = new Set([...names(second).a, ...names(second).b])
  assert.equal(union.size, 6)
})

test('cooperative-sticky: free partitions go to the least loaded; claims from an older generation lose', () => {
  const counts = new Map([['t', 4]])
  const result = cooperativeStickyAssignor.assign(
    [member('a', ['t'], ['t-0', 't-1'], 5), member('b', ['t'], ['t-1'], 4), member('c', ['t'], [], 5)],
    counts,
  )
  const n = names(result)
  assert.deepEqual(n.a, ['t-0', 't-1'], 'a keeps t-1: its generation is newer than b’s claim')
  assert.deepEqual([...n.b, ...n.c].sort(), ['t-2', 't-3'])
  assert.equal(n.b.length, 1)
  assert.equal(n.c.length, 1)
})

test('cooperative-sticky: a member that leaves frees its partitions for the others at once', () => {
  const counts = new Map([['t', 4]])
  const result = cooperativeStickyAssignor.assign(
    [member('a', ['t'], ['t-0', 't-1'], 2), member('c', ['t'], [], 2)],
    counts,
  )
  assert.deepEqual(names(result), { a: ['t-0', 't-1'], c: ['t-2', 't-3'] })
})
