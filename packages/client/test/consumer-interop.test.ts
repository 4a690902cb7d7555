// One consumer group shared by a Fluxo consumer and another Kafka client (@platformatic/kafka,
// librdkafka through @confluentinc/kafka-javascript, KafkaJS), for both group protocols: the
// partitions are split, every record is read once, a member that leaves hands its partitions over at
// the committed offsets, and what Fluxo commits is what the other clients' admins report.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { type Broker, startBroker } from '@fluxo/broker'
import { ApiKey } from '@fluxo/protocol'
import { Consumer as PlatformaticConsumer, stringDeserializers } from '@platformatic/kafka'
import { Kafka as KafkaJS, logLevel } from 'kafkajs'
import { type ConsumerOptions, Kafka, stringSerde } from '../src/index.js'
import { Cluster, CoordinatorType } from '../src/internal.js'
import { sleep, take } from './consumer-support.js'

const TOPIC = 'shared'
const PARTITIONS = 6
const WAIT_MS = 20_000

/** What one member of the group read. */
interface Received {
  member: string
  partition: number
  offset: number
  value: string
}

/** A consumer of any client, subscribed to TOPIC in the group under test. */
interface Member {
  name: string
  /** The partitions of TOPIC this member owns now, sorted. */
  partitions(): number[]
  close(): Promise<void>
}

/** Rejects after `ms` if `promise` has not settled. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * An embedded broker whose KIP-848 groups heartbeat every 100 ms, and a list of things to close that
 * runs last-in first-out (members before the broker: librdkafka waits for a broker that is gone);
 * a close that fails or takes longer than 15 s fails the test.
 * `failures` collects errors of consumers running in the background; `waitFor` throws the first.
 */
async function setup(t: TestContext) {
  const broker: Broker = await startBroker({
    port: 0,
    storage: 'memory',
    config: {
      'group.consumer.heartbeat.interval.ms': '100',
      'group.consumer.session.timeout.ms': '6000',
    },
  })
  const cleanups: (() => Promise<unknown>)[] = [() => broker.close()]
  t.after(async () => {
    // Everything is closed even if something fails to; then the first failure fails the test.
    const errors: unknown[] = []
    for (const close of cleanups.reverse())
      await withTimeout(close(), 15_000, 'close').catch((err) => errors.push(err))
    if (errors.length > 0) throw errors[0]
  })
  const failures: Error[] = []
  const kafka = new Kafka({ bootstrap: [broker.bootstrap], clientId: 'consumer-interop' })
  const admin = kafka.admin()
  cleanups.push(() => admin.close())
  await admin.createTopics([{ name: TOPIC, partitions: PARTITIONS }])
  const producer = kafka.producer({ lingerMs: 2 })
  cleanups.push(() => producer.close())

  async function waitFor(what: string, check: () => boolean | Promise<boolean>, detail = () => '') {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      if (failures.length > 0) throw failures[0]
      if (await check()) return
      if (Date.now() > deadline)
        throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what} ${detail()}`)
      await sleep(20)
    }
  }

  /** `<prefix><i>` for i < count, on partition i % PARTITIONS; returns the values. */
  async function produce(prefix: string, count: number): Promise<string[]> {
    const records = Array.from({ length: count }, (_, i) => ({
      topic: TOPIC,
      partition: i % PARTITIONS,
      value: `${prefix}${i}`,
    }))
    await producer.sendBatch(records)
    return records.map((r) => r.value)
  }

  /** The group's committed offsets by partition (-1 where none), as the Fluxo admin reads them. */
  async function committed(groupId: string): Promise<number[]> {
    const topics = await admin.fetchOffsets(groupId, [TOPIC])
    const byPartition = new Map(topics.flatMap((tp) => tp.partitions).map((p) => [p.partition, p.offset]))
    return Array.from({ length: PARTITIONS }, (_, p) => byPartition.get(p) ?? -1)
  }

  async function ends(): Promise<number[]> {
    const list = await admin.listOffsets(TOPIC, 'latest')
    return [...list].sort((a, b) => a.partition - b.partition).map((p) => p.offset)
  }

  /**
   * The group's assignment as its coordinator reports it, by member client id: DescribeGroups for a
   * classic group, ConsumerGroupDescribe for a KIP-848 one.
   */
  const cluster = new Cluster({ bootstrap: [broker.bootstrap] })
  cleanups.push(() => cluster.close())
  async function coordinatorView(groupId: string, protocol: 'classic' | 'consumer') {
    const view = new Map<string, number[]>()
    if (protocol === 'classic') {
      const [group] = await admin.describeGroups([groupId])
      for (const m of group.members)
        view.set(m.clientId, m.assignment.find((a) => a.topic === TOPIC)?.partitions ?? [])
    } else {
      const conn = await cluster.coordinator(groupId, CoordinatorType.group)
      const res = await conn.request(ApiKey.ConsumerGroupDescribe, {
        groupIds: [groupId],
        includeAuthorizedOperations: false,
      })
      for (const m of res.groups[0].members) {
        const tp = m.assignment.topicPartitions.find((a) => a.topicName === TOPIC)
        view.set(
          m.clientId,
          [...(tp?.partitions ?? [])].sort((a, b) => a - b),
        )
      }
    }
    return view
  }

  /** A Fluxo consumer reading with run(); a failure of its loop fails the test at the next wait. */
  function fluxo(
    name: string,
    groupId: string,
    received: Received[],
    options: ConsumerOptions<string, string>,
  ) {
    // Its own client id, by which the coordinator's view names it.
    const consumer = new Kafka({ bootstrap: [broker.bootstrap], clientId: name }).consumer<string, string>({
      groupId,
      autoOffsetReset: 'earliest',
      // No periodic commit within a test: the offsets other members resume from are those Fluxo
      // commits on revocation and on close.
      autoCommitIntervalMs: 60_000,
      heartbeatIntervalMs: 100,
      sessionTimeoutMs: 6000,
      maxWaitMs: 100,
      valueDeserializer: stringSerde,
      ...options,
    })
    consumer.subscribe([TOPIC])
    consumer
      .run({
        eachRecord: (r) => {
          received.push({ member: name, partition: r.partition, offset: r.offset, value: r.value! })
        },
      })
      .catch((err) => failures.push(err))
    let closed = false
    const close = async () => {
      if (closed) return
      closed = true
      await consumer.close({ timeoutMs: 10_000 })
    }
    cleanups.push(close)
    const member: Member = {
      name,
      partitions: () =>
        consumer
          .assignment()
          .filter((tp) => tp.topic === TOPIC)
          .map((tp) => tp.partition)
          .sort((a, b) => a - b),
      close,
    }
    return member
  }

  /** Produces one record per partition every few ms until stop(), which returns the values sent. */
  function keepProducing(prefix: string) {
    const sent: string[] = []
    let stopped = false
    const loop = (async () => {
      for (let round = 0; !stopped; round++) {
        const records = Array.from({ length: PARTITIONS }, (_, partition) => ({
          topic: TOPIC,
          partition,
          value: `${prefix}${round * PARTITIONS + partition}`,
        }))
        await producer.sendBatch(records)
        sent.push(...records.map((r) => r.value))
        await sleep(2) // dense enough that fetches land while a revocation commits
      }
    })()
    loop.catch(() => {}) // reported by stop()
    const stop = async () => {
      stopped = true
      await loop
      return sent
    }
    cleanups.push(() => stop().catch(() => {}))
    return { stop }
  }

  return {
    broker,
    kafka,
    admin,
    cleanups,
    failures,
    waitFor,
    produce,
    keepProducing,
    committed,
    ends,
    coordinatorView,
    fluxo,
  }
}

type Setup = Awaited<ReturnType<typeof setup>>

/** True when the members' partitions are disjoint, none empty, and together all of TOPIC's. */
function splitOnce(members: Member[]): boolean {
  const lists = members.map((m) => m.partitions())
  if (lists.some((l) => l.length === 0)) return false
  const all = lists.flat().sort((a, b) => a - b)
  return all.length === PARTITIONS && all.every((p, i) => p === i)
}

const describe = (members: Member[]) => members.map((m) => `${m.name}=[${m.partitions()}]`).join(' ')

/** Everything the members of one group read, and how much of it a check has covered. */
interface ReadLog {
  records: Received[]
  checked: number
}

/**
 * Waits until `expected` have all been received, lets late duplicates arrive, then checks that each
 * was received exactly once, by the member that owned its partition (`owners`), and that nothing
 * else came since the previous check: no older record read again, not even during a rebalance.
 */
async function receivedOnce(s: Setup, log: ReadLog, expected: string[], owners: Map<number, string>) {
  const want = new Set(expected)
  const from = log.checked
  const got = () => log.records.slice(from)
  await s.waitFor(
    `${expected.length} records`,
    () =>
      new Set(
        got()
          .filter((r) => want.has(r.value))
          .map((r) => r.value),
      ).size === want.size,
    () => `(got ${got().length}: ${got().filter((r) => !want.has(r.value)).length} unexpected)`,
  )
  await sleep(300) // a record delivered twice would show up now
  const now = got()
  const counts = new Map<string, number>()
  for (const r of now) counts.set(r.value, (counts.get(r.value) ?? 0) + 1)
  const twice = [...counts].filter(([, n]) => n > 1).map(([v]) => v)
  assert.deepEqual(twice, [], 'records read more than once')
  assert.deepEqual(
    now.filter((r) => !want.has(r.value)).map((r) => `${r.member}:${r.partition}@${r.offset}=${r.value}`),
    [],
    'records read again from before the commit',
  )
  assert.equal(now.length, expected.length)
  for (const r of now)
    assert.equal(r.member, owners.get(r.partition), `${r.value} (partition ${r.partition}) read by its owner`)
  log.checked = from + now.length
}

function ownersOf(members: Member[]): Map<number, string> {
  return new Map(members.flatMap((m) => m.partitions().map((p) => [p, m.name] as const)))
}

/**
 * The scenario every cross-client test runs, with `foreign` making a member of the other client:
 * 1. a Fluxo member owns everything; a foreign one joins and the group splits the partitions;
 *    records produced now are read once, each by its partition's owner; the foreign member commits;
 * 2. the foreign member leaves: the Fluxo member takes over its partitions at the committed offsets;
 * 3. a second foreign member joins (it starts at the Fluxo member's commits for what moves), then
 *    the Fluxo member leaves: the foreign member takes everything and reads only what is new.
 * The Fluxo member's auto-commit interval is a minute, so what the foreign members resume from in
 * step 3 is only what Fluxo committed on revocation and on close.
 */
async function shareTakeOverAndBack(
  s: Setup,
  groupId: string,
  fluxoOptions: ConsumerOptions<string, string>,
  foreign: (name: string, received: Received[]) => Promise<Member>,
  t: TestContext,
) {
  const log: ReadLog = { records: [], checked: 0 }
  const received = log.records
  const started = Date.now()
  const f = s.fluxo('fluxo', groupId, received, fluxoOptions)
  await s.waitFor('the Fluxo member to own every partition', () => f.partitions().length === PARTITIONS)

  const x = await foreign('foreign-1', received)
  await s.waitFor(
    'the group to split the partitions',
    () => splitOnce([f, x]),
    () => describe([f, x]),
  )
  t.diagnostic(`split: ${describe([f, x])} after ${Date.now() - started} ms`)
  const split = ownersOf([f, x])
  // The coordinator agrees with what each member says it owns.
  const protocol = fluxoOptions.groupProtocol ?? 'classic'
  let view = ''
  await s.waitFor(
    "the coordinator's view to match the members'",
    async () => {
      const byClient = await s.coordinatorView(groupId, protocol)
      view = [f, x].map((m) => `${m.name}=[${byClient.get(m.name)}]`).join(' ')
      return view === describe([f, x])
    },
    () => `(coordinator ${view}, members ${describe([f, x])})`,
  )
  t.diagnostic(`the coordinator agrees: ${view}`)
  await receivedOnce(s, log, await s.produce('a', 300), split)
  assert.ok(
    received.some((r) => r.member === f.name) && received.some((r) => r.member === x.name),
    'both members read records',
  )
  const end = await s.ends()
  const foreignPartitions = x.partitions()
  const onlyForeign = (offsets: number[]) => foreignPartitions.map((p) => offsets[p]).join()
  await s.waitFor(
    'the foreign member to commit everything it read',
    async () => onlyForeign(await s.committed(groupId)) === onlyForeign(end),
    () => `(ends ${end})`,
  )

  // 2. The foreign member leaves; the Fluxo member resumes its partitions after their commits.
  await withTimeout(x.close(), 15_000, `${x.name} close`)
  await s.waitFor('the Fluxo member to take every partition', () => f.partitions().length === PARTITIONS)
  await receivedOnce(s, log, await s.produce('b', 120), ownersOf([f]))
  t.diagnostic(`Fluxo took over after ${Date.now() - started} ms`)

  // 3. Another foreign member joins, then the Fluxo member leaves: the foreign one resumes after
  // the Fluxo member's commits (made on revocation and on close).
  const y = await foreign('foreign-2', received)
  await s.waitFor(
    'the group to split the partitions again',
    () => splitOnce([f, y]),
    () => describe([f, y]),
  )
  await receivedOnce(s, log, await s.produce('c', 60), ownersOf([f, y]))
  await withTimeout(f.close(), 15_000, 'Fluxo close')
  await s.waitFor('the foreign member to take every partition', () => y.partitions().length === PARTITIONS)
  await receivedOnce(s, log, await s.produce('d', 120), ownersOf([y]))
  t.diagnostic(`${received.length} records in ${Date.now() - started} ms`)
}

/**
 * The same handovers while records keep coming, so that members leave and join in the middle of
 * reading. Nothing may be lost. A record the Fluxo member read must not be read again by anyone:
 * Fluxo commits what it handed out before it gives a partition up. A foreign member may redeliver
 * what it read but had not committed when it gave its partitions up (Kafka consumers are
 * at-least-once); those are only counted.
 */
async function handOverWhileProducing(
  s: Setup,
  groupId: string,
  fluxoOptions: ConsumerOptions<string, string>,
  foreign: (name: string, received: Received[]) => Promise<Member>,
  t: TestContext,
) {
  const received: Received[] = []
  const flow = s.keepProducing('z')
  const f = s.fluxo('fluxo', groupId, received, fluxoOptions)
  await s.waitFor('the Fluxo member to own every partition', () => f.partitions().length === PARTITIONS)
  const x = await foreign('foreign-1', received)
  await s.waitFor(
    'the group to split the partitions',
    () => splitOnce([f, x]),
    () => describe([f, x]),
  )
  await sleep(300)
  await withTimeout(x.close(), 15_000, `${x.name} close`)
  await s.waitFor('the Fluxo member to take every partition', () => f.partitions().length === PARTITIONS)
  await sleep(300)
  const y = await foreign('foreign-2', received)
  await s.waitFor(
    'the group to split the partitions again',
    () => splitOnce([f, y]),
    () => describe([f, y]),
  )
  await sleep(300)
  await withTimeout(f.close(), 15_000, 'Fluxo close')
  await s.waitFor('the foreign member to take every partition', () => y.partitions().length === PARTITIONS)
  await sleep(300)
  const sent = await flow.stop()
  const seen = () => new Set(received.map((r) => r.value))
  await s.waitFor(
    `all ${sent.length} records`,
    () => seen().size === sent.length,
    () => {
      const got = seen()
      return `(got ${got.size}; missing ${sent.filter((v) => !got.has(v)).slice(0, 10)}…)`
    },
  )
  await sleep(300)
  const read = seen()
  assert.deepEqual(
    sent.filter((v) => !read.has(v)),
    [],
    'records lost',
  )
  assert.equal(read.size, sent.length)
  const readers = new Map<string, Received[]>()
  for (const r of received) readers.set(r.value, [...(readers.get(r.value) ?? []), r])
  const again = [...readers.values()].filter((list) => list.length > 1)
  const show = (list: Received[]) => list.map((r) => `${r.member}:${r.partition}@${r.offset}`).join(' then ')
  assert.deepEqual(
    again.filter((list) => list[0].member === f.name).map(show),
    [],
    'records the Fluxo member read, read again',
  )
  t.diagnostic(
    `${sent.length} records, ${received.filter((r) => r.member === f.name).length} read by Fluxo; ` +
      `${again.length} read twice, first by a foreign member that had not committed them`,
  )
}

// --- @platformatic/kafka -----------------------------------------------------------------------

function platformaticMember(s: Setup, groupId: string) {
  return async (name: string, received: Received[]): Promise<Member> => {
    const consumer = new PlatformaticConsumer({
      clientId: name,
      bootstrapBrokers: [s.broker.bootstrap],
      groupId,
      groupProtocol: 'consumer',
      deserializers: stringDeserializers,
      maxWaitTime: 100,
      retries: 5,
    })
    const stream = await consumer.consume({
      topics: [TOPIC],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: 100,
    })
    stream.on('data', (m) => {
      received.push({ member: name, partition: m.partition, offset: Number(m.offset), value: m.value })
    })
    stream.on('error', (err) => s.failures.push(err))
    let closed = false
    const close = async () => {
      if (closed) return
      closed = true
      await stream.close()
      await consumer.close()
    }
    s.cleanups.push(close)
    return {
      name,
      partitions: () =>
        (consumer.assignments ?? [])
          .filter((a) => a.topic === TOPIC)
          .flatMap((a) => a.partitions)
          .sort((a, b) => a - b),
      close,
    }
  }
}

test('KIP-848: a Fluxo and a @platformatic/kafka consumer split one group, read each record once and take over from each other', async (t) => {
  const s = await setup(t)
  await shareTakeOverAndBack(s, 'pl-848', { groupProtocol: 'consumer' }, platformaticMember(s, 'pl-848'), t)
})

test('KIP-848 with @platformatic/kafka while records keep coming: nothing lost, nothing Fluxo read is read again', async (t) => {
  const s = await setup(t)
  await handOverWhileProducing(
    s,
    'pl-848-flow',
    { groupProtocol: 'consumer' },
    platformaticMember(s, 'pl-848-flow'),
    t,
  )
})

// --- @confluentinc/kafka-javascript (librdkafka 2.15) ------------------------------------------

const compatDir = join(import.meta.dirname, '..', '..', '..', 'compat', 'confluent')

interface ConfluentConsumer {
  connect(): Promise<void>
  subscribe(s: { topics: string[] }): Promise<void>
  run(o: {
    eachMessage: (p: {
      partition: number
      message: { offset: string; value: Buffer | null }
    }) => Promise<void>
  }): Promise<void>
  assignment(): { topic: string; partition: number }[]
  disconnect(): Promise<void>
}

interface ConfluentKafkaJS {
  Kafka: new (config: object) => { consumer(config: object): ConfluentConsumer }
  logLevel: { NOTHING: number }
}

/**
 * @confluentinc/kafka-javascript compiles librdkafka, so it lives outside the root install
 * (compat/confluent, installed by .ci/run). Skipped locally when absent; a failure under CI=true.
 */
function loadConfluent(t: TestContext): ConfluentKafkaJS | undefined {
  try {
    return createRequire(join(compatDir, 'package.json'))('@confluentinc/kafka-javascript').KafkaJS
  } catch (err) {
    if (process.env.CI) throw new Error(`@confluentinc/kafka-javascript is required under CI=true: ${err}`)
    t.skip('compat/confluent not installed (cd compat/confluent && CKJS_LINKING=dynamic npm install)')
    return undefined
  }
}

/** A librdkafka member; `config` holds the group protocol and, for the classic one, its assignor. */
function confluentMember(s: Setup, confluent: ConfluentKafkaJS, groupId: string, config: object) {
  const kafka = new confluent.Kafka({
    kafkaJS: { brokers: [s.broker.bootstrap], logLevel: confluent.logLevel.NOTHING },
  })
  return async (name: string, received: Received[]): Promise<Member> => {
    const consumer = kafka.consumer({
      'client.id': name,
      'fetch.wait.max.ms': 100,
      ...config,
      kafkaJS: {
        groupId,
        fromBeginning: true,
        autoCommitInterval: 100,
        ...(config as { kafkaJS?: object }).kafkaJS,
      },
    })
    let closed = false
    const close = async () => {
      if (closed) return
      closed = true
      await consumer.disconnect()
    }
    s.cleanups.push(close)
    await consumer.connect()
    await consumer.subscribe({ topics: [TOPIC] })
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          received.push({
            member: name,
            partition,
            offset: Number(message.offset),
            value: message.value!.toString(),
          })
        },
      })
      .catch((err) => s.failures.push(err))
    return {
      name,
      partitions: () => {
        if (closed) return []
        return consumer
          .assignment()
          .filter((tp) => tp.topic === TOPIC)
          .map((tp) => tp.partition)
          .sort((a, b) => a - b)
      },
      close,
    }
  }
}

const librdkafkaGroups: {
  name: string
  groupId: string
  librdkafka: object
  fluxo: ConsumerOptions<string, string>
}[] = [
  {
    name: 'KIP-848 (group.protocol=consumer)',
    groupId: 'rd-848',
    librdkafka: { 'group.protocol': 'consumer' },
    fluxo: { groupProtocol: 'consumer' },
  },
  ...(['range', 'cooperative-sticky'] as const).map((assignor) => ({
    name: `classic protocol, ${assignor}`,
    groupId: `rd-classic-${assignor}`,
    librdkafka: { kafkaJS: { partitionAssignors: [assignor], sessionTimeout: 6000, heartbeatInterval: 100 } },
    fluxo: { groupProtocol: 'classic' as const, assignors: [assignor] },
  })),
  {
    // The only assignor both offer is cooperative-sticky, but Fluxo follows the eager protocol
    // (range is not cooperative), as Java does in the first step of a move to cooperative-sticky.
    name: 'classic protocol, Fluxo default assignors (range, cooperative-sticky) and librdkafka cooperative-sticky',
    groupId: 'rd-classic-mixed',
    librdkafka: {
      kafkaJS: { partitionAssignors: ['cooperative-sticky'], sessionTimeout: 6000, heartbeatInterval: 100 },
    },
    fluxo: { groupProtocol: 'classic' },
  },
]

for (const g of librdkafkaGroups) {
  test(`${g.name}: a Fluxo and a librdkafka consumer split one group, read each record once and take over from each other`, async (t) => {
    const confluent = loadConfluent(t)
    if (!confluent) return
    const s = await setup(t)
    const foreign = confluentMember(s, confluent, g.groupId, g.librdkafka)
    await shareTakeOverAndBack(s, g.groupId, g.fluxo, foreign, t)
  })

  test(`${g.name} with librdkafka while records keep coming: nothing lost, nothing Fluxo read is read again`, async (t) => {
    const confluent = loadConfluent(t)
    if (!confluent) return
    const s = await setup(t)
    const foreign = confluentMember(s, confluent, g.groupId, g.librdkafka)
    await handOverWhileProducing(s, g.groupId, g.fluxo, foreign, t)
  })
}

test('KIP-848: Fluxo, @platformatic/kafka and librdkafka in one group: two partitions each, each record once; when Fluxo leaves the others share its partitions', async (t) => {
  const confluent = loadConfluent(t)
  if (!confluent) return
  const s = await setup(t)
  const groupId = 'three-848'
  const log: ReadLog = { records: [], checked: 0 }
  const f = s.fluxo('fluxo', groupId, log.records, { groupProtocol: 'consumer' })
  const p = await platformaticMember(s, groupId)('platformatic', log.records)
  const r = await confluentMember(s, confluent, groupId, { 'group.protocol': 'consumer' })(
    'librdkafka',
    log.records,
  )
  await s.waitFor(
    'two partitions each',
    () => splitOnce([f, p, r]) && [f, p, r].every((m) => m.partitions().length === 2),
    () => describe([f, p, r]),
  )
  let view = ''
  await s.waitFor(
    "the coordinator's view to match the members'",
    async () => {
      const byClient = await s.coordinatorView(groupId, 'consumer')
      view = [f, p, r].map((m) => `${m.name}=[${byClient.get(m.name)}]`).join(' ')
      return view === describe([f, p, r])
    },
    () => `(coordinator ${view}, members ${describe([f, p, r])})`,
  )
  t.diagnostic(describe([f, p, r]))
  await receivedOnce(s, log, await s.produce('a', 300), ownersOf([f, p, r]))
  for (const m of [f, p, r])
    assert.ok(
      log.records.some((x) => x.member === m.name),
      `${m.name} read records`,
    )

  await withTimeout(f.close(), 15_000, 'Fluxo close')
  await s.waitFor(
    'the other two to share the Fluxo member’s partitions',
    () => splitOnce([p, r]),
    () => describe([p, r]),
  )
  await receivedOnce(s, log, await s.produce('b', 120), ownersOf([p, r]))
})

// --- KafkaJS: offsets as other clients see them -------------------------------------------------

for (const groupProtocol of ['classic', 'consumer'] as const) {
  test(`${groupProtocol} protocol: what the Fluxo consumer commits is what KafkaJS and the Fluxo admin report; a KafkaJS group reads the same records on its own`, async (t) => {
    const s = await setup(t)
    const sent = await s.produce('v', 60) // 10 per partition
    const partitionOf = new Map(sent.map((v, i) => [v, i % PARTITIONS]))
    const js = new KafkaJS({ brokers: [s.broker.bootstrap], clientId: 'kafkajs', logLevel: logLevel.NOTHING })
    const jsAdmin = js.admin()
    s.cleanups.push(() => jsAdmin.disconnect())
    await jsAdmin.connect()
    const jsCommitted = async (groupId: string) => {
      const [topic] = await jsAdmin.fetchOffsets({ groupId, topics: [TOPIC] })
      return [...topic.partitions]
        .sort((a, b) => a.partition - b.partition)
        .map((p) => ({ offset: Number(p.offset), metadata: p.metadata }))
    }

    const groupId = `fluxo-${groupProtocol}`
    const c = s.kafka.consumer<string, string>({
      groupId,
      groupProtocol,
      autoCommit: false,
      autoOffsetReset: 'earliest',
      heartbeatIntervalMs: 100,
      sessionTimeoutMs: 6000,
      valueDeserializer: stringSerde,
    })
    s.cleanups.push(() => c.close())
    c.subscribe([TOPIC])
    const first = await take(c, 25, WAIT_MS)

    // commit(): the position of every assigned partition.
    await c.commit()
    const next = Array.from({ length: PARTITIONS }, (_, p) =>
      Math.max(0, ...first.filter((r) => r.partition === p).map((r) => r.offset + 1)),
    )
    const all = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }))
    const positions = (await c.committed(all)).map((o) => o.offset)
    // A partition nothing was taken from is committed at 0 once its position is known, else not at all.
    for (let p = 0; p < PARTITIONS; p++)
      assert.ok(
        positions[p] === next[p] || (next[p] === 0 && positions[p] === -1),
        `partition ${p}: committed ${positions[p]}, expected ${next[p]}`,
      )
    assert.deepEqual(
      await s.committed(groupId),
      positions,
      'the Fluxo admin reports what the consumer committed',
    )
    assert.deepEqual(
      (await jsCommitted(groupId)).map((p) => p.offset),
      positions,
      'KafkaJS reports what the Fluxo consumer committed',
    )

    // commit(offsets): explicit offsets and metadata, some of them behind the position.
    await c.commit(
      Array.from({ length: PARTITIONS }, (_, partition) => ({
        topic: TOPIC,
        partition,
        offset: partition + 1,
        metadata: `m${partition}`,
      })),
    )
    const explicit = Array.from({ length: PARTITIONS }, (_, p) => ({ offset: p + 1, metadata: `m${p}` }))
    assert.deepEqual(await jsCommitted(groupId), explicit, 'KafkaJS sees the offsets and their metadata')
    assert.deepEqual(
      await s.committed(groupId),
      explicit.map((e) => e.offset),
    )

    // A KafkaJS consumer in another group reads every record, while the Fluxo member stays in its group.
    const jsConsumer = js.consumer({ groupId: 'kafkajs-readers', maxWaitTimeInMs: 100 })
    let jsClosed = false
    const jsClose = async () => {
      if (jsClosed) return
      jsClosed = true
      await jsConsumer.disconnect()
    }
    s.cleanups.push(jsClose)
    await jsConsumer.connect()
    await jsConsumer.subscribe({ topic: TOPIC, fromBeginning: true })
    const jsRead: { partition: number; value: string }[] = []
    void jsConsumer.run({
      eachMessage: async ({ partition, message }) => {
        jsRead.push({ partition, value: message.value!.toString() })
      },
    })
    await s.waitFor('KafkaJS to read all 60 records', () => jsRead.length >= sent.length)
    await sleep(300)
    assert.deepEqual(jsRead.map((r) => r.value).sort(), [...sent].sort(), 'each record once')
    for (const r of jsRead) assert.equal(r.partition, partitionOf.get(r.value))
    await s.waitFor("KafkaJS's group to commit the end of every partition", async () =>
      (await s.committed('kafkajs-readers')).every((o) => o === 10),
    )
    await jsClose()
    assert.deepEqual(
      await jsCommitted(groupId),
      explicit,
      "the other group's commits left the Fluxo group's alone",
    )

    // The Fluxo group resumes at its commits: partition p from offset p + 1.
    await c.close()
    const again = s.kafka.consumer<string, string>({
      groupId,
      groupProtocol,
      autoOffsetReset: 'earliest',
      heartbeatIntervalMs: 100,
      sessionTimeoutMs: 6000,
      valueDeserializer: stringSerde,
    })
    s.cleanups.push(() => again.close())
    again.subscribe([TOPIC])
    const rest = await take(again, 60 - 21, WAIT_MS)
    assert.deepEqual(
      rest.map((r) => r.value).sort(),
      sent.filter((_, i) => Math.floor(i / PARTITIONS) >= (i % PARTITIONS) + 1).sort(),
    )
    await sleep(200)
    assert.equal(
      again.stats().reduce((n, p) => n + p.bufferedRecords, 0),
      0,
      'nothing more',
    )
  })
}
