// AddPartitionsToTxn (key 24), v0–5. v0–3 (clients): one transaction's partitions join it before the
// producer writes to them; unknown partitions answer UNKNOWN_TOPIC_OR_PARTITION and the rest
// OPERATION_NOT_ATTEMPTED. v4+ (KIP-890, sent by brokers) batches several transactions, and
// verifyOnly asks whether partitions are already in the transaction without adding them
// (INVALID_TXN_STATE when not, TRANSACTION_ABORTABLE from v5). Before v2 (KIP-588) clients get
// INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED.
import {
  type AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
  ErrorCode,
  defaultAddPartitionsToTxnResponse,
} from '@fluxo/protocol'
import type { PartitionResult, TopicPartition } from '../coordinator/transaction-coordinator.js'
import { defineHandler } from './handler.js'

export const addPartitionsToTxn = defineHandler({
  apiKey: 24,
  async handle(request, ctx) {
    const transactions = ctx.broker.transactions
    if (ctx.version < 4) {
      const results = await transactions.addPartitions(
        request.v3AndBelowTransactionalId,
        request.v3AndBelowProducerId,
        request.v3AndBelowProducerEpoch,
        partitionsOf(request.v3AndBelowTopics),
      )
      return {
        ...defaultAddPartitionsToTxnResponse(),
        resultsByTopicV3AndBelow: byTopic(results, ctx.version),
      }
    }
    const notInTxn = ctx.version >= 5 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE
    const resultsByTransaction = await Promise.all(
      request.transactions.map(async (t) => {
        const partitions = partitionsOf(t.topics)
        const results = t.verifyOnly
          ? transactions.verifyPartitions(
              t.transactionalId,
              t.producerId,
              t.producerEpoch,
              partitions,
              notInTxn,
            )
          : await transactions.addPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions)
        return { transactionalId: t.transactionalId, topicResults: byTopic(results, ctx.version) }
      }),
    )
    return { ...defaultAddPartitionsToTxnResponse(), resultsByTransaction }
  },
})

/** The request's partitions, each once. */
function partitionsOf(topics: readonly { name: string; partitions: number[] }[]): TopicPartition[] {
  const seen = new Set<string>()
  const out: TopicPartition[] = []
  for (const t of topics) {
    for (const partition of t.partitions) {
      const key = `${t.name}\u0000${partition}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push({ topic: t.name, partition })
    }
  }
  return out
}

function byTopic(
  results: PartitionResult[],
  version: number,
): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] {
  const topics = new Map<string, AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult>()
  for (const r of results) {
    let topic = topics.get(r.topic)
    if (!topic) topics.set(r.topic, (topic = { name: r.topic, resultsByPartition: [] }))
    const errorCode =
      r.errorCode === ErrorCode.PRODUCER_FENCED && version < 2
        ? ErrorCode.INVALID_PRODUCER_EPOCH
        : r.errorCode
    topic.resultsByPartition.push({ partitionIndex: r.partition, partitionErrorCode: errorCode })
  }
  return [...topics.values()]
}
