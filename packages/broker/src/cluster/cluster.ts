import { randomBytes } from 'node:crypto'
import { ErrorCode } from '@fluxo/protocol'
import type { Logger } from 'pino'
import { type BrokerConfig, ConfigError, type TopicConfig, resolveTopicConfig } from '../config.js'
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
    readonly config: TopicConfig,
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

/** A random topic id; Kafka never hands out the zero id (nor ids starting with '-' in base64url). */
function newTopicId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA') return id
  }
}
