import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { partitionForKey } from '@fluxo/protocol'
import { startBroker } from '../src/index.js'
import { requireTool } from './support.js'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..', '..')

/** Runs the steps of docs/tutorial.md against a broker, with the same scripts and kcat commands. */
test('the tutorial works end to end (examples/ scripts and kcat)', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const env = { ...process.env, BOOTSTRAP: broker.bootstrap }
  const node = (script: string, ...args: string[]) =>
    run(process.execPath, [join(root, 'examples', script), ...args], { env })

  assert.match(
    (await node('create-topic.mjs', 'payments', '3')).stdout,
    /created: payments with 3 partitions/,
  )
  const produced = await node('produce.mjs', 'payments', '9')
  const partitionsUsed = new Set(['alice', 'bob', 'carol'].map((k) => partitionForKey(Buffer.from(k), 3)))
  assert.equal(produced.stdout.trim().split('\n').length, partitionsUsed.size)

  const alicePartition = partitionForKey(Buffer.from('alice'), 3)
  const { stdout } = await run('kcat', [
    ...[
      '-b',
      broker.bootstrap,
      '-C',
      '-t',
      'payments',
      '-p',
      String(alicePartition),
      '-o',
      'beginning',
      '-e',
    ],
    ...['-f', '%k %h %s\n'],
  ])
  const alice = stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('alice '))
  assert.deepEqual(alice, [
    'alice source=tutorial {"payment":1,"amount":10}',
    'alice source=tutorial {"payment":4,"amount":40}',
    'alice source=tutorial {"payment":7,"amount":70}',
  ])
  // Reading does not delete: a second read returns the same events.
  const again = await run('kcat', [
    '-b',
    broker.bootstrap,
    '-C',
    '-t',
    'payments',
    '-p',
    String(alicePartition),
    '-o',
    'beginning',
    '-e',
    '-f',
    '%k %h %s\n',
  ])
  assert.equal(again.stdout, stdout)

  // A consumer group reads everything once, then continues from its committed offsets.
  const first = (await node('consume-group.mjs', 'payments', 'billing', '1')).stdout.trim().split('\n')
  assert.equal(first.length, 9)
  assert.ok(first.every((line) => /^p\d offset \d+ key (alice|bob|carol) value \{"payment"/.test(line)))
  assert.equal((await node('consume-group.mjs', 'payments', 'billing', '1')).stdout.trim(), '')

  const offsets = (await node('offsets.mjs', 'payments')).stdout.trim().split('\n')
  assert.equal(offsets.length, 3)
  const total = offsets.reduce((sum, line) => sum + Number(/next offset (\d+)/.exec(line)?.[1]), 0)
  assert.equal(total, 9)
})

/** Steps 10 and 11 of docs/tutorial.md: a compacted topic through the fluxo CLI, a transaction. */
test('the tutorial: compaction with the fluxo CLI, transactions read by kcat with read_committed', async (t) => {
  if (!requireTool(t, 'kcat')) return
  // The tutorial waits for the cleaner's default 15 s backoff; the test makes it quick.
  const broker = await startBroker({ port: 0, config: { 'log.cleaner.backoff.ms': '100' } })
  t.after(() => broker.close())
  const env = { ...process.env, FLUXO_BOOTSTRAP: broker.bootstrap, BOOTSTRAP: broker.bootstrap }
  const fluxoBin = join(root, 'packages', 'cli', 'bin', 'fluxo.js')
  const fluxo = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, [fluxoBin, ...args], { env }, (err, stdout, stderr) =>
        err ? reject(new Error(`fluxo ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
      )
      child.stdin?.end(input ?? '')
    })

  await fluxo([
    ...['topic', 'create', 'users', '--partitions', '1', '--config', 'cleanup.policy=compact'],
    ...['--config', 'segment.ms=100', '--config', 'min.cleanable.dirty.ratio=0.01'],
  ])
  await fluxo(
    ['produce', 'users', '--key-separator', '|', '--null-empty'],
    'alice|Lyon\nbob|Oslo\nalice|Porto\ncarol|Rome\nbob|\n',
  )
  await new Promise((r) => setTimeout(r, 1000))
  await fluxo(['produce', 'users', '--key-separator', '|'], 'dave|Nice\n')
  let records: { offset: number; key: string; value: string | null }[] = []
  for (let i = 0; i < 100; i++) {
    const out = await fluxo(['consume', 'users', '--from-beginning', '--count', '4', '--format', 'json'])
    records = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    if (records[0].offset === 2) break
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.deepEqual(
    records.map(({ offset, key, value }) => ({ offset, key, value })),
    [
      { offset: 2, key: 'alice', value: 'Porto' },
      { offset: 3, key: 'carol', value: 'Rome' },
      { offset: 4, key: 'bob', value: null },
      { offset: 5, key: 'dave', value: 'Nice' },
    ],
  )

  await fluxo(['topic', 'create', 'ledger', '--partitions', '1'])
  const transfers = await run(process.execPath, [join(root, 'examples', 'transfer.mjs'), 'ledger'], { env })
  assert.equal(
    transfers.stdout,
    'transfer 1: alice -> bob 25: committed\ntransfer 2: alice -> carol 999: aborted\n',
  )
  const kcat = (isolation: string) =>
    run('kcat', [
      ...['-b', broker.bootstrap, '-C', '-t', 'ledger', '-o', 'beginning', '-e'],
      ...['-X', `isolation.level=${isolation}`, '-f', '%k %s\n'],
    ])
  assert.equal(
    (await kcat('read_committed')).stdout,
    'alice {"transfer":1,"amount":-25}\nbob {"transfer":1,"amount":25}\n',
  )
  assert.equal((await kcat('read_uncommitted')).stdout.trim().split('\n').length, 4)
})
