// InitProducerId (key 22), v0–5. A null transactional id (idempotent producer) gets a fresh producer
// id with epoch 0; a transactional id gets its id with a bumped epoch, fencing older producers of it,
// and an open transaction is aborted first (CONCURRENT_TRANSACTIONS: retry). v3+ (KIP-360) passes the
// producer id and epoch the client had, so a producer can resume after an error without a new id.
// Before v4 (KIP-588) clients do not know PRODUCER_FENCED: they get INVALID_PRODUCER_EPOCH instead.
import { ErrorCode, defaultInitProducerIdResponse } from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const initProducerId = defineHandler({
  apiKey: 22,
  async handle(request, ctx) {
    const expected =
      ctx.version >= 3 ? { producerId: request.producerId, producerEpoch: request.producerEpoch } : null
    const result = await ctx.broker.transactions.initProducerId(
      request.transactionalId,
      request.transactionTimeoutMs,
      expected,
    )
    let errorCode = result.errorCode
    if (errorCode === ErrorCode.PRODUCER_FENCED && ctx.version < 4)
      errorCode = ErrorCode.INVALID_PRODUCER_EPOCH
    return {
      ...defaultInitProducerIdResponse(),
      errorCode,
      producerId: result.producerId,
      producerEpoch: result.producerEpoch,
    }
  },
})
