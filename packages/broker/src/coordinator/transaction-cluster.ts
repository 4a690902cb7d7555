/**
 * The transaction coordinator as the broker runs it: its log is __transaction_state, its markers go to
 * the cluster's partitions, and a marker written to __consumer_offsets completes the transactional
 * offset commits waiting there (Kafka's GroupCoordinator.onTransactionCompleted).
 */
import { ErrorCode } from '@fluxo/protocol'
import type { Logger } from 'pino'
import type { Cluster } from '../cluster/cluster.js'
import type { BrokerConfig } from '../config.js'
import type { GroupCoordinator } from './group-coordinator.js'
import { OFFSETS_TOPIC, offsetsPartitionFor } from './offsets.js'
import { TransactionCoordinator } from './transaction-coordinator.js'
import { ClusterTransactionLog } from './transaction-log.js'

export function brokerTransactionCoordinator(
  cluster: Cluster,
  groups: GroupCoordinator,
  config: BrokerConfig,
  logger: Logger,
): TransactionCoordinator {
  return new TransactionCoordinator({
    log: new ClusterTransactionLog(cluster),
    partitions: {
      exists: (topic, partition) => cluster.partition(topic, partition) !== undefined,
      async writeTxnMarker(topic, partition, marker) {
        const target = cluster.partition(topic, partition)
        if (!target) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
        const result = await target.writeTxnMarker(marker)
        if (result.errorCode === ErrorCode.NONE && topic === OFFSETS_TOPIC)
          groups.completeTransaction(marker.producerId, marker.commit)
        return result
      },
    },
    async offsetsPartitionFor(groupId) {
      await groups.ready()
      const topic = cluster.topic(OFFSETS_TOPIC)
      if (!topic) throw new Error(`${OFFSETS_TOPIC} does not exist`)
      return { topic: OFFSETS_TOPIC, partition: offsetsPartitionFor(groupId, topic.partitions.length) }
    },
    config: {
      brokerId: config.nodeId,
      transactionMaxTimeoutMs: config.transactionMaxTimeoutMs,
      transactionalIdExpirationMs: config.transactionalIdExpirationMs,
      abortTimedOutTransactionCleanupIntervalMs: config.transactionAbortTimedOutTransactionCleanupIntervalMs,
      removeExpiredTransactionalIdCleanupIntervalMs:
        config.transactionRemoveExpiredTransactionCleanupIntervalMs,
    },
    logger,
  })
}
