// EndTxn (key 26), v0–4. Commits or aborts the producer's transaction: the decision is written to
// __transaction_state, then the markers to every partition of the transaction; the answer comes once
// they are written. Before v2 (KIP-588) clients get INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED.
// v5 (KIP-890 part 2: a new epoch with every transaction, returned in the response) is marked unstable
// in Kafka 4.0 and needs transaction version 2 on the produce path too, so it is not served.
import { ErrorCode, defaultEndTxnResponse } from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const endTxn = defineHandler({
  apiKey: 26,
  maxVersion: 4,
  async handle(request, ctx) {
    let errorCode = await ctx.broker.transactions.endTransaction(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.committed,
    )
    if (errorCode === ErrorCode.PRODUCER_FENCED && ctx.version < 2)
      errorCode = ErrorCode.INVALID_PRODUCER_EPOCH
    return { ...defaultEndTxnResponse(), errorCode }
  },
})
