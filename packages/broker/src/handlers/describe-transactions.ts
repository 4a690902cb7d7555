// DescribeTransactions (key 65, KIP-664), v0. Each transactional id's state as the coordinator holds
// it: TRANSACTIONAL_ID_NOT_FOUND for an unknown id, INVALID_REQUEST for an empty one. The partitions
// are those of the open transaction (while completing, those still waiting for their marker).
import {
  type DescribeTransactionsResponseTransactionState,
  ErrorCode,
  defaultDescribeTransactionsResponse,
  defaultDescribeTransactionsResponseTransactionState,
} from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const describeTransactions = defineHandler({
  apiKey: 65,
  handle(request, ctx) {
    const transactionStates = request.transactionalIds.map(
      (transactionalId): DescribeTransactionsResponseTransactionState => {
        const base = { ...defaultDescribeTransactionsResponseTransactionState(), transactionalId }
        if (transactionalId === '') return { ...base, errorCode: ErrorCode.INVALID_REQUEST }
        const txn = ctx.broker.transactions.describe(transactionalId)
        if (!txn) return { ...base, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND }
        const topics = new Map<string, number[]>()
        for (const { topic, partition } of txn.partitions) {
          const list = topics.get(topic) ?? []
          list.push(partition)
          topics.set(topic, list)
        }
        return {
          ...base,
          errorCode: ErrorCode.NONE,
          transactionState: txn.state,
          transactionTimeoutMs: txn.txnTimeoutMs,
          transactionStartTimeMs: txn.txnStartTimestamp,
          producerId: txn.producerId,
          producerEpoch: txn.producerEpoch,
          topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
        }
      },
    )
    return { ...defaultDescribeTransactionsResponse(), transactionStates }
  },
})
