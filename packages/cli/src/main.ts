import { KafkaError } from '@fluxo/client'
import { UsageError } from './args.js'
import { cluster } from './commands/cluster.js'
import type { Command } from './commands/command.js'
import { consume } from './commands/consume.js'
import { group } from './commands/group.js'
import { produce } from './commands/produce.js'
import { start } from './commands/start.js'
import { topic } from './commands/topic.js'

const COMMANDS: readonly Command[] = [start, topic, produce, consume, group, cluster]

const HELP = `Usage: fluxo <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Every command but start takes --bootstrap <host:port,...> (env FLUXO_BOOTSTRAP, default
127.0.0.1:9092) and --json. Run 'fluxo <command> --help' for its options.

Exit codes: 0 success, 1 a Kafka or connection error, 2 a bad command line.

Examples:
  npx fluxo start
  npx fluxo topic create orders --partitions 3
  printf 'k1|hello\\nk2|world\\n' | npx fluxo produce orders --key-separator '|'
  npx fluxo consume orders --from-beginning --count 2
`

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    process.stderr.write(`fluxo: unknown command '${name}'\n\n${HELP}`)
    return 2
  }
  try {
    return await command.run(rest)
  } catch (err) {
    return reportError(err, command)
  }
}

/** One line on stderr: usage errors exit 2, Kafka and other failures exit 1. */
function reportError(err: unknown, command: Command): number {
  if (err instanceof UsageError) {
    process.stderr.write(`fluxo: ${oneLine(err.message)} (see 'fluxo ${command.name} --help')\n`)
    return 2
  }
  let message = err instanceof Error ? err.message : String(err)
  if (err instanceof KafkaError) {
    const where = err.topic ?? err.groupId ?? err.resource
    if (where !== undefined && !message.includes(where))
      message = `${message} [${err.partition === undefined ? where : `${where}-${err.partition}`}]`
  }
  process.stderr.write(`fluxo: ${oneLine(message)}\n`)
  return 1
}

const oneLine = (text: string) => text.replaceAll(/\s*\n\s*/g, ' ')
