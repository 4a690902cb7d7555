import {
  type Admin,
  type Consumer,
  type ConsumerRecord,
  type Kafka,
  KafkaError,
  type TopicPartitionOffset,
} from '@fluxo/client'
import { ErrorCode } from '@fluxo/protocol'
import {
  UsageError,
  clientOptions,
  intOption,
  kafkaFor,
  noMorePositionals,
  parse,
  parseTime,
  positional,
} from '../args.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo consume TOPIC [options]

Print the records of a topic, one line per record. Without --count it runs until Ctrl-C or
SIGTERM. By default it starts at the end of each partition and prints only new records.
With --group it joins that consumer group: it reads the partitions the group assigns, starts at
the group's committed offsets, and commits what it printed (every 5 s and on exit).

Options:
  --from-beginning              start at the earliest offset of each partition (with --group:
                                of each partition without a committed offset)
  --offset <n>                  start at offset n in each partition read
  --since <time>                start at the first record at or after a time: an ISO date
                                (2026-01-31T12:00:00Z), epoch ms, or a duration before now
                                (30s, 10m, 1h, 2d); uses ListOffsets by timestamp
  --partition <n>               read only this partition (default: all); with --group, the
                                group's offsets are used and committed but the group does not
                                assign partitions
  --group <id>                  consume as a member of this consumer group
  --count <n>                   exit after n records
  --format <value|key:value|json>
                                value (default): the value; key:value: key, ':' and value;
                                json: one JSON object per line with topic, partition, offset,
                                timestamp, key, value and headers ([{key, value}])
  --json                        the same as --format json
  --bootstrap <host:port,...>   brokers to connect to (env FLUXO_BOOTSTRAP, default 127.0.0.1:9092)
  -h, --help                    show this help

Keys, values and header values are printed as UTF-8 text; null prints as an empty string
(null in JSON).

Examples:
  fluxo consume orders --from-beginning --count 10
  fluxo consume orders --since 15m --format json | jq .value
  fluxo consume orders --group audit --from-beginning
`

const options = {
  ...clientOptions,
  'from-beginning': { type: 'boolean' },
  offset: { type: 'string' },
  since: { type: 'string' },
  partition: { type: 'string' },
  group: { type: 'string' },
  count: { type: 'string' },
  format: { type: 'string' },
} as const

const FORMATS = ['value', 'key:value', 'json'] as const
type Format = (typeof FORMATS)[number]

/** Where reading starts in each partition. */
type StartAt =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'time'; timestamp: number }

const COMMIT_INTERVAL_MS = 5000

export const consume: Command = {
  name: 'consume',
  summary: 'print records of a topic, alone or as a member of a consumer group',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, options)
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    const topic = positional(positionals, 0, 'topic name')
    noMorePositionals(positionals, 1)
    if (values.json && values.format !== undefined && values.format !== 'json')
      throw new UsageError(`--json is --format json; it cannot be combined with --format ${values.format}`)
    const format = (values.format ?? (values.json ? 'json' : 'value')) as Format
    if (!FORMATS.includes(format))
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${values.format}'`)
    const partition = intOption(values.partition, '--partition', 0, 0x7fffffff)
    const count = intOption(values.count, '--count', 1)
    const groupId = values.group
    if (groupId === '') throw new UsageError('--group must not be empty')
    const starts: StartAt[] = []
    if (values['from-beginning']) starts.push({ kind: 'earliest' })
    const offset = intOption(values.offset, '--offset')
    if (offset !== undefined) starts.push({ kind: 'offset', offset })
    if (values.since !== undefined)
      starts.push({ kind: 'time', timestamp: parseTime(values.since, '--since') })
    if (starts.length > 1) throw new UsageError('use only one of --from-beginning, --offset, --since')

    const kafka = kafkaFor(values.bootstrap)
    const consumer = await openConsumer(kafka, {
      topic,
      partition,
      groupId,
      start: starts[0] ?? { kind: 'latest' },
    })
    return printRecords(consumer, { format, count, commit: groupId !== undefined })
  },
}

interface OpenOptions {
  topic: string
  partition?: number
  groupId?: string
  start: StartAt
}

/**
 * A consumer positioned as asked. Explicit start offsets are resolved up front (ListOffsets by
 * timestamp for --since); in a group they apply to the partitions when first assigned.
 */
async function openConsumer(kafka: Kafka, opts: OpenOptions): Promise<Consumer> {
  const { topic, start } = opts
  const admin = kafka.admin()
  let offsets: Map<number, number> | undefined
  let partitions: number[]
  try {
    const [info] = await admin.describeTopics([topic])
    const all = info.partitions.map((p) => p.partition)
    if (opts.partition !== undefined && !all.includes(opts.partition))
      throw new KafkaError(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `topic ${topic} has ${all.length} partition(s), no partition ${opts.partition}`,
        { topic, partition: opts.partition },
      )
    partitions = opts.partition === undefined ? all : [opts.partition]
    if (start.kind === 'offset') offsets = new Map(all.map((p) => [p, start.offset]))
    else if (start.kind === 'time') offsets = await offsetsForTime(admin, topic, start.timestamp)
  } finally {
    await admin.close()
  }

  const seekOnce = new Set<number>()
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    autoOffsetReset: start.kind === 'earliest' ? 'earliest' : 'latest',
    // Commits are explicit: exactly the records printed (see printRecords).
    autoCommit: false,
    onPartitionsAssigned: (assigned) => {
      if (!offsets) return
      for (const tp of assigned) {
        const at = offsets.get(tp.partition)
        if (at === undefined || seekOnce.has(tp.partition)) continue
        seekOnce.add(tp.partition)
        consumer.seek({ topic, partition: tp.partition, offset: at })
      }
    },
  })
  if (opts.groupId !== undefined && opts.partition === undefined) consumer.subscribe([topic])
  else consumer.assign(partitions.map((partition) => ({ topic, partition, offset: offsets?.get(partition) })))
  return consumer
}

/** The first offset at or after `timestamp` per partition; the end of the log where there is none. */
async function offsetsForTime(admin: Admin, topic: string, timestamp: number): Promise<Map<number, number>> {
  const [found, latest] = await Promise.all([
    admin.listOffsets(topic, timestamp),
    admin.listOffsets(topic, 'latest'),
  ])
  return new Map(
    found.map((p) => [
      p.partition,
      p.offset >= 0 ? p.offset : (latest.find((l) => l.partition === p.partition)?.offset ?? 0),
    ]),
  )
}

/**
 * Prints records until `count` or a signal. With a group, the offsets after the printed records
 * are committed every few seconds and once more before leaving: a record is committed only once
 * it was written to stdout.
 */
async function printRecords(
  consumer: Consumer,
  opts: { format: Format; count?: number; commit: boolean },
): Promise<number> {
  const printed = new Map<string, TopicPartitionOffset>()
  // Lines are gathered while the consumer hands out buffered records (all in one turn of the event
  // loop) and written once it has to wait: one write per fetch rather than one per record.
  let pending = ''
  let flushScheduled = false
  // A pipe to a slower reader fills up: wait for it to drain instead of queueing output in memory.
  let blocked = false
  const flush = () => {
    flushScheduled = false
    if (pending === '') return
    if (!process.stdout.write(pending)) blocked = true
    pending = ''
  }
  let dirty = false
  const commit = async () => {
    flush()
    if (!opts.commit || !dirty) return
    dirty = false
    await consumer.commit([...printed.values()])
  }
  const timer = opts.commit
    ? setInterval(() => {
        commit().catch(() => {
          dirty = true // retried at the next interval and on exit
        })
      }, COMMIT_INTERVAL_MS)
    : undefined
  // A signal ends the wait for the next record. (Racing every next() against one long-lived
  // promise would pile a reaction per record onto it.)
  let interrupt: ((value: 'stop') => void) | undefined
  let stopping = false
  const stop = () => {
    stopping = true
    interrupt?.('stop')
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const records = consumer[Symbol.asyncIterator]()
  let seen = 0
  try {
    while (!stopping) {
      if (blocked) {
        const drained = await new Promise<'drain' | 'stop'>((resolve) => {
          interrupt = resolve
          process.stdout.once('drain', () => resolve('drain'))
        })
        blocked = false
        if (drained === 'stop') break
      }
      const next = await new Promise<IteratorResult<ConsumerRecord> | 'stop'>((resolve, reject) => {
        interrupt = resolve
        records.next().then(resolve, reject)
      })
      interrupt = undefined
      if (next === 'stop' || next.done) break
      const r = next.value
      pending += formatRecord(r, opts.format)
      if (pending.length >= 65536) flush()
      else if (!flushScheduled) {
        flushScheduled = true
        setImmediate(flush)
      }
      printed.set(`${r.topic}\u0000${r.partition}`, {
        topic: r.topic,
        partition: r.partition,
        offset: r.offset + 1,
        leaderEpoch: r.leaderEpoch,
      })
      dirty = true
      if (opts.count !== undefined && ++seen >= opts.count) break
    }
    if (timer) clearInterval(timer)
    await commit()
  } finally {
    flush()
    if (timer) clearInterval(timer)
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await consumer.close()
  }
  return 0
}

const text = (b: Buffer | null) => (b === null ? null : b.toString('utf8'))

function formatRecord(r: ConsumerRecord, format: Format): string {
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
