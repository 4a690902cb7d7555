import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { type TestContext, test } from 'node:test'
import {
  type Consumer,
  type ConsumerOptions,
  Kafka,
  KafkaError,
  NoOffsetForPartitionError,
  stringSerde,
} from '../src/index.js'
import { sleep, take, until } from './consumer-support.js'
import { broker, requireTool, run } from './support.js'

const require = createRequire(import.meta.url)
const kafkajs = require('kafkajs') as typeof import('kafkajs')

async function setup(t: TestContext, topics: Record<string, number>) {
  const open: Consumer<string, string>[] = []
  t.after(() => Promise.all(open.map((c) => c.close())))
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap], clientId: 'fetch-test' })
  const admin = kafka.admin()
  await admin.createTopics(Object.entries(topics).map(([name, partitions]) => ({ name, partitions })))
  await admin.close()
  const consumer = (options: ConsumerOptions<string, string> = {}) => {
    const c = kafka.consumer<string, string>({
      keyDeserializer: stringSerde,
      valueDeserializer: stringSerde,
      ...options,
    })
    open.push(c)
    return c
  }
  return { b, kafka, consumer }
}

const all = (topic: string, partitions: number) =>
  Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))

const headerText = (hs: { key: string; value: Buffer | null }[]) =>
  hs.map((h) => `${h.key}=${h.value?.toString() ?? 'null'}`).join(',')

test('records produced by KafkaJS arrive with the same keys, values, headers, timestamps and partitions', async (t) => {
  const { b, consumer } = await setup(t, { 'from-kafkajs': 3 })
  const js = new kafkajs.Kafka({ brokers: [b.bootstrap], logLevel: kafkajs.logLevel.NOTHING })
  const producer = js.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  const sent = Array.from({ length: 60 }, (_, i) => ({
    key: `key-${i % 7}`,
    value: `value-${i}`,
    headers: { n: String(i), source: 'kafkajs' },
    timestamp: String(1_700_000_000_000 + i * 1000),
  }))
  const meta = await producer.send({ topic: 'from-kafkajs', messages: sent })
  const c = consumer({ autoOffsetReset: 'earliest' })
  c.assign(all('from-kafkajs', 3))
  const got = await take(c, 60)
  // KafkaJS reports the base offset per partition; records of a partition come in send order.
  const byValue = new Map(got.map((r) => [r.value, r]))
  const perPartition = new Map<number, number>()
  for (const s of sent) {
    const r = byValue.get(s.value)!
    assert.ok(r, s.value)
    assert.equal(r.key, s.key)
    assert.equal(headerText(r.headers), `n=${s.headers.n},source=kafkajs`)
    assert.equal(r.timestamp, Number(s.timestamp))
    assert.equal(r.timestampType, 'CreateTime')
    const expected = meta.find((m) => m.partition === r.partition)!
    const index = perPartition.get(r.partition) ?? 0
    perPartition.set(r.partition, index + 1)
    assert.equal(r.offset, Number(expected.baseOffset) + index)
  }
})

test('records produced by kcat arrive as kcat itself reads them', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const { b, consumer } = await setup(t, { 'from-kcat': 2 })
  for (const p of [0, 1]) {
    const input = Array.from({ length: 10 }, (_, i) => `k${p}-${i}:v${p}-${i}`).join('\n')
    const produced = await run(
      'kcat',
      [
        '-b',
        b.bootstrap,
        '-P',
        '-t',
        'from-kcat',
        '-p',
        String(p),
        '-K',
        ':',
        '-H',
        'via=kcat',
        '-H',
        'dup=1',
        '-H',
        'dup=2',
      ],
      `${input}\n`,
    )
    assert.equal(produced.code, 0, produced.stderr)
  }
  const read = await run('kcat', [
    '-b',
    b.bootstrap,
    '-C',
    '-t',
    'from-kcat',
    '-o',
    'beginning',
    '-e',
    '-f',
    '%k|%s|%h|%T|%p|%o\\n',
  ])
  assert.equal(read.code, 0, read.stderr)
  const expected = read.stdout.trim().split('\n').sort()
  assert.equal(expected.length, 20)
  const c = consumer({ autoOffsetReset: 'earliest' })
  c.assign(all('from-kcat', 2))
  const got = await take(c, 20)
  const ours = got
    .map((r) => `${r.key}|${r.value}|${headerText(r.headers)}|${r.timestamp}|${r.partition}|${r.offset}`)
    .sort()
  assert.deepEqual(ours, expected)
})

test('batches in every codec (none, gzip, snappy, lz4, zstd) from the Fluxo producer decode', async (t) => {
  const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
  const { kafka, consumer } = await setup(t, Object.fromEntries(codecs.map((c) => [`codec-${c}`, 2])))
  for (const codec of codecs) {
    const producer = kafka.producer({ compression: codec, lingerMs: 10 })
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        producer.send({
          topic: `codec-${codec}`,
          key: `k${i}`,
          value: `${codec}-${i}-${'x'.repeat(i % 40)}`,
          headers: { i: `${i}` },
        }),
      ),
    )
    await producer.close()
  }
  const c = consumer({ autoOffsetReset: 'earliest' })
  c.assign(codecs.flatMap((codec) => all(`codec-${codec}`, 2)))
  const got = await take(c, 200 * codecs.length)
  for (const codec of codecs) {
    const mine = got.filter((r) => r.topic === `codec-${codec}`)
    assert.equal(mine.length, 200, codec)
    for (const r of mine) {
      const i = Number(r.headers[0].value)
      assert.equal(r.value, `${codec}-${i}-${'x'.repeat(i % 40)}`)
      assert.equal(r.key, `k${i}`)
    }
  }
})

test('read_committed skips aborted transactions; read_uncommitted sees them', async (t) => {
  const { kafka, consumer } = await setup(t, { txn: 2 })
  const tx = kafka.producer({ transactionalId: 'tx-consumer-test' })
  const plain = kafka.producer()
  t.after(() => Promise.all([tx.close(), plain.close()]))
  for (let round = 0; round < 3; round++) {
    await tx.beginTransaction()
    await tx.sendBatch([0, 1].map((partition) => ({ topic: 'txn', partition, value: `aborted-${round}` })))
    await plain.send({ topic: 'txn', partition: 0, value: `plain-${round}` })
    await tx.abortTransaction()
    await tx.beginTransaction()
    await tx.sendBatch([0, 1].map((partition) => ({ topic: 'txn', partition, value: `committed-${round}` })))
    await tx.commitTransaction()
  }
  const committed = consumer({ autoOffsetReset: 'earliest', isolationLevel: 'read_committed' })
  committed.assign(all('txn', 2))
  const seen = (await take(committed, 9)).map((r) => r.value!)
  assert.deepEqual(seen.filter((v) => v.startsWith('committed')).sort(), [
    'committed-0',
    'committed-0',
    'committed-1',
    'committed-1',
    'committed-2',
    'committed-2',
  ])
  assert.deepEqual(seen.filter((v) => v.startsWith('plain')).sort(), ['plain-0', 'plain-1', 'plain-2'])
  // Nothing more: the aborted records never come, control batches neither.
  await assert.rejects(take(committed, 1, 1500), /got 0 of 1/)

  const uncommitted = consumer({ autoOffsetReset: 'earliest' })
  uncommitted.assign(all('txn', 2))
  const everything = (await take(uncommitted, 15)).map((r) => r.value!)
  assert.equal(everything.filter((v) => v.startsWith('aborted')).length, 6)
})

test('autoOffsetReset: earliest, latest, none; OFFSET_OUT_OF_RANGE resets or throws', async (t) => {
  const { kafka, consumer } = await setup(t, { reset: 1 })
  const producer = kafka.producer()
  t.after(() => producer.close())
  await producer.sendBatch(['a', 'b', 'c'].map((value) => ({ topic: 'reset', value })))
  const tp = { topic: 'reset', partition: 0 }

  const earliest = consumer({ groupId: 'g-earliest', autoOffsetReset: 'earliest' })
  earliest.assign([tp])
  assert.deepEqual(
    (await take(earliest, 3)).map((r) => r.value),
    ['a', 'b', 'c'],
  )

  const latest = consumer({ groupId: 'g-latest', autoOffsetReset: 'latest' })
  latest.assign([tp])
  assert.equal(await latest.position(tp), 3)
  await producer.send({ topic: 'reset', value: 'd' })
  assert.deepEqual(
    (await take(latest, 1)).map((r) => r.value),
    ['d'],
  )

  const none = consumer({ groupId: 'g-none', autoOffsetReset: 'none' })
  none.assign([tp])
  await assert.rejects(
    take(none, 1),
    (err) => err instanceof NoOffsetForPartitionError && err.partition === 0,
  )
  // Reported once, then the partition waits: no stream of the same error.
  await assert.rejects(take(none, 1, 500), /got 0 of 1/)
  await assert.rejects(none.position(tp, 300), /no position/)
  // With a committed offset, 'none' starts there.
  await none.commit([{ ...tp, offset: 2 }])
  none.assign([]) // drop the partition and take it again: the committed offset is read anew
  none.assign([tp])
  assert.deepEqual(
    (await take(none, 2)).map((r) => r.value),
    ['c', 'd'],
  )
  // Past the end: 'none' reports OFFSET_OUT_OF_RANGE, 'earliest' starts over.
  none.seek({ ...tp, offset: 100 })
  await assert.rejects(
    take(none, 1),
    (err) => err instanceof KafkaError && err.errorName === 'OFFSET_OUT_OF_RANGE',
  )
  earliest.seek({ ...tp, offset: 100 })
  assert.deepEqual(
    (await take(earliest, 1)).map((r) => r.value),
    ['a'],
  )
})

test('a Fluxo consumer and kcat -G share a topic in one group with the range assignor', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const { b, kafka, consumer } = await setup(t, { shared: 4 })
  const kcat = spawn('kcat', [
    '-b',
    b.bootstrap,
    '-u',
    '-G',
    'mixed',
    '-X',
    'partition.assignment.strategy=range',
    '-X',
    'heartbeat.interval.ms=200',
    '-X',
    'auto.offset.reset=earliest',
    '-f',
    '%p %s\\n',
    'shared',
  ])
  t.after(() => {
    kcat.kill('SIGTERM')
  })
  let kcatOut = ''
  kcat.stdout.on('data', (d) => (kcatOut += d))
  let kcatErr = ''
  kcat.stderr.on('data', (d) => (kcatErr += d))
  t.after(() => {
    if (process.env.DEBUG_KCAT) console.log(kcatErr)
  })
  await sleep(1500) // kcat joins first and owns all four
  const c = consumer({
    groupId: 'mixed',
    assignors: ['range'],
    autoOffsetReset: 'earliest',
    heartbeatIntervalMs: 200,
  })
  c.subscribe(['shared'])
  await until(() => c.assignment().length === 2, 'the Fluxo member gets half of the partitions', 15_000)
  const mine = new Set(c.assignment().map((tp) => tp.partition))
  const producer = kafka.producer()
  t.after(() => producer.close())
  await producer.sendBatch(
    Array.from({ length: 40 }, (_, i) => ({ topic: 'shared', partition: i % 4, value: `m${i}` })),
  )
  const got = await take(c, 20)
  assert.ok(got.every((r) => mine.has(r.partition)))
  await until(
    () => kcatOut.trim().split('\n').filter(Boolean).length >= 20,
    'kcat prints its 20 records',
    15_000,
  )
  const theirs = kcatOut
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
  assert.equal(theirs.length, 20)
  assert.ok(
    theirs.every(([p]) => !mine.has(Number(p))),
    'kcat read only the other partitions',
  )
  const values = new Set([...got.map((r) => r.value), ...theirs.map(([, v]) => v)])
  assert.equal(values.size, 40)
})
test('cooperative-sticky with kcat -G: the Fluxo member joins and kcat gives up only what moves', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const { b, kafka, consumer } = await setup(t, { coopshared: 4 })
  const kcat = spawn('kcat', [
    '-b',
    b.bootstrap,
    '-u',
    '-G',
    'mixed-coop',
    '-X',
    'partition.assignment.strategy=cooperative-sticky',
    '-X',
    'heartbeat.interval.ms=200',
    '-X',
    'auto.offset.reset=earliest',
    '-f',
    '%p %s\\n',
    'coopshared',
  ])
  t.after(() => {
    kcat.kill('SIGTERM')
  })
  let kcatOut = ''
  kcat.stdout.on('data', (d) => (kcatOut += d))
  let kcatErr = ''
  kcat.stderr.on('data', (d) => (kcatErr += d))
  t.after(() => {
    if (process.env.DEBUG_KCAT) console.log(kcatErr)
  })
  await sleep(1500) // kcat joins first and owns all four
  const c = consumer({
    groupId: 'mixed-coop',
    assignors: ['cooperative-sticky'],
    autoOffsetReset: 'earliest',
    heartbeatIntervalMs: 200,
  })
  c.subscribe(['coopshared'])
  await until(() => c.assignment().length === 2, 'the Fluxo member gets half of the partitions', 15_000)
  const mine = new Set(c.assignment().map((tp) => tp.partition))
  const producer = kafka.producer()
  t.after(() => producer.close())
  await producer.sendBatch(
    Array.from({ length: 40 }, (_, i) => ({ topic: 'coopshared', partition: i % 4, value: `m${i}` })),
  )
  const got = await take(c, 20)
  assert.ok(got.every((r) => mine.has(r.partition)))
  await until(
    () => kcatOut.trim().split('\n').filter(Boolean).length >= 20,
    'kcat prints its 20 records',
    15_000,
  )
  const theirs = kcatOut
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
  assert.equal(theirs.length, 20)
  assert.ok(
    theirs.every(([p]) => !mine.has(Number(p))),
    'kcat read only the other partitions',
  )
  const values = new Set([...got.map((r) => r.value), ...theirs.map(([, v]) => v)])
  assert.equal(values.size, 40)
  // librdkafka reports an incremental revoke of the two partitions that moved, never a full revoke.
  assert.match(kcatErr, /incremental revoke of 2 partition\(s\)/)
  assert.doesNotMatch(kcatErr, /incremental revoke of 4 partition|revoked:/)
})
