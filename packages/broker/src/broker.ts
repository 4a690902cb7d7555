import pino, { type Logger } from 'pino'
import { Cluster, type Topic } from './cluster/cluster.js'
import { LogCleaner, type LogCleanerRunOptions, type PartitionClean } from './cluster/log-cleaner.js'
import { startRetention } from './cluster/retention.js'
import { type BrokerConfig, parseBrokerConfig } from './config.js'
import { GroupCoordinator } from './coordinator/group-coordinator.js'
import { ClusterOffsetsLog } from './coordinator/offsets.js'
import { brokerTransactionCoordinator } from './coordinator/transaction-cluster.js'
import type { BrokerContext } from './handlers/handler.js'
import { handlers } from './handlers/index.js'
import { KafkaServer } from './net/server.js'
import { openFileStore } from './storage/file.js'
import { createMemoryStore } from './storage/memory.js'
import type { LogStore } from './storage/types.js'

export interface BrokerOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string
  /** Port to listen on; 0 picks a free one. Default 9092. */
  port?: number
  /** `host:port` clients are told to connect to (Metadata). Default: the listening address. */
  advertisedListener?: string
  /** `memory` (default for the embedded broker: nothing on disk) or `file`. */
  storage?: 'memory' | 'file'
  /** Directory of the file backend. Default `./fluxo-data`. */
  dataDir?: string
  /**
   * Kafka broker properties, e.g. `{ 'num.partitions': '3', 'auto.create.topics.enable': 'false' }`.
   *
   * One default differs from Kafka's in the embedded broker: `group.initial.rebalance.delay.ms` is 0
   * unless set here, so a test's consumer group forms at once instead of after Kafka's 3 s wait
   * for more members. `fluxo start` keeps Kafka's 3000.
   */
  config?: Record<string, string>
  /** A pino logger; default: warnings and errors to stderr. */
  logger?: Logger
}

export interface Broker {
  /** `host:port` to give clients as bootstrap servers. */
  readonly bootstrap: string
  readonly host: string
  readonly port: number
  readonly clusterId: string
  readonly config: BrokerConfig
  /**
   * Runs one log cleaner pass now (what log.cleaner.backoff.ms schedules when log.cleaner.enable):
   * compacts the compacted partitions that are due at `options.now`. For tests and tools.
   */
  runLogCleaner(options?: LogCleanerRunOptions): Promise<PartitionClean[]>
  /** Answers in-flight requests, then flushes and closes the storage. Safe to call twice. */
  close(): Promise<void>
}

/**
 * Starts a Kafka-protocol broker in this process.
 *
 * ```ts
 * const broker = await startBroker({ port: 0 })   // in-memory, random port
 * const kafka = new Kafka({ brokers: [broker.bootstrap] })
 * await broker.close()
 * ```
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const logger = options.logger ?? pino({ level: process.env.FLUXO_LOG_LEVEL ?? 'warn' }, pino.destination(2))
  const { config, warnings } = parseBrokerConfig(options.config ?? {})
  for (const w of warnings) logger.warn(w)
  if (options.config?.['group.initial.rebalance.delay.ms'] === undefined)
    config.groupInitialRebalanceDelayMs = 0
  const host = options.host ?? '127.0.0.1'
  const storage = options.storage ?? 'memory'
  const store: LogStore =
    storage === 'file'
      ? await openFileStore({ dataDir: options.dataDir ?? './fluxo-data', logger })
      : createMemoryStore()

  const shutdown = new AbortController()
  const self = { nodeId: config.nodeId, host, port: options.port ?? 9092, rack: null }
  const cluster = new Cluster(store, config, self, logger)
  let server: KafkaServer | undefined
  const groups = new GroupCoordinator({
    offsetsLog: new ClusterOffsetsLog(cluster),
    topics: {
      partitionCount: (topic) => cluster.topic(topic)?.partitions.length,
      logEndOffset: (topic, partition) => cluster.partition(topic, partition)?.highWatermark,
    },
    logger,
    group: {
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
    },
    offsetsRetentionMs: config.offsetsRetentionMs,
    consumerGroup: {
      sessionTimeoutMs: config.groupConsumerSessionTimeoutMs,
      heartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs,
      assignors: config.groupConsumerAssignors,
      maxSize: config.groupConsumerMaxSize,
    },
    topicMetadata: {
      byName: (name) => consumerTopic(cluster.topic(name)),
      byId: (topicId) => consumerTopic(cluster.topicById(topicId)),
      names: () =>
        cluster
          .topics()
          .filter((t) => !t.isInternal)
          .map((t) => t.name),
    },
  })
  const transactions = brokerTransactionCoordinator(cluster, groups, config, logger)
  const context: BrokerContext = {
    cluster,
    config,
    logger,
    groups,
    transactions,
    shutdown: shutdown.signal,
    apis: () => server?.supportedApis() ?? [],
  }
  try {
    await cluster.load()
    await groups.start()
    // After the partitions (producer state) and the groups (pending transactional offsets): decided
    // transactions get their markers written again.
    await transactions.start()
    server = new KafkaServer(handlers, context, logger)
    const bound = await server.listen(host, options.port ?? 9092)
    const advertised = parseListener(options.advertisedListener) ?? { host, port: bound.port }
    self.host = advertised.host
    self.port = advertised.port
    const stopRetention = startRetention(cluster, config.logRetentionCheckIntervalMs, logger)
    // Kafka runs no cleaner with log.cleaner.threads=0.
    const cleaner = new LogCleaner(cluster, config, logger)
    if (config.logCleanerEnable && config.logCleanerThreads > 0) cleaner.start()
    let closing: Promise<void> | undefined
    const activeServer = server
    return {
      bootstrap: `${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
      host,
      port: bound.port,
      clusterId: cluster.clusterId,
      config,
      runLogCleaner: (options) => cleaner.run(options),
      close() {
        closing ??= (async () => {
          shutdown.abort()
          stopRetention()
          cleaner.stop()
          transactions.close()
          await activeServer.close()
          await store.close()
        })()
        return closing
      },
    }
  } catch (err) {
    transactions.close()
    groups.close()
    await store.close()
    throw err
  }
}

function parseListener(listener: string | undefined): { host: string; port: number } | undefined {
  if (!listener) return undefined
  const at = listener.lastIndexOf(':')
  const port = Number(listener.slice(at + 1))
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`advertised listener must be host:port, got '${listener}'`)
  }
  return { host: listener.slice(0, at).replace(/^\[|\]$/g, ''), port }
}

function consumerTopic(topic: Topic | undefined) {
  return topic && { topicId: topic.topicId, name: topic.name, numPartitions: topic.partitions.length }
}
