import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka as KafkaJS, logLevel } from 'kafkajs'
import { runFluxo } from './fluxo-process.js'
import { broker, fluxo, json } from './support.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface GroupJson {
  groupId: string
  state: string
  members: {
    memberId: string
    clientId: string
    clientHost: string
    assignment: { topic: string; partitions: number[] }[]
  }[]
  partitions: {
    topic: string
    partition: number
    committedOffset: number | null
    logEndOffset: number | null
    lag: number | null
    memberId: string | null
  }[]
  totalLag: number
}

interface ResetJson {
  dryRun: boolean
  partitions: { partition: number; previousOffset: number | null; newOffset: number }[]
}

test('fluxo group: describe shows members and lag after a KafkaJS consumer committed; reset-offsets; delete', async (t) => {
  const b = await broker(t)
  await fluxo(b.bootstrap, ['topic', 'create', 'payments', '--partitions', '2'])
  for (const partition of ['0', '1'])
    await fluxo(b.bootstrap, ['produce', 'payments', '--partition', partition], { input: 'a\nb\nc\nd\ne\n' })

  const kafkajs = new KafkaJS({ brokers: [b.bootstrap], clientId: 'billing-app', logLevel: logLevel.NOTHING })
  const consumer = kafkajs.consumer({ groupId: 'billing' })
  t.after(() => consumer.disconnect())
  await consumer.connect()
  await consumer.subscribe({ topic: 'payments' })
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
  await consumer.run({ autoCommit: false, eachMessage: async () => {} })
  await joined
  await consumer.commitOffsets([
    { topic: 'payments', partition: 0, offset: '3' },
    { topic: 'payments', partition: 1, offset: '5' },
  ])

  const active = json<GroupJson>(await fluxo(b.bootstrap, ['group', 'describe', 'billing', '--json']))
  assert.equal(active.state, 'Stable')
  assert.equal(active.members.length, 1)
  const member = active.members[0]
  assert.equal(member.clientId, 'billing-app')
  assert.match(member.clientHost, /127\.0\.0\.1/)
  assert.deepEqual(member.assignment, [{ topic: 'payments', partitions: [0, 1] }])
  assert.deepEqual(active.partitions, [
    {
      topic: 'payments',
      partition: 0,
      committedOffset: 3,
      logEndOffset: 5,
      lag: 2,
      memberId: member.memberId,
    },
    {
      topic: 'payments',
      partition: 1,
      committedOffset: 5,
      logEndOffset: 5,
      lag: 0,
      memberId: member.memberId,
    },
  ])
  assert.equal(active.totalLag, 2)

  const table = await fluxo(b.bootstrap, ['group', 'describe', 'billing'])
  assert.equal(table.code, 0, table.stderr)
  assert.match(table.stdout, /^STATE\s+Stable$/m)
  assert.match(table.stdout, /^TOTAL LAG\s+2$/m)
  assert.match(table.stdout, /^MEMBER-ID\s+CLIENT-ID\s+HOST\s+ASSIGNMENT$/m)
  assert.match(table.stdout, /\s+billing-app\s+\S+\s+payments\[0,1\]$/m)
  assert.match(table.stdout, /^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+MEMBER-ID$/m)
  assert.match(table.stdout, /^payments\s+0\s+3\s+5\s+2\s+billing-app-\S+$/m)

  const busy = await fluxo(b.bootstrap, [
    'group',
    'reset-offsets',
    'billing',
    '--topic',
    'payments',
    '--to-earliest',
  ])
  assert.equal(busy.code, 1)
  assert.match(busy.stderr, /^fluxo: NON_EMPTY_GROUP\b.*Stable.*\n$/)

  await consumer.disconnect()
  const listed = json<{ groupId: string; state: string }[]>(
    await fluxo(b.bootstrap, ['group', 'list', '--json']),
  )
  assert.deepEqual(
    listed.map((g) => [g.groupId, g.state]),
    [['billing', 'Empty']],
  )
  const list = await fluxo(b.bootstrap, ['group', 'list'])
  assert.match(list.stdout, /^GROUP\s+STATE\s+PROTOCOL-TYPE\s+TYPE\n/)
  assert.match(list.stdout, /^billing\s+Empty\s+consumer\s+classic$/m)

  const reset = (...args: string[]) =>
    fluxo(b.bootstrap, ['group', 'reset-offsets', 'billing', '--topic', 'payments', ...args])
  const committed = async () =>
    json<GroupJson>(await fluxo(b.bootstrap, ['group', 'describe', 'billing', '--json'])).partitions.map(
      (p) => p.committedOffset,
    )

  const dry = json<ResetJson>(await reset('--to-earliest', '--dry-run', '--json'))
  assert.equal(dry.dryRun, true)
  assert.deepEqual(
    dry.partitions.map((p) => [p.partition, p.previousOffset, p.newOffset]),
    [
      [0, 3, 0],
      [1, 5, 0],
    ],
  )
  assert.deepEqual(await committed(), [3, 5], 'a dry run commits nothing')
  const dryTable = await reset('--to-earliest', '--dry-run')
  assert.match(dryTable.stdout, /^TOPIC\s+PARTITION\s+PREVIOUS-OFFSET\s+NEW-OFFSET\npayments\s+0\s+3\s+0\n/)
  assert.match(dryTable.stdout, /dry run/)

  assert.equal((await reset('--to-earliest')).code, 0)
  assert.deepEqual(await committed(), [0, 0])
  assert.equal((await reset('--to-offset', '4')).code, 0)
  assert.deepEqual(await committed(), [4, 4])
  assert.equal((await reset('--to-offset', '99')).code, 0)
  assert.deepEqual(await committed(), [5, 5], '--to-offset is kept within the log')
  assert.equal((await reset('--to-time', '1h')).code, 0)
  assert.deepEqual(await committed(), [0, 0], 'every record is newer than an hour ago')
  assert.equal((await reset('--to-latest')).code, 0)
  const caughtUp = json<GroupJson>(await fluxo(b.bootstrap, ['group', 'describe', 'billing', '--json']))
  assert.deepEqual(
    caughtUp.partitions.map((p) => [p.committedOffset, p.lag]),
    [
      [5, 0],
      [5, 0],
    ],
  )
  assert.equal(caughtUp.state, 'Empty')

  const deleted = await fluxo(b.bootstrap, ['group', 'delete', 'billing'])
  assert.equal(deleted.code, 0, deleted.stderr)
  assert.equal(deleted.stdout, 'Deleted group billing\n')
  const gone = await fluxo(b.bootstrap, ['group', 'describe', 'billing'])
  assert.equal(gone.code, 1)
  assert.match(gone.stderr, /^fluxo: GROUP_ID_NOT_FOUND\b.*billing.*\n$/)
})

test('fluxo consume --group: resumes from the committed offsets, commits exactly what it printed, shows in group describe', async (t) => {
  const b = await broker(t)
  await fluxo(b.bootstrap, ['topic', 'create', 'jobs', '--partitions', '2'])
  await fluxo(b.bootstrap, ['produce', 'jobs', '--partition', '0'], { input: 'a0\na1\na2\na3\n' })
  await fluxo(b.bootstrap, ['produce', 'jobs', '--partition', '1'], { input: 'b0\nb1\n' })
  const consume = (...args: string[]) =>
    fluxo(b.bootstrap, ['consume', 'jobs', '--group', 'workers', ...args])
  const describe = async () =>
    json<GroupJson>(await fluxo(b.bootstrap, ['group', 'describe', 'workers', '--json'])).partitions.map(
      (p) => [p.partition, p.committedOffset, p.lag],
    )

  const first = await consume('--from-beginning', '--partition', '0', '--count', '3')
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stdout, 'a0\na1\na2\n')
  assert.deepEqual(await describe(), [[0, 3, 1]])

  // A group member: partitions from the group, committed offsets where there are some.
  const rest = await consume('--from-beginning', '--count', '3')
  assert.equal(rest.code, 0, rest.stderr)
  assert.deepEqual(rest.stdout.trimEnd().split('\n').sort(), ['a3', 'b0', 'b1'])
  assert.deepEqual(await describe(), [
    [0, 4, 0],
    [1, 2, 0],
  ])

  // Stopped by a signal, it commits what it printed before leaving the group.
  const member = runFluxo(t, ['consume', 'jobs', '--group', 'workers', '--bootstrap', b.bootstrap])
  const deadline = Date.now() + 15_000
  const stateOf = async () =>
    json<GroupJson>(await fluxo(b.bootstrap, ['group', 'describe', 'workers', '--json'])).state
  while ((await stateOf()) !== 'Stable' && Date.now() < deadline) await sleep(100)
  await fluxo(b.bootstrap, ['produce', 'jobs', '--partition', '1'], { input: 'b2\n' })
  while (member.stdout() !== 'b2\n' && Date.now() < deadline) await sleep(20)
  assert.equal(member.stdout(), 'b2\n')
  member.child.kill('SIGTERM')
  assert.deepEqual(await member.exited, { code: 0, signal: null })
  assert.equal(member.stderr(), '')
  assert.deepEqual(await describe(), [
    [0, 4, 0],
    [1, 3, 0],
  ])
  assert.equal(await stateOf(), 'Empty', 'the member left the group')

  // --offset in a group: the assigned partitions start there instead of at the committed offsets.
  const again = await consume('--offset', '1', '--count', '5')
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(again.stdout.trimEnd().split('\n').sort(), ['a1', 'a2', 'a3', 'b1', 'b2'])
  assert.deepEqual(await describe(), [
    [0, 4, 0],
    [1, 3, 0],
  ])
})

test('fluxo group describe: offsets committed for a deleted topic show without a log end offset', async (t) => {
  const b = await broker(t)
  await fluxo(b.bootstrap, ['produce', 'gone'], { input: 'x\n' })
  const read = await fluxo(b.bootstrap, [
    'consume',
    'gone',
    '--group',
    'leftover',
    '--from-beginning',
    '--count',
    '1',
  ])
  assert.equal(read.stdout, 'x\n')
  await fluxo(b.bootstrap, ['topic', 'delete', 'gone'])
  const described = json<GroupJson>(await fluxo(b.bootstrap, ['group', 'describe', 'leftover', '--json']))
  assert.deepEqual(described.partitions, [
    { topic: 'gone', partition: 0, committedOffset: 1, logEndOffset: null, lag: null, memberId: null },
  ])
  const table = await fluxo(b.bootstrap, ['group', 'describe', 'leftover'])
  assert.match(table.stdout, /^gone\s+0\s+1\s+-\s+-\s+-$/m)
})
