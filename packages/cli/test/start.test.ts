import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { type FluxoProcess, runFluxo, startFluxo, waitForLog } from './fluxo-process.js'

const WARN = 40

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fluxo-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function client(t: TestContext, bootstrap: string) {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  const producer = kafka.producer()
  t.after(() => Promise.all([admin.disconnect(), producer.disconnect()]))
  return { admin, producer }
}

/** Runs a command that should exit by itself; fails the test if it is still running after 10 s. */
async function exitOf(proc: FluxoProcess): Promise<number | null> {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`still running:\n${proc.stdout()}${proc.stderr()}`)), 10_000).unref(),
  )
  return (await Promise.race([proc.exited, timeout])).code
}

test('fluxo start: JSON ready line, serves clients, SIGTERM stops it cleanly with exit code 0', async (t) => {
  const dataDir = await tempDir(t)
  const fluxo = await startFluxo(t, ['--data-dir', dataDir])
  assert.match(fluxo.ready.msg, /^Fluxo broker ready on 127\.0\.0\.1:\d+$/)
  assert.match(fluxo.bootstrap, /^127\.0\.0\.1:\d+$/)
  assert.notEqual(fluxo.bootstrap, '127.0.0.1:0', 'the address is the bound port, not the requested 0')
  assert.equal(fluxo.ready.storage, 'file')
  assert.equal(fluxo.ready.dataDir, dataDir)
  assert.equal(typeof fluxo.ready.clusterId, 'string')

  const { admin, producer } = client(t, fluxo.bootstrap)
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'cli-topic', numPartitions: 2 }] })
  await producer.connect()
  await producer.send({ topic: 'cli-topic', acks: -1, messages: [{ partition: 1, value: 'hello' }] })
  const offsets = await admin.fetchTopicOffsets('cli-topic')
  assert.deepEqual(
    offsets.map((p) => [p.partition, p.high]),
    [
      [0, '0'],
      [1, '1'],
    ],
  )
  assert.ok((await readdir(dataDir)).includes('cli-topic-1'), 'file storage writes under --data-dir')
  await producer.disconnect()
  await admin.disconnect()

  fluxo.child.kill('SIGTERM')
  assert.deepEqual(await fluxo.exited, { code: 0, signal: null })
  const messages = fluxo.logs.map((l) => l.msg)
  assert.ok(
    messages.some((m) => m.startsWith('shutting down')),
    messages.join('\n'),
  )
  assert.equal(messages.at(-1), 'stopped')

  // SIGINT (Ctrl-C) stops it the same way; the data and the cluster id are still there.
  const again = await startFluxo(t, ['--data-dir', dataDir])
  assert.equal(again.ready.clusterId, fluxo.ready.clusterId)
  const second = client(t, again.bootstrap)
  await second.admin.connect()
  const high = await second.admin.fetchTopicOffsets('cli-topic')
  assert.equal(high.find((p) => p.partition === 1)?.high, '1')
  await second.admin.disconnect()
  again.child.kill('SIGINT')
  assert.deepEqual(await again.exited, { code: 0, signal: null })
  assert.equal(again.logs.at(-1)?.msg, 'stopped')
  // A healthy start, produce and stop writes nothing to stderr (logs go to stdout).
  assert.equal(fluxo.stderr(), '')
  assert.equal(again.stderr(), '')
})

test('fluxo --help and no arguments print usage and exit 0; an unknown command exits 2', async (t) => {
  for (const args of [['--help'], ['-h'], []]) {
    const proc = runFluxo(t, args)
    assert.equal(await exitOf(proc), 0, `fluxo ${args.join(' ')}`)
    assert.match(proc.stdout(), /^Usage: fluxo <command> \[options\]/)
    for (const command of ['start', 'topic', 'produce', 'consume', 'group', 'cluster'])
      assert.match(proc.stdout(), new RegExp(`^  ${command} `, 'm'), `top-level help lists ${command}`)
  }
  const startHelp = runFluxo(t, ['start', '--help'])
  assert.equal(await exitOf(startHelp), 0)
  assert.match(startHelp.stdout(), /^Usage: fluxo start \[options\]/)
  assert.match(startHelp.stdout(), /--data-dir <dir>/)
  const unknown = runFluxo(t, ['serve'])
  assert.equal(await exitOf(unknown), 2)
  assert.match(unknown.stderr(), /unknown command 'serve'/)
  assert.match(unknown.stderr(), /Usage: fluxo/)
})

test('fluxo start rejects bad options with a clear message and a non-zero exit code', async (t) => {
  const dataDir = await tempDir(t)
  const cases: [string[], RegExp][] = [
    [['--storage', 'bogus'], /--storage must be 'file' or 'memory', got 'bogus'/],
    [['--port', '70000'], /--port must be 0-65535, got '70000'/],
    [['--port', 'abc'], /--port must be 0-65535/],
    [['--nope'], /Unknown option '--nope'/],
    [['--set', 'num.partitions'], /--set expects key=value/],
    [['--set', 'num.partitions=abc'], /num\.partitions/],
    [['--config', join(dataDir, 'missing.properties')], /missing\.properties/],
  ]
  for (const [args, message] of cases) {
    const proc = runFluxo(t, ['start', '--data-dir', dataDir, ...args])
    const code = await exitOf(proc)
    assert.ok(code !== 0 && code !== null, `fluxo start ${args.join(' ')} exited ${code}`)
    assert.match(proc.stderr(), message, `fluxo start ${args.join(' ')}`)
    assert.ok(!proc.logs.some((l) => l.msg.includes('ready')), 'never reported ready')
  }
})

test('fluxo start: --config properties with --set overrides; auto-created topics get num.partitions', async (t) => {
  const dir = await tempDir(t)
  const properties = join(dir, 'server.properties')
  await writeFile(
    properties,
    [
      '# server.properties',
      'num.partitions=4',
      'auto.create.topics.enable=false',
      'no.such.property=1',
      '',
    ].join('\n'),
  )
  const fluxo = await startFluxo(t, [
    '--storage',
    'memory',
    '--config',
    properties,
    '--set',
    'auto.create.topics.enable=true',
  ])
  assert.equal(fluxo.ready.storage, 'memory')
  const warning = fluxo.logs.find((l) => l.level === WARN && l.msg.includes('no.such.property'))
  assert.ok(warning, `a warning names the unknown property:\n${fluxo.stdout()}`)

  const { admin, producer } = client(t, fluxo.bootstrap)
  await producer.connect()
  await producer.send({ topic: 'auto-made', messages: [{ value: 'x' }] })
  await admin.connect()
  const metadata = await admin.fetchTopicMetadata({ topics: ['auto-made'] })
  assert.equal(metadata.topics[0].partitions.length, 4)
  await producer.disconnect()
  await admin.disconnect()
  fluxo.child.kill('SIGTERM')
  assert.equal((await fluxo.exited).code, 0)
})

test('fluxo start fails clearly when the port or the data directory is taken', async (t) => {
  const dataDir = await tempDir(t)
  const first = await startFluxo(t, ['--data-dir', dataDir])
  const port = first.bootstrap.split(':')[1]

  const otherDir = await tempDir(t)
  const samePort = runFluxo(t, ['start', '--port', port, '--data-dir', otherDir])
  assert.equal(await exitOf(samePort), 1)
  assert.match(samePort.stderr(), /EADDRINUSE|in use/i)

  const sameDir = runFluxo(t, ['start', '--port', '0', '--data-dir', dataDir])
  assert.equal(await exitOf(sameDir), 1)
  assert.match(sameDir.stderr(), /in use by process/)

  // The first broker is unharmed.
  first.child.kill('SIGTERM')
  await waitForLog(first, (l) => l.msg === 'stopped')
  assert.equal((await first.exited).code, 0)
})
