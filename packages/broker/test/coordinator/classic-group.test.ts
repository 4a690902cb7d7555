import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode } from '@fluxo/protocol'
import {
  ClassicGroup,
  type ClassicGroupConfig,
  GroupState,
  type JoinRequest,
  type JoinResult,
  type SyncResult,
  defaultClassicGroupConfig,
  parseSubscriptionTopics,
} from '../../src/coordinator/classic-group.js'
import { ManualClock } from '../../src/coordinator/clock.js'

const SESSION = 10_000
const REBALANCE = 20_000

function setup(config: Partial<ClassicGroupConfig> = {}) {
  const clock = new ManualClock()
  const group = new ClassicGroup('g', clock, {
    ...defaultClassicGroupConfig,
    initialRebalanceDelayMs: 0,
    ...config,
  })
  return { clock, group }
}

function req(overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    requireKnownMemberId: false,
    ...overrides,
  }
}

/** Records a promise's value when it settles, so tests can check "still waiting". */
function track<T>(p: Promise<T>): { value: T | undefined } {
  const box: { value: T | undefined } = { value: undefined }
  p.then((v) => {
    box.value = v
  })
  return box
}

const flush = () => new Promise((resolve) => setImmediate(resolve))

async function settle<T>(clock: ManualClock, box: { value: T | undefined }, ms = 0): Promise<T> {
  clock.advance(ms)
  await flush()
  assert.ok(box.value !== undefined, 'expected the request to be answered')
  return box.value
}

/** Joins n members (one join round) and syncs with the leader assigning `assigned-<memberId>`. */
async function stableGroup(n: number, overrides: (i: number) => Partial<JoinRequest> = () => ({})) {
  const { clock, group } = setup()
  const joins = Array.from({ length: n }, (_, i) =>
    track(group.join(req({ clientId: `c${i}`, ...overrides(i) }))),
  )
  clock.advance(0)
  await flush()
  const results = joins.map((j) => j.value!) as JoinResult[]
  for (const r of results) assert.equal(r.errorCode, ErrorCode.NONE)
  const leader = results.find((r) => r.memberId === r.leader)!
  const syncs = results.map((r) =>
    track(
      group.sync({
        memberId: r.memberId,
        groupInstanceId: overrides(results.indexOf(r)).groupInstanceId ?? null,
        generationId: r.generationId,
        protocolType: 'consumer',
        protocolName: r.protocolName,
        assignments:
          r === leader
            ? r.members.map((m) => ({
                memberId: m.memberId,
                assignment: Buffer.from(`assigned-${m.memberId}`),
              }))
            : [],
      }),
    ),
  )
  await flush()
  for (const s of syncs) assert.equal(s.value?.errorCode, ErrorCode.NONE)
  assert.equal(group.state, GroupState.Stable)
  return { clock, group, results, ids: results.map((r) => r.memberId), leader }
}

test('join and sync: three members, the leader gets every member metadata, followers get their assignment', async () => {
  const { clock, group } = setup()
  const a = track(
    group.join(req({ clientId: 'a', protocols: [{ name: 'range', metadata: Buffer.from('A') }] })),
  )
  const b = track(
    group.join(req({ clientId: 'b', protocols: [{ name: 'range', metadata: Buffer.from('B') }] })),
  )
  const c = track(
    group.join(req({ clientId: 'c', protocols: [{ name: 'range', metadata: Buffer.from('C') }] })),
  )
  assert.equal(group.state, GroupState.PreparingRebalance)
  const ra = await settle(clock, a)
  const rb = b.value!
  const rc = c.value!
  assert.equal(group.state, GroupState.CompletingRebalance)
  assert.equal(ra.generationId, 1)
  assert.equal(ra.leader, ra.memberId, 'the first member to join leads')
  assert.match(ra.memberId, /^a-[0-9a-f-]{36}$/)
  assert.deepEqual(
    ra.members.map((m) => m.metadata.toString()),
    ['A', 'B', 'C'],
  )
  assert.deepEqual(rb.members, [])
  assert.deepEqual(rc.members, [])
  assert.equal(rb.leader, ra.memberId)
  assert.equal(rb.protocolName, 'range')
  assert.equal(rb.protocolType, 'consumer')

  // Followers wait in SyncGroup until the leader syncs.
  const sync = (r: JoinResult, assignments: { memberId: string; assignment: Buffer }[] = []) =>
    track(
      group.sync({
        memberId: r.memberId,
        groupInstanceId: null,
        generationId: r.generationId,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments,
      }),
    )
  const sb = sync(rb)
  await flush()
  assert.equal(sb.value, undefined, 'a follower waits for the leader')
  const sa = sync(ra, [
    { memberId: ra.memberId, assignment: Buffer.from('pa') },
    { memberId: rb.memberId, assignment: Buffer.from('pb') },
    { memberId: rc.memberId, assignment: Buffer.from('pc') },
    { memberId: 'nobody', assignment: Buffer.from('ignored') },
  ])
  await flush()
  assert.equal(sa.value?.assignment.toString(), 'pa')
  assert.equal(sb.value?.assignment.toString(), 'pb')
  assert.equal(group.state, GroupState.Stable)
  // A follower syncing after the group is stable gets its assignment at once.
  const sc = sync(rc)
  await flush()
  assert.equal((sc.value as SyncResult).assignment.toString(), 'pc')
  assert.deepEqual(
    group.summary().members.map((m) => m.assignment.toString()),
    ['pa', 'pb', 'pc'],
  )
})

test('JoinGroup v4+: an unknown member gets MEMBER_ID_REQUIRED with its id, then joins with it (KIP-394)', async () => {
  const { clock, group } = setup()
  const first = await group.join(req({ clientId: 'kip394', requireKnownMemberId: true }))
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
  assert.match(first.memberId, /^kip394-/)
  assert.equal(group.size, 0)
  assert.equal(group.state, GroupState.Empty)
  const second = track(
    group.join(req({ clientId: 'kip394', memberId: first.memberId, requireKnownMemberId: true })),
  )
  const joined = await settle(clock, second)
  assert.equal(joined.errorCode, ErrorCode.NONE)
  assert.equal(joined.memberId, first.memberId)
  assert.equal(joined.leader, first.memberId)
})

test('a pending member id (MEMBER_ID_REQUIRED) that never comes back expires with its session timeout', async () => {
  const { clock, group } = setup()
  const pending = await group.join(req({ requireKnownMemberId: true }))
  assert.equal(pending.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
  clock.advance(SESSION)
  const again = await group.join(req({ memberId: pending.memberId }))
  // The id expired, so it is an unknown member now.
  assert.equal(again.errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
})

test('group.initial.rebalance.delay.ms: a new group waits, and each new member extends the wait', async () => {
  const { clock, group } = setup({ initialRebalanceDelayMs: 3000 })
  const a = track(group.join(req({ clientId: 'a' })))
  clock.advance(1000)
  const b = track(group.join(req({ clientId: 'b' })))
  clock.advance(1999)
  await flush()
  assert.equal(a.value, undefined, 'still inside the first delay')
  clock.advance(1)
  await flush()
  assert.equal(a.value, undefined, 'b joined during the delay: it is extended')
  clock.advance(3000)
  await flush()
  assert.equal(a.value?.errorCode, ErrorCode.NONE)
  assert.equal(a.value?.members.length, 2, 'the leader sees both members')
  assert.deepEqual(b.value?.members, [])
  assert.equal(a.value?.generationId, 1)

  // No new member in a delay: the join completes when it ends.
  const { clock: clock2, group: g2 } = setup({ initialRebalanceDelayMs: 3000 })
  const only = track(g2.join(req()))
  clock2.advance(2999)
  await flush()
  assert.equal(only.value, undefined)
  clock2.advance(1)
  await flush()
  assert.equal(only.value?.errorCode, ErrorCode.NONE)
})

test('the initial delay never exceeds the rebalance timeout', async () => {
  const { clock, group } = setup({ initialRebalanceDelayMs: 3000 })
  const a = track(group.join(req({ rebalanceTimeoutMs: 5000 })))
  for (let t = 0; t < 4; t++) {
    clock.advance(1000)
    group.join(req({ rebalanceTimeoutMs: 5000 }))
  }
  clock.advance(999)
  await flush()
  assert.equal(a.value, undefined)
  clock.advance(1)
  await flush()
  assert.equal(
    a.value?.errorCode,
    ErrorCode.NONE,
    'answered at the rebalance timeout although members keep coming',
  )
  assert.equal(a.value?.members.length, 5)
})

test('rebalance timeout: a member that does not rejoin is removed, the others get the next generation', async () => {
  const { clock, group, results } = await stableGroup(2)
  const [a, b] = results
  // a changes its subscription: a rebalance starts.
  const rejoin = track(
    group.join(req({ memberId: a.memberId, protocols: [{ name: 'range', metadata: Buffer.from('new') }] })),
  )
  assert.equal(group.state, GroupState.PreparingRebalance)
  // b keeps heartbeating (so its session stays alive) but never rejoins.
  for (let t = 0; t < 3; t++) {
    assert.equal(group.heartbeat(b.memberId, null, b.generationId), ErrorCode.REBALANCE_IN_PROGRESS)
    clock.advance(5000)
  }
  clock.advance(REBALANCE - 15_000 - 1)
  await flush()
  assert.equal(rejoin.value, undefined)
  clock.advance(1)
  await flush()
  assert.equal(rejoin.value?.errorCode, ErrorCode.NONE)
  assert.equal(rejoin.value?.generationId, 2)
  assert.deepEqual(
    rejoin.value?.members.map((m) => m.memberId),
    [a.memberId],
  )
  assert.equal(group.hasMember(b.memberId), false)
  assert.equal(group.heartbeat(b.memberId, null, 2), ErrorCode.UNKNOWN_MEMBER_ID)
})

test('a rebalance completes as soon as every member rejoined', async () => {
  const { clock, group, results } = await stableGroup(2)
  const [a, b] = results
  const ja = track(
    group.join(req({ memberId: a.memberId, protocols: [{ name: 'range', metadata: Buffer.from('x') }] })),
  )
  const jb = track(group.join(req({ memberId: b.memberId })))
  await flush()
  assert.equal(ja.value?.generationId, 2)
  assert.equal(jb.value?.generationId, 2)
  assert.equal(group.state, GroupState.CompletingRebalance)
  void clock
})

test('session timeout: a silent member is removed and the group rebalances', async () => {
  const { clock, group, results } = await stableGroup(2)
  const [a, b] = results
  for (let t = 0; t < 3; t++) {
    clock.advance(3000)
    assert.equal(group.heartbeat(a.memberId, null, 1), ErrorCode.NONE)
  }
  clock.advance(1000) // b silent for 10 s
  assert.equal(group.state, GroupState.PreparingRebalance)
  assert.equal(group.hasMember(b.memberId), false)
  assert.equal(group.heartbeat(a.memberId, null, 1), ErrorCode.REBALANCE_IN_PROGRESS)
  const rejoin = track(group.join(req({ memberId: a.memberId })))
  await flush()
  assert.equal(rejoin.value?.generationId, 2)
  assert.equal(rejoin.value?.members.length, 1)
})

test('a member waiting in JoinGroup is not expired by its session timeout', async () => {
  const { clock, group, results } = await stableGroup(2)
  const [a, b] = results
  const ja = track(
    group.join(req({ memberId: a.memberId, protocols: [{ name: 'range', metadata: Buffer.from('y') }] })),
  )
  clock.advance(SESSION + 1)
  assert.ok(group.hasMember(a.memberId), 'a waits in JoinGroup: alive')
  assert.equal(group.hasMember(b.memberId), false, 'b neither heartbeats nor rejoins: expired')
  await flush()
  assert.equal(ja.value?.generationId, 2, 'b left, so everyone remaining has joined')
})

test('LeaveGroup: by member id, by group.instance.id, unknown members, and the last member leaving empties the group', async () => {
  const { group, results } = await stableGroup(3, (i) => ({ groupInstanceId: i === 2 ? 'static-c' : null }))
  const [a, b, c] = results
  const left = group.leave([
    { memberId: b.memberId, groupInstanceId: null },
    { memberId: '', groupInstanceId: 'static-c' },
    { memberId: 'ghost', groupInstanceId: null },
    { memberId: 'other', groupInstanceId: 'static-x' },
  ])
  assert.deepEqual(
    left.map((r) => r.errorCode),
    [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID],
  )
  assert.equal(group.state, GroupState.PreparingRebalance)
  assert.deepEqual(group.memberIds(), [a.memberId])
  void c
  assert.deepEqual(
    group.leave([{ memberId: a.memberId, groupInstanceId: null }]).map((r) => r.errorCode),
    [ErrorCode.NONE],
  )
  assert.equal(group.state, GroupState.Empty)
  assert.equal(group.generationId, 2)
})

test('static membership (KIP-345): a restarted instance gets a new id and its old assignment, no rebalance; the old id is fenced', async () => {
  const { group, results } = await stableGroup(2, (i) => ({ groupInstanceId: `instance-${i}` }))
  const [a, b] = results
  const rejoin = await group.join(req({ clientId: 'c1', groupInstanceId: 'instance-1' }))
  assert.equal(rejoin.errorCode, ErrorCode.NONE)
  assert.notEqual(rejoin.memberId, b.memberId)
  assert.match(rejoin.memberId, /^instance-1-/)
  assert.equal(rejoin.generationId, 1, 'no new generation')
  assert.equal(group.state, GroupState.Stable)
  assert.equal(rejoin.skipAssignment, false, 'a follower')
  const sync = await group.sync({
    memberId: rejoin.memberId,
    groupInstanceId: 'instance-1',
    generationId: 1,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [],
  })
  assert.equal(sync.assignment.toString(), `assigned-${b.memberId}`)
  assert.equal(group.heartbeat(b.memberId, 'instance-1', 1), ErrorCode.FENCED_INSTANCE_ID)
  assert.equal(group.validateOffsetCommit(b.memberId, 'instance-1', 1), ErrorCode.FENCED_INSTANCE_ID)
  assert.equal(
    group.heartbeat(a.memberId, 'instance-0', 1),
    ErrorCode.NONE,
    'the other member is undisturbed',
  )
  assert.equal(group.heartbeat(rejoin.memberId, 'instance-1', 1), ErrorCode.NONE)

  // The static leader rejoining gets the member list and skipAssignment (KIP-814).
  const leader = await group.join(req({ clientId: 'c0', groupInstanceId: 'instance-0' }))
  assert.equal(leader.leader, leader.memberId)
  assert.equal(leader.skipAssignment, true)
  assert.equal(leader.members.length, 2)
  assert.equal(group.state, GroupState.Stable)
})

test('static member rejoining with a protocol that changes the selection triggers a rebalance', async () => {
  const both = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }))
  const { group } = await stableGroup(1, () => ({
    groupInstanceId: 'solo',
    protocols: both('range', 'roundrobin'),
  }))
  const rejoin = track(group.join(req({ groupInstanceId: 'solo', protocols: both('roundrobin', 'range') })))
  await flush()
  assert.equal(group.state, GroupState.CompletingRebalance)
  assert.equal(rejoin.value?.protocolName, 'roundrobin')
  assert.equal(rejoin.value?.generationId, 2)
})

test('generation and member checks: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS', async () => {
  const { group, results } = await stableGroup(2)
  const [a, b] = results
  assert.equal(group.heartbeat(a.memberId, null, 0), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(group.heartbeat('unknown', null, 1), ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(group.heartbeat(a.memberId, 'not-static', 1), ErrorCode.UNKNOWN_MEMBER_ID)
  const badSync = await group.sync({
    memberId: a.memberId,
    groupInstanceId: null,
    generationId: 7,
    protocolType: null,
    protocolName: null,
    assignments: [],
  })
  assert.equal(badSync.errorCode, ErrorCode.ILLEGAL_GENERATION)
  const wrongProtocol = await group.sync({
    memberId: a.memberId,
    groupInstanceId: null,
    generationId: 1,
    protocolType: 'connect',
    protocolName: null,
    assignments: [],
  })
  assert.equal(wrongProtocol.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  assert.equal((await group.join(req({ memberId: 'stranger' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  // None of this disturbed the group.
  assert.equal(group.state, GroupState.Stable)
  group.join(req({ memberId: b.memberId, protocols: [{ name: 'range', metadata: Buffer.from('changed') }] }))
  const duringRebalance = await group.sync({
    memberId: a.memberId,
    groupInstanceId: null,
    generationId: 1,
    protocolType: null,
    protocolName: null,
    assignments: [],
  })
  assert.equal(duringRebalance.errorCode, ErrorCode.REBALANCE_IN_PROGRESS)
})

test('a follower rejoining a stable group with unchanged metadata gets the current generation, no rebalance', async () => {
  const { group, results } = await stableGroup(2)
  const follower = results.find((r) => r.memberId !== r.leader)!
  const again = await group.join(req({ memberId: follower.memberId }))
  assert.equal(again.generationId, 1)
  assert.equal(group.state, GroupState.Stable)
})

test('members waiting in SyncGroup get REBALANCE_IN_PROGRESS when a rebalance starts before the leader syncs', async () => {
  const { clock, group } = setup()
  const a = track(group.join(req({ clientId: 'a' })))
  const b = track(group.join(req({ clientId: 'b' })))
  await settle(clock, a)
  const follower = [a.value!, b.value!].find((r) => r.memberId !== r.leader)!
  const waiting = track(
    group.sync({
      memberId: follower.memberId,
      groupInstanceId: null,
      generationId: 1,
      protocolType: null,
      protocolName: null,
      assignments: [],
    }),
  )
  group.join(req({ clientId: 'c' }))
  await flush()
  assert.equal(waiting.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS)
})

test('a member that never sends SyncGroup is removed after the rebalance timeout', async () => {
  const { clock, group } = setup()
  const a = track(group.join(req({ clientId: 'a' })))
  const b = track(group.join(req({ clientId: 'b' })))
  await settle(clock, a)
  const leader = a.value!
  await group.sync({
    memberId: leader.memberId,
    groupInstanceId: null,
    generationId: 1,
    protocolType: null,
    protocolName: null,
    assignments: [],
  })
  assert.equal(group.state, GroupState.Stable)
  for (let t = 0; t < REBALANCE; t += 5000) {
    clock.advance(5000)
    group.heartbeat(leader.memberId, null, group.generationId)
    group.heartbeat(b.value!.memberId, null, group.generationId)
  }
  assert.equal(group.hasMember(b.value!.memberId), false)
  assert.equal(group.state, GroupState.PreparingRebalance)
})

test('protocol selection: only protocols every member supports, chosen by vote', async () => {
  const proto = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }))
  {
    const { clock, group } = setup()
    const a = track(group.join(req({ protocols: proto('range', 'roundrobin') })))
    group.join(req({ protocols: proto('range', 'roundrobin') }))
    group.join(req({ protocols: proto('roundrobin', 'range') }))
    assert.equal((await settle(clock, a)).protocolName, 'range')
    assert.deepEqual(
      a.value?.members.map((m) => m.metadata.toString()),
      ['range', 'range', 'range'],
      'the leader sees each member metadata for the selected protocol',
    )
  }
  {
    const { clock, group } = setup()
    const a = track(group.join(req({ protocols: proto('range', 'roundrobin') })))
    group.join(req({ protocols: proto('range', 'roundrobin') }))
    group.join(req({ protocols: proto('roundrobin') }))
    assert.equal((await settle(clock, a)).protocolName, 'roundrobin', 'range is not supported by everyone')
  }
})

test('INCONSISTENT_GROUP_PROTOCOL: another protocol type, or no protocol in common', async () => {
  const { group } = await stableGroup(1)
  const otherType = await group.join(req({ protocolType: 'connect' }))
  assert.equal(otherType.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  const noCommon = await group.join(
    req({ protocols: [{ name: 'cooperative-sticky', metadata: Buffer.alloc(0) }] }),
  )
  assert.equal(noCommon.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  const emptyType = setup().group.join(req({ protocolType: '' }))
  assert.equal((await emptyType).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  assert.equal(group.state, GroupState.Stable)
})

test('any protocol type works: schema registry "sr" and Connect "connect" groups', async () => {
  for (const protocolType of ['sr', 'connect']) {
    const { clock, group } = setup()
    const a = track(
      group.join(req({ protocolType, protocols: [{ name: 'v0', metadata: Buffer.from('{}') }] })),
    )
    const r = await settle(clock, a)
    assert.equal(r.errorCode, ErrorCode.NONE)
    assert.equal(r.protocolType, protocolType)
    assert.equal(group.subscribedTopics(), null)
  }
})

test('INVALID_SESSION_TIMEOUT outside group.min/max.session.timeout.ms; oversized metadata is INVALID_REQUEST', async () => {
  const { group } = setup({ minSessionTimeoutMs: 6000, maxSessionTimeoutMs: 30000 })
  assert.equal(
    (await group.join(req({ sessionTimeoutMs: 5999 }))).errorCode,
    ErrorCode.INVALID_SESSION_TIMEOUT,
  )
  assert.equal(
    (await group.join(req({ sessionTimeoutMs: 30001 }))).errorCode,
    ErrorCode.INVALID_SESSION_TIMEOUT,
  )
  const huge = [{ name: 'range', metadata: Buffer.alloc(1024 * 1024 + 1) }]
  assert.equal((await group.join(req({ protocols: huge }))).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal(group.size, 0)
})

test('offset commit rules', async () => {
  const { group, results } = await stableGroup(2)
  const [a] = results
  assert.equal(group.validateOffsetCommit(a.memberId, null, 1), ErrorCode.NONE)
  assert.equal(group.validateOffsetCommit(a.memberId, null, 0), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(group.validateOffsetCommit('nobody', null, 1), ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(
    group.validateOffsetCommit('', null, -1),
    ErrorCode.UNKNOWN_MEMBER_ID,
    'simple commit to a live group',
  )
  // PreparingRebalance: members may still commit with the current generation.
  group.join(req({ memberId: a.memberId, protocols: [{ name: 'range', metadata: Buffer.from('z') }] }))
  assert.equal(group.state, GroupState.PreparingRebalance)
  assert.equal(group.validateOffsetCommit(a.memberId, null, 1), ErrorCode.NONE)
  // CompletingRebalance: no commits until the new assignment is known.
  const { clock, group: g2 } = setup()
  const j = track(g2.join(req()))
  await settle(clock, j)
  assert.equal(g2.state, GroupState.CompletingRebalance)
  assert.equal(g2.validateOffsetCommit(j.value!.memberId, null, 1), ErrorCode.REBALANCE_IN_PROGRESS)
  // Empty group: simple commits with generation -1.
  const empty = setup().group
  assert.equal(empty.validateOffsetCommit('', null, -1), ErrorCode.NONE)
  assert.equal(empty.validateOffsetCommit('m', null, 3), ErrorCode.UNKNOWN_MEMBER_ID)
})

test('subscribed topics come from the consumer protocol subscription', async () => {
  const subscription = (topics: string[]) => {
    const parts = [Buffer.from([0, 1]), Buffer.alloc(4)]
    parts[1].writeInt32BE(topics.length)
    for (const t of topics) {
      const len = Buffer.alloc(2)
      len.writeInt16BE(Buffer.byteLength(t))
      parts.push(len, Buffer.from(t))
    }
    parts.push(Buffer.alloc(4)) // user data: null-ish, ignored
    return Buffer.concat(parts)
  }
  assert.deepEqual(parseSubscriptionTopics(subscription(['a', 'bb'])), ['a', 'bb'])
  assert.equal(parseSubscriptionTopics(Buffer.from([1])), null)
  const { group } = await stableGroup(2, (i) => ({
    protocols: [{ name: 'range', metadata: subscription(i === 0 ? ['orders'] : ['orders', 'payments']) }],
  }))
  assert.deepEqual([...(group.subscribedTopics() ?? [])].sort(), ['orders', 'payments'])
})

test('shutdown answers waiting JoinGroup and SyncGroup requests', async () => {
  const { group } = setup({ initialRebalanceDelayMs: 3000 })
  const waiting = track(group.join(req()))
  group.shutdown()
  await flush()
  assert.equal(waiting.value?.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(group.state, GroupState.Dead)
})
