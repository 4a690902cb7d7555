import {
  CLIENT_OPTIONS_HELP,
  UsageError,
  clientOptions,
  kafkaFor,
  noMorePositionals,
  parse,
} from '../args.js'
import { printFields, printJson, printTable } from '../output.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo cluster info [options]

Cluster id, controller, brokers and the number of topics.

${CLIENT_OPTIONS_HELP}
`

export const cluster: Command = {
  name: 'cluster',
  summary: 'cluster id, controller, brokers and topic count',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, clientOptions)
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    const sub = positionals[0]
    if (!sub) throw new UsageError('missing subcommand: info')
    if (sub !== 'info') throw new UsageError(`unknown subcommand 'cluster ${sub}'`)
    noMorePositionals(positionals, 1)
    const admin = kafkaFor(values.bootstrap).admin()
    try {
      const [description, topics] = await Promise.all([admin.describeCluster(), admin.listTopics()])
      if (values.json) {
        printJson({ ...description, topicCount: topics.length })
        return 0
      }
      printFields([
        ['CLUSTER ID', description.clusterId],
        ['CONTROLLER', description.controllerId],
        ['TOPICS', topics.length],
      ])
      process.stdout.write('\n')
      printTable(
        ['id', 'host', 'port', 'rack'],
        description.brokers.map((b) => [
          b.nodeId === description.controllerId ? `${b.nodeId}*` : b.nodeId,
          b.host,
          b.port,
          b.rack,
        ]),
      )
      return 0
    } finally {
      await admin.close()
    }
  },
}
