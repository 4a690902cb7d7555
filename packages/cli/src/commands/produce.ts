import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import type { CompressionName, Producer } from '@fluxo/client'
import {
  CLIENT_OPTIONS_HELP,
  UsageError,
  clientOptions,
  intOption,
  kafkaFor,
  keyValues,
  noMorePositionals,
  parse,
  positional,
} from '../args.js'
import { formatBytes, printJson } from '../output.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo produce TOPIC [options]

Produce one record per input line, read from stdin or --file. The input is streamed, so it can be
larger than memory. A summary line (records, bytes, time) goes to stderr at the end. The exit
code is 1 if any record failed; reading stops at the first failure.

Options:
  --file <path>                 read lines from this file instead of stdin
  --key-separator <sep>         split each line at the first <sep> into key and value
                                (a line without <sep> is a value with a null key)
  --null-empty                  send an empty key or value as null (kcat -Z); an empty
                                value is then a tombstone on a compacted topic
  --header <key=value>          add this header to every record; repeatable
  --partition <n>               write every record to this partition (default: by key, murmur2)
  --compression <codec>         none, gzip, snappy, lz4 or zstd (default none)
  --acks <all|1|0>              acknowledgements to wait for (default all)
  --progress                    print progress to stderr every second (on by default when
                                stderr is a terminal and the input is not typed there)
${CLIENT_OPTIONS_HELP.replace('--json                        machine-readable JSON on stdout instead of tables', '--json                        print the summary as JSON on stdout')}

Examples:
  echo 'hello' | fluxo produce greetings
  printf 'user-1|{"n":1}\\nuser-2|{"n":2}\\n' | fluxo produce events --key-separator '|' --header source=cli
  fluxo produce events --file events.txt --compression zstd --progress
`

const options = {
  ...clientOptions,
  file: { type: 'string' },
  'key-separator': { type: 'string' },
  header: { type: 'string', multiple: true },
  partition: { type: 'string' },
  compression: { type: 'string' },
  acks: { type: 'string' },
  progress: { type: 'boolean' },
  'null-empty': { type: 'boolean' },
} as const

const COMPRESSIONS: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const ACKS: Record<string, -1 | 0 | 1> = { all: -1, '-1': -1, '1': 1, '0': 0 }
/** Records or bytes waiting for acknowledgement before reading pauses. */
const MAX_PENDING_RECORDS = 20_000
const MAX_PENDING_BYTES = 32 * 1024 * 1024

export const produce: Command = {
  name: 'produce',
  summary: 'produce records from stdin or a file, one per line',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, options)
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    const topic = positional(positionals, 0, 'topic name')
    noMorePositionals(positionals, 1)
    const partition = intOption(values.partition, '--partition', 0, 0x7fffffff)
    const compression = (values.compression ?? 'none') as CompressionName
    if (!COMPRESSIONS.includes(compression))
      throw new UsageError(`--compression must be one of ${COMPRESSIONS.join(', ')}, got '${compression}'`)
    const acks = ACKS[values.acks ?? 'all']
    if (acks === undefined) throw new UsageError(`--acks must be all, 1 or 0, got '${values.acks}'`)
    const headers = keyValues(values.header, '--header')
    const separator = values['key-separator']
    if (separator === '') throw new UsageError('--key-separator must not be empty')
    const input: Readable = values.file ? createReadStream(values.file) : process.stdin

    const producer = kafkaFor(values.bootstrap).producer({ acks, compression })
    const stats = await produceLines(producer, input, {
      topic,
      partition,
      headers,
      separator: separator === undefined ? undefined : Buffer.from(separator, 'utf8'),
      nullEmpty: values['null-empty'] === true,
      // On a terminal by default, unless someone is typing the records there.
      progress:
        values.progress === true ||
        (process.stderr.isTTY === true && (values.file !== undefined || process.stdin.isTTY !== true)),
    })
    const seconds = stats.durationMs / 1000
    const rate = seconds > 0 ? Math.round(stats.records / seconds) : stats.records
    process.stderr.write(
      `Produced ${stats.records} record(s) (${formatBytes(stats.bytes)}) to ${topic} in ${seconds.toFixed(2)} s` +
        `${stats.records > 0 ? `, ${rate} records/s` : ''}` +
        `${stats.failed > 0 ? `; ${stats.failed} failed` : ''}${stats.interrupted ? '; interrupted' : ''}\n`,
    )
    if (values.json)
      printJson({
        topic,
        records: stats.records,
        bytes: stats.bytes,
        failed: stats.failed,
        durationMs: stats.durationMs,
      })
    if (stats.error) throw stats.error
    return stats.interrupted ? 130 : 0
  },
}

interface ProduceStats {
  records: number
  bytes: number
  failed: number
  durationMs: number
  interrupted: boolean
  error?: unknown
}

interface LineOptions {
  topic: string
  partition?: number
  headers: [string, string][]
  separator?: Buffer
  nullEmpty: boolean
  progress: boolean
}

/**
 * Splits the input into lines (a trailing \r is dropped) and sends each as a record. Reading pauses
 * while too much is unacknowledged, so memory stays bounded for any input size.
 */
async function produceLines(producer: Producer, input: Readable, opts: LineOptions): Promise<ProduceStats> {
  const started = Date.now()
  const stats: ProduceStats = { records: 0, bytes: 0, failed: 0, durationMs: 0, interrupted: false }
  let pending = 0
  let pendingBytes = 0
  let wake: (() => void) | undefined
  let stopped = false
  const onSignal = () => {
    stats.interrupted = true
    stopped = true
    input.destroy()
    wake?.()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const tty = process.stderr.isTTY === true
  const progress = opts.progress
    ? setInterval(() => {
        const line = `fluxo produce: ${stats.records} record(s) acknowledged, ${formatBytes(stats.bytes)}, ${pending} in flight`
        process.stderr.write(tty ? `\r${line}\u001b[K` : `${line}\n`)
      }, 1000)
    : undefined

  const send = (line: Buffer) => {
    let key: Buffer | null = null
    let value: Buffer | null = line
    if (opts.separator) {
      const at = line.indexOf(opts.separator)
      if (at >= 0) {
        key = line.subarray(0, at)
        value = line.subarray(at + opts.separator.length)
      }
    }
    if (opts.nullEmpty) {
      if (key?.length === 0) key = null
      if (value.length === 0) value = null
    }
    const size = (value?.length ?? 0) + (key?.length ?? 0)
    pending++
    pendingBytes += size
    producer
      .send({
        topic: opts.topic,
        key,
        value,
        partition: opts.partition,
        headers: opts.headers.length > 0 ? opts.headers : undefined,
      })
      .then(
        () => {
          stats.records++
          stats.bytes += size
        },
        (err) => {
          stats.failed++
          stats.error ??= err
          stopped = true
        },
      )
      .finally(() => {
        pending--
        pendingBytes -= size
        if (wake && (stopped || pending === 0 || pending <= MAX_PENDING_RECORDS / 2)) {
          const w = wake
          wake = undefined
          w()
        }
      })
  }
  const backpressure = async () => {
    if (pending < MAX_PENDING_RECORDS && pendingBytes < MAX_PENDING_BYTES) return
    await new Promise<void>((resolve) => {
      wake = resolve
    })
  }

  try {
    let rest: Buffer | undefined
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      const data = rest ? Buffer.concat([rest, buf]) : buf
      let start = 0
      for (;;) {
        const nl = data.indexOf(10, start)
        if (nl < 0 || stopped) break
        send(data.subarray(start, nl > start && data[nl - 1] === 13 ? nl - 1 : nl))
        start = nl + 1
      }
      rest = start < data.length ? data.subarray(start) : undefined
      if (stopped) break
      await backpressure()
      if (stopped) break
    }
    if (rest && !stopped) send(rest.at(-1) === 13 ? rest.subarray(0, -1) : rest)
    // Producer.close() flushes batches, but a record still waiting for the topic's metadata is not
    // in a batch yet: wait for every send to settle first.
    while (pending > 0) await new Promise<void>((resolve) => (wake = resolve))
  } catch (err) {
    if (!stats.interrupted) stats.error ??= err
  } finally {
    await producer.close().catch((err) => {
      stats.error ??= err
    })
    if (progress) {
      clearInterval(progress)
      if (tty) process.stderr.write('\r\u001b[K')
    }
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  stats.durationMs = Date.now() - started
  return stats
}
