import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { partitionForKey } from '@fluxo/protocol'
import { broker } from './support.js'

const run = promisify(execFile)
const example = join(import.meta.dirname, '..', '..', '..', 'examples', 'client.mjs')

/** examples/client.mjs, the script docs/client.md starts with, run twice against one broker. */
test('examples/client.mjs: produce, consume in a group, committed offsets; a second run reads only new orders', async (t) => {
  const b = await broker(t)
  const env = { ...process.env, BOOTSTRAP: b.bootstrap }
  const first = (await run(process.execPath, [example, 'orders', 'shipping'], { env, timeout: 60_000 }))
    .stdout
  const lines = first.trim().split('\n')
  assert.equal(lines[0], 'produced 6 orders')
  const consumed = lines.slice(1, 7).map((line) => {
    const m = /^p(\d) offset (\d+) (\w+) total (\d+)$/.exec(line)
    assert.ok(m, line)
    return { partition: Number(m[1]), offset: Number(m[2]), customer: m[3], total: Number(m[4]) }
  })
  // Same key, same partition (murmur2), and in the order written within it.
  for (const c of consumed) assert.equal(c.partition, partitionForKey(Buffer.from(c.customer), 3))
  const alice = consumed.filter((c) => c.customer === 'alice')
  assert.deepEqual(
    alice.map((c) => c.total),
    [12, 30, 9],
  )
  const counts = [0, 1, 2].map((p) => consumed.filter((c) => c.partition === p).length)
  assert.equal(lines[7], `group shipping committed ${counts.map((n, p) => `p${p}=${n}`).join(' ')}`)

  const second = (await run(process.execPath, [example, 'orders', 'shipping'], { env, timeout: 60_000 }))
    .stdout
  const again = second.trim().split('\n').slice(1, 7)
  // The group resumes after its commits: the second run sees the six new orders only.
  for (const line of again) {
    const [, p, offset] = /^p(\d) offset (\d+)/.exec(line) ?? []
    assert.ok(Number(offset) >= counts[Number(p)], `${line} was already consumed`)
  }
  assert.equal(
    second.trim().split('\n')[7],
    `group shipping committed ${counts.map((n, p) => `p${p}=${2 * n}`).join(' ')}`,
  )
})
