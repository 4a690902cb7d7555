import {
  CLIENT_OPTIONS_HELP,
  UsageError,
  bootstrapList,
  clientOptions,
  intOption,
  noMorePositionals,
  parse,
  parseTime,
  positional,
} from '../args.js'
import { type ConsumedRecord, type StartAt, openFetchSource } from '../record-source.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo consume TOPIC [options]

Print the records of a topic, one line per record. Without --count it runs until Ctrl-C or
SIGTERM. By default it starts at the end of each partition and prints only new records.

Options:
  --from-beginning              start at the earliest offset of each partition
  --offset <n>                  start at offset n in each partition read
  --since <time>                start at the first record at or after a time: an ISO date
                                (2026-01-31T12:00:00Z), epoch ms, or a duration before now
                                (30s, 10m, 1h, 2d); uses ListOffsets by timestamp
  --partition <n>               read only this partition (default: all)
  --count <n>                   exit after n records
  --format <value|key:value|json>
                                value (default): the value; key:value: key, ':' and value;
                                json: one JSON object per line with topic, partition, offset,
                                timestamp, key, value and headers ([{key, value}])
  --bootstrap <host:port,...>   brokers to connect to (env FLUXO_BOOTSTRAP, default 127.0.0.1:9092)
  -h, --help                    show this help

Keys, values and header values are printed as UTF-8 text; null prints as an empty string
(null in JSON).

Examples:
  fluxo consume orders --from-beginning --count 10
  fluxo consume orders --since 15m --format json | jq .value
`

const options = {
  ...clientOptions,
  'from-beginning': { type: 'boolean' },
  offset: { type: 'string' },
  since: { type: 'string' },
  partition: { type: 'string' },
  count: { type: 'string' },
  format: { type: 'string' },
} as const

const FORMATS = ['value', 'key:value', 'json'] as const
type Format = (typeof FORMATS)[number]

export const consume: Command = {
  name: 'consume',
  summary: 'print records of a topic',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, options)
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    const topic = positional(positionals, 0, 'topic name')
    noMorePositionals(positionals, 1)
    if (values.json) throw new UsageError("consume prints one line per record: use '--format json'")
    const format = (values.format ?? 'value') as Format
    if (!FORMATS.includes(format))
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${values.format}'`)
    const partition = intOption(values.partition, '--partition', 0, 0x7fffffff)
    const count = intOption(values.count, '--count', 1)
    const starts: StartAt[] = []
    if (values['from-beginning']) starts.push({ kind: 'earliest' })
    const offset = intOption(values.offset, '--offset')
    if (offset !== undefined) starts.push({ kind: 'offset', offset })
    if (values.since !== undefined)
      starts.push({ kind: 'time', timestamp: parseTime(values.since, '--since') })
    if (starts.length > 1) throw new UsageError('use only one of --from-beginning, --offset, --since')

    const source = await openFetchSource({
      bootstrap: bootstrapList(values.bootstrap),
      topic,
      partitions: partition === undefined ? undefined : [partition],
      start: starts[0] ?? { kind: 'latest' },
    })
    const stop = () => void source.close()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    let seen = 0
    try {
      for await (const record of source) {
        process.stdout.write(formatRecord(record, format))
        if (count !== undefined && ++seen >= count) break
      }
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      await source.close()
    }
    return 0
  },
}

const text = (b: Buffer | null) => (b === null ? null : b.toString('utf8'))

function formatRecord(r: ConsumedRecord, format: Format): string {
  if (format === 'value') return `${text(r.value) ?? ''}\n`
  if (format === 'key:value') return `${text(r.key) ?? ''}:${text(r.value) ?? ''}\n`
  return `${JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: text(r.key),
    value: text(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: text(h.value) })),
  })}\n`
}
