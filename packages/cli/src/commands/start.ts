import { readFile } from 'node:fs/promises'
import type { Broker } from '@fluxo/broker'
import type { Logger } from 'pino'
import { UsageError, parse } from '../args.js'
import type { Command } from './command.js'

const HELP = `Usage: fluxo start [options]

Start a Kafka-protocol broker. It runs until Ctrl-C or SIGTERM, then answers the requests it
already received, flushes its logs and exits.

Options:
  --host <host>                    interface to listen on (default 127.0.0.1)
  --port <port>                    port to listen on, 0 for any free port (default 9092)
  --advertised-listener <h:p>      address clients are told to use (default: the listening address)
  --data-dir <dir>                 data directory of the file storage (default ./fluxo-data)
  --storage <file|memory>          where partitions are stored (default file)
  --config <file.properties>       Kafka broker properties file (server.properties style)
  --set <key=value>                one Kafka broker property; repeatable; wins over --config
  --log-level <level>              trace, debug, info, warn, error (default info)
  -h, --help                       show this help

Examples:
  npx fluxo start
  npx fluxo start --port 19092 --set num.partitions=3 --set log.retention.hours=24
`

export const start: Command = {
  name: 'start',
  summary: 'start a Kafka-protocol broker',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '9092' },
      'advertised-listener': { type: 'string' },
      'data-dir': { type: 'string', default: './fluxo-data' },
      storage: { type: 'string', default: 'file' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    })
    if (values.help) {
      process.stdout.write(HELP)
      return 0
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0-65535, got '${values.port}'`)
    if (values.storage !== 'file' && values.storage !== 'memory') {
      throw new UsageError(`--storage must be 'file' or 'memory', got '${values.storage}'`)
    }
    // Loaded here, not at the top: every other command starts faster without the broker's modules.
    const { parseProperties, startBroker } = await import('@fluxo/broker')
    const config: Record<string, string> = values.config
      ? parseProperties(await readFile(values.config, 'utf8'))
      : {}
    for (const pair of values.set) {
      const eq = pair.indexOf('=')
      if (eq <= 0) throw new UsageError(`--set expects key=value, got '${pair}'`)
      config[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
    }
    // The embedded broker defaults this to 0 for tests; a real broker waits as Kafka does.
    config['group.initial.rebalance.delay.ms'] ??= '3000'

    const logger = await createLogger(values['log-level'])
    const broker = await startBroker({
      host: values.host,
      port,
      advertisedListener: values['advertised-listener'],
      storage: values.storage,
      dataDir: values['data-dir'],
      config,
      logger,
    })
    logger.info(
      {
        address: broker.bootstrap,
        storage: values.storage,
        dataDir: values.storage === 'file' ? values['data-dir'] : undefined,
        clusterId: broker.clusterId,
      },
      `Fluxo broker ready on ${broker.bootstrap}`,
    )
    return closeOnSignal(broker, logger)
  },
}

/** Human-readable logs on a terminal, JSON lines otherwise (for log collectors). */
async function createLogger(level: string): Promise<Logger> {
  const { default: pino } = await import('pino')
  if (!process.stdout.isTTY) return pino({ level })
  const { default: pretty } = await import('pino-pretty')
  return pino({ level }, pretty({ colorize: true, sync: true }))
}

function closeOnSignal(broker: Broker, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now')
        process.exit(130)
      }
      stopping = true
      logger.info({ signal }, 'shutting down: answering in-flight requests, flushing logs')
      broker.close().then(
        () => {
          logger.info('stopped')
          resolve(0)
        },
        (err) => {
          logger.error({ err }, 'shutdown failed')
          resolve(1)
        },
      )
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
