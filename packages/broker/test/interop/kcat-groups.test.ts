import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { startBroker } from '../../src/index.js'
import { requireTool, tempDir } from '../support.js'

function kcat(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

const lines = (out: string) => out.split('\n').filter((l) => l !== '')

async function produce(bootstrap: string, topic: string, values: string[]): Promise<void> {
  const r = await kcat(['-b', bootstrap, '-P', '-t', topic], `${values.join('\n')}\n`)
  assert.equal(r.code, 0, r.stderr)
}

/** A balanced consumer (librdkafka, classic protocol) that exits at the end of its partitions. */
function consume(bootstrap: string, group: string, topic: string, extra: string[] = []) {
  return kcat(['-b', bootstrap, '-G', group, '-e', '-f', '%p %s\n', ...extra, topic])
}

test('kcat -G (librdkafka balanced consumer): consume, commit, resume from the commit', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const broker = await startBroker({ port: 0, config: { 'num.partitions': '3' } })
  t.after(() => broker.close())
  const b = broker.bootstrap
  const first = Array.from({ length: 300 }, (_, i) => `first-${i}`)
  await produce(b, 'kg', first)

  const run1 = await consume(b, 'kgroup', 'kg', ['-o', 'beginning'])
  assert.equal(run1.code, 0, run1.stderr)
  assert.deepEqual(
    lines(run1.stdout)
      .map((l) => l.split(' ')[1])
      .sort(),
    [...first].sort(),
  )
  assert.match(run1.stderr, /Group kgroup rebalanced .*assigned: kg \[0\], kg \[1\], kg \[2\]/)

  // The offsets were committed on exit: the next run (starting from the committed offsets; earliest
  // only where nothing is committed) reads nothing.
  const run2 = await consume(b, 'kgroup', 'kg', ['-X', 'auto.offset.reset=earliest'])
  assert.equal(run2.code, 0, run2.stderr)
  assert.deepEqual(lines(run2.stdout), [])

  await produce(b, 'kg', ['late-1', 'late-2', 'late-3'])
  const run3 = await consume(b, 'kgroup', 'kg', ['-X', 'auto.offset.reset=earliest'])
  assert.deepEqual(
    lines(run3.stdout)
      .map((l) => l.split(' ')[1])
      .sort(),
    ['late-1', 'late-2', 'late-3'],
  )
})

test('kcat -G: two processes in one group share the partitions', async (t) => {
  if (!requireTool(t, 'kcat')) return
  // Both processes must be in the first generation: wait for the second one a little.
  const broker = await startBroker({
    port: 0,
    config: { 'num.partitions': '4', 'group.initial.rebalance.delay.ms': '1500' },
  })
  t.after(() => broker.close())
  const b = broker.bootstrap
  const values: string[] = []
  for (let p = 0; p < 4; p++) {
    const part = Array.from({ length: 100 }, (_, i) => `p${p}-v${i}`)
    const r = await kcat(['-b', b, '-P', '-t', 'shared', '-p', String(p)], `${part.join('\n')}\n`)
    assert.equal(r.code, 0, r.stderr)
    values.push(...part)
  }
  const [x, y] = await Promise.all([
    consume(b, 'pair', 'shared', ['-X', 'auto.offset.reset=earliest']),
    consume(b, 'pair', 'shared', ['-X', 'auto.offset.reset=earliest']),
  ])
  assert.equal(x.code, 0, x.stderr)
  assert.equal(y.code, 0, y.stderr)
  const px = new Set(lines(x.stdout).map((l) => l.split(' ')[0]))
  const py = new Set(lines(y.stdout).map((l) => l.split(' ')[0]))
  const why = `partitions ${[...px]} / ${[...py]}\n${x.stderr}\n${y.stderr}`
  assert.ok(px.size > 0 && py.size > 0, `both consumed: ${why}`)
  assert.deepEqual(
    [...px].filter((p) => py.has(p)),
    [],
    `no partition read by both: ${why}`,
  )
  const all = [...lines(x.stdout), ...lines(y.stdout)].map((l) => l.split(' ')[1])
  assert.deepEqual(all.sort(), [...values].sort(), 'every message exactly once')
})

test('kcat -G reads from committed offsets after a broker restart (file storage)', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const dataDir = await tempDir(t)
  let broker = await startBroker({ port: 0, storage: 'file', dataDir, config: { 'num.partitions': '2' } })
  await produce(broker.bootstrap, 'kr', ['a', 'b', 'c', 'd'])
  const before = await consume(broker.bootstrap, 'restarted', 'kr', ['-o', 'beginning'])
  assert.equal(lines(before.stdout).length, 4, before.stderr)
  await broker.close()

  broker = await startBroker({ port: 0, storage: 'file', dataDir })
  t.after(() => broker.close())
  await produce(broker.bootstrap, 'kr', ['e'])
  const after = await consume(broker.bootstrap, 'restarted', 'kr', ['-X', 'auto.offset.reset=earliest'])
  assert.equal(after.code, 0, after.stderr)
  assert.deepEqual(
    lines(after.stdout).map((l) => l.split(' ')[1]),
    ['e'],
  )
})
