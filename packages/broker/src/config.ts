/**
 * Broker properties and topic configs: one table each, with Kafka's names, types, defaults and
 * valid ranges (Kafka 4.0's documentation; KIP-1030 set the 4.0 values of segment.bytes' minimum and
 * message.timestamp.after.max.ms' default). Each topic config names the broker property its default
 * comes from ("Server Default Property" in Kafka's docs), so a topic without overrides inherits the
 * broker's resolved values. Parsing follows Kafka's ConfigDef: values are trimmed, numbers are
 * decimal, booleans are true/false in any case, lists are comma-separated.
 *
 * What DescribeConfigs reports (values as Kafka prints them, sources, synonyms) is computed here as
 * Kafka's ConfigHelper does, over four layers: per-broker and cluster-default dynamic configs
 * (KIP-226, set through AlterConfigs), the static properties, and the defaults.
 * docs/configs.md is generated from these tables (packages/broker/scripts/config-docs.ts).
 */
import { FluxoError } from '@fluxo/protocol'

export type ConfigType = 'int' | 'long' | 'double' | 'boolean' | 'string' | 'list' | 'class' | 'password'
export type ConfigValue = string | number | boolean | null | readonly string[]

export interface ConfigDef {
  name: string
  type: ConfigType
  /** null: unset, some other property (or a derived value) applies. */
  default: ConfigValue
  doc: string
  validValues?: readonly string[]
  min?: number
  max?: number
  /** A rule beyond min/max/validValues (Kafka's custom validators): why `value` is refused, or null. */
  validator?: { check: (value: ConfigValue) => string | null; doc: string }
  /** Broker properties: the topic config whose broker-level default this is. */
  topicConfig?: string
  /**
   * Topic configs: the broker property the default comes from. Unset for the few Kafka topic
   * configs without a server default (replication throttles, tiered storage switches).
   */
  brokerConfig?: string
  /**
   * Broker properties: AlterConfigs may change it at runtime (KIP-226). Kafka's DynamicLogConfig
   * makes exactly the broker defaults of topic configs dynamic among the log properties.
   */
  dynamic?: boolean
}

/** A bad property or topic config; `key` names it when there is one. Kafka answers INVALID_CONFIG. */
export class ConfigError extends FluxoError {
  readonly key: string | undefined

  constructor(key: string | undefined, message: string, options?: { cause?: unknown }) {
    super('ERR_FLUXO_CONFIG', message, options)
    this.key = key
  }
}

/**
 * Kafka's Long.MAX_VALUE ("no limit") as a JavaScript number: larger longs are clamped to it, which
 * changes no behaviour, since no limit of 2^53 ms or messages is ever reached.
 */
const LONG_MAX = Number.MAX_SAFE_INTEGER
const INT_MIN = -2147483648
const INT_MAX = 2147483647
const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000

/** Broker properties that stand in for an unset one (parseBrokerConfig resolves them, in this order). */
const derivedFrom: Readonly<Record<string, readonly string[]>> = {
  'log.roll.ms': ['log.roll.hours'],
  'log.roll.jitter.ms': ['log.roll.jitter.hours'],
  'log.retention.ms': ['log.retention.minutes', 'log.retention.hours'],
  'log.flush.interval.ms': ['log.flush.scheduler.interval.ms'],
}

const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const
const TIMESTAMP_TYPES = ['CreateTime', 'LogAppendTime'] as const
const CLEANUP_POLICIES = ['compact', 'delete'] as const

export type CompressionType = (typeof COMPRESSION_TYPES)[number]
export type TimestampType = (typeof TIMESTAMP_TYPES)[number]
export type CleanupPolicy = (typeof CLEANUP_POLICIES)[number]

/** Kafka's CompressionType.GZIP.levelValidator: a deflate level, or -1 for zlib's default (6). */
const GZIP_LEVEL = {
  check: (value: ConfigValue) => {
    const level = value as number
    return level === -1 || (level >= 1 && level <= 9) ? null : 'Value must be between 1 and 9, or -1'
  },
  doc: '[1,...,9] or -1',
}

/** Kafka's ThrottledReplicaListValidator: `*`, or partition:broker pairs. */
const THROTTLED_REPLICAS = {
  check: (value: ConfigValue) => {
    const items = value as readonly string[]
    if (items.join('').trim() === '*' || items.every((item) => /^(\d+:\d+)?$/.test(item))) return null
    return "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
  },
  doc: "[partitionId]:[brokerId],[partitionId]:[brokerId],... or the literal '*'",
}

export const topicConfigDefs: readonly ConfigDef[] = [
  {
    name: 'cleanup.policy',
    type: 'list',
    default: ['delete'],
    validValues: CLEANUP_POLICIES,
    brokerConfig: 'log.cleanup.policy',
    doc: '"delete" discards old segments past the retention time or size; "compact" keeps the latest record per key; both may be given.',
  },
  {
    name: 'compression.type',
    type: 'string',
    default: 'producer',
    validValues: COMPRESSION_TYPES,
    brokerConfig: 'compression.type',
    doc: 'Final compression of the stored batches: a codec, "uncompressed", or "producer" to keep the codec the producer used.',
  },
  {
    name: 'delete.retention.ms',
    type: 'long',
    default: 86400000,
    min: 0,
    brokerConfig: 'log.cleaner.delete.retention.ms',
    doc: 'How long tombstones are kept on compacted topics, bounding how long a consumer reading from offset 0 may take to see them.',
  },
  {
    name: 'file.delete.delay.ms',
    type: 'long',
    default: 60000,
    min: 0,
    brokerConfig: 'log.segment.delete.delay.ms',
    doc: 'Time to wait before deleting a file from the filesystem.',
  },
  {
    name: 'flush.messages',
    type: 'long',
    default: LONG_MAX,
    min: 1,
    brokerConfig: 'log.flush.interval.messages',
    doc: 'Force an fsync of the log after this many appended messages. Off by default: durability comes from replication and the OS.',
  },
  {
    name: 'flush.ms',
    type: 'long',
    default: LONG_MAX,
    min: 0,
    brokerConfig: 'log.flush.interval.ms',
    doc: 'Force an fsync of the log when data has been unflushed this long. Off by default.',
  },
  {
    name: 'index.interval.bytes',
    type: 'int',
    default: 4096,
    min: 0,
    brokerConfig: 'log.index.interval.bytes',
    doc: 'How often (in log bytes) an entry is added to the offset index.',
  },
  {
    name: 'max.message.bytes',
    type: 'int',
    default: 1048588,
    min: 0,
    brokerConfig: 'message.max.bytes',
    doc: 'Largest record batch size allowed, after compression.',
  },
  {
    name: 'message.timestamp.type',
    type: 'string',
    default: 'CreateTime',
    validValues: TIMESTAMP_TYPES,
    brokerConfig: 'log.message.timestamp.type',
    doc: "Whether a record keeps the producer's timestamp (CreateTime) or gets the broker's append time (LogAppendTime).",
  },
  {
    name: 'message.timestamp.before.max.ms',
    type: 'long',
    default: LONG_MAX,
    min: 0,
    brokerConfig: 'log.message.timestamp.before.max.ms',
    doc: 'With CreateTime, the largest allowed difference between the broker time and an earlier record timestamp.',
  },
  {
    name: 'message.timestamp.after.max.ms',
    type: 'long',
    default: 3600000,
    min: 0,
    brokerConfig: 'log.message.timestamp.after.max.ms',
    doc: 'With CreateTime, the largest allowed difference between a later record timestamp and the broker time.',
  },
  {
    name: 'min.insync.replicas',
    type: 'int',
    default: 1,
    min: 1,
    brokerConfig: 'min.insync.replicas',
    doc: 'With acks=all, the fewest in-sync replicas that must acknowledge a write, else NOT_ENOUGH_REPLICAS.',
  },
  {
    name: 'retention.bytes',
    type: 'long',
    default: -1,
    brokerConfig: 'log.retention.bytes',
    doc: 'Largest size a partition may grow to before old segments are deleted (delete policy); -1 for no limit.',
  },
  {
    name: 'retention.ms',
    type: 'long',
    default: 604800000,
    min: -1,
    brokerConfig: 'log.retention.ms',
    doc: 'How long a segment is kept before it is deleted (delete policy); -1 for no limit.',
  },
  {
    name: 'segment.bytes',
    type: 'int',
    default: 1073741824,
    min: 1048576,
    brokerConfig: 'log.segment.bytes',
    doc: 'Size of a log segment file: retention and compaction work a whole segment at a time.',
  },
  {
    name: 'segment.ms',
    type: 'long',
    default: 604800000,
    min: 1,
    brokerConfig: 'log.roll.ms',
    doc: 'Roll a new segment after this long even if the current one is not full, so that retention can delete it.',
  },
  {
    name: 'segment.index.bytes',
    type: 'int',
    default: 10485760,
    min: 4,
    brokerConfig: 'log.index.size.max.bytes',
    doc: 'Size of the index that maps offsets to file positions.',
  },
  {
    name: 'segment.jitter.ms',
    type: 'long',
    default: 0,
    min: 0,
    brokerConfig: 'log.roll.jitter.ms',
    doc: 'Largest random jitter subtracted from segment.ms, to avoid rolling every segment at once.',
  },
  {
    name: 'min.compaction.lag.ms',
    type: 'long',
    default: 0,
    min: 0,
    brokerConfig: 'log.cleaner.min.compaction.lag.ms',
    doc: 'Shortest time a record stays uncompacted.',
  },
  {
    name: 'max.compaction.lag.ms',
    type: 'long',
    default: LONG_MAX,
    min: 1,
    brokerConfig: 'log.cleaner.max.compaction.lag.ms',
    doc: 'Longest time a record may stay ineligible for compaction.',
  },
  {
    name: 'min.cleanable.dirty.ratio',
    type: 'double',
    default: 0.5,
    min: 0,
    max: 1,
    brokerConfig: 'log.cleaner.min.cleanable.ratio',
    doc: 'Compact a log once its uncompacted part is at least this fraction of it.',
  },
  {
    name: 'unclean.leader.election.enable',
    type: 'boolean',
    default: false,
    brokerConfig: 'unclean.leader.election.enable',
    doc: 'Allow an out-of-sync replica to become leader as a last resort, at the cost of data loss.',
  },
  {
    name: 'compression.gzip.level',
    type: 'int',
    default: -1,
    validator: GZIP_LEVEL,
    brokerConfig: 'compression.gzip.level',
    doc: "Compression level used when compression.type is gzip (KIP-390); -1 is zlib's default.",
  },
  {
    name: 'compression.lz4.level',
    type: 'int',
    default: 9,
    min: 1,
    max: 17,
    brokerConfig: 'compression.lz4.level',
    doc: 'Compression level used when compression.type is lz4 (KIP-390).',
  },
  {
    name: 'compression.zstd.level',
    type: 'int',
    default: 3,
    min: -131072,
    max: 22,
    brokerConfig: 'compression.zstd.level',
    doc: 'Compression level used when compression.type is zstd (KIP-390).',
  },
  {
    name: 'preallocate',
    type: 'boolean',
    default: false,
    brokerConfig: 'log.preallocate',
    doc: 'Preallocate the segment file on disk when a new segment is created. Accepted and shown; Fluxo does not preallocate.',
  },
  {
    name: 'local.retention.ms',
    type: 'long',
    default: -2,
    min: -2,
    brokerConfig: 'log.local.retention.ms',
    doc: 'Tiered storage (KIP-405): how long segments stay on local disk before deletion; -2 takes retention.ms. Fluxo has no tiered storage.',
  },
  {
    name: 'local.retention.bytes',
    type: 'long',
    default: -2,
    min: -2,
    brokerConfig: 'log.local.retention.bytes',
    doc: 'Tiered storage (KIP-405): largest local size of a partition before old segments go; -2 takes retention.bytes. Fluxo has no tiered storage.',
  },
  {
    name: 'remote.storage.enable',
    type: 'boolean',
    default: false,
    doc: 'Tiered storage (KIP-405) for the topic. Fluxo has no tiered storage: true is refused, as by a Kafka broker with remote.log.storage.system.enable=false.',
  },
  {
    name: 'remote.log.copy.disable',
    type: 'boolean',
    default: false,
    doc: 'Tiered storage (KIP-950): stop copying segments to remote storage. Accepted and shown; Fluxo has no tiered storage.',
  },
  {
    name: 'remote.log.delete.on.disable',
    type: 'boolean',
    default: false,
    doc: 'Tiered storage (KIP-950): delete remote data when tiered storage is turned off for the topic. Accepted and shown; Fluxo has no tiered storage.',
  },
  {
    name: 'leader.replication.throttled.replicas',
    type: 'list',
    default: [],
    validator: THROTTLED_REPLICAS,
    doc: 'Replicas whose replication is throttled on the leader side, as partition:broker pairs or *. Accepted and shown; a single Fluxo node does not replicate.',
  },
  {
    name: 'follower.replication.throttled.replicas',
    type: 'list',
    default: [],
    validator: THROTTLED_REPLICAS,
    doc: 'Replicas whose replication is throttled on the follower side, as partition:broker pairs or *. Accepted and shown; a single Fluxo node does not replicate.',
  },
  {
    name: 'message.downconversion.enable',
    type: 'boolean',
    default: true,
    doc: 'Deprecated: Kafka 4.0 removed message formats v0 and v1 (KIP-724), so there is nothing to down-convert; accepted as a no-op, as Kafka does.',
  },
  {
    name: 'flush.on.acks.all',
    type: 'boolean',
    default: false,
    brokerConfig: 'log.flush.on.acks.all',
    doc: 'Fluxo: when true, acks=all produce responses wait until the appended data is fsynced. See log.flush.on.acks.all.',
  },
]

const brokerDefs: readonly ConfigDef[] = [
  {
    name: 'node.id',
    type: 'int',
    default: 1,
    min: 0,
    doc: "Id of this broker. Kafka requires it (default -1); Fluxo defaults to 1, the value in Kafka's sample server.properties.",
  },
  {
    name: 'broker.id',
    type: 'int',
    default: -1,
    min: -1,
    doc: 'Older name of node.id: used when node.id is not set; when both are set they must be equal.',
  },
  {
    name: 'cluster.id',
    type: 'string',
    default: null,
    doc: 'Fluxo: the cluster id reported in Metadata and DescribeCluster. Generated and kept in the data directory when unset.',
  },
  {
    name: 'listeners',
    type: 'string',
    default: 'PLAINTEXT://:9092',
    doc: 'Comma-separated URIs to listen on, NAME://host:port; an empty host binds the default interface, 0.0.0.0 all of them.',
  },
  {
    name: 'advertised.listeners',
    type: 'string',
    default: null,
    doc: 'Listeners given to clients in Metadata, when they differ from listeners. Unset: listeners is used.',
  },
  {
    name: 'log.dir',
    type: 'string',
    default: '/tmp/kafka-logs',
    doc: 'Directory holding the log data, used when log.dirs is not set.',
  },
  {
    name: 'log.dirs',
    type: 'list',
    default: null,
    doc: 'Comma-separated directories holding the log data. Unset: log.dir is used.',
  },
  {
    name: 'num.partitions',
    type: 'int',
    default: 1,
    min: 1,
    doc: 'Partitions of an auto-created topic, and of a created topic that does not say.',
  },
  {
    name: 'default.replication.factor',
    type: 'int',
    default: 1,
    doc: 'Replication factor of an auto-created topic, and of a created topic that does not say.',
  },
  {
    name: 'auto.create.topics.enable',
    type: 'boolean',
    default: true,
    doc: 'Create a topic when a client asks Metadata for one that does not exist.',
  },
  {
    name: 'delete.topic.enable',
    type: 'boolean',
    default: true,
    doc: 'Allow DeleteTopics; when false it answers TOPIC_DELETION_DISABLED.',
  },
  {
    name: 'message.max.bytes',
    type: 'int',
    default: 1048588,
    min: 0,
    doc: 'Largest record batch size allowed, after compression.',
  },
  {
    name: 'socket.request.max.bytes',
    type: 'int',
    default: 104857600,
    min: 1,
    doc: 'Largest request accepted; a larger size prefix closes the connection.',
  },
  {
    name: 'socket.send.buffer.bytes',
    type: 'int',
    default: 102400,
    doc: 'SO_SNDBUF of the server sockets; -1 for the OS default.',
  },
  {
    name: 'socket.receive.buffer.bytes',
    type: 'int',
    default: 102400,
    doc: 'SO_RCVBUF of the server sockets; -1 for the OS default.',
  },
  {
    name: 'connections.max.idle.ms',
    type: 'long',
    default: 600000,
    doc: 'Close connections idle for longer than this.',
  },
  {
    name: 'log.segment.bytes',
    type: 'int',
    default: 1073741824,
    min: 1048576,
    doc: 'Largest size of a log segment file.',
  },
  {
    name: 'log.roll.ms',
    type: 'long',
    default: null,
    doc: 'Longest time before a new segment is rolled. Unset: log.roll.hours is used.',
  },
  {
    name: 'log.roll.hours',
    type: 'int',
    default: 168,
    min: 1,
    doc: 'Longest time before a new segment is rolled, in hours; log.roll.ms takes precedence.',
  },
  {
    name: 'log.roll.jitter.ms',
    type: 'long',
    default: null,
    doc: 'Largest jitter subtracted from the roll time. Unset: log.roll.jitter.hours is used.',
  },
  {
    name: 'log.roll.jitter.hours',
    type: 'int',
    default: 0,
    min: 0,
    doc: 'Largest jitter subtracted from the roll time, in hours; log.roll.jitter.ms takes precedence.',
  },
  {
    name: 'log.flush.interval.messages',
    type: 'long',
    default: LONG_MAX,
    min: 1,
    doc: 'Messages accumulated on a partition before they are fsynced.',
  },
  {
    name: 'log.flush.interval.ms',
    type: 'long',
    default: null,
    doc: 'Longest time a message stays in memory before it is fsynced. Unset: log.flush.scheduler.interval.ms is used.',
  },
  {
    name: 'log.flush.scheduler.interval.ms',
    type: 'long',
    default: LONG_MAX,
    doc: 'How often the flusher checks whether a log needs an fsync.',
  },
  {
    name: 'log.flush.on.acks.all',
    type: 'boolean',
    default: false,
    doc:
      'Fluxo: when true, a produce request with acks=all (-1) is answered only after the batches it appended are ' +
      'fsynced, on top of the flush.messages/flush.ms policy. Kafka relies on replication to min.insync.replicas ' +
      'instead of fsync; a single Fluxo node has no replicas, and this gives acks=all an on-disk meaning. Batches ' +
      'of concurrent requests share one fsync. Topic config: flush.on.acks.all.',
  },
  {
    name: 'log.retention.ms',
    type: 'long',
    default: null,
    doc: 'How long a segment is kept before it is deleted; -1 for no limit. Takes precedence over minutes and hours.',
  },
  {
    name: 'log.retention.minutes',
    type: 'int',
    default: null,
    doc: 'How long a segment is kept, in minutes; used when log.retention.ms is unset.',
  },
  {
    name: 'log.retention.hours',
    type: 'int',
    default: 168,
    doc: 'How long a segment is kept, in hours; used when log.retention.ms and log.retention.minutes are unset.',
  },
  {
    name: 'log.retention.bytes',
    type: 'long',
    default: -1,
    doc: 'Largest size of a partition before old segments are deleted; -1 for no limit.',
  },
  {
    name: 'log.retention.check.interval.ms',
    type: 'long',
    default: 300000,
    min: 1,
    doc: 'How often the retention policies are applied.',
  },
  {
    name: 'log.segment.delete.delay.ms',
    type: 'long',
    default: 60000,
    min: 0,
    doc: 'Time to wait before deleting a file from the filesystem.',
  },
  {
    name: 'log.index.interval.bytes',
    type: 'int',
    default: 4096,
    min: 0,
    doc: 'How often (in log bytes) an entry is added to the offset index.',
  },
  {
    name: 'log.index.size.max.bytes',
    type: 'int',
    default: 10485760,
    min: 4,
    doc: 'Largest size of an offset index file.',
  },
  {
    name: 'log.message.timestamp.type',
    type: 'string',
    default: 'CreateTime',
    validValues: TIMESTAMP_TYPES,
    doc: "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime).",
  },
  {
    name: 'log.message.timestamp.before.max.ms',
    type: 'long',
    default: LONG_MAX,
    min: 0,
    doc: 'With CreateTime, the largest allowed difference between the broker time and an earlier record timestamp.',
  },
  {
    name: 'log.message.timestamp.after.max.ms',
    type: 'long',
    default: 3600000,
    min: 0,
    doc: 'With CreateTime, the largest allowed difference between a later record timestamp and the broker time.',
  },
  {
    name: 'log.cleanup.policy',
    type: 'list',
    default: ['delete'],
    validValues: CLEANUP_POLICIES,
    doc: 'Default cleanup policy of the logs: delete, compact, or both.',
  },
  {
    name: 'log.cleaner.enable',
    type: 'boolean',
    default: true,
    doc: 'Run the log cleaner, which compacts topics with the compact policy.',
  },
  {
    name: 'log.cleaner.delete.retention.ms',
    type: 'long',
    default: 86400000,
    min: 0,
    doc: 'How long tombstones are kept on compacted topics.',
  },
  {
    name: 'log.cleaner.min.compaction.lag.ms',
    type: 'long',
    default: 0,
    min: 0,
    doc: 'Shortest time a record stays uncompacted.',
  },
  {
    name: 'log.cleaner.max.compaction.lag.ms',
    type: 'long',
    default: LONG_MAX,
    min: 1,
    doc: 'Longest time a record may stay ineligible for compaction.',
  },
  {
    name: 'log.cleaner.min.cleanable.ratio',
    type: 'double',
    default: 0.5,
    min: 0,
    max: 1,
    doc: 'Compact a log once its uncompacted part is at least this fraction of it.',
  },
  {
    name: 'log.cleaner.backoff.ms',
    type: 'long',
    default: 15000,
    min: 0,
    doc: 'How long the log cleaner sleeps when no log needs cleaning.',
  },
  {
    name: 'log.cleaner.dedupe.buffer.size',
    type: 'long',
    default: 134217728,
    doc: "Memory for the log cleaner's key to offset map (bytes), shared by its threads.",
  },
  {
    name: 'log.cleaner.io.buffer.size',
    type: 'int',
    default: 524288,
    min: 0,
    doc: "Memory for the log cleaner's read and write buffers (bytes), shared by its threads.",
  },
  {
    name: 'log.cleaner.threads',
    type: 'int',
    default: 1,
    min: 0,
    doc: 'Number of background threads used for log cleaning.',
  },
  {
    name: 'min.insync.replicas',
    type: 'int',
    default: 1,
    min: 1,
    doc: 'With acks=all, the fewest in-sync replicas that must acknowledge a write.',
  },
  {
    name: 'transactional.id.expiration.ms',
    type: 'int',
    default: 604800000,
    min: 1,
    doc: 'How long the transaction coordinator keeps a transactional id whose producer sent no transaction status update.',
  },
  {
    name: 'producer.id.expiration.ms',
    type: 'int',
    default: 86400000,
    min: 1,
    doc: 'How long a partition keeps the state of a producer id that has not written to it; idempotent retries after that are not deduplicated.',
  },
  {
    name: 'producer.id.expiration.check.interval.ms',
    type: 'int',
    default: 600000,
    min: 1,
    doc: 'How often expired producer ids are removed.',
  },
  {
    name: 'transaction.max.timeout.ms',
    type: 'int',
    default: 900000,
    min: 1,
    doc: 'Largest transaction.timeout.ms a producer may ask for; larger ones get INVALID_TRANSACTION_TIMEOUT.',
  },
  {
    name: 'transaction.state.log.num.partitions',
    type: 'int',
    default: 50,
    min: 1,
    doc: "Partitions of __transaction_state: a transactional id's coordinator is chosen by hashing it onto them.",
  },
  {
    name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    type: 'int',
    default: 10000,
    min: 1,
    doc: 'How often the transaction coordinator aborts transactions that ran past their timeout.',
  },
  {
    name: 'transaction.remove.expired.transaction.cleanup.interval.ms',
    type: 'int',
    default: 3600000,
    min: 1,
    doc: 'How often the transaction coordinator removes transactional ids past transactional.id.expiration.ms.',
  },
  {
    name: 'unclean.leader.election.enable',
    type: 'boolean',
    default: false,
    doc: 'Allow an out-of-sync replica to become leader as a last resort, at the cost of data loss.',
  },
  {
    name: 'compression.type',
    type: 'string',
    default: 'producer',
    validValues: COMPRESSION_TYPES,
    doc: 'Final compression of stored batches: a codec, "uncompressed", or "producer" to keep the producer\'s.',
  },
  {
    name: 'compression.gzip.level',
    type: 'int',
    default: -1,
    validator: GZIP_LEVEL,
    doc: "Compression level used when compression.type is gzip (KIP-390); -1 is zlib's default.",
  },
  {
    name: 'compression.lz4.level',
    type: 'int',
    default: 9,
    min: 1,
    max: 17,
    doc: 'Compression level used when compression.type is lz4 (KIP-390).',
  },
  {
    name: 'compression.zstd.level',
    type: 'int',
    default: 3,
    min: -131072,
    max: 22,
    doc: 'Compression level used when compression.type is zstd (KIP-390).',
  },
  {
    name: 'log.preallocate',
    type: 'boolean',
    default: false,
    doc: 'Preallocate segment files on disk. Accepted; Fluxo does not preallocate.',
  },
  {
    name: 'log.local.retention.ms',
    type: 'long',
    default: -2,
    min: -2,
    doc: 'Tiered storage (KIP-405): local retention time; -2 takes log.retention.ms. Fluxo has no tiered storage.',
  },
  {
    name: 'log.local.retention.bytes',
    type: 'long',
    default: -2,
    min: -2,
    doc: 'Tiered storage (KIP-405): local retention size; -2 takes log.retention.bytes. Fluxo has no tiered storage.',
  },
  {
    name: 'log.message.downconversion.enable',
    type: 'boolean',
    default: true,
    doc: 'Deprecated no-op since Kafka 4.0 removed message formats v0 and v1 (KIP-724).',
  },
  {
    name: 'group.initial.rebalance.delay.ms',
    type: 'int',
    default: 3000,
    doc: 'How long the coordinator waits for more members to join a new group before its first rebalance.',
  },
  {
    name: 'group.min.session.timeout.ms',
    type: 'int',
    default: 6000,
    doc: 'Smallest session timeout a member may ask for; smaller ones get INVALID_SESSION_TIMEOUT.',
  },
  {
    name: 'group.max.session.timeout.ms',
    type: 'int',
    default: 1800000,
    doc: 'Largest session timeout a member may ask for; larger ones get INVALID_SESSION_TIMEOUT.',
  },
  {
    name: 'group.consumer.session.timeout.ms',
    type: 'int',
    default: 45000,
    min: 1,
    doc: 'KIP-848 consumer groups: a member that sends no heartbeat for this long is removed from the group.',
  },
  {
    name: 'group.consumer.heartbeat.interval.ms',
    type: 'int',
    default: 5000,
    min: 1,
    doc: 'KIP-848 consumer groups: the heartbeat interval the coordinator tells members to use.',
  },
  {
    name: 'group.consumer.assignors',
    type: 'list',
    default: ['uniform', 'range'],
    validValues: ['uniform', 'range'],
    doc: 'KIP-848 server-side assignors, by short name; the first is used when a member names none.',
  },
  {
    name: 'group.consumer.max.size',
    type: 'int',
    default: INT_MAX,
    min: 1,
    doc: 'KIP-848 consumer groups: members beyond this many get GROUP_MAX_SIZE_REACHED.',
  },
  {
    name: 'offsets.retention.minutes',
    type: 'int',
    default: 10080,
    min: 1,
    doc: 'How long the committed offsets of a group are kept once the group is empty.',
  },
  {
    name: 'offsets.topic.num.partitions',
    type: 'int',
    default: 50,
    min: 1,
    doc: "Partitions of __consumer_offsets: a group's coordinator is chosen by hashing its id onto them.",
  },
]

const topicConfigByBroker = new Map(topicConfigDefs.map((d) => [d.brokerConfig, d.name]))

export const brokerConfigDefs: readonly ConfigDef[] = brokerDefs.map((d) => {
  const topicConfig = topicConfigByBroker.get(d.name)
  return topicConfig === undefined ? d : { ...d, topicConfig, dynamic: true }
})

const brokerDefsByName = new Map(brokerConfigDefs.map((d) => [d.name, d]))
const topicDefsByName = new Map(topicConfigDefs.map((d) => [d.name, d]))

export interface BrokerConfig {
  nodeId: number
  /** null: generate one (and keep it with the data). */
  clusterId: string | null
  listeners: string[]
  /** advertised.listeners, or listeners when it is unset. */
  advertisedListeners: string[]
  /** log.dirs, or [log.dir] when it is unset. */
  logDirs: string[]
  numPartitions: number
  defaultReplicationFactor: number
  autoCreateTopicsEnable: boolean
  deleteTopicEnable: boolean
  messageMaxBytes: number
  socketRequestMaxBytes: number
  socketSendBufferBytes: number
  socketReceiveBufferBytes: number
  connectionsMaxIdleMs: number
  logSegmentBytes: number
  /** log.roll.ms, else log.roll.hours in ms. */
  logRollMs: number
  /** log.roll.jitter.ms, else log.roll.jitter.hours in ms. */
  logRollJitterMs: number
  logFlushIntervalMessages: number
  /** log.flush.interval.ms, else log.flush.scheduler.interval.ms. */
  logFlushIntervalMs: number
  logFlushSchedulerIntervalMs: number
  logFlushOnAcksAll: boolean
  /** log.retention.ms, else minutes, else hours, in ms; -1 (no limit) for any negative value. */
  logRetentionMs: number
  logRetentionBytes: number
  logRetentionCheckIntervalMs: number
  logSegmentDeleteDelayMs: number
  logIndexIntervalBytes: number
  logIndexSizeMaxBytes: number
  logMessageTimestampType: TimestampType
  logMessageTimestampBeforeMaxMs: number
  logMessageTimestampAfterMaxMs: number
  logCleanupPolicy: CleanupPolicy[]
  logCleanerEnable: boolean
  logCleanerDeleteRetentionMs: number
  logCleanerMinCompactionLagMs: number
  logCleanerMaxCompactionLagMs: number
  logCleanerMinCleanableRatio: number
  logCleanerBackoffMs: number
  logCleanerDedupeBufferSize: number
  logCleanerIoBufferSize: number
  logCleanerThreads: number
  transactionalIdExpirationMs: number
  producerIdExpirationMs: number
  producerIdExpirationCheckIntervalMs: number
  transactionMaxTimeoutMs: number
  transactionStateLogNumPartitions: number
  transactionAbortTimedOutTransactionCleanupIntervalMs: number
  transactionRemoveExpiredTransactionCleanupIntervalMs: number
  minInsyncReplicas: number
  uncleanLeaderElectionEnable: boolean
  compressionType: CompressionType
  compressionGzipLevel: number
  compressionLz4Level: number
  compressionZstdLevel: number
  logPreallocate: boolean
  logLocalRetentionMs: number
  logLocalRetentionBytes: number
  logMessageDownconversionEnable: boolean
  groupInitialRebalanceDelayMs: number
  groupMinSessionTimeoutMs: number
  groupMaxSessionTimeoutMs: number
  groupConsumerSessionTimeoutMs: number
  groupConsumerHeartbeatIntervalMs: number
  groupConsumerAssignors: string[]
  groupConsumerMaxSize: number
  offsetsRetentionMinutes: number
  offsetsRetentionMs: number
  offsetsTopicNumPartitions: number
  /** The properties that were set, as given (DescribeConfigs' STATIC_BROKER_CONFIG). */
  raw: Readonly<Record<string, string>>
  /** KIP-226 dynamic configs set by AlterConfigs, over `raw`; see withDynamicBrokerConfigs. */
  dynamic: DynamicBrokerConfigs
}

/** Dynamic broker configs as AlterConfigs left them: per broker (its id) and cluster-wide (""). */
export interface DynamicBrokerConfigs {
  /** DYNAMIC_BROKER_CONFIG: set on this broker's resource; wins over everything. */
  broker: Readonly<Record<string, string>>
  /** DYNAMIC_DEFAULT_BROKER_CONFIG: set on the cluster default resource; wins over the file. */
  clusterDefault: Readonly<Record<string, string>>
}

export interface ParsedBrokerConfig {
  config: BrokerConfig
  /** One message per ignored property (unknown to Fluxo), for the caller to log as Kafka does. */
  warnings: string[]
}

export interface TopicConfig {
  cleanupPolicy: CleanupPolicy[]
  compressionType: CompressionType
  deleteRetentionMs: number
  fileDeleteDelayMs: number
  flushMessages: number
  flushMs: number
  flushOnAcksAll: boolean
  indexIntervalBytes: number
  maxMessageBytes: number
  messageTimestampType: TimestampType
  messageTimestampBeforeMaxMs: number
  messageTimestampAfterMaxMs: number
  minInsyncReplicas: number
  retentionBytes: number
  retentionMs: number
  segmentBytes: number
  segmentMs: number
  segmentIndexBytes: number
  segmentJitterMs: number
  minCompactionLagMs: number
  maxCompactionLagMs: number
  minCleanableDirtyRatio: number
  uncleanLeaderElectionEnable: boolean
  compressionGzipLevel: number
  compressionLz4Level: number
  compressionZstdLevel: number
  preallocate: boolean
  localRetentionMs: number
  localRetentionBytes: number
  remoteStorageEnable: boolean
  remoteLogCopyDisable: boolean
  remoteLogDeleteOnDisable: boolean
  leaderReplicationThrottledReplicas: string[]
  followerReplicationThrottledReplicas: string[]
  messageDownconversionEnable: boolean
  /** The topic's overrides, as given. */
  raw: Readonly<Record<string, string>>
  /** Where each topic config's value comes from: the head of its synonyms, else DEFAULT_CONFIG. */
  sources: Readonly<Record<string, ConfigSource>>
  /** Each topic config's synonyms in Kafka's order of precedence (DescribeConfigs v1+). */
  synonyms: Readonly<Record<string, readonly ConfigSynonym[]>>
}

/** Kafka's ConfigResource.Type ids, the resource types of DescribeConfigs and AlterConfigs. */
export const ConfigResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  CLIENT_METRICS: 16,
  GROUP: 32,
} as const

/** DescribeConfigs' ConfigSource (KIP-226; v1+), the ones Fluxo reports. */
export const ConfigSource = {
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const
export type ConfigSource = (typeof ConfigSource)[keyof typeof ConfigSource]

/** DescribeConfigs' configType (KIP-569; v3+): Kafka's DescribeConfigsResponse.ConfigType ids. */
export const ConfigTypeId = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const

/** One place a config's value may come from, as DescribeConfigs lists it. */
export interface ConfigSynonym {
  name: string
  /** null for sensitive configs. */
  value: string | null
  source: ConfigSource
}

/** A config entry as CreateTopics (v5+) and DescribeConfigs report it. */
export interface ConfigEntry {
  name: string
  value: string | null
  readOnly: boolean
  configSource: ConfigSource
  isSensitive: boolean
}

function invalid(def: ConfigDef, value: string, reason: string): ConfigError {
  return new ConfigError(
    def.name,
    `Invalid value ${JSON.stringify(value)} for configuration ${def.name}: ${reason}`,
  )
}

function parseNumber(def: ConfigDef, text: string, value: string): number {
  if (def.type === 'double') {
    const n = Number(text)
    if (text === '' || !Number.isFinite(n)) throw invalid(def, value, 'not a number')
    return n
  }
  if (!/^[+-]?\d+$/.test(text)) throw invalid(def, value, `not a number of type ${def.type}`)
  if (def.type === 'int') {
    const n = Number(text)
    if (n < INT_MIN || n > INT_MAX) throw invalid(def, value, 'out of range for an int')
    return n
  }
  const n = BigInt(text)
  if (n < -(2n ** 63n) || n >= 2n ** 63n) throw invalid(def, value, 'out of range for a long')
  return Math.max(-LONG_MAX, Math.min(LONG_MAX, Number(n)))
}

/** A property's string value, parsed and checked against its definition. */
function parseValue(def: ConfigDef, value: string): ConfigValue {
  const parsed = parseTyped(def, value)
  const reason = def.validator?.check(parsed)
  if (reason) throw invalid(def, value, reason)
  return parsed
}

function parseTyped(def: ConfigDef, value: string): ConfigValue {
  const text = def.type === 'password' ? value : value.trim()
  switch (def.type) {
    case 'int':
    case 'long':
    case 'double': {
      const n = parseNumber(def, text, value)
      if (def.min !== undefined && n < def.min) throw invalid(def, value, `must be at least ${def.min}`)
      if (def.max !== undefined && n > def.max) throw invalid(def, value, `must be at most ${def.max}`)
      return n
    }
    case 'boolean': {
      const lower = text.toLowerCase()
      if (lower !== 'true' && lower !== 'false') throw invalid(def, value, 'expected true or false')
      return lower === 'true'
    }
    case 'list': {
      const items = text === '' ? [] : text.split(',').map((s) => s.trim())
      const valid = def.validValues
      const bad = valid === undefined ? undefined : items.find((item) => !valid.includes(item))
      if (bad !== undefined)
        throw invalid(def, value, `${JSON.stringify(bad)} is not one of ${valid?.join(', ')}`)
      return items
    }
    default:
      if (def.validValues && !def.validValues.includes(text))
        throw invalid(def, value, `must be one of ${def.validValues.join(', ')}`)
      return text
  }
}

/** Typed access to parsed values; the table guarantees the type, these only narrow it. */
class Values {
  constructor(private readonly get: (name: string) => ConfigValue) {}

  num(name: string): number {
    return this.get(name) as number
  }

  optNum(name: string): number | null {
    return this.get(name) as number | null
  }

  bool(name: string): boolean {
    return this.get(name) as boolean
  }

  str<T extends string = string>(name: string): T {
    return this.get(name) as T
  }

  optStr(name: string): string | null {
    return this.get(name) as string | null
  }

  list<T extends string = string>(name: string): T[] {
    return [...(this.get(name) as readonly T[])]
  }

  optList(name: string): string[] | null {
    const v = this.get(name) as readonly string[] | null
    return v === null ? null : [...v]
  }
}

function splitListeners(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * Parses broker properties (a server.properties): unknown names become warnings, a bad value throws
 * ConfigError naming the key. Derived values are resolved as Kafka's KafkaConfig does.
 */
export function parseBrokerConfig(props: Readonly<Record<string, string>>): ParsedBrokerConfig {
  const supplied = new Map<string, ConfigValue>()
  const raw: [string, string][] = []
  const warnings: string[] = []
  for (const [key, value] of Object.entries(props)) {
    const def = brokerDefsByName.get(key)
    if (def === undefined) {
      warnings.push(`The configuration '${key}' was supplied but isn't a known config.`)
      continue
    }
    supplied.set(key, parseValue(def, value))
    raw.push([key, value])
  }
  const v = new Values((name) =>
    supplied.has(name) ? supplied.get(name)! : brokerDefsByName.get(name)!.default,
  )

  // broker.id -1 is Kafka's "unset" (it used to mean: generate one).
  let nodeId = v.num('node.id')
  const brokerId = v.num('broker.id')
  if (brokerId !== -1) {
    if (supplied.has('node.id') && brokerId !== nodeId)
      throw new ConfigError(
        'broker.id',
        `broker.id (${brokerId}) must be equal to node.id (${nodeId}) when both are set`,
      )
    nodeId = brokerId
  }

  const logDirs = v.optList('log.dirs') ?? [v.str('log.dir')]
  if (logDirs.length === 0 || logDirs.some((d) => d === '')) {
    const key = supplied.has('log.dirs') ? 'log.dirs' : 'log.dir'
    throw new ConfigError(key, `${key} must name at least one directory, and no empty one`)
  }

  const listeners = splitListeners(v.str('listeners'))
  const advertised = v.optStr('advertised.listeners')

  // Kafka: log.retention.ms, else minutes, else hours; any negative value means no limit, 0 is refused.
  const [retentionKey, unitMs] = supplied.has('log.retention.ms')
    ? ['log.retention.ms', 1]
    : supplied.has('log.retention.minutes')
      ? ['log.retention.minutes', MINUTE_MS]
      : ['log.retention.hours', HOUR_MS]
  let logRetentionMs = v.num(retentionKey) * unitMs
  if (logRetentionMs < 0) logRetentionMs = -1
  if (logRetentionMs === 0)
    throw new ConfigError(retentionKey, `${retentionKey} must be unlimited (-1) or at least 1 ms`)

  const config: BrokerConfig = {
    nodeId,
    clusterId: v.optStr('cluster.id'),
    listeners,
    advertisedListeners: advertised === null ? listeners : splitListeners(advertised),
    logDirs,
    numPartitions: v.num('num.partitions'),
    defaultReplicationFactor: v.num('default.replication.factor'),
    autoCreateTopicsEnable: v.bool('auto.create.topics.enable'),
    deleteTopicEnable: v.bool('delete.topic.enable'),
    messageMaxBytes: v.num('message.max.bytes'),
    socketRequestMaxBytes: v.num('socket.request.max.bytes'),
    socketSendBufferBytes: v.num('socket.send.buffer.bytes'),
    socketReceiveBufferBytes: v.num('socket.receive.buffer.bytes'),
    connectionsMaxIdleMs: v.num('connections.max.idle.ms'),
    logSegmentBytes: v.num('log.segment.bytes'),
    logRollMs: v.optNum('log.roll.ms') ?? v.num('log.roll.hours') * HOUR_MS,
    logRollJitterMs: v.optNum('log.roll.jitter.ms') ?? v.num('log.roll.jitter.hours') * HOUR_MS,
    logFlushIntervalMessages: v.num('log.flush.interval.messages'),
    logFlushIntervalMs: v.optNum('log.flush.interval.ms') ?? v.num('log.flush.scheduler.interval.ms'),
    logFlushSchedulerIntervalMs: v.num('log.flush.scheduler.interval.ms'),
    logFlushOnAcksAll: v.bool('log.flush.on.acks.all'),
    logRetentionMs,
    logRetentionBytes: v.num('log.retention.bytes'),
    logRetentionCheckIntervalMs: v.num('log.retention.check.interval.ms'),
    logSegmentDeleteDelayMs: v.num('log.segment.delete.delay.ms'),
    logIndexIntervalBytes: v.num('log.index.interval.bytes'),
    logIndexSizeMaxBytes: v.num('log.index.size.max.bytes'),
    logMessageTimestampType: v.str<TimestampType>('log.message.timestamp.type'),
    logMessageTimestampBeforeMaxMs: v.num('log.message.timestamp.before.max.ms'),
    logMessageTimestampAfterMaxMs: v.num('log.message.timestamp.after.max.ms'),
    logCleanupPolicy: v.list<CleanupPolicy>('log.cleanup.policy'),
    logCleanerEnable: v.bool('log.cleaner.enable'),
    logCleanerDeleteRetentionMs: v.num('log.cleaner.delete.retention.ms'),
    logCleanerMinCompactionLagMs: v.num('log.cleaner.min.compaction.lag.ms'),
    logCleanerMaxCompactionLagMs: v.num('log.cleaner.max.compaction.lag.ms'),
    logCleanerMinCleanableRatio: v.num('log.cleaner.min.cleanable.ratio'),
    logCleanerBackoffMs: v.num('log.cleaner.backoff.ms'),
    logCleanerDedupeBufferSize: v.num('log.cleaner.dedupe.buffer.size'),
    logCleanerIoBufferSize: v.num('log.cleaner.io.buffer.size'),
    logCleanerThreads: v.num('log.cleaner.threads'),
    transactionalIdExpirationMs: v.num('transactional.id.expiration.ms'),
    producerIdExpirationMs: v.num('producer.id.expiration.ms'),
    producerIdExpirationCheckIntervalMs: v.num('producer.id.expiration.check.interval.ms'),
    transactionMaxTimeoutMs: v.num('transaction.max.timeout.ms'),
    transactionStateLogNumPartitions: v.num('transaction.state.log.num.partitions'),
    transactionAbortTimedOutTransactionCleanupIntervalMs: v.num(
      'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    ),
    transactionRemoveExpiredTransactionCleanupIntervalMs: v.num(
      'transaction.remove.expired.transaction.cleanup.interval.ms',
    ),
    minInsyncReplicas: v.num('min.insync.replicas'),
    uncleanLeaderElectionEnable: v.bool('unclean.leader.election.enable'),
    compressionType: v.str<CompressionType>('compression.type'),
    compressionGzipLevel: v.num('compression.gzip.level'),
    compressionLz4Level: v.num('compression.lz4.level'),
    compressionZstdLevel: v.num('compression.zstd.level'),
    logPreallocate: v.bool('log.preallocate'),
    logLocalRetentionMs: v.num('log.local.retention.ms'),
    logLocalRetentionBytes: v.num('log.local.retention.bytes'),
    logMessageDownconversionEnable: v.bool('log.message.downconversion.enable'),
    groupInitialRebalanceDelayMs: v.num('group.initial.rebalance.delay.ms'),
    groupMinSessionTimeoutMs: v.num('group.min.session.timeout.ms'),
    groupMaxSessionTimeoutMs: v.num('group.max.session.timeout.ms'),
    groupConsumerSessionTimeoutMs: v.num('group.consumer.session.timeout.ms'),
    groupConsumerHeartbeatIntervalMs: v.num('group.consumer.heartbeat.interval.ms'),
    groupConsumerAssignors: v.list<string>('group.consumer.assignors'),
    groupConsumerMaxSize: v.num('group.consumer.max.size'),
    offsetsRetentionMinutes: v.num('offsets.retention.minutes'),
    offsetsRetentionMs: v.num('offsets.retention.minutes') * MINUTE_MS,
    offsetsTopicNumPartitions: v.num('offsets.topic.num.partitions'),
    raw: Object.fromEntries(raw),
    dynamic: { broker: {}, clusterDefault: {} },
  }
  return { config, warnings }
}

/** 'log.roll.ms' → 'logRollMs': a BrokerConfig or TopicConfig field from its property name. */
export function configField(name: string): string {
  return name.replace(/\.([a-z])/g, (_, c: string) => c.toUpperCase())
}

/**
 * A topic's effective config: its overrides over the broker's values. An unknown name or a bad value
 * throws ConfigError (CreateTopics and AlterConfigs answer INVALID_CONFIG).
 */
export function resolveTopicConfig(
  broker: BrokerConfig,
  overrides: Readonly<Record<string, string>>,
): TopicConfig {
  const set = new Map<string, ConfigValue>()
  for (const [key, value] of Object.entries(overrides)) {
    const def = topicDefsByName.get(key)
    if (def === undefined) throw new ConfigError(key, `Unknown topic config name: ${key}`)
    set.set(key, parseValue(def, value))
  }
  const inherited = broker as unknown as Readonly<Record<string, ConfigValue>>
  const v = new Values((name) => {
    if (set.has(name)) return set.get(name)!
    const def = topicDefsByName.get(name)!
    return def.brokerConfig === undefined ? def.default : inherited[configField(def.brokerConfig)]
  })

  const minCompactionLagMs = v.num('min.compaction.lag.ms')
  const maxCompactionLagMs = v.num('max.compaction.lag.ms')
  if (minCompactionLagMs > maxCompactionLagMs)
    throw new ConfigError(
      'min.compaction.lag.ms',
      `min.compaction.lag.ms (${minCompactionLagMs}) must not be larger than max.compaction.lag.ms (${maxCompactionLagMs})`,
    )
  // Kafka's LogConfig.validate refuses it while remote.log.storage.system.enable is false, which
  // is what a broker without tiered storage is.
  if (v.bool('remote.storage.enable'))
    throw new ConfigError(
      'remote.storage.enable',
      'Invalid value "true" for configuration remote.storage.enable: Tiered Storage functionality is disabled in the broker (Fluxo has none). Topic cannot be configured with remote log storage.',
    )

  const config: Omit<TopicConfig, 'sources' | 'synonyms'> = {
    cleanupPolicy: v.list<CleanupPolicy>('cleanup.policy'),
    compressionType: v.str<CompressionType>('compression.type'),
    deleteRetentionMs: v.num('delete.retention.ms'),
    fileDeleteDelayMs: v.num('file.delete.delay.ms'),
    flushMessages: v.num('flush.messages'),
    flushMs: v.num('flush.ms'),
    flushOnAcksAll: v.bool('flush.on.acks.all'),
    indexIntervalBytes: v.num('index.interval.bytes'),
    maxMessageBytes: v.num('max.message.bytes'),
    messageTimestampType: v.str<TimestampType>('message.timestamp.type'),
    messageTimestampBeforeMaxMs: v.num('message.timestamp.before.max.ms'),
    messageTimestampAfterMaxMs: v.num('message.timestamp.after.max.ms'),
    minInsyncReplicas: v.num('min.insync.replicas'),
    retentionBytes: v.num('retention.bytes'),
    retentionMs: v.num('retention.ms'),
    segmentBytes: v.num('segment.bytes'),
    segmentMs: v.num('segment.ms'),
    segmentIndexBytes: v.num('segment.index.bytes'),
    segmentJitterMs: v.num('segment.jitter.ms'),
    minCompactionLagMs,
    maxCompactionLagMs,
    minCleanableDirtyRatio: v.num('min.cleanable.dirty.ratio'),
    uncleanLeaderElectionEnable: v.bool('unclean.leader.election.enable'),
    compressionGzipLevel: v.num('compression.gzip.level'),
    compressionLz4Level: v.num('compression.lz4.level'),
    compressionZstdLevel: v.num('compression.zstd.level'),
    preallocate: v.bool('preallocate'),
    localRetentionMs: v.num('local.retention.ms'),
    localRetentionBytes: v.num('local.retention.bytes'),
    remoteStorageEnable: v.bool('remote.storage.enable'),
    remoteLogCopyDisable: v.bool('remote.log.copy.disable'),
    remoteLogDeleteOnDisable: v.bool('remote.log.delete.on.disable'),
    leaderReplicationThrottledReplicas: v.list('leader.replication.throttled.replicas'),
    followerReplicationThrottledReplicas: v.list('follower.replication.throttled.replicas'),
    messageDownconversionEnable: v.bool('message.downconversion.enable'),
    raw: { ...overrides },
  }
  const values = config as unknown as Readonly<Record<string, ConfigValue>>
  const synonyms: Record<string, readonly ConfigSynonym[]> = {}
  const sources: Record<string, ConfigSource> = {}
  for (const def of topicConfigDefs) {
    // Kafka's ConfigHelper.createTopicConfigEntry: the override, then the broker property's synonyms.
    const sensitive = isSensitive(def)
    const list = def.brokerConfig === undefined ? [] : brokerSynonymList(broker, def.brokerConfig, sensitive)
    const value = sensitive ? null : formatValue(values[configField(def.name)], def.type)
    synonyms[def.name] =
      def.name in overrides ? [{ name: def.name, value, source: ConfigSource.TOPIC_CONFIG }, ...list] : list
    sources[def.name] = synonyms[def.name][0]?.source ?? ConfigSource.DEFAULT_CONFIG
  }
  return { ...config, sources, synonyms }
}

/** Kafka's KafkaConfig.maybeSensitive: passwords (and configs of unknown type) never show a value. */
function isSensitive(def: ConfigDef): boolean {
  return def.type === 'password'
}

/** Broker properties that resolve one value, in precedence order (DynamicBrokerConfig.brokerConfigSynonyms). */
export function brokerSynonymGroup(name: string): readonly string[] {
  for (const [primary, rest] of Object.entries(derivedFrom))
    if (primary === name || rest.includes(name)) return [primary, ...rest]
  return [name]
}

/** Defaults as Kafka's DynamicBrokerConfig.staticDefaultConfigs has them: unset (null) ones are absent. */
const brokerDefaultStrings: Readonly<Record<string, string>> = Object.fromEntries(
  brokerDefs.filter((d) => d.default !== null).map((d) => [d.name, formatValue(d.default, d.type)!]),
)

/**
 * Kafka's ConfigHelper.configSynonyms: every property of `name`'s synonym group that is set, layer
 * by layer (per-broker dynamic, cluster-default dynamic, static file, default), then everything
 * before the first entry for `name` itself is dropped. So a topic config whose broker property is
 * only set through a lower-precedence synonym (log.retention.hours for retention.ms) shows no
 * synonyms and DEFAULT_CONFIG, exactly as Kafka reports it.
 */
function brokerSynonymList(broker: BrokerConfig, name: string, sensitive: boolean): ConfigSynonym[] {
  const layers: [Readonly<Record<string, string>>, ConfigSource][] = [
    [broker.dynamic.broker, ConfigSource.DYNAMIC_BROKER_CONFIG],
    [broker.dynamic.clusterDefault, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
    [broker.raw, ConfigSource.STATIC_BROKER_CONFIG],
    [brokerDefaultStrings, ConfigSource.DEFAULT_CONFIG],
  ]
  const all: ConfigSynonym[] = []
  for (const [props, source] of layers)
    for (const synonym of brokerSynonymGroup(name))
      if (Object.hasOwn(props, synonym))
        all.push({ name: synonym, value: sensitive ? null : props[synonym], source })
  const first = all.findIndex((s) => s.name === name)
  return first === -1 ? [] : all.slice(first)
}

/**
 * A value as Kafka's ConfigDef.convertToString prints it: Long.MAX_VALUE in full, lists
 * comma-joined, doubles as Java's Double.toString (1.0, 1.0E-4).
 */
export function formatValue(value: ConfigValue, type?: ConfigType): string | null {
  if (value === null) return null
  if (Array.isArray(value)) return value.join(',')
  if (value === LONG_MAX) return '9223372036854775807'
  if (type === 'double' && typeof value === 'number') return javaDouble(value)
  return String(value)
}

function javaDouble(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity'
  const abs = Math.abs(n)
  if (n === 0 || (abs >= 1e-3 && abs < 1e7)) return Number.isInteger(n) ? n.toFixed(1) : String(n)
  const [mantissa, exponent] = n.toExponential().split('e')
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`
}

/** Every topic config of `config`, with its value and source, for CreateTopics and DescribeConfigs. */
export function describeTopicConfigs(config: TopicConfig): ConfigEntry[] {
  const values = config as unknown as Readonly<Record<string, ConfigValue>>
  return topicConfigDefs.map((def) => ({
    name: def.name,
    value: isSensitive(def) ? null : formatValue(values[configField(def.name)], def.type),
    readOnly: false,
    configSource: config.sources[def.name],
    isSensitive: isSensitive(def),
  }))
}

/** A DescribeConfigs entry (v1+ synonyms, v3+ type and documentation). */
export interface DescribedConfig extends ConfigEntry {
  synonyms: ConfigSynonym[]
  configType: number
  documentation: string | null
}

export interface DescribeOptions {
  includeSynonyms: boolean
  includeDocumentation: boolean
}

/** DescribeConfigs for a topic: every topic config, as Kafka's ConfigHelper.createTopicConfigEntry. */
export function describeTopicConfigEntries(config: TopicConfig, options: DescribeOptions): DescribedConfig[] {
  return describeTopicConfigs(config).map((entry, i) => {
    const def = topicConfigDefs[i]
    return {
      ...entry,
      synonyms: options.includeSynonyms ? [...config.synonyms[def.name]] : [],
      configType: configTypeId(def.type),
      documentation: options.includeDocumentation ? def.doc : null,
    }
  })
}

/**
 * DescribeConfigs for a broker, as Kafka's ConfigHelper.createBrokerConfigEntry. `perBroker`
 * (resource name = this broker's id): every property with the value in force. Otherwise (resource
 * name "", the cluster default): only the properties set as dynamic cluster defaults.
 */
export function describeBrokerConfigEntries(
  config: BrokerConfig,
  perBroker: boolean,
  options: DescribeOptions,
): DescribedConfig[] {
  const defs = perBroker
    ? brokerConfigDefs
    : brokerConfigDefs.filter((d) => Object.hasOwn(config.dynamic.clusterDefault, d.name))
  return defs.map((def) => {
    const sensitive = isSensitive(def)
    const all = brokerSynonymList(config, def.name, sensitive).filter(
      (s) => perBroker || s.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
    )
    return {
      name: def.name,
      value: sensitive ? null : brokerValue(config, def, perBroker),
      readOnly: def.dynamic !== true,
      configSource: all[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      isSensitive: sensitive,
      synonyms: options.includeSynonyms ? all : [],
      configType: configTypeId(def.type),
      documentation: options.includeDocumentation ? def.doc : null,
    }
  })
}

/** A broker property's own value (not a derived one: log.retention.ms stays null when unset). */
function brokerValue(config: BrokerConfig, def: ConfigDef, perBroker: boolean): string | null {
  if (def.name === 'node.id') return String(config.nodeId)
  const layers = perBroker
    ? [config.dynamic.broker, config.dynamic.clusterDefault, config.raw]
    : [config.dynamic.clusterDefault]
  const set = layers.find((props) => Object.hasOwn(props, def.name))
  if (set === undefined) return formatValue(def.default, def.type)
  return formatValue(parseValue(def, set[def.name]), def.type)
}

function configTypeId(type: ConfigType): number {
  return ConfigTypeId[type.toUpperCase() as keyof typeof ConfigTypeId] ?? ConfigTypeId.UNKNOWN
}

/**
 * `config` with these dynamic configs in force (AlterConfigs on a broker resource, KIP-226). Only
 * dynamic properties may be set (Kafka: "Cannot update these configs dynamically"); values are
 * checked as in a server.properties. Throws ConfigError. Fields of other properties are kept as
 * they are, including the embedded broker's own adjustments.
 */
export function withDynamicBrokerConfigs(config: BrokerConfig, dynamic: DynamicBrokerConfigs): BrokerConfig {
  const names = [...Object.keys(dynamic.clusterDefault), ...Object.keys(dynamic.broker)]
  const refused = [...new Set(names.filter((name) => brokerDefsByName.get(name)?.dynamic !== true))]
  if (refused.length > 0)
    throw new ConfigError(refused[0], `Cannot update these configs dynamically: Set(${refused.join(', ')})`)
  const { config: parsed } = parseBrokerConfig({
    ...config.raw,
    ...dynamic.clusterDefault,
    ...dynamic.broker,
  })
  const next: BrokerConfig = {
    ...config,
    dynamic: { broker: { ...dynamic.broker }, clusterDefault: { ...dynamic.clusterDefault } },
  }
  const from = parsed as unknown as Record<string, unknown>
  const into = next as unknown as Record<string, unknown>
  for (const def of brokerConfigDefs)
    if (def.dynamic) into[configField(def.name)] = from[configField(def.name)]
  return next
}

/** IncrementalAlterConfigs' operations (KIP-339). */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const

export interface ConfigOp {
  name: string
  op: number
  value: string | null
}

/**
 * Applies IncrementalAlterConfigs operations to a resource's set configs (topic overrides, or a
 * broker's dynamic configs) as Kafka's ConfigurationControlManager does. APPEND and SUBTRACT work
 * on the current value, else the table default (not the broker's), and only on list configs:
 * others throw ConfigError. The result is not validated here.
 */
export function applyConfigOps(
  current: Readonly<Record<string, string>>,
  ops: readonly ConfigOp[],
  resource: 'topic' | 'broker',
): Record<string, string> {
  const defs = resource === 'topic' ? topicDefsByName : brokerDefsByName
  const next: Record<string, string> = { ...current }
  for (const { name, op, value } of ops) {
    if (op === AlterConfigOp.SET) next[name] = value ?? ''
    else if (op === AlterConfigOp.DELETE) delete next[name]
    else if (op === AlterConfigOp.APPEND || op === AlterConfigOp.SUBTRACT) {
      const opName = op === AlterConfigOp.APPEND ? 'APPEND' : 'SUBTRACT'
      const def = defs.get(name)
      if (def?.type !== 'list')
        throw new ConfigError(name, `Can't ${opName} to key ${name} because its type is not LIST.`)
      const old = Object.hasOwn(next, name) ? next[name] : (formatValue(def.default) ?? '')
      const items = splitList(old)
      for (const item of splitList(value ?? '')) {
        const at = items.indexOf(item)
        if (op === AlterConfigOp.APPEND && at === -1) items.push(item)
        if (op === AlterConfigOp.SUBTRACT && at !== -1) items.splice(at, 1)
      }
      next[name] = items.join(',')
    } else throw new RangeError(`unknown config operation ${op}`)
  }
  return next
}

function splitList(value: string): string[] {
  return value.trim() === '' ? [] : value.split(',').map((s) => s.trim())
}

const escapes: Readonly<Record<string, string>> = { t: '\t', n: '\n', r: '\r', f: '\f' }

function unescapeProperty(text: string, line: number): string {
  return text.replace(/\\(u(.{0,4})|.|$)/gs, (_, esc: string, hex: string | undefined) => {
    if (hex === undefined) return escapes[esc] ?? esc
    if (!/^[0-9a-fA-F]{4}$/.test(hex))
      throw new ConfigError(undefined, `Malformed \\uxxxx encoding on line ${line}`)
    return String.fromCharCode(Number.parseInt(hex, 16))
  })
}

const WHITESPACE = new Set([' ', '\t', '\f'])

function skipWhitespace(s: string, i: number): number {
  while (i < s.length && WHITESPACE.has(s[i])) i++
  return i
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++
  return n % 2 === 1
}

/**
 * Java .properties, as java.util.Properties.load reads them: # and ! comment lines; key=value,
 * key: value or key value; a line ending in an odd number of backslashes continues on the next
 * (whose leading whitespace is dropped); escapes \t \n \r \f \uXXXX and \ before any other
 * character. Later keys win.
 */
export function parseProperties(text: string): Record<string, string> {
  const lines = text.split(/\r\n|\r|\n/)
  const out = new Map<string, string>()
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1
    let logical = lines[i].slice(skipWhitespace(lines[i], 0))
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue
    while (endsWithOddBackslashes(logical)) {
      logical = logical.slice(0, -1)
      if (++i >= lines.length) break
      logical += lines[i].slice(skipWhitespace(lines[i], 0))
    }

    let k = 0
    while (k < logical.length) {
      const c = logical[k]
      if (c === '\\') k += 2
      else if (c === '=' || c === ':' || WHITESPACE.has(c)) break
      else k++
    }
    const key = logical.slice(0, Math.min(k, logical.length))
    let start = skipWhitespace(logical, k)
    if (start < logical.length && (logical[start] === '=' || logical[start] === ':'))
      start = skipWhitespace(logical, start + 1)
    out.set(unescapeProperty(key, lineNumber), unescapeProperty(logical.slice(start), lineNumber))
  }
  return Object.fromEntries(out)
}
