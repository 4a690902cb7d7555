// Helpers for the client command tests: an embedded broker per test, `fluxo <args>` run to its exit, kcat.
import { spawn, spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import { type Broker, startBroker } from '@fluxo/broker'
import { FLUXO_BIN } from './fluxo-process.js'

export async function broker(t: TestContext, config: Record<string, string> = {}): Promise<Broker> {
  const b = await startBroker({ port: 0, storage: 'memory', config })
  t.after(() => b.close())
  return b
}

/** Tests needing a tool skip locally when it is missing but fail under CI=true. */
export function requireTool(t: TestContext, command: string, versionArg = '-V'): boolean {
  const found = spawnSync(command, [versionArg], { stdio: 'ignore' }).error === undefined
  if (found) return true
  if (process.env.CI) throw new Error(`${command} is required under CI=true but was not found on PATH`)
  t.skip(`${command} not installed`)
  return false
}

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a command to its exit with `input` on stdin; SIGKILLs it and rejects after `timeoutMs`. */
export function run(
  command: string,
  args: string[],
  options: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const { FLUXO_BOOTSTRAP: _, ...env } = process.env
    const child = spawn(command, args, { env: { ...env, ...options.env } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `${command} ${args.join(' ')} still running after ${options.timeoutMs ?? 20_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      )
    }, options.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}

/** `fluxo <args>` against `bootstrap` (as --bootstrap, unless the args already carry one). */
export function fluxo(
  bootstrap: string | undefined,
  args: string[],
  options: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Result> {
  const withBootstrap = bootstrap === undefined ? args : [...args, '--bootstrap', bootstrap]
  return run(process.execPath, [FLUXO_BIN, ...withBootstrap], options)
}

export function json<T = unknown>(result: Result): T {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

/** One line per record of `fluxo consume --format json`. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T)
}
