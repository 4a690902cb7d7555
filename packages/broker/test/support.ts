import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/**
 * Tests that need an external tool (kcat) skip locally when it is missing but fail under CI=true,
 * so a CI run without the tool can never pass silently.
 */
export function requireTool(t: TestContext, command: string, versionArg = '-V'): boolean {
  const found = spawnSync(command, [versionArg], { stdio: 'ignore' }).error === undefined
  if (found) return true
  if (process.env.CI) throw new Error(`${command} is required under CI=true but was not found on PATH`)
  t.skip(`${command} not installed`)
  return false
}

export async function tempDir(t: TestContext, prefix = 'fluxo-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}
