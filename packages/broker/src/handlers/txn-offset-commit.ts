// TxnOffsetCommit (key 28), v0–4. Consumed offsets become part of the producer's transaction: the
// transaction coordinator checks the producer and that AddOffsetsToTxn added the group's offsets
// partition, then the group coordinator writes them to __consumer_offsets as pending; they become
// the group's committed offsets only when the transaction commits. v3+ (KIP-447) carries the member id,
// generation and group instance id, checked when given.
import { ErrorCode, defaultTxnOffsetCommitResponse } from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const txnOffsetCommit = defineHandler({
  apiKey: 28,
  async handle(request, ctx) {
    const respondAll = (errorCode: number) => ({
      ...defaultTxnOffsetCommitResponse(),
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      })),
    })
    if (request.groupId === '') return respondAll(ErrorCode.INVALID_GROUP_ID)
    const { errorCode, result } = await ctx.broker.transactions.txnOffsetCommit(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.groupId,
      () => ctx.broker.groups.txnOffsetCommit(request, ctx.version),
    )
    return result ?? respondAll(errorCode)
  },
})
