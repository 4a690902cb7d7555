// KafkaJS consumer groups at scale: a 3-member group sharing 30,000 messages exactly once, a member
// killed without leaving (SIGKILLed child process), and committed offsets across a broker restart.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import { tempDir } from '../support.js'
import {
  type Member,
  type Received,
  committedAndEnds,
  coversExactlyOnce,
  describeGroup,
  member,
  produce,
  sleep,
  waitFor,
} from './group-support.js'

const CHILD = fileURLToPath(new URL('./fixtures/kafkajs-group-member.mjs', import.meta.url))

function client(bootstrap: string, clientId: string): Kafka {
  return new Kafka({ brokers: [bootstrap], clientId, logLevel: logLevel.NOTHING })
}

test('KafkaJS: 3 members share 6 partitions; 30,000 messages consumed exactly once and committed', async (t) => {
  const broker = await startBroker({ port: 0 })
  const kafka = client(broker.bootstrap, 'scale')
  const admin = kafka.admin()
  const consumers: Consumer[] = []
  t.after(async () => {
    await Promise.allSettled(consumers.map((c) => c.disconnect()))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  const topic = 'scale'
  const group = 'scale-group'
  const P = 6
  await admin.createTopics({ topics: [{ topic, numPartitions: P }] })

  const received: Received[] = []
  const members: Member[] = []
  for (const name of ['a', 'b', 'c']) {
    const m = await member(kafka, name, group, topic, received)
    members.push(m)
    consumers.push(m.consumer)
  }

  // Rebalance time: from the first run() (JoinGroup) until all three hold their part of one assignment.
  const start = performance.now()
  await Promise.all(members.map((m) => m.run()))
  const stable = () =>
    coversExactlyOnce(
      members.map((m) => m.state.assigned),
      P,
    )
  await waitFor('a stable 3-member assignment', stable, 30_000, () =>
    JSON.stringify(members.map((m) => m.state)),
  )
  const rebalanceMs = Math.max(...members.map((m) => m.state.at)) - start
  const described = await describeGroup(admin, group, topic)
  assert.equal(described.state, 'Stable')
  assert.equal(described.members.length, 3)
  assert.deepEqual(
    described.members.map((m) => m.partitions).sort(),
    members.map((m) => m.state.assigned).sort(),
    'DescribeGroups shows the assignment the members received',
  )
  assert.ok(
    coversExactlyOnce(
      described.members.map((m) => m.partitions),
      P,
    ),
  )
  const joins = members.map((m) => m.state.joins)
  t.diagnostic(
    `3-member rebalance (first JoinGroup → all members assigned, group Stable): ${rebalanceMs.toFixed(0)} ms; ` +
      `joins per member ${joins.join('/')}; assignment ${members.map((m) => `${m.name}=${m.state.assigned}`).join(' ')}`,
  )
  console.log(`[kafkajs-groups-scale] 3-member rebalance time: ${rebalanceMs.toFixed(0)} ms`)

  const N = 30_000
  const t0 = performance.now()
  const produced = await produce(kafka, topic, 0, N)
  await waitFor(
    `${N} messages`,
    () => received.length >= N,
    60_000,
    () => `(got ${received.length})`,
  )
  // Nothing more arrives: no duplicates in flight.
  await sleep(500)
  t.diagnostic(`produced and consumed ${N} messages in ${(performance.now() - t0).toFixed(0)} ms`)
  assert.equal(received.length, N, 'nothing consumed twice')
  assert.deepEqual(new Set(received.map((r) => r.value)), new Set(produced), 'every message consumed')
  assert.ok(
    members.every((m) => m.state.joins === joins[members.indexOf(m)]),
    'no rebalance while consuming',
  )

  const ends = await admin.fetchTopicOffsets(topic)
  for (let p = 0; p < P; p++) {
    const records = received.filter((r) => r.partition === p)
    const readers = new Set(records.map((r) => r.member))
    assert.equal(readers.size, 1, `partition ${p} read by exactly one member (${[...readers]})`)
    const owner = members.find((m) => m.name === [...readers][0])!
    assert.ok(owner.state.assigned.includes(p), `partition ${p} read by its assignee`)
    const high = Number(ends.find((e) => e.partition === p)!.high)
    assert.ok(high > 0, `partition ${p} has messages`)
    assert.deepEqual(
      records.map((r) => r.offset),
      Array.from({ length: high }, (_, i) => i),
      `partition ${p}: offsets 0…${high - 1} in order, no gap`,
    )
  }

  // Every partition's committed offset reaches its high watermark (KafkaJS commits after each batch).
  let offsets = await committedAndEnds(admin, group, topic)
  await waitFor(
    'committed offsets at the high watermarks',
    async () => {
      offsets = await committedAndEnds(admin, group, topic)
      return offsets.every((o) => o.committed === o.high)
    },
    15_000,
    () => JSON.stringify(offsets),
  )
  assert.equal(
    offsets.reduce((sum, o) => sum + o.high, 0),
    N,
  )
})

interface ChildMember {
  child: ChildProcess
  assigned: number[]
  received: Received[]
  exited: Promise<void>
  stderr(): string
}

function spawnMember(bootstrap: string, group: string, topic: string, delayMs: number): ChildMember {
  const child = spawn(process.execPath, [CHILD, bootstrap, group, topic, String(delayMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const state: ChildMember = {
    child,
    assigned: [],
    received: [],
    exited: new Promise((resolve) => child.on('exit', () => resolve())),
    stderr: () => err,
  }
  let err = ''
  let partial = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop()!
    for (const line of lines) {
      const event = JSON.parse(line)
      if (event.assigned) state.assigned = event.assigned
      else if (event.value !== undefined) state.received.push({ member: 'child', ...event })
    }
  })
  return state
}

test('KafkaJS: a member killed without leaving loses its partitions after the session timeout; nothing is lost', async (t) => {
  const broker = await startBroker({ port: 0 })
  const kafka = client(broker.bootstrap, 'kill')
  const admin = kafka.admin()
  const consumers: Consumer[] = []
  const children: ChildMember[] = []
  t.after(async () => {
    for (const { child, exited } of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    }
    await Promise.allSettled(consumers.map((c) => c.disconnect()))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  const topic = 'kill'
  const group = 'kill-group'
  const P = 6
  await admin.createTopics({ topics: [{ topic, numPartitions: P }] })

  const received: Received[] = []
  const survivors = [
    await member(kafka, 'a', group, topic, received),
    await member(kafka, 'b', group, topic, received),
  ]
  consumers.push(...survivors.map((m) => m.consumer))
  await Promise.all(survivors.map((m) => m.run()))
  // The child sleeps 2 ms per message so that it is killed in the middle of its share.
  const killed = spawnMember(broker.bootstrap, group, topic, 2)
  children.push(killed)
  const assignments = () => [...survivors.map((m) => m.state.assigned), killed.assigned]
  await waitFor(
    'a stable 3-member assignment including the child',
    () => coversExactlyOnce(assignments(), P),
    30_000,
    () => `${JSON.stringify(assignments())} child stderr: ${killed.stderr()}`,
  )
  const childPartitions = killed.assigned
  const survivorJoins = survivors.map((m) => m.state.joins)

  const first = await produce(kafka, topic, 0, 6000)
  const childShare = (await admin.fetchTopicOffsets(topic))
    .filter((e) => childPartitions.includes(e.partition))
    .reduce((sum, e) => sum + Number(e.high), 0)
  await waitFor(
    'the child to consume some messages',
    () => killed.received.length >= 100,
    30_000,
    killed.stderr,
  )
  killed.child.kill('SIGKILL')
  await killed.exited
  const killedAt = performance.now()
  const consumedByChild = killed.received.length
  assert.ok(consumedByChild < childShare, `killed mid-consumption (${consumedByChild} of ${childShare})`)

  // It did not leave: the coordinator still lists it until its session expires.
  await sleep(1000)
  const during = await describeGroup(admin, group, topic)
  assert.equal(during.members.length, 3, 'the killed member is still a member before its session times out')

  // Consumption continues while the group reacts.
  const second = await produce(kafka, topic, 6000, 3000)
  await waitFor(
    'the survivors to take over every partition',
    () =>
      coversExactlyOnce(
        survivors.map((m) => m.state.assigned),
        P,
      ),
    30_000,
    () => JSON.stringify(survivors.map((m) => m.state)),
  )
  const movedAfterMs = Math.max(...survivors.map((m) => m.state.at)) - killedAt
  t.diagnostic(
    `child consumed ${consumedByChild}/${childShare} of its partitions [${childPartitions}] before SIGKILL; ` +
      `its partitions moved ${movedAfterMs.toFixed(0)} ms after the kill (session timeout 6000 ms)`,
  )
  assert.ok(
    survivors.every((m, i) => m.state.joins > survivorJoins[i]),
    'the survivors rejoined',
  )
  assert.ok(movedAfterMs >= 3000, `partitions moved on the session timeout, not at once (${movedAfterMs} ms)`)

  const produced = [...first, ...second]
  // Built once per check: the check runs on the broker's event loop, so it must stay cheap.
  const all = () => new Set([...received, ...killed.received].map((r) => r.value))
  await waitFor(
    'every produced message consumed at least once',
    () => {
      const consumed = all()
      return produced.every((v) => consumed.has(v))
    },
    30_000,
    () => {
      const consumed = all()
      return `(missing ${produced.filter((v) => !consumed.has(v)).length})`
    },
  )
  // Redelivery is only possible for the killed member's uncommitted messages.
  const seen = new Map<string, number>()
  for (const r of [...received, ...killed.received]) seen.set(r.value, (seen.get(r.value) ?? 0) + 1)
  const twice = [...received, ...killed.received].filter((r) => seen.get(r.value)! > 1)
  assert.ok(
    twice.every((r) => childPartitions.includes(r.partition)),
    'duplicates only on the killed member partitions',
  )
  t.diagnostic(`redelivered after the kill: ${twice.length / 2} message(s)`)

  const described = await describeGroup(admin, group, topic)
  assert.equal(described.state, 'Stable')
  assert.equal(described.members.length, 2)
  assert.ok(
    coversExactlyOnce(
      described.members.map((m) => m.partitions),
      P,
    ),
  )
  let offsets = await committedAndEnds(admin, group, topic)
  await waitFor(
    'committed offsets at the high watermarks',
    async () => {
      offsets = await committedAndEnds(admin, group, topic)
      return offsets.every((o) => o.committed === o.high)
    },
    15_000,
    () => JSON.stringify(offsets),
  )
})

test('KafkaJS: committed offsets resume after a broker restart (file storage)', async (t) => {
  const dataDir = await tempDir(t)
  const topic = 'resume'
  const group = 'resume-group'
  const P = 3
  const HALF = 1000
  let firstHalf: string[]
  let committedBefore: { partition: number; high: number; committed: number }[]
  {
    const broker = await startBroker({ port: 0, storage: 'file', dataDir })
    const kafka = client(broker.bootstrap, 'resume-1')
    const admin = kafka.admin()
    let consumer: Consumer | undefined
    try {
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: P }] })
      firstHalf = await produce(kafka, topic, 0, HALF)
      const received: Received[] = []
      const m = await member(kafka, 'first', group, topic, received)
      consumer = m.consumer
      await m.run()
      await waitFor(`the first ${HALF}`, () => received.length >= HALF)
      let offsets = await committedAndEnds(admin, group, topic)
      await waitFor(
        'the first half committed',
        async () => {
          offsets = await committedAndEnds(admin, group, topic)
          return offsets.every((o) => o.committed === o.high && o.high > 0)
        },
        15_000,
        () => JSON.stringify(offsets),
      )
      await consumer.disconnect()
      consumer = undefined
      assert.deepEqual(received.map((r) => r.value).sort(), [...firstHalf].sort())
      committedBefore = await committedAndEnds(admin, group, topic)
      assert.deepEqual(committedBefore, offsets, 'nothing more committed on leaving')
      // The second half arrives while nobody consumes.
      await produce(kafka, topic, HALF, HALF)
      await admin.disconnect()
    } finally {
      await consumer?.disconnect()
      await broker.close()
    }
  }

  const broker = await startBroker({ port: 0, storage: 'file', dataDir })
  const kafka = client(broker.bootstrap, 'resume-2')
  const admin = kafka.admin()
  const consumers: Consumer[] = []
  t.after(async () => {
    await Promise.allSettled(consumers.map((c) => c.disconnect()))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  const after = await committedAndEnds(admin, group, topic)
  assert.deepEqual(
    after.map((o) => [o.partition, o.committed]),
    committedBefore!.map((o) => [o.partition, o.committed]),
    'the commits survived the restart',
  )
  assert.equal(
    after.reduce((sum, o) => sum + o.high, 0),
    2 * HALF,
  )

  const received: Received[] = []
  const m = await member(kafka, 'second', group, topic, received)
  consumers.push(m.consumer)
  await m.run()
  await waitFor(
    `the second ${HALF}`,
    () => received.length >= HALF,
    30_000,
    () => `(got ${received.length})`,
  )
  await sleep(500)
  const expected = Array.from({ length: HALF }, (_, i) => `m${HALF + i}`)
  assert.equal(received.length, HALF, 'nothing from the first half again')
  assert.deepEqual(received.map((r) => r.value).sort(), expected.sort(), 'exactly the second half')
  assert.ok(!received.some((r) => firstHalf.includes(r.value)))
  for (const o of after) {
    const offsets = received.filter((r) => r.partition === o.partition).map((r) => r.offset)
    assert.deepEqual(
      offsets,
      Array.from({ length: o.high - o.committed }, (_, i) => o.committed + i),
      `partition ${o.partition} resumed at its committed offset ${o.committed}`,
    )
  }
})
