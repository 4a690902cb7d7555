// ConsumerGroupHeartbeat (key 68), v0–1. KIP-848 membership with server-side assignment
// (coordinator/consumer-group.ts): epoch 0 joins, -1 leaves, -2 leaves as a static member; every
// heartbeat may carry the member's new assignment. v0: the coordinator generates the member id on
// join; v1: the client does (KIP-1082) and may subscribe with a regex (RE2/J, run as a JS RegExp).
import { clientInfo, defineHandler } from './handler.js'

export const consumerGroupHeartbeat = defineHandler({
  apiKey: 68,
  handle(request, ctx) {
    return ctx.broker.groups.consumerGroupHeartbeat(request, ctx.version, clientInfo(ctx))
  },
})
