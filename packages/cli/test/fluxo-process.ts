import { type ChildProcess, spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'

/** The `fluxo` command as installed (bin → dist: run `tsc -b` first). */
export const FLUXO_BIN = fileURLToPath(new URL('../bin/fluxo.js', import.meta.url))

export interface LogLine {
  level: number
  msg: string
  [field: string]: unknown
}

export interface FluxoProcess {
  child: ChildProcess
  /** JSON log lines from stdout so far (stdout is a pipe, so pino writes JSON). */
  logs: LogLine[]
  stdout(): string
  stderr(): string
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Runs `fluxo <args>`; the process is SIGKILLed after the test if it is still running. */
export function runFluxo(t: TestContext, args: string[]): FluxoProcess {
  const { FLUXO_LOG_LEVEL: _, ...env } = process.env
  const child = spawn(process.execPath, [FLUXO_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  let err = ''
  let partial = ''
  const logs: LogLine[] = []
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop()!
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line))
      } catch {}
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, logs, stdout: () => out, stderr: () => err, exited }
}

/** Waits for a log line matching `match`; fails if the process exits first or after `timeoutMs`. */
export async function waitForLog(
  proc: FluxoProcess,
  match: (line: LogLine) => boolean,
  timeoutMs = 10_000,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void proc.exited.then(() => (exited = true))
  for (;;) {
    const found = proc.logs.find(match)
    if (found) return found
    if (exited || Date.now() > deadline) {
      throw new Error(
        `${exited ? 'fluxo exited' : 'timed out'} before the expected log line\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Starts `fluxo start --port 0 …` and waits for the ready line; returns its address. */
export async function startFluxo(
  t: TestContext,
  args: string[],
): Promise<FluxoProcess & { bootstrap: string; ready: LogLine }> {
  const proc = runFluxo(t, ['start', '--port', '0', ...args])
  const ready = await waitForLog(proc, (l) => l.msg.includes('ready'))
  if (typeof ready.address !== 'string')
    throw new Error(`ready line without an address: ${JSON.stringify(ready)}`)
  return { ...proc, bootstrap: ready.address, ready }
}
