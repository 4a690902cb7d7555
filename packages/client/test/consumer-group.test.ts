import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { type TestContext, test } from 'node:test'
import {
  type Consumer,
  type ConsumerOptions,
  Kafka,
  KafkaError,
  type TopicPartition,
  stringSerde,
} from '../src/index.js'
import { sleep, take, until } from './consumer-support.js'
import { broker } from './support.js'

const require = createRequire(import.meta.url)
const kafkajs = require('kafkajs') as typeof import('kafkajs')

/** A broker with topics; consumers made through `consumer` are closed before the broker stops. */
async function setup(t: TestContext, topics: Record<string, number>, config: Record<string, string> = {}) {
  const open: Consumer<string, string>[] = []
  t.after(() => Promise.all(open.map((c) => c.close())))
  const b = await broker(t, config)
  const kafka = new Kafka({ bootstrap: [b.bootstrap], clientId: 'group-test' })
  const admin = kafka.admin()
  await admin.createTopics(Object.entries(topics).map(([name, partitions]) => ({ name, partitions })))
  await admin.close()
  const consumer = (options: ConsumerOptions<string, string>) => {
    const c = kafka.consumer<string, string>({
      heartbeatIntervalMs: 100,
      keyDeserializer: stringSerde,
      valueDeserializer: stringSerde,
      ...options,
    })
    open.push(c)
    return c
  }
  return { b, kafka, consumer }
}

async function produce(kafka: Kafka, topic: string, count: number, partitions: number, from = 0) {
  const producer = kafka.producer({ lingerMs: 2 })
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      producer.send({
        topic,
        partition: (from + i) % partitions,
        key: `k${from + i}`,
        value: `v${from + i}`,
      }),
    ),
  )
  await producer.close()
}

const sortTps = (tps: TopicPartition[]) =>
  [...tps].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))

test('auto-commit: a new member of the group resumes after the committed offsets, as KafkaJS admin sees them', async (t) => {
  const { b, kafka, consumer } = await setup(t, { orders: 3 })
  await produce(kafka, 'orders', 90, 3)
  const first = consumer({ groupId: 'resume', autoOffsetReset: 'earliest', autoCommitIntervalMs: 100 })
  first.subscribe(['orders'])
  const got = await take(first, 60)
  assert.equal(new Set(got.map((r) => r.value)).size, 60)
  await first.close() // commits what was consumed: 59 records (the 60th was never followed by next())
  const js = new kafkajs.Kafka({ brokers: [b.bootstrap], logLevel: kafkajs.logLevel.NOTHING })
  const jsAdmin = js.admin()
  await jsAdmin.connect()
  t.after(() => jsAdmin.disconnect())
  const committed = await jsAdmin.fetchOffsets({ groupId: 'resume', topics: ['orders'] })
  const committedTotal = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0)
  assert.equal(committedTotal, 59, JSON.stringify(committed))

  const second = consumer({ groupId: 'resume', autoOffsetReset: 'earliest' })
  second.subscribe(['orders'])
  const rest = await take(second, 31)
  for (const r of rest) {
    const c = committed[0].partitions.find((p) => p.partition === r.partition)!
    assert.ok(
      r.offset >= Number(c.offset),
      `${r.partition}@${r.offset} is at or after the commit ${c.offset}`,
    )
  }
  const all = new Set([...got.slice(0, 59), ...rest].map((r) => r.value))
  assert.equal(all.size, 90, 'every record once, the 60th redelivered')
  const ours = await second.committed([0, 1, 2].map((partition) => ({ topic: 'orders', partition })))
  assert.deepEqual(
    ours.map((o) => o.offset),
    [0, 1, 2].map((p) => Number(committed[0].partitions.find((x) => x.partition === p)!.offset)),
  )
})

/** Waits until the consumers together own `total` partitions and agree on a generation. */
async function stable(consumers: Consumer<string, string>[], total: number, timeoutMs = 10_000) {
  await until(
    () =>
      consumers.reduce((n, c) => n + c.assignment().length, 0) === total &&
      new Set(consumers.map((c) => c.groupMetadata().generationId)).size === 1 &&
      consumers[0].groupMetadata().generationId >= 0,
    `${total} partitions over ${consumers.length} members`,
    timeoutMs,
  )
}

for (const [assignor, expected] of [
  [
    'range',
    [
      ['a-0', 'a-1', 'b-0', 'b-1'],
      ['a-2', 'b-2'],
    ],
  ],
  [
    'roundrobin',
    [
      ['a-0', 'a-2', 'b-1'],
      ['a-1', 'b-0', 'b-2'],
    ],
  ],
] as const) {
  test(`${assignor} assignor: Kafka's shape over two topics of 3 partitions and two members`, async (t) => {
    const { consumer } = await setup(t, { a: 3, b: 3 })
    const c1 = consumer({ groupId: assignor, assignors: [assignor] })
    const c2 = consumer({ groupId: assignor, assignors: [assignor] })
    c1.subscribe(['a', 'b'])
    c2.subscribe(['a', 'b'])
    await stable([c1, c2], 6)
    // Kafka orders members by member id; the first gets the larger share.
    const [first, second] = [c1, c2].sort((x, y) =>
      x.groupMetadata().memberId < y.groupMetadata().memberId ? -1 : 1,
    )
    const names = (c: Consumer<string, string>) =>
      sortTps(c.assignment()).map((tp) => `${tp.topic}-${tp.partition}`)
    assert.deepEqual([names(first), names(second)], expected)
  })
}

test('cooperative-sticky: the first member keeps consuming its other partitions while a second joins', async (t) => {
  const { kafka, consumer } = await setup(t, { coop: 4 })
  const events: { who: string; kind: string; tps: string[]; at: number }[] = []
  const listeners = (who: string) => ({
    onPartitionsAssigned: (tps: TopicPartition[]) => {
      events.push({ who, kind: 'assigned', tps: sortTps(tps).map((x) => `${x.partition}`), at: Date.now() })
    },
    onPartitionsRevoked: (tps: TopicPartition[]) => {
      events.push({ who, kind: 'revoked', tps: sortTps(tps).map((x) => `${x.partition}`), at: Date.now() })
    },
    onPartitionsLost: (tps: TopicPartition[]) => {
      events.push({ who, kind: 'lost', tps: sortTps(tps).map((x) => `${x.partition}`), at: Date.now() })
    },
  })
  // c1 heartbeats every 500 ms, so the rebalance stays open a while before it rejoins.
  const c1 = consumer({
    groupId: 'coop',
    assignors: ['cooperative-sticky'],
    autoOffsetReset: 'earliest',
    heartbeatIntervalMs: 500,
    ...listeners('c1'),
  })
  c1.subscribe(['coop'])
  const received: { partition: number; at: number }[] = []
  const running = c1.run({
    eachRecord: (r) => void received.push({ partition: r.partition, at: Date.now() }),
  })
  await stable([c1], 4)

  const producer = kafka.producer({ lingerMs: 0 })
  t.after(() => producer.close())
  let producing = true
  const feeding = (async () => {
    for (let i = 0; producing; i++) {
      await producer.sendBatch([0, 1, 2, 3].map((partition) => ({ topic: 'coop', partition, value: `${i}` })))
      await sleep(10)
    }
  })()

  await sleep(300)
  const joinedAt = Date.now()
  const c2 = consumer({ groupId: 'coop', assignors: ['cooperative-sticky'], ...listeners('c2') })
  c2.subscribe(['coop'])
  await stable([c1, c2], 4)
  const settledAt = Date.now()
  await sleep(300)
  producing = false
  await feeding

  const c1Revoked = events.filter((e) => e.who === 'c1' && e.kind === 'revoked').flatMap((e) => e.tps)
  const c2Owned = sortTps(c2.assignment()).map((x) => `${x.partition}`)
  const c1Owned = sortTps(c1.assignment()).map((x) => `${x.partition}`)
  assert.equal(c2Owned.length, 2)
  assert.deepEqual(c1Revoked.sort(), c2Owned, 'c1 revoked exactly the partitions that moved to c2')
  assert.deepEqual(
    events.filter((e) => e.kind === 'lost'),
    [],
  )
  // c1 was assigned all four once, and nothing after: its kept partitions never went away.
  assert.deepEqual(
    events.filter((e) => e.who === 'c1' && e.kind === 'assigned' && e.tps.length > 0).map((e) => e.tps),
    [['0', '1', '2', '3']],
  )
  const kept = new Set(c1Owned.map(Number))
  const during = received.filter((r) => kept.has(r.partition) && r.at > joinedAt && r.at < settledAt)
  assert.ok(during.length > 0, 'records of kept partitions were delivered during the rebalance')
  const revokedAt = events.find((e) => e.who === 'c1' && e.kind === 'revoked')!.at
  assert.ok(
    received.some((r) => kept.has(r.partition) && r.at > revokedAt && r.at < settledAt) ||
      received.some((r) => kept.has(r.partition) && r.at > joinedAt && r.at < revokedAt),
  )
  t.diagnostic(`rebalance with cooperative-sticky took ${settledAt - joinedAt} ms`)
  await c1.close()
  await running
})

test('static membership: a restarted member with the same groupInstanceId gets its partitions back without a rebalance', async (t) => {
  const { consumer } = await setup(t, { static: 4 })
  const revokedC2: TopicPartition[][] = []
  const c1 = consumer({ groupId: 'static', groupInstanceId: 'one', sessionTimeoutMs: 10_000 })
  const c2 = consumer({
    groupId: 'static',
    groupInstanceId: 'two',
    sessionTimeoutMs: 10_000,
    onPartitionsRevoked: (tps) => void revokedC2.push(tps),
  })
  c1.subscribe(['static'])
  c2.subscribe(['static'])
  await stable([c1, c2], 4)
  const before = c2.groupMetadata().generationId
  const c1Partitions = sortTps(c1.assignment())
  const c2Partitions = sortTps(c2.assignment())
  await c1.close() // a static member sends no LeaveGroup
  const restarted = consumer({ groupId: 'static', groupInstanceId: 'one', sessionTimeoutMs: 10_000 })
  restarted.subscribe(['static'])
  await until(() => restarted.assignment().length === 2, 'the restarted member gets partitions', 5000)
  assert.deepEqual(sortTps(restarted.assignment()), c1Partitions)
  await sleep(500) // several heartbeats of c2
  assert.equal(c2.groupMetadata().generationId, before, 'the other member saw no new generation')
  assert.equal(restarted.groupMetadata().generationId, before)
  assert.deepEqual(sortTps(c2.assignment()), c2Partitions)
  assert.deepEqual(revokedC2, [])
})

test('a handler slower than the session timeout keeps the membership (heartbeats run on their own)', async (t) => {
  const { kafka, consumer } = await setup(t, { slow: 2 }, { 'group.min.session.timeout.ms': '500' })
  await produce(kafka, 'slow', 4, 2)
  const revoked: TopicPartition[][] = []
  const lost: TopicPartition[][] = []
  const c = consumer({
    groupId: 'slow',
    autoOffsetReset: 'earliest',
    sessionTimeoutMs: 1000,
    heartbeatIntervalMs: 200,
    onPartitionsRevoked: (tps) => void revoked.push(tps),
    onPartitionsLost: (tps) => void lost.push(tps),
  })
  c.subscribe(['slow'])
  await stable([c], 2)
  const { generationId, memberId } = c.groupMetadata()
  const seen: string[] = []
  const running = c.run({
    eachRecord: async (r) => {
      seen.push(r.value!)
      if (seen.length === 1) await sleep(2500) // 2.5 session timeouts
    },
  })
  await until(() => seen.length === 4, 'all four records', 8000)
  assert.deepEqual(c.groupMetadata().generationId, generationId)
  assert.deepEqual(c.groupMetadata().memberId, memberId)
  assert.deepEqual([revoked, lost], [[], []])
  assert.equal(c.assignment().length, 2)
  await c.close()
  await running
})

test('close() leaves the group: the other member takes over at once, not after the session timeout', async (t) => {
  const { consumer } = await setup(t, { leave: 4 })
  const c1 = consumer({ groupId: 'leave', sessionTimeoutMs: 30_000 })
  const c2 = consumer({ groupId: 'leave', sessionTimeoutMs: 30_000 })
  c1.subscribe(['leave'])
  c2.subscribe(['leave'])
  await stable([c1, c2], 4)
  const started = Date.now()
  await c2.close()
  await until(() => c1.assignment().length === 4, 'c1 owns all partitions', 5000)
  const took = Date.now() - started
  assert.ok(took < 3000, `took ${took} ms`)
  t.diagnostic(`close + takeover: ${took} ms`)
})

test('eager rebalance: consumed offsets are committed before the partitions are revoked, so nothing is read twice', async (t) => {
  const { kafka, consumer } = await setup(t, { eager: 2 })
  await produce(kafka, 'eager', 100, 2)
  const committedAtRevoke: number[][] = []
  const c1: Consumer<string, string> = consumer({
    groupId: 'eager',
    assignors: ['range'],
    autoOffsetReset: 'earliest',
    autoCommitIntervalMs: 60_000, // only the commit before revocation can save c1's progress
    onPartitionsRevoked: async (tps) => {
      committedAtRevoke.push((await c1.committed(sortTps(tps))).map((o) => o.offset))
    },
  })
  c1.subscribe(['eager'])
  const byC1: string[] = []
  const running1 = c1.run({ eachRecord: (r) => void byC1.push(r.value!) })
  await until(() => byC1.length === 100, 'c1 reads all 100')
  const c2 = consumer({ groupId: 'eager', assignors: ['range'], autoOffsetReset: 'earliest' })
  c2.subscribe(['eager'])
  const byC2: string[] = []
  const running2 = c2.run({ eachRecord: (r) => void byC2.push(r.value!) })
  await stable([c1, c2], 2)
  assert.deepEqual(committedAtRevoke, [[50, 50]], 'both partitions committed at 50 when revoked')
  await produce(kafka, 'eager', 20, 2, 100)
  await until(() => byC1.length + byC2.length === 120, '120 records in all')
  await sleep(300)
  const everything = [...byC1, ...byC2]
  assert.equal(everything.length, 120)
  assert.equal(new Set(everything).size, 120, 'no record delivered twice')
  assert.equal(byC2.length, 10, 'c2 read only the new records of its partition')
  await Promise.all([c1.close(), c2.close()])
  await Promise.all([running1, running2])
})

test('run({ eachBatch }): batches of one partition in offset order, at most maxBatchRecords, committed on success', async (t) => {
  const { kafka, consumer } = await setup(t, { batches: 3 })
  await produce(kafka, 'batches', 900, 3)
  const c = consumer({ groupId: 'batches', autoOffsetReset: 'earliest' })
  c.subscribe(['batches'])
  const next = new Map<number, number>()
  let sizes: number[] = []
  let total = 0
  const running = c.run({
    maxBatchRecords: 100,
    eachBatch: async (batch) => {
      sizes.push(batch.records.length)
      for (const r of batch.records) {
        assert.equal(r.partition, batch.partition)
        assert.equal(r.offset, next.get(batch.partition) ?? 0)
        next.set(batch.partition, r.offset + 1)
      }
      assert.equal(batch.highWatermark, 300)
      total += batch.records.length
    },
  })
  await until(() => total === 900, 'all 900 records')
  assert.ok(
    sizes.every((n) => n > 0 && n <= 100),
    `batch sizes ${sizes}`,
  )
  sizes = []
  await c.commit()
  assert.deepEqual(
    (await c.committed(sortTps(c.assignment()))).map((o) => o.offset),
    [300, 300, 300],
  )
  await c.close()
  await running
})

test('subscribe(RegExp): matching topics only, and a new matching topic joins the assignment (metadataMaxAgeMs)', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap], metadataMaxAgeMs: 300 })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([
    { name: 'evt-a', partitions: 2 },
    { name: 'evt-b', partitions: 1 },
    { name: 'other', partitions: 1 },
  ])
  const c = kafka.consumer({ groupId: 'pattern', heartbeatIntervalMs: 100, valueDeserializer: stringSerde })
  c.subscribe(/^evt-/)
  await until(() => c.assignment().length === 3, 'evt-a and evt-b assigned')
  assert.deepEqual(
    sortTps(c.assignment()).map((x) => `${x.topic}-${x.partition}`),
    ['evt-a-0', 'evt-a-1', 'evt-b-0'],
  )
  await admin.createTopics([{ name: 'evt-c', partitions: 1 }])
  await until(() => c.assignment().length === 4, 'evt-c assigned too', 5000)
  const producer = kafka.producer()
  await producer.send({ topic: 'evt-c', value: 'new topic' })
  await producer.close()
  c.seek({ topic: 'evt-c', partition: 0, offset: 0 })
  assert.equal((await take(c, 1))[0].value, 'new topic')
  await c.close()
})

test('a second live member with the same groupInstanceId fences the first: its iterator throws FENCED_INSTANCE_ID', async (t) => {
  const { consumer } = await setup(t, { fence: 2 })
  const first = consumer({ groupId: 'fence', groupInstanceId: 'same', sessionTimeoutMs: 10_000 })
  first.subscribe(['fence'])
  await stable([first], 2)
  const second = consumer({ groupId: 'fence', groupInstanceId: 'same', sessionTimeoutMs: 10_000 })
  second.subscribe(['fence'])
  await until(() => second.assignment().length === 2, 'the new instance takes over')
  await assert.rejects(
    take(first, 1, 5000),
    (err) => err instanceof KafkaError && err.errorName === 'FENCED_INSTANCE_ID',
  )
  assert.equal(first.assignment().length, 0)
})

test('seek inside onPartitionsAssigned wins over the committed offset', async (t) => {
  const { kafka, consumer } = await setup(t, { rewind: 1 })
  await produce(kafka, 'rewind', 10, 1)
  const committer = consumer({ groupId: 'rewind' })
  await committer.commit([{ topic: 'rewind', partition: 0, offset: 8 }])
  const c: Consumer<string, string> = consumer({
    groupId: 'rewind',
    onPartitionsAssigned: (tps) => {
      for (const tp of tps) c.seek({ ...tp, offset: 3 })
    },
  })
  c.subscribe(['rewind'])
  assert.deepEqual(
    (await take(c, 7)).map((r) => r.offset),
    [3, 4, 5, 6, 7, 8, 9],
  )
  assert.equal(await c.position({ topic: 'rewind', partition: 0 }), 10)
})

test('records of newly assigned partitions wait until an async onPartitionsAssigned resolves', async (t) => {
  const { kafka, consumer } = await setup(t, { held: 2 })
  await produce(kafka, 'held', 10, 2)
  let resolvedAt = 0
  const c = consumer({
    groupId: 'held',
    autoOffsetReset: 'earliest',
    onPartitionsAssigned: async () => {
      await sleep(700) // e.g. loading state for the partitions
      resolvedAt = Date.now()
    },
  })
  c.subscribe(['held'])
  const [first] = await take(c, 1)
  const handedAt = Date.now()
  assert.ok(first)
  assert.ok(resolvedAt > 0 && handedAt >= resolvedAt, 'no record before the listener finished')
})

test('close() during a rebalance that waits for another member returns promptly', async (t) => {
  const { consumer } = await setup(t, { pending: 2 })
  // c1 heartbeats rarely, so the rebalance c2 starts waits seconds for c1 to rejoin.
  const c1 = consumer({ groupId: 'pending', heartbeatIntervalMs: 5000, sessionTimeoutMs: 30_000 })
  c1.subscribe(['pending'])
  await stable([c1], 2)
  await sleep(200) // c1's first heartbeat interval starts
  const c2 = consumer({ groupId: 'pending' })
  c2.subscribe(['pending'])
  await sleep(300) // c2's JoinGroup is now parked at the coordinator
  assert.equal(c2.assignment().length, 0)
  const started = Date.now()
  await c2.close()
  const took = Date.now() - started
  assert.ok(took < 1500, `close took ${took} ms`)
})

test('unsubscribe() hands the partitions to the other member at once; subscribe() joins again', async (t) => {
  const { consumer } = await setup(t, { unsub: 4 })
  const revoked: TopicPartition[][] = []
  const c1 = consumer({ groupId: 'unsub', sessionTimeoutMs: 30_000 })
  const c2 = consumer({
    groupId: 'unsub',
    sessionTimeoutMs: 30_000,
    onPartitionsRevoked: (tps) => void revoked.push(tps),
  })
  c1.subscribe(['unsub'])
  c2.subscribe(['unsub'])
  await stable([c1, c2], 4)
  const had = sortTps(c2.assignment())
  await c2.unsubscribe()
  assert.deepEqual(c2.assignment(), [])
  assert.deepEqual(revoked.map(sortTps), [had])
  await until(() => c1.assignment().length === 4, 'c1 owns all four', 3000)
  c2.subscribe(['unsub'])
  await stable([c1, c2], 4)
  assert.equal(c2.assignment().length, 2)
})

for (const assignor of ['cooperative-sticky', 'range'] as const) {
  test(`churn with ${assignor}: members join and leave while records flow; every record once`, async (t) => {
    const { kafka, consumer } = await setup(t, { churn: 6 })
    const seen = new Map<string, number>()
    const members: Consumer<string, string>[] = []
    const runs: Promise<void>[] = []
    const start = () => {
      const c = consumer({ groupId: `churn-${assignor}`, assignors: [assignor], autoOffsetReset: 'earliest' })
      c.subscribe(['churn'])
      runs.push(c.run({ eachRecord: (r) => void seen.set(r.value!, (seen.get(r.value!) ?? 0) + 1) }))
      members.push(c)
      return c
    }
    const producer = kafka.producer({ lingerMs: 2 })
    t.after(() => producer.close())
    let sent = 0
    let producing = true
    const feeding = (async () => {
      while (producing) {
        await producer.sendBatch(
          Array.from({ length: 30 }, (_, i) => ({ topic: 'churn', key: `k${i}`, value: `r${sent + i}` })),
        )
        sent += 30
        await sleep(15)
      }
    })()
    const c1 = start()
    await sleep(400)
    start()
    await sleep(400)
    start()
    await sleep(400)
    await c1.close() // clean leave: commits, then LeaveGroup
    await sleep(400)
    start()
    await sleep(400)
    producing = false
    await feeding
    await until(() => seen.size === sent, `all ${sent} records`, 10_000)
    const twice = [...seen].filter(([, n]) => n > 1)
    assert.deepEqual(twice, [], 'no record delivered twice across clean rebalances')
    await Promise.all(members.map((c) => c.close()))
    await Promise.all(runs)
    t.diagnostic(`${sent} records, ${members.length} members over time`)
  })
}

test('a long-polling fetch does not hold heartbeats back: a rebalance completes well within fetch.max.wait.ms', async (t) => {
  const { consumer } = await setup(t, { idle: 2 })
  const c1 = consumer({ groupId: 'idle', maxWaitMs: 5000 })
  c1.subscribe(['idle'])
  await stable([c1], 2)
  await sleep(200) // c1's fetch is now parked at the broker for up to 5 s
  const started = Date.now()
  const c2 = consumer({ groupId: 'idle', maxWaitMs: 5000 })
  c2.subscribe(['idle'])
  await stable([c1, c2], 2)
  const took = Date.now() - started
  assert.ok(took < 2500, `rebalance took ${took} ms`)
})
