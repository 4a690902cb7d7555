/**
 * The checked-in src/generated/ is what scripts/generate.ts makes from specs/: a spec edit without a
 * regeneration (or a hand edit of generated code) fails here. Fix with `npm run generate`.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

test('src/generated is up to date with specs/', () => {
  const result = spawnSync('npx', ['tsx', 'packages/protocol/scripts/generate.ts', '--check'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(result.error, undefined, String(result.error))
  assert.equal(result.status, 0, `generate --check failed:\n${result.stdout}${result.stderr}`)
  assert.match(result.stdout, /up to date/)
})
