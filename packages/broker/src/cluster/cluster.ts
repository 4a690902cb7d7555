import { randomBytes } from 'node:crypto'
import { ErrorCode } from '@fluxo/protocol'
import type { Logger } from 'pino'
import {
  type BrokerConfig,
  ConfigError,
  type DynamicBrokerConfigs,
  type TopicConfig,
  resolveTopicConfig,
  withDynamicBrokerConfigs,
} from '../config.js'
import type { LogConfig, LogStore, TopicRecord } from '../storage/types.js'
import { Partition } from './partition.js'

/** This broker as clients see it in Metadata. */
export interface BrokerNode {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

/** Kafka's internal topics (Topic.isInternal): Metadata lists them with isInternal=true. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state'])

export class Topic {
  constructor(
    readonly record: TopicRecord,
    /** Replaced (never mutated) when the topic's or the broker's configs are altered. */
    public config: TopicConfig,
    readonly partitions: Partition[],
  ) {}

  get name(): string {
    return this.record.name
  }
  get topicId(): string {
    return this.record.topicId
  }
  get isInternal(): boolean {
    return INTERNAL_TOPICS.has(this.record.name)
  }
}

/** A Kafka error code with a message, for per-topic admin results. */
export class TopicError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message)
    this.name = 'TopicError'
  }
}

const LEGAL_TOPIC_CHARS = /^[a-zA-Z0-9._-]+$/
const MAX_TOPIC_NAME_LENGTH = 249

/** Kafka's topic name rules (org.apache.kafka.common.internals.Topic.validate). */
export function topicNameError(name: string): string | null {
  if (name.length === 0) return 'topic name is empty'
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`
  if (name.length > MAX_TOPIC_NAME_LENGTH)
    return `topic name is longer than ${MAX_TOPIC_NAME_LENGTH} characters`
  if (!LEGAL_TOPIC_CHARS.test(name)) return `topic name "${name}" has characters outside [a-zA-Z0-9._-]`
  return null
}

function logConfig(config: TopicConfig): LogConfig {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    indexIntervalBytes: config.indexIntervalBytes,
    flushMessages: config.flushMessages,
    flushMs: config.flushMs,
  }
}

/** Topics and partitions this broker serves, backed by the storage backend's topic records. */
export class Cluster {
  private readonly byName = new Map<string, Topic>()
  private readonly byId = new Map<string, Topic>()
  private readonly creating = new Map<string, Promise<Topic>>()
  clusterId = ''

  constructor(
    readonly store: LogStore,
    readonly config: BrokerConfig,
    readonly self: BrokerNode,
    private readonly logger: Logger,
  ) {}

  async load(): Promise<void> {
    this.clusterId = await this.store.clusterId()
    for (const record of await this.store.loadTopics()) {
      const config = resolveTopicConfig(this.config, record.configs)
      await this.open(record, config)
    }
  }

  topics(): Topic[] {
    return [...this.byName.values()]
  }

  topic(name: string): Topic | undefined {
    return this.byName.get(name)
  }

  topicById(topicId: string): Topic | undefined {
    return this.byId.get(topicId)
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.byName.get(topic)?.partitions[index]
  }

  /** Validates a creation request; returns the resolved config or throws TopicError. */
  checkCreate(
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
  ) {
    const nameError = topicNameError(name)
    if (nameError) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError)
    if (this.byName.has(name) || this.creating.has(name)) {
      throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`)
    }
    const partitions = numPartitions === -1 ? this.config.numPartitions : numPartitions
    if (partitions <= 0)
      throw new TopicError(ErrorCode.INVALID_PARTITIONS, 'number of partitions must be larger than 0')
    const replication = replicationFactor === -1 ? this.config.defaultReplicationFactor : replicationFactor
    if (replication <= 0) {
      throw new TopicError(ErrorCode.INVALID_REPLICATION_FACTOR, 'replication factor must be larger than 0')
    }
    if (replication > 1) {
      throw new TopicError(
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `replication factor ${replication} is larger than the 1 available broker`,
      )
    }
    try {
      return { partitions, config: resolveTopicConfig(this.config, configs) }
    } catch (err) {
      if (err instanceof ConfigError) throw new TopicError(ErrorCode.INVALID_CONFIG, err.message)
      throw err
    }
  }

  async createTopic(
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
  ): Promise<Topic> {
    const { partitions, config } = this.checkCreate(name, numPartitions, replicationFactor, configs)
    const record: TopicRecord = { name, topicId: newTopicId(), partitions, configs }
    const pending = (async () => {
      await this.store.saveTopic(record)
      return this.open(record, config)
    })()
    this.creating.set(name, pending)
    try {
      const topic = await pending
      this.logger.info({ topic: name, topicId: record.topicId, partitions }, 'topic created')
      return topic
    } finally {
      this.creating.delete(name)
    }
  }

  /** Auto-creation (Metadata/Produce) with the broker's defaults; concurrent callers share one creation. */
  async autoCreate(name: string): Promise<Topic> {
    const existing = this.byName.get(name) ?? (await this.creating.get(name))
    if (existing) return existing
    return this.createTopic(name, -1, -1, {})
  }

  /**
   * Validates growing topic `name` to `count` partitions (CreatePartitions) with the answers of
   * Kafka's ReplicationControlManager.createPartitions; returns the topic or throws TopicError.
   */
  checkCreatePartitions(name: string, count: number): Topic {
    const topic = this.byName.get(name)
    if (!topic) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`)
    // Kafka allows it, but the group coordinator finds a group's offsets by hashing over the
    // __consumer_offsets partitions: more of them would lose every group's committed offsets.
    if (topic.isInternal) {
      throw new TopicError(ErrorCode.INVALID_REQUEST, `internal topic '${name}' cannot get more partitions`)
    }
    const current = topic.partitions.length
    if (count === current) {
      throw new TopicError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`)
    }
    if (count < current) {
      throw new TopicError(
        ErrorCode.INVALID_PARTITIONS,
        `The topic ${name} currently has ${current} partition(s); ${count} would not be an increase.`,
      )
    }
    return topic
  }

  /** Partition count changes run one at a time, each checked against the count the previous left. */
  private partitionChanges: Promise<unknown> = Promise.resolve()

  /**
   * Grows topic `name` to `count` partitions. The topic record with the new count is saved first,
   * so a crash before the new logs open still creates them on the next start; then they open and
   * join the topic, and Metadata lists them.
   */
  createPartitions(name: string, count: number): Promise<Topic> {
    const change = this.partitionChanges.then(async () => {
      const topic = this.checkCreatePartitions(name, count)
      const from = topic.partitions.length
      await this.store.saveTopic({ ...topic.record, partitions: count })
      const added: Partition[] = []
      for (let i = from; i < count; i++) {
        const log = await this.store.openPartition(topic.record, i, logConfig(topic.config))
        added.push(new Partition(name, i, log, topic.config, this.logger))
      }
      if (this.byName.get(name) !== topic) {
        // Deleted meanwhile: remove what the new partitions left, or a later topic of that name
        // would find directories of another topic id.
        if (!this.byName.has(name)) await this.store.deleteTopic({ ...topic.record, partitions: count })
        throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' was deleted`)
      }
      topic.partitions.push(...added)
      topic.record.partitions = count
      this.logger.info({ topic: name, topicId: topic.topicId, from, to: count }, 'partitions created')
      return topic
    })
    this.partitionChanges = change.catch(() => {})
    return change
  }

  /**
   * Replaces the whole override set of topic `name`: with `configs` (AlterConfigs), or with what
   * `configs` computes from the current overrides (IncrementalAlterConfigs; a ConfigError it throws
   * is INVALID_CONFIG). Validated as at creation (TopicError INVALID_CONFIG naming the key); unless
   * `validateOnly`, saved with the topic record (so it survives restart) and applied to every
   * partition at once. Runs in the queue of partition changes, so no change is computed from, or
   * saved over, a record another change is writing.
   */
  alterTopicConfigs(name: string, configs: ConfigChange, validateOnly = false): Promise<TopicConfig> {
    const change = this.partitionChanges.then(async () => {
      const topic = this.byName.get(name)
      if (!topic)
        throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`)
      const overrides = computeChange(configs, topic.record.configs)
      const config = this.resolveOrThrow(overrides, ErrorCode.INVALID_CONFIG)
      if (validateOnly) return config
      await this.store.saveTopic({ ...topic.record, configs: { ...overrides } })
      if (this.byName.get(name) !== topic) {
        throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' was deleted.`)
      }
      topic.record.configs = { ...overrides }
      this.applyTopicConfig(topic, config)
      this.logger.info({ topic: name, configs: overrides }, 'topic configs altered')
      return config
    })
    this.partitionChanges = change.catch(() => {})
    return change
  }

  /**
   * Replaces the dynamic broker configs of one scope (KIP-226): this broker's (`perBroker`) or the
   * cluster default; `configs` as for alterTopicConfigs. Every topic is re-resolved and reconfigured at once, so topic configs without
   * an override follow. A non-dynamic name, a bad value, or a value that makes some topic's config
   * invalid throws TopicError INVALID_REQUEST, as Kafka answers for broker resources
   * (KAFKA-13609). Fluxo keeps these in memory only: they are lost at restart.
   */
  alterBrokerConfigs(perBroker: boolean, configs: ConfigChange, validateOnly = false): Promise<void> {
    const change = this.partitionChanges.then(async () => {
      const current = this.config.dynamic
      const dynamic: DynamicBrokerConfigs = perBroker
        ? { broker: computeChange(configs, current.broker), clusterDefault: current.clusterDefault }
        : { broker: current.broker, clusterDefault: computeChange(configs, current.clusterDefault) }
      let next: BrokerConfig
      try {
        next = withDynamicBrokerConfigs(this.config, dynamic)
      } catch (err) {
        if (err instanceof ConfigError) throw new TopicError(ErrorCode.INVALID_REQUEST, err.message)
        throw err
      }
      const resolved = this.topics().map((topic) => {
        try {
          return { topic, config: resolveTopicConfig(next, topic.record.configs) }
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err
          throw new TopicError(ErrorCode.INVALID_REQUEST, `topic '${topic.name}': ${err.message}`)
        }
      })
      if (validateOnly) return
      Object.assign(this.config, next)
      for (const { topic, config } of resolved) this.applyTopicConfig(topic, config)
      this.logger.info({ perBroker, configs: dynamic }, 'dynamic broker configs altered')
      if (this.store.kind === 'file')
        this.logger.warn('dynamic broker configs are kept in memory: they are lost when the broker restarts')
    })
    this.partitionChanges = change.catch(() => {})
    return change
  }

  private resolveOrThrow(configs: Record<string, string>, errorCode: number): TopicConfig {
    try {
      return resolveTopicConfig(this.config, configs)
    } catch (err) {
      if (err instanceof ConfigError) throw new TopicError(errorCode, err.message)
      throw err
    }
  }

  private applyTopicConfig(topic: Topic, config: TopicConfig): void {
    topic.config = config
    for (const partition of topic.partitions) partition.reconfigure(config, logConfig(config))
  }

  async deleteTopic(topic: Topic): Promise<void> {
    this.byName.delete(topic.name)
    this.byId.delete(topic.topicId)
    await this.store.deleteTopic(topic.record)
    this.logger.info({ topic: topic.name, topicId: topic.topicId }, 'topic deleted')
  }

  private async open(record: TopicRecord, config: TopicConfig): Promise<Topic> {
    const partitions: Partition[] = []
    for (let i = 0; i < record.partitions; i++) {
      const log = await this.store.openPartition(record, i, logConfig(config))
      partitions.push(new Partition(record.name, i, log, config, this.logger))
    }
    const topic = new Topic(record, config, partitions)
    this.byName.set(record.name, topic)
    this.byId.set(record.topicId, topic)
    return topic
  }
}

/** New configs for a resource, or how to compute them from its current ones. */
export type ConfigChange =
  | Readonly<Record<string, string>>
  | ((current: Readonly<Record<string, string>>) => Record<string, string>)

function computeChange(
  change: ConfigChange,
  current: Readonly<Record<string, string>>,
): Record<string, string> {
  if (typeof change !== 'function') return { ...change }
  try {
    return change(current)
  } catch (err) {
    if (err instanceof ConfigError) throw new TopicError(ErrorCode.INVALID_CONFIG, err.message)
    throw err
  }
}

/** A random topic id; Kafka never hands out the zero id (nor ids starting with '-' in base64url). */
function newTopicId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA') return id
  }
}
