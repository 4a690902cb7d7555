// AddOffsetsToTxn (key 25), v0–4. The group's __consumer_offsets partition joins the producer's
// transaction, so the offsets TxnOffsetCommit writes there get the transaction's marker. Before v2
// (KIP-588) clients get INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED.
import { ErrorCode, defaultAddOffsetsToTxnResponse } from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const addOffsetsToTxn = defineHandler({
  apiKey: 25,
  async handle(request, ctx) {
    let errorCode = await ctx.broker.transactions.addOffsets(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.groupId,
    )
    if (errorCode === ErrorCode.PRODUCER_FENCED && ctx.version < 2)
      errorCode = ErrorCode.INVALID_PRODUCER_EPOCH
    return { ...defaultAddOffsetsToTxnResponse(), errorCode }
  },
})
