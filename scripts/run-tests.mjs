// Runs every test file (packages/*/test/**/*.test.ts) with node:test, TypeScript loaded through tsx.
// A file or test that runs past 10 minutes fails instead of holding CI until its limit.
// Arguments narrow the set: `npm test -- protocol` runs the files whose path contains "protocol".
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const files = []
for (const pkg of readdirSync('packages')) {
  try {
    walk(join('packages', pkg, 'test'), files)
  } catch {}
}
const filters = process.argv.slice(2)
const selected = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=600000', ...selected.sort()],
  {
    stdio: 'inherit',
    env: { FLUXO_LOG_LEVEL: 'silent', ...process.env },
  },
)
process.exit(result.status ?? 1)
