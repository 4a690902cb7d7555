import { type Admin, KafkaError } from '@fluxo/client'
import { ErrorCode } from '@fluxo/protocol'
import {
  CLIENT_OPTIONS_HELP,
  UsageError,
  clientOptions,
  intOption,
  kafkaFor,
  noMorePositionals,
  parse,
  parseTime,
  positional,
} from '../args.js'
import { printFields, printJson, printTable } from '../output.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo group <subcommand> [options]

Subcommands:
  list                  consumer groups with their state and protocol type
  describe GROUP        state, members (client id, host, assigned partitions), and per partition
                        the committed offset, the log end offset and the lag
  reset-offsets GROUP --topic TOPIC (--to-earliest | --to-latest | --to-offset N | --to-time TIME)
                        [--dry-run]
                        move the group's committed offsets of a topic; the group must have no
                        active members. --to-offset is kept within each partition's offsets;
                        --to-time takes an ISO date, epoch ms or a duration before now (10m, 1h)
  delete GROUP          delete a group without members and its committed offsets

${CLIENT_OPTIONS_HELP}

Examples:
  fluxo group describe billing
  fluxo group reset-offsets billing --topic orders --to-time 1h --dry-run
`

const options = {
  ...clientOptions,
  topic: { type: 'string' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  'to-offset': { type: 'string' },
  'to-time': { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const

type Values = ReturnType<typeof parse<typeof options>>['values']

export const group: Command = {
  name: 'group',
  summary: 'list, describe, delete consumer groups and reset their offsets',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, options)
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    const sub = positionals[0]
    if (!sub) throw new UsageError('missing subcommand: list, describe, reset-offsets or delete')
    const resetFlags = ['topic', 'to-earliest', 'to-latest', 'to-offset', 'to-time', 'dry-run'] as const
    if (sub !== 'reset-offsets')
      for (const flag of resetFlags)
        if (values[flag] !== undefined)
          throw new UsageError(`--${flag} applies only to 'group reset-offsets'`)
    const json = values.json === true
    let work: (admin: Admin) => Promise<number>
    switch (sub) {
      case 'list':
        noMorePositionals(positionals, 1)
        work = (admin) => listGroups(admin, json)
        break
      case 'describe': {
        const id = positional(positionals, 1, 'group id')
        noMorePositionals(positionals, 2)
        work = (admin) => describeGroup(admin, id, json)
        break
      }
      case 'reset-offsets': {
        const id = positional(positionals, 1, 'group id')
        noMorePositionals(positionals, 2)
        const target = resetTarget(values)
        work = (admin) => resetOffsets(admin, id, values.topic!, target, values['dry-run'] === true, json)
        break
      }
      case 'delete': {
        const id = positional(positionals, 1, 'group id')
        noMorePositionals(positionals, 2)
        work = async (admin) => {
          await admin.deleteGroups([id])
          if (json) printJson({ groupId: id, deleted: true })
          else process.stdout.write(`Deleted group ${id}\n`)
          return 0
        }
        break
      }
      default:
        throw new UsageError(`unknown subcommand 'group ${sub}'`)
    }
    const admin = kafkaFor(values.bootstrap).admin()
    try {
      return await work(admin)
    } finally {
      await admin.close()
    }
  },
}

async function listGroups(admin: Admin, json: boolean): Promise<number> {
  const groups = await admin.listGroups()
  if (json) printJson(groups)
  else
    printTable(
      ['group', 'state', 'protocol-type', 'type'],
      groups.map((g) => [g.groupId, g.state, g.protocolType, g.type]),
    )
  return 0
}

interface PartitionLag {
  topic: string
  partition: number
  committedOffset: number | null
  /** null when the topic no longer exists (its committed offsets outlive it). */
  logEndOffset: number | null
  lag: number | null
  memberId: string | null
}

async function describeGroup(admin: Admin, groupId: string, json: boolean): Promise<number> {
  const [[description], committed] = await Promise.all([
    admin.describeGroups([groupId]),
    admin.fetchOffsets(groupId),
  ])
  if (description.state === 'Dead' && committed.every((t) => t.partitions.length === 0))
    throw new KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, `group ${groupId} does not exist`, { groupId })

  const owner = new Map<string, string>()
  const topics = new Set(committed.filter((t) => t.partitions.length > 0).map((t) => t.topic))
  for (const m of description.members)
    for (const a of m.assignment) {
      topics.add(a.topic)
      for (const p of a.partitions) owner.set(`${a.topic}\u0000${p}`, m.memberId)
    }
  const partitions: PartitionLag[] = []
  for (const topic of [...topics].sort()) {
    const offsets = committed.find((t) => t.topic === topic)?.partitions ?? []
    const ends = await logEndOffsets(admin, topic)
    const numbers = new Set([...offsets.map((o) => o.partition), ...ends.keys()])
    for (const partition of [...numbers].sort((a, b) => a - b)) {
      const key = `${topic}\u0000${partition}`
      const committedOffset = offsets.find((o) => o.partition === partition)?.offset ?? null
      if (committedOffset === null && !owner.has(key)) continue
      const end = ends.get(partition) ?? null
      partitions.push({
        topic,
        partition,
        committedOffset,
        logEndOffset: end,
        lag: committedOffset === null || end === null ? null : Math.max(0, end - committedOffset),
        memberId: owner.get(key) ?? null,
      })
    }
  }
  const totalLag = partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0)
  const members = description.members.map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    assignment: m.assignment,
  }))
  if (json) {
    printJson({
      groupId,
      state: description.state,
      protocolType: description.protocolType,
      protocol: description.protocol,
      members,
      partitions,
      totalLag,
    })
    return 0
  }
  printFields([
    ['GROUP', groupId],
    ['STATE', description.state],
    ['PROTOCOL', description.protocol || '-'],
    ['MEMBERS', members.length],
    ['TOTAL LAG', totalLag],
  ])
  if (members.length > 0) {
    process.stdout.write('\n')
    printTable(
      ['member-id', 'client-id', 'host', 'assignment'],
      members.map((m) => [
        m.memberId,
        m.clientId,
        m.clientHost,
        m.assignment.map((a) => `${a.topic}[${a.partitions.join(',')}]`).join(' ') || '-',
      ]),
    )
  }
  if (partitions.length > 0) {
    process.stdout.write('\n')
    printTable(
      ['topic', 'partition', 'current-offset', 'log-end-offset', 'lag', 'member-id'],
      partitions.map((p) => [p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag, p.memberId]),
    )
  }
  return 0
}

/** Each partition's log end offset; none for a topic that was deleted. */
async function logEndOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  try {
    return new Map((await admin.listOffsets(topic, 'latest')).map((p) => [p.partition, p.offset]))
  } catch (err) {
    if (err instanceof KafkaError && err.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return new Map()
    throw err
  }
}

type ResetTarget =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'time'; timestamp: number }

function resetTarget(values: Values): ResetTarget {
  if (values.topic === undefined) throw new UsageError('reset-offsets needs --topic TOPIC')
  const targets: ResetTarget[] = []
  if (values['to-earliest']) targets.push({ kind: 'earliest' })
  if (values['to-latest']) targets.push({ kind: 'latest' })
  const offset = intOption(values['to-offset'], '--to-offset')
  if (offset !== undefined) targets.push({ kind: 'offset', offset })
  if (values['to-time'] !== undefined)
    targets.push({ kind: 'time', timestamp: parseTime(values['to-time'], '--to-time') })
  if (targets.length !== 1)
    throw new UsageError(
      'reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset N, --to-time TIME',
    )
  return targets[0]
}

async function resetOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
  target: ResetTarget,
  dryRun: boolean,
  json: boolean,
): Promise<number> {
  const [[description], committed, earliest, latest] = await Promise.all([
    admin.describeGroups([groupId]),
    admin.fetchOffsets(groupId, [topic]),
    admin.listOffsets(topic, 'earliest'),
    admin.listOffsets(topic, 'latest'),
  ])
  // As kafka-consumer-groups: members would overwrite the new offsets with their next commit.
  if (description.state !== 'Empty' && description.state !== 'Dead')
    throw new KafkaError(
      ErrorCode.NON_EMPTY_GROUP,
      `group ${groupId} is ${description.state} with ${description.members.length} member(s); stop its consumers first`,
      { groupId },
    )
  const byTime = target.kind === 'time' ? await admin.listOffsets(topic, target.timestamp) : []
  const previous = committed[0]?.partitions ?? []
  const rows = latest.map((end) => {
    const start = earliest.find((e) => e.partition === end.partition)?.offset ?? 0
    let offset: number
    if (target.kind === 'earliest') offset = start
    else if (target.kind === 'latest') offset = end.offset
    else if (target.kind === 'offset') offset = Math.min(Math.max(target.offset, start), end.offset)
    else {
      const found = byTime.find((p) => p.partition === end.partition)?.offset ?? -1
      offset = found < 0 ? end.offset : found
    }
    return {
      topic,
      partition: end.partition,
      previousOffset: previous.find((p) => p.partition === end.partition)?.offset ?? null,
      newOffset: offset,
    }
  })
  if (!dryRun)
    await admin.resetOffsets(groupId, topic, Object.fromEntries(rows.map((r) => [r.partition, r.newOffset])))
  if (json) printJson({ groupId, topic, dryRun, partitions: rows })
  else {
    printTable(
      ['topic', 'partition', 'previous-offset', 'new-offset'],
      rows.map((r) => [r.topic, r.partition, r.previousOffset, r.newOffset]),
    )
    if (dryRun) process.stdout.write('(dry run: nothing committed)\n')
  }
  return 0
}
