/**
 * For sibling packages (the consumer, the CLI, the registry): the connection and cluster layer the
 * producer and admin are built on. Not a stable public API; see README.md.
 */
export {
  Connection,
  type ConnectionOptions,
  type RequestOptions,
  type VersionRange,
} from './connection/connection.js'
export {
  Cluster,
  type ClusterOptions,
  type BrokerInfo,
  type TopicInfo,
  type PartitionInfo,
  CoordinatorType,
  isStaleMetadataError,
  parseHostPort,
} from './cluster/cluster.js'
export { retry, backoffMs, sleep, type RetryOptions, type RetryCall } from './cluster/retry.js'
export { BuiltInPartitioner } from './producer/partitioner.js'
