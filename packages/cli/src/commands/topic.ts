import type { Admin } from '@fluxo/client'
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
import { printFields, printJson, printTable } from '../output.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo topic <subcommand> [options]

Subcommands:
  create NAME [--partitions N] [--config key=value ...]
                        create a topic (default partitions: the broker's num.partitions)
  list                  topics and their partition counts
  describe NAME         partitions (leader, earliest and latest offset) and configs;
                        configs set on the topic or the broker are marked with *
  delete NAME           delete a topic and its records
  alter-config NAME [--set key=value ...] [--delete key ...]
                        change single configs (IncrementalAlterConfigs); others stay

${CLIENT_OPTIONS_HELP}

Examples:
  fluxo topic create orders --partitions 3 --config retention.ms=86400000
  fluxo topic describe orders --json
  fluxo topic alter-config orders --set cleanup.policy=compact --delete retention.ms
`

/** Kafka's ConfigSource values (DescribeConfigs v1+). */
const CONFIG_SOURCES: Record<number, string> = {
  1: 'topic',
  2: 'broker',
  3: 'cluster-default',
  4: 'broker-static',
  5: 'default',
  6: 'broker-logger',
}

const options = {
  ...clientOptions,
  partitions: { type: 'string' },
  config: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  delete: { type: 'string', multiple: true },
} as const

export const topic: Command = {
  name: 'topic',
  summary: 'create, list, describe, delete topics and change their configs',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, options)
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    const sub = positionals[0]
    if (!sub) throw new UsageError('missing subcommand: create, list, describe, delete or alter-config')
    const only = (allowed: string[]) => {
      for (const key of ['partitions', 'config', 'set', 'delete'] as const)
        if (values[key] !== undefined && !allowed.includes(key))
          throw new UsageError(`--${key} does not apply to 'topic ${sub}'`)
    }
    const json = values.json === true
    const withAdmin = async (fn: (admin: Admin) => Promise<void>) => {
      const admin = kafkaFor(values.bootstrap).admin()
      try {
        await fn(admin)
      } finally {
        await admin.close()
      }
      return 0
    }
    switch (sub) {
      case 'create': {
        only(['partitions', 'config'])
        const name = positional(positionals, 1, 'topic name')
        noMorePositionals(positionals, 2)
        const partitions = intOption(values.partitions, '--partitions', 1, 0x7fffffff)
        const configs = Object.fromEntries(keyValues(values.config, '--config'))
        return withAdmin(async (admin) => {
          const [created] = await admin.createTopics([{ name, partitions, configs }])
          if (json) printJson(created)
          else process.stdout.write(`Created topic ${name} with ${created.partitions} partition(s)\n`)
        })
      }
      case 'list': {
        only([])
        noMorePositionals(positionals, 1)
        return withAdmin(async (admin) => {
          const names = await admin.listTopics()
          const infos = names.length > 0 ? await admin.describeTopics(names) : []
          const rows = infos.map((t) => ({
            name: t.name,
            topicId: t.topicId,
            partitions: t.partitions.length,
          }))
          if (json) printJson(rows)
          else
            printTable(
              ['name', 'partitions', 'id'],
              rows.map((r) => [r.name, r.partitions, r.topicId]),
            )
        })
      }
      case 'describe': {
        only([])
        const name = positional(positionals, 1, 'topic name')
        noMorePositionals(positionals, 2)
        return withAdmin((admin) => describeTopic(admin, name, json))
      }
      case 'delete': {
        only([])
        const name = positional(positionals, 1, 'topic name')
        noMorePositionals(positionals, 2)
        return withAdmin(async (admin) => {
          await admin.deleteTopics([name])
          if (json) printJson({ name, deleted: true })
          else process.stdout.write(`Deleted topic ${name}\n`)
        })
      }
      case 'alter-config': {
        only(['set', 'delete'])
        const name = positional(positionals, 1, 'topic name')
        noMorePositionals(positionals, 2)
        const changes = [
          ...keyValues(values.set, '--set').map(([key, value]) => ({ name: key, op: 'set' as const, value })),
          ...(values.delete ?? []).map((key) => ({ name: key, op: 'delete' as const })),
        ]
        if (changes.length === 0) throw new UsageError('alter-config needs --set key=value or --delete key')
        return withAdmin(async (admin) => {
          await admin.incrementalAlterConfigs([{ type: 'topic', name, changes }])
          if (json) printJson({ name, changes })
          else
            for (const c of changes)
              process.stdout.write(
                c.op === 'set' ? `Set ${c.name}=${c.value} on ${name}\n` : `Deleted ${c.name} from ${name}\n`,
              )
        })
      }
      default:
        throw new UsageError(`unknown subcommand 'topic ${sub}'`)
    }
  },
}

async function describeTopic(admin: Admin, name: string, json: boolean): Promise<void> {
  const [info] = await admin.describeTopics([name])
  const [earliest, latest, [configs]] = await Promise.all([
    admin.listOffsets(name, 'earliest'),
    admin.listOffsets(name, 'latest'),
    admin.describeConfigs([{ type: 'topic', name }]),
  ])
  const offsetOf = (list: typeof earliest, p: number) => list.find((x) => x.partition === p)?.offset ?? -1
  const partitions = info.partitions.map((p) => ({
    partition: p.partition,
    leader: p.leader,
    leaderEpoch: p.leaderEpoch,
    replicas: p.replicas,
    isr: p.isr,
    earliestOffset: offsetOf(earliest, p.partition),
    latestOffset: offsetOf(latest, p.partition),
  }))
  const configList = configs.configs
    .map((c) => ({
      name: c.name,
      value: c.isSensitive ? null : c.value,
      isDefault: c.isDefault,
      source: CONFIG_SOURCES[c.source] ?? 'unknown',
      readOnly: c.readOnly,
      isSensitive: c.isSensitive,
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
  if (json) {
    printJson({
      name: info.name,
      topicId: info.topicId,
      isInternal: info.isInternal,
      partitions,
      configs: configList,
    })
    return
  }
  printFields([
    ['NAME', info.name],
    ['ID', info.topicId],
    ['INTERNAL', info.isInternal],
    ['PARTITIONS', info.partitions.length],
  ])
  process.stdout.write('\n')
  printTable(
    ['partition', 'leader', 'epoch', 'replicas', 'earliest', 'latest'],
    partitions.map((p) => [
      p.partition,
      p.leader,
      p.leaderEpoch,
      `[${p.replicas.join(',')}]`,
      p.earliestOffset,
      p.latestOffset,
    ]),
  )
  process.stdout.write('\n')
  printTable(
    ['  config', 'value', 'source'],
    configList.map((c) => [
      `${c.isDefault ? ' ' : '*'} ${c.name}`,
      c.isSensitive ? '(sensitive)' : (c.value ?? ''),
      c.source,
    ]),
  )
}
