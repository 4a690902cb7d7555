import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { Kafka as KafkaJS, logLevel } from 'kafkajs'
import { FLUXO_BIN, runFluxo } from './fluxo-process.js'
import { broker, fluxo, jsonLines, requireTool, run } from './support.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface JsonRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: { key: string; value: string | null }[]
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fluxo-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('fluxo produce: stdin lines with keys and headers, read back by kcat and by fluxo consume --format json', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const b = await broker(t)
  await fluxo(b.bootstrap, ['topic', 'create', 'orders', '--partitions', '3'])
  const before = Date.now()
  const produced = await fluxo(
    b.bootstrap,
    ['produce', 'orders', '--key-separator', '|', '--header', 'source=cli', '--header', 'trace=a=b'],
    { input: 'user-1|{"n":1}\nuser-2|{"n":2}\r\nuser-1|{"n":3}\nno key here\nuser-3|' },
  )
  assert.equal(produced.code, 0, produced.stderr)
  assert.equal(produced.stdout, '')
  assert.match(
    produced.stderr,
    /^Produced 5 record\(s\) \(\d+ B\) to orders in \d+\.\d\d s, \d+ records\/s\n$/,
  )

  const kcat = await run('kcat', ['-b', b.bootstrap, '-C', '-t', 'orders', '-e', '-q', '-f', '%k|%s|%h|%p\n'])
  assert.equal(kcat.code, 0, kcat.stderr)
  const lines = kcat.stdout.trimEnd().split('\n').sort()
  assert.equal(lines.length, 5)
  const partitionOf = (key: string) =>
    lines
      .find((l) => l.startsWith(`${key}|`))!
      .split('|')
      .at(-1)
  assert.deepEqual(
    lines.map((l) => l.split('|').slice(0, 3).join('|')),
    [
      '|no key here|source=cli,trace=a=b',
      'user-1|{"n":1}|source=cli,trace=a=b',
      'user-1|{"n":3}|source=cli,trace=a=b',
      'user-2|{"n":2}|source=cli,trace=a=b',
      'user-3||source=cli,trace=a=b',
    ].sort(),
  )
  // The same key goes to the same partition (murmur2, as the Java client and librdkafka's murmur2).
  assert.equal(lines.filter((l) => l.startsWith('user-1|')).map((l) => l.split('|').at(-1)).length, 2)
  assert.equal(new Set(lines.filter((l) => l.startsWith('user-1|')).map((l) => l.split('|').at(-1))).size, 1)
  assert.ok(partitionOf('user-2'))

  const consumed = await fluxo(b.bootstrap, [
    'consume',
    'orders',
    '--from-beginning',
    '--count',
    '5',
    '--format',
    'json',
  ])
  assert.equal(consumed.code, 0, consumed.stderr)
  assert.equal(consumed.stderr, '')
  const records = jsonLines<JsonRecord>(consumed.stdout)
  assert.equal(records.length, 5)
  const sameWithJsonFlag = await fluxo(b.bootstrap, [
    'consume',
    'orders',
    '--from-beginning',
    '--count',
    '5',
    '--json',
  ])
  assert.deepEqual(
    jsonLines<JsonRecord>(sameWithJsonFlag.stdout)
      .map((r) => r.value)
      .sort(),
    records.map((r) => r.value).sort(),
  )
  const first = records.find((r) => r.value === '{"n":1}')!
  assert.deepEqual(Object.keys(first), [
    'topic',
    'partition',
    'offset',
    'timestamp',
    'key',
    'value',
    'headers',
  ])
  assert.equal(first.topic, 'orders')
  assert.equal(first.key, 'user-1')
  assert.equal(String(first.partition), partitionOf('user-1'))
  assert.deepEqual(first.headers, [
    { key: 'source', value: 'cli' },
    { key: 'trace', value: 'a=b' },
  ])
  assert.ok(first.timestamp >= before && first.timestamp <= Date.now(), `timestamp ${first.timestamp}`)
  assert.equal(records.find((r) => r.value === 'no key here')?.key, null)
  assert.equal(records.find((r) => r.key === 'user-3')?.value, '')
  const third = records.find((r) => r.value === '{"n":3}')!
  assert.equal(third.partition, first.partition)
  assert.ok(third.offset > first.offset, 'per-partition order is kept')
})

test('fluxo consume: reads what kcat produced; --count exits after N; value and key:value formats; --partition', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const b = await broker(t)
  await fluxo(b.bootstrap, ['topic', 'create', 'logs', '--partitions', '2'])
  const input = Array.from({ length: 10 }, (_, i) => `k${i}:line ${i}`).join('\n')
  const kcat = await run('kcat', ['-b', b.bootstrap, '-P', '-t', 'logs', '-p', '1', '-K', ':'], {
    input: `${input}\n`,
  })
  assert.equal(kcat.code, 0, kcat.stderr)

  const all = await fluxo(b.bootstrap, ['consume', 'logs', '--from-beginning', '--count', '10'])
  assert.equal(all.code, 0, all.stderr)
  assert.equal(all.stdout, Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join(''))

  const three = await fluxo(b.bootstrap, [
    'consume',
    'logs',
    '--from-beginning',
    '--count',
    '3',
    '--format',
    'key:value',
  ])
  assert.equal(three.code, 0, three.stderr)
  assert.equal(three.stdout, 'k0:line 0\nk1:line 1\nk2:line 2\n')

  const fromOffset = await fluxo(b.bootstrap, [
    'consume',
    'logs',
    '--partition',
    '1',
    '--offset',
    '8',
    '--count',
    '2',
  ])
  assert.equal(fromOffset.stdout, 'line 8\nline 9\n')

  // Partition 0 is empty: nothing arrives, so without --count this would wait; kill it after a while.
  const empty = runFluxo(t, [
    'consume',
    'logs',
    '--partition',
    '0',
    '--from-beginning',
    '--bootstrap',
    b.bootstrap,
  ])
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(empty.stdout(), '')
  assert.equal(empty.child.exitCode, null, 'still waiting for records')
})

test('fluxo consume without --count runs until SIGTERM or SIGINT, then exits 0', async (t) => {
  const b = await broker(t)
  await fluxo(b.bootstrap, ['produce', 'live'], { input: 'one\ntwo\n' })
  let expected = 'one\ntwo\n'
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const proc = runFluxo(t, ['consume', 'live', '--from-beginning', '--bootstrap', b.bootstrap])
    const deadline = Date.now() + 10_000
    while (proc.stdout() !== expected && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(proc.stdout(), expected)
    // A record produced while it runs is printed too.
    await fluxo(b.bootstrap, ['produce', 'live'], { input: `after ${signal}\n` })
    while (!proc.stdout().includes('after') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    assert.match(proc.stdout(), new RegExp(`after ${signal}\\n$`))
    const started = Date.now()
    proc.child.kill(signal)
    assert.deepEqual(await proc.exited, { code: 0, signal: null })
    assert.ok(Date.now() - started < 5000, 'closes promptly')
    assert.equal(proc.stderr(), '')
    expected += `after ${signal}\n`
  }
})

test('fluxo consume --since: ISO dates and durations pick the first record at or after the time', async (t) => {
  const b = await broker(t)
  const kafkajs = new KafkaJS({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING })
  const producer = kafkajs.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  const now = Date.now()
  const at = (msAgo: number) => String(now - msAgo)
  await producer.send({
    topic: 'timed',
    messages: [
      { value: 'three hours ago', timestamp: at(3 * 3_600_000), partition: 0 },
      { value: 'two hours ago', timestamp: at(2 * 3_600_000), partition: 0 },
      { value: 'ten minutes ago', timestamp: at(10 * 60_000), partition: 0 },
      { value: 'now', timestamp: at(0), partition: 0 },
    ],
  })
  const since = async (arg: string, count: number) => {
    const r = await fluxo(b.bootstrap, ['consume', 'timed', '--since', arg, '--count', String(count)])
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.trimEnd().split('\n')
  }
  assert.deepEqual(await since('1h', 2), ['ten minutes ago', 'now'])
  assert.deepEqual(await since('150m', 3), ['two hours ago', 'ten minutes ago', 'now'])
  assert.deepEqual(await since(new Date(now - 5 * 60_000).toISOString(), 1), ['now'])
  assert.deepEqual(await since(String(now - 4 * 3_600_000), 4), [
    'three hours ago',
    'two hours ago',
    'ten minutes ago',
    'now',
  ])
  const bad = await fluxo(b.bootstrap, ['consume', 'timed', '--since', 'yesterday-ish'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^fluxo: --since expects an ISO date/)
})

test('fluxo produce: --file streamed with --partition, --compression and a summary; failures exit 1', async (t) => {
  const b = await broker(t, { 'auto.create.topics.enable': 'false' })
  const dir = await tempDir(t)
  const file = join(dir, 'big.txt')
  const count = 50_000
  await writeFile(file, Array.from({ length: count }, (_, i) => `record number ${i}\n`).join(''))
  await fluxo(b.bootstrap, ['topic', 'create', 'bulk', '--partitions', '2'])
  for (const compression of ['zstd', 'lz4']) {
    const r = await fluxo(b.bootstrap, [
      'produce',
      'bulk',
      '--file',
      file,
      '--partition',
      '1',
      '--compression',
      compression,
      '--json',
      '--progress',
    ])
    assert.equal(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.equal(summary.records, count)
    assert.equal(summary.failed, 0)
    assert.match(r.stderr, new RegExp(`Produced ${count} record\\(s\\) \\(\\d+\\.\\d KiB\\) to bulk in`))
  }
  const described = await fluxo(b.bootstrap, ['topic', 'describe', 'bulk', '--json'])
  const partitions = JSON.parse(described.stdout).partitions as { latestOffset: number }[]
  assert.deepEqual(
    partitions.map((p) => p.latestOffset),
    [0, 2 * count],
  )
  const tail = await fluxo(b.bootstrap, [
    'consume',
    'bulk',
    '--partition',
    '1',
    '--offset',
    String(2 * count - 1),
    '--count',
    '1',
  ])
  assert.equal(tail.stdout, `record number ${count - 1}\n`)

  const noPartition = await fluxo(b.bootstrap, ['produce', 'bulk', '--partition', '7'], { input: 'x\ny\n' })
  assert.equal(noPartition.code, 1)
  assert.match(noPartition.stderr, /fluxo: UNKNOWN_TOPIC_OR_PARTITION\b.*\n$/)
  assert.match(noPartition.stderr, /Produced 0 record\(s\).*failed/)

  const noTopic = await fluxo(b.bootstrap, ['produce', 'missing'], { input: 'x\n' })
  assert.equal(noTopic.code, 1)
  assert.match(noTopic.stderr, /fluxo: UNKNOWN_TOPIC_OR_PARTITION\b/)

  const noFile = await fluxo(b.bootstrap, ['produce', 'bulk', '--file', join(dir, 'nope.txt')])
  assert.equal(noFile.code, 1)
  assert.match(noFile.stderr, /fluxo: .*ENOENT.*nope\.txt/)
})

test('fluxo produce streams: records are sent while stdin is still open; --progress reports every second', async (t) => {
  const b = await broker(t)
  await fluxo(b.bootstrap, ['topic', 'create', 'stream'])
  const child = spawn(process.execPath, [
    FLUXO_BIN,
    'produce',
    'stream',
    '--progress',
    '--bootstrap',
    b.bootstrap,
  ])
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const latest = async () => {
    const r = await fluxo(b.bootstrap, ['topic', 'describe', 'stream', '--json'])
    return JSON.parse(r.stdout).partitions[0].latestOffset as number
  }
  child.stdin.write('one\ntwo\nthr')
  const deadline = Date.now() + 10_000
  while ((await latest()) < 2 && Date.now() < deadline) await sleep(100)
  assert.equal(await latest(), 2, 'two complete lines were produced before the input ended')
  while (!/fluxo produce: 2 record\(s\) acknowledged/.test(stderr) && Date.now() < deadline) await sleep(100)
  assert.match(stderr, /^fluxo produce: 2 record\(s\) acknowledged, 6 B, 0 in flight$/m)
  child.stdin.end('ee\n')
  assert.equal(await exited, 0, stderr)
  assert.match(stderr, /^Produced 3 record\(s\) \(11 B\) to stream in \d+\.\d\d s/m)
  const all = await fluxo(b.bootstrap, ['consume', 'stream', '--from-beginning', '--count', '3'])
  assert.equal(all.stdout, 'one\ntwo\nthree\n')
})
