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
