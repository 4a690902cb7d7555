// ListTransactions (key 66, KIP-664), v0–1. Transactional ids filtered by state names and producer
// ids (an empty filter matches everything); v1 (KIP-994) adds durationFilter: only transactions open
// longer than that many ms. State names the coordinator does not know come back in
// unknownStateFilters.
import { defaultListTransactionsResponse } from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const listTransactions = defineHandler({
  apiKey: 66,
  handle(request, ctx) {
    const { unknownStates, transactions } = ctx.broker.transactions.list(
      request.stateFilters,
      request.producerIdFilters,
      ctx.version >= 1 ? request.durationFilter : -1,
    )
    return {
      ...defaultListTransactionsResponse(),
      unknownStateFilters: unknownStates,
      transactionStates: transactions.map((t) => ({
        transactionalId: t.transactionalId,
        producerId: t.producerId,
        transactionState: t.state,
      })),
    }
  },
})
