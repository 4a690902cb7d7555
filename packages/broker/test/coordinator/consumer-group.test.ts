import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  ErrorCode,
  defaultConsumerGroupHeartbeatRequest,
} from '@fluxo/protocol'
import { ManualClock } from '../../src/coordinator/clock.js'
import {
  ConsumerGroup,
  type ConsumerGroupConfig,
  type ConsumerTopicLookup,
  type ConsumerTopicMetadata,
  compileTopicRegex,
} from '../../src/coordinator/consumer-group.js'

const SESSION = 45_000
const INTERVAL = 5_000

class Topics implements ConsumerTopicLookup {
  readonly all = new Map<string, ConsumerTopicMetadata>()
  add(name: string, numPartitions: number): string {
    const topicId = `id-${name}`
    this.all.set(name, { topicId, name, numPartitions })
    return topicId
  }
  byName(name: string) {
    return this.all.get(name)
  }
  byId(topicId: string) {
    return [...this.all.values()].find((t) => t.topicId === topicId)
  }
  names() {
    return this.all.keys()
  }
}

function setup(config: Partial<ConsumerGroupConfig> = {}) {
  const clock = new ManualClock()
  const topics = new Topics()
  let n = 0
  const group = new ConsumerGroup('g', { clock, config, newMemberId: () => `gen-${++n}` })
  const ctx = { clientId: 'client', clientHost: '/127.0.0.1', topics }
  return { clock, topics, group, ctx }
}

type Owned = Map<string, number[]>

/** A well-behaved KIP-848 client: sends what it owns, applies what it is told. */
class Client {
  epoch = 0
  owned: Owned = new Map()
  last: ConsumerGroupHeartbeatResponse | undefined
  constructor(
    readonly env: ReturnType<typeof setup>,
    readonly memberId: string,
    public topics: string[] | null = ['t'],
    readonly extra: Partial<ConsumerGroupHeartbeatRequest> = {},
    readonly version = 1,
  ) {}

  heartbeat(overrides: Partial<ConsumerGroupHeartbeatRequest> = {}): ConsumerGroupHeartbeatResponse {
    const req: ConsumerGroupHeartbeatRequest = {
      ...defaultConsumerGroupHeartbeatRequest(),
      groupId: 'g',
      memberId: this.memberId,
      memberEpoch: this.epoch,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: this.topics,
      topicPartitions: [...this.owned].map(([topicId, partitions]) => ({ topicId, partitions })),
      ...this.extra,
      ...overrides,
    }
    const res = this.env.group.heartbeat(req, this.version, this.env.ctx)
    this.last = res
    if (res.errorCode === ErrorCode.NONE) {
      this.epoch = res.memberEpoch
      if (res.assignment)
        this.owned = new Map(res.assignment.topicPartitions.map((tp) => [tp.topicId, tp.partitions]))
    }
    return res
  }

  partitions(topicId = 'id-t'): number[] {
    return this.owned.get(topicId) ?? []
  }
}

/** No partition is held by two clients at once. */
function assertExclusive(clients: Client[]) {
  const seen = new Map<string, string>()
  for (const c of clients) {
    for (const [topicId, ps] of c.owned) {
      for (const p of ps) {
        const key = `${topicId}:${p}`
        assert.ok(!seen.has(key), `${key} owned by ${seen.get(key)} and ${c.memberId}`)
        seen.set(key, c.memberId)
      }
    }
  }
  return seen
}

/** Heartbeat round-robin until nothing changes, checking exclusivity after every step. */
function settle(clients: Client[], rounds = 10) {
  for (let i = 0; i < rounds; i++) {
    for (const c of clients) {
      c.heartbeat()
      assertExclusive(clients)
    }
  }
}

describe('ConsumerGroup (KIP-848)', () => {
  test('a first member joins: group epoch 1, member epoch 1, every partition, Stable', () => {
    const env = setup()
    env.topics.add('t', 3)
    const a = new Client(env, 'a')
    const res = a.heartbeat()
    assert.equal(res.errorCode, ErrorCode.NONE)
    assert.equal(res.memberId, 'a')
    assert.equal(res.memberEpoch, 1)
    assert.equal(res.heartbeatIntervalMs, INTERVAL)
    assert.deepEqual(a.partitions(), [0, 1, 2])
    assert.equal(env.group.groupEpoch, 1)
    assert.equal(env.group.assignmentEpoch, 1)
    assert.equal(env.group.state, 'Stable')
  })

  test('v0 join without a member id gets a generated one; v1 requires it', () => {
    const env = setup()
    env.topics.add('t', 1)
    const v0 = new Client(env, '', ['t'], {}, 0)
    assert.equal(v0.heartbeat().memberId, 'gen-1')
    const v1 = new Client(env, '', ['t'], {}, 1)
    const res = v1.heartbeat()
    assert.equal(res.errorCode, ErrorCode.INVALID_REQUEST)
    assert.match(res.errorMessage ?? '', /MemberId/)
  })

  test('two then three members: epochs bump, revocation comes before assignment, balanced at the end', () => {
    const env = setup()
    env.topics.add('t', 6)
    const a = new Client(env, 'a')
    a.heartbeat()
    const b = new Client(env, 'b')
    const joined = b.heartbeat()
    assert.equal(env.group.groupEpoch, 2)
    assert.equal(joined.memberEpoch, 2)
    // b's target partitions are still a's: it gets nothing yet.
    assert.deepEqual(b.partitions(), [])
    assert.equal(env.group.state, 'Reconciling')

    // a is told to give up three partitions and keeps its epoch until it does.
    const revoke = a.heartbeat({ topicPartitions: [{ topicId: 'id-t', partitions: [0, 1, 2, 3, 4, 5] }] })
    assert.equal(revoke.memberEpoch, 1)
    assert.equal(a.partitions().length, 3)
    assertExclusive([a, b])
    // Acknowledged by sending only what it kept: a reaches epoch 2.
    assert.equal(a.heartbeat().memberEpoch, 2)
    // b picks up the released partitions.
    b.heartbeat()
    assert.equal(b.partitions().length, 3)
    assertExclusive([a, b])
    assert.equal(env.group.state, 'Stable')

    const c = new Client(env, 'c')
    c.heartbeat()
    settle([a, b, c])
    assert.equal(env.group.groupEpoch, 3)
    for (const m of [a, b, c]) {
      assert.equal(m.partitions().length, 2)
      assert.equal(m.epoch, 3)
    }
    assert.equal(assertExclusive([a, b, c]).size, 6)
    assert.equal(env.group.state, 'Stable')
  })

  test('a member that keeps a revoked partition gets nothing new and stays at its epoch', () => {
    const env = setup()
    env.topics.add('t', 2)
    const a = new Client(env, 'a')
    a.heartbeat()
    const b = new Client(env, 'b')
    b.heartbeat()
    const owned = [{ topicId: 'id-t', partitions: [0, 1] }]
    a.heartbeat({ topicPartitions: owned })
    // The client ignores the revocation and keeps reporting both partitions.
    const again = env.group.heartbeat(
      {
        ...defaultConsumerGroupHeartbeatRequest(),
        groupId: 'g',
        memberId: 'a',
        memberEpoch: 1,
        topicPartitions: owned,
      },
      1,
      env.ctx,
    )
    assert.equal(again.memberEpoch, 1)
    b.heartbeat()
    assert.deepEqual(b.partitions(), [])
  })

  test('a member that does not revoke within its rebalance timeout is fenced', () => {
    const env = setup()
    env.topics.add('t', 2)
    const a = new Client(env, 'a', ['t'], { rebalanceTimeoutMs: 1000 })
    a.heartbeat()
    const b = new Client(env, 'b')
    b.heartbeat()
    a.heartbeat({ topicPartitions: [{ topicId: 'id-t', partitions: [0, 1] }] })
    env.clock.advance(1001)
    assert.equal(env.group.hasMember('a'), false)
    b.heartbeat()
    b.heartbeat()
    assert.deepEqual(b.partitions(), [0, 1])
  })

  test('leave with epoch -1: partitions move to the others', () => {
    const env = setup()
    env.topics.add('t', 4)
    const a = new Client(env, 'a')
    const b = new Client(env, 'b')
    a.heartbeat()
    b.heartbeat()
    settle([a, b])
    const res = a.heartbeat({ memberEpoch: -1 })
    assert.equal(res.errorCode, ErrorCode.NONE)
    assert.equal(res.memberEpoch, -1)
    assert.equal(env.group.state, 'Assigning')
    a.owned.clear()
    b.heartbeat()
    assert.deepEqual(b.partitions(), [0, 1, 2, 3])
    assert.equal(env.group.state, 'Stable')
    assert.equal(b.heartbeat({ memberEpoch: -1 }).errorCode, ErrorCode.NONE)
    assert.equal(env.group.state, 'Empty')
    assert.equal(b.heartbeat({ memberEpoch: -1 }).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  })

  test('session timeout removes a silent member; heartbeats keep a member alive', () => {
    const env = setup()
    env.topics.add('t', 2)
    const a = new Client(env, 'a')
    const b = new Client(env, 'b')
    a.heartbeat()
    b.heartbeat()
    settle([a, b])
    const epoch = env.group.groupEpoch
    for (let i = 0; i < 10; i++) {
      env.clock.advance(INTERVAL)
      a.heartbeat()
    }
    assert.equal(env.group.hasMember('b'), false)
    assert.equal(env.group.groupEpoch, epoch + 1)
    a.heartbeat()
    assert.deepEqual(a.partitions(), [0, 1])
    assert.equal(b.heartbeat().errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
    env.clock.advance(SESSION + 1)
    assert.equal(env.group.state, 'Empty')
  })

  test('subscription change bumps the group epoch and moves partitions of the new topic', () => {
    const env = setup()
    env.topics.add('t', 2)
    env.topics.add('u', 2)
    const a = new Client(env, 'a')
    const b = new Client(env, 'b')
    a.heartbeat()
    b.heartbeat()
    settle([a, b])
    const epoch = env.group.groupEpoch
    a.topics = ['t', 'u']
    a.heartbeat()
    assert.equal(env.group.groupEpoch, epoch + 1)
    settle([a, b])
    assert.deepEqual(a.partitions('id-u'), [0, 1])
    assert.equal(a.partitions().length + b.partitions().length, 2)
  })

  test('metadata change: a new partition or a newly created subscribed topic triggers a rebalance', () => {
    const env = setup()
    env.topics.add('t', 1)
    const a = new Client(env, 'a', ['t', 'later'])
    a.heartbeat()
    assert.equal(env.group.groupEpoch, 1)
    env.topics.add('t', 2)
    a.heartbeat()
    assert.equal(env.group.groupEpoch, 2)
    assert.deepEqual(a.partitions(), [0, 1])
    env.topics.add('later', 1)
    a.heartbeat()
    assert.equal(env.group.groupEpoch, 3)
    assert.deepEqual(a.partitions('id-later'), [0])
  })

  test('regex subscription (v1) matches whole topic names and follows new topics', () => {
    const env = setup()
    env.topics.add('orders-eu', 1)
    env.topics.add('orders-us', 1)
    env.topics.add('xorders-eu', 1)
    const a = new Client(env, 'a', null, { subscribedTopicRegex: 'orders-.*' })
    a.heartbeat()
    assert.deepEqual([...a.owned.keys()].sort(), ['id-orders-eu', 'id-orders-us'])
    env.topics.add('orders-ap', 1)
    a.heartbeat()
    assert.equal(a.owned.size, 3)
    const d = env.group.describe(env.topics)
    assert.equal(d.members[0]!.subscribedTopicRegex, 'orders-.*')
    assert.equal(
      new Client(env, 'b', null, { subscribedTopicRegex: '(a' }).heartbeat().errorCode,
      ErrorCode.INVALID_REGULAR_EXPRESSION,
    )
  })

  test('RE2/J forms are translated; lookaround and backreferences are rejected', () => {
    assert.ok(compileTopicRegex('\\Qa.b\\E.*').test('a.bc'))
    assert.ok(!compileTopicRegex('\\Qa.b\\E.*').test('axbc'))
    assert.ok(compileTopicRegex('(?i)ORDERS').test('orders'))
    assert.ok(compileTopicRegex('\\Afoo\\z').test('foo'))
    assert.ok(!compileTopicRegex('foo').test('foobar'))
    assert.throws(() => compileTopicRegex('(?=a)a'))
    assert.throws(() => compileTopicRegex('(a)\\1'))
  })

  test('fencing: a greater epoch, an old epoch with extra partitions; the previous epoch is accepted', () => {
    const env = setup()
    env.topics.add('t', 2)
    const a = new Client(env, 'a')
    a.heartbeat()
    assert.equal(a.heartbeat({ memberEpoch: 5 }).errorCode, ErrorCode.FENCED_MEMBER_EPOCH)
    // Move a to epoch 2 by having b join then leave.
    const b = new Client(env, 'b')
    b.heartbeat()
    settle([a, b])
    b.heartbeat({ memberEpoch: -1 })
    a.heartbeat()
    assert.equal(a.epoch, 3)
    // The response moving a to epoch 3 was "lost": epoch 2 with a subset of its partitions is fine.
    assert.equal(
      a.heartbeat({ memberEpoch: 2, topicPartitions: [{ topicId: 'id-t', partitions: [0] }] }).errorCode,
      ErrorCode.NONE,
    )
    assert.equal(a.heartbeat({ memberEpoch: 1 }).errorCode, ErrorCode.FENCED_MEMBER_EPOCH)
    assert.equal(
      new Client(env, 'nobody').heartbeat({ memberEpoch: 3 }).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    )
    // A fenced client rejoins with epoch 0 and owns nothing; it is given its partitions again.
    a.owned.clear()
    a.epoch = 0
    a.heartbeat()
    assert.equal(a.last!.errorCode, ErrorCode.NONE)
    assert.deepEqual(a.partitions(), [0, 1])
  })

  test('malformed first heartbeats are INVALID_REQUEST; unknown assignors UNSUPPORTED_ASSIGNOR', () => {
    const env = setup()
    env.topics.add('t', 1)
    const c = new Client(env, 'x')
    const cases: Partial<ConsumerGroupHeartbeatRequest>[] = [
      { rebalanceTimeoutMs: -1 },
      { topicPartitions: null },
      { topicPartitions: [{ topicId: 'id-t', partitions: [0] }] },
      { subscribedTopicNames: null },
      { instanceId: '' },
      { rackId: '' },
      { memberEpoch: -3 },
      { memberEpoch: -2 },
    ]
    for (const overrides of cases)
      assert.equal(c.heartbeat(overrides).errorCode, ErrorCode.INVALID_REQUEST, JSON.stringify(overrides))
    assert.equal(c.heartbeat({ serverAssignor: 'sticky' }).errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR)
    assert.equal(env.group.size, 0)
  })

  test('server assignor: range when the members ask for it', () => {
    const env = setup()
    env.topics.add('t', 3)
    const a = new Client(env, 'a', ['t'], { serverAssignor: 'range' })
    const b = new Client(env, 'b', ['t'], { serverAssignor: 'range' })
    a.heartbeat()
    b.heartbeat()
    settle([a, b])
    assert.equal(env.group.assignorName, 'range')
    assert.deepEqual(a.partitions(), [0, 1])
    assert.deepEqual(b.partitions(), [2])
  })

  test('static membership: -2 keeps the assignment, a rejoin with the instance id takes it back without a rebalance', () => {
    const env = setup()
    env.topics.add('t', 4)
    const a = new Client(env, 'a1', ['t'], { instanceId: 'inst-a' })
    const b = new Client(env, 'b', ['t'])
    a.heartbeat()
    b.heartbeat()
    settle([a, b])
    const mine = a.partitions()
    const epoch = env.group.groupEpoch
    const left = a.heartbeat({ memberEpoch: -2 })
    assert.equal(left.errorCode, ErrorCode.NONE)
    assert.equal(left.memberEpoch, -2)
    assert.equal(env.group.groupEpoch, epoch)
    // Another process with the same instance id while the first is still in: UNRELEASED_INSTANCE_ID.
    const b2 = new Client(env, 'b2', ['t'], { instanceId: 'inst-b' })
    b2.heartbeat()
    const b3 = new Client(env, 'b3', ['t'], { instanceId: 'inst-b' })
    assert.equal(b3.heartbeat().errorCode, ErrorCode.UNRELEASED_INSTANCE_ID)
    b2.heartbeat({ memberEpoch: -1 })
    settle([b])

    const back = new Client(env, 'a2', ['t'], { instanceId: 'inst-a' })
    const res = back.heartbeat()
    assert.equal(res.errorCode, ErrorCode.NONE)
    assert.deepEqual(back.partitions(), mine)
    assert.equal(env.group.hasMember('a1'), false)
    assert.equal(env.group.hasMember('a2'), true)
    assertExclusive([back, b])
  })

  test('a static member that does not come back is removed at the session timeout', () => {
    const env = setup()
    env.topics.add('t', 2)
    const a = new Client(env, 'a', ['t'], { instanceId: 'inst-a' })
    const b = new Client(env, 'b')
    a.heartbeat()
    b.heartbeat()
    settle([a, b])
    a.heartbeat({ memberEpoch: -2 })
    for (let t = 0; t < SESSION + INTERVAL; t += INTERVAL) {
      env.clock.advance(INTERVAL)
      b.heartbeat()
    }
    assert.equal(env.group.hasMember('a'), false)
    settle([b])
    assert.deepEqual(b.partitions(), [0, 1])
  })

  test('group max size', () => {
    const env = setup({ maxSize: 1 })
    env.topics.add('t', 1)
    new Client(env, 'a').heartbeat()
    assert.equal(new Client(env, 'b').heartbeat().errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED)
  })

  test('describe: state, epochs, assignor, members with current and target assignment', () => {
    const env = setup()
    env.topics.add('t', 2)
    const a = new Client(env, 'a')
    a.heartbeat()
    const b = new Client(env, 'b')
    b.heartbeat()
    const d = env.group.describe(env.topics)
    assert.equal(d.groupState, 'Reconciling')
    assert.equal(d.groupEpoch, 2)
    assert.equal(d.assignmentEpoch, 2)
    assert.equal(d.assignorName, 'uniform')
    const ma = d.members.find((m) => m.memberId === 'a')!
    assert.equal(ma.memberEpoch, 1)
    assert.equal(ma.clientId, 'client')
    assert.equal(ma.memberType, 1)
    assert.deepEqual(ma.assignment.topicPartitions, [{ topicId: 'id-t', topicName: 't', partitions: [0, 1] }])
    assert.equal(ma.targetAssignment.topicPartitions[0]!.partitions.length, 1)
    assert.deepEqual(ma.subscribedTopicNames, ['t'])
  })

  test('offset commit and fetch validation by member epoch', () => {
    const env = setup()
    env.topics.add('t', 1)
    const a = new Client(env, 'a')
    a.heartbeat()
    assert.equal(env.group.validateOffsetCommit('a', 1, 9), ErrorCode.NONE)
    assert.equal(env.group.validateOffsetCommit('a', 0, 9), ErrorCode.STALE_MEMBER_EPOCH)
    assert.equal(env.group.validateOffsetCommit('a', 0, 8), ErrorCode.ILLEGAL_GENERATION)
    assert.equal(env.group.validateOffsetCommit('x', 1, 9), ErrorCode.UNKNOWN_MEMBER_ID)
    assert.equal(env.group.validateOffsetCommit('', -1, 9), ErrorCode.UNKNOWN_MEMBER_ID)
    assert.equal(env.group.validateOffsetFetch('', -1), ErrorCode.NONE)
    assert.equal(env.group.validateOffsetFetch('a', 2), ErrorCode.STALE_MEMBER_EPOCH)
    a.heartbeat({ memberEpoch: -1 })
    assert.equal(env.group.validateOffsetCommit('', -1, 9), ErrorCode.NONE)
  })

  test('churn: members join and leave in random order, no partition is ever owned twice', () => {
    const env = setup()
    env.topics.add('t', 12)
    let seed = 42
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const live: Client[] = []
    let next = 0
    for (let step = 0; step < 300; step++) {
      const r = rand()
      if (r < 0.15 || live.length === 0) {
        const c = new Client(env, `m${next++}`)
        live.push(c)
        c.heartbeat()
      } else if (r < 0.25 && live.length > 1) {
        const [c] = live.splice(Math.floor(rand() * live.length), 1)
        c!.heartbeat({ memberEpoch: -1 })
      } else {
        live[Math.floor(rand() * live.length)]!.heartbeat()
      }
      assertExclusive(live)
    }
    settle(live, 20)
    assert.equal(assertExclusive(live).size, 12)
    assert.equal(env.group.state, 'Stable')
  })
})
