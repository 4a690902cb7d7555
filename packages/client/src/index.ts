/** @fluxo/client: a typed Kafka client on @fluxo/protocol. */
export { Kafka, type KafkaOptions } from './kafka.js'
export {
  Producer,
  type ProducerOptions,
  type ProducerRecord,
  type RecordHeaders,
  type RecordMetadata,
  type CompressionName,
} from './producer/producer.js'
export type { Partitioner } from './producer/partitioner.js'
export type { GroupMetadata, TopicPartitionOffset, TransactionState } from './producer/transaction.js'
export {
  Consumer,
  type ConsumerOptions,
  type ConsumerRecord,
  type ConsumerBatch,
  type ConsumerHeader,
  type PartitionStats,
  type RunOptions,
  type TopicDeserializers,
  type TopicPartition,
  type IsolationLevel,
  type OffsetResetStrategy,
  NoOffsetForPartitionError,
  DeserializationError,
} from './consumer/consumer.js'
export type { RebalanceListeners } from './consumer/group.js'
export type { AssignorName } from './consumer/assignors.js'
export * from './admin/admin.js'
export type { ClusterOptions, BrokerInfo, TopicInfo, PartitionInfo } from './cluster/cluster.js'
export type { RetryOptions } from './cluster/retry.js'
export * from './errors.js'
export * from './serde.js'
