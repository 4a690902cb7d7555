/**
 * Argument parsing shared by every command: node:util parseArgs in strict mode, usage errors that
 * exit 2, and the options every client command takes (--bootstrap, --json, --help).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { Kafka } from '@fluxo/client'
import { FluxoError } from '@fluxo/protocol'

/** A bad command line: printed as one line on stderr, exit code 2. */
export class UsageError extends FluxoError {
  constructor(message: string) {
    super('ERR_FLUXO_USAGE', message)
  }
}

type Options = NonNullable<ParseArgsConfig['options']>
type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>

/** The options of every command that talks to a cluster. */
export const clientOptions = {
  bootstrap: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

export const CLIENT_OPTIONS_HELP = `Common options:
  --bootstrap <host:port,...>   brokers to connect to (env FLUXO_BOOTSTRAP, default 127.0.0.1:9092)
  --json                        machine-readable JSON on stdout instead of tables
  -h, --help                    show this help`

/** parseArgs with strict checking; its errors become UsageErrors. */
export function parse<T extends Options>(args: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** The positional argument at `index`, or a usage error naming it. */
export function positional(positionals: string[], index: number, name: string): string {
  const value = positionals[index]
  if (value === undefined || value === '') throw new UsageError(`missing ${name}`)
  return value
}

export function noMorePositionals(positionals: string[], count: number): void {
  if (positionals.length > count) throw new UsageError(`unexpected argument '${positionals[count]}'`)
}

/** An integer option within [min, max]; undefined when the option was not given. */
export function intOption(
  value: string | undefined,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(
      `${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got '${value}'`,
    )
  return n
}

/** `key=value` pairs (repeatable options) as an ordered list. */
export function keyValues(pairs: readonly string[] | undefined, name: string): [string, string][] {
  return (pairs ?? []).map((pair) => {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`${name} expects key=value, got '${pair}'`)
    return [pair.slice(0, eq), pair.slice(eq + 1)]
  })
}

export function bootstrapList(value: string | undefined): string[] {
  const raw = value ?? process.env.FLUXO_BOOTSTRAP ?? '127.0.0.1:9092'
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (list.length === 0) throw new UsageError('--bootstrap needs at least one host:port')
  return list
}

/** A client for `--bootstrap` (or FLUXO_BOOTSTRAP); a malformed address is a usage error. */
export function kafkaFor(bootstrap: string | undefined): Kafka {
  const list = bootstrapList(bootstrap)
  try {
    return new Kafka({
      bootstrap: list,
      clientId: 'fluxo-cli',
      connectTimeoutMs: 5000,
      retry: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 },
    })
  } catch (err) {
    throw new UsageError(`--bootstrap: ${(err as Error).message}`)
  }
}

/**
 * A point in time: an ISO 8601 date, epoch milliseconds, or a duration before now such as
 * `90s`, `10m`, `1h`, `2d`.
 */
export function parseTime(value: string, name: string, now = Date.now()): number {
  const relative = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim())
  if (relative) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'ms']
    return Math.round(now - Number(relative[1]) * unit)
  }
  if (/^\d{10,}$/.test(value)) return Number(value)
  const parsed = Date.parse(value)
  if (Number.isNaN(parsed))
    throw new UsageError(`${name} expects an ISO date, epoch ms or a duration like 10m, got '${value}'`)
  return parsed
}
