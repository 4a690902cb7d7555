// Heartbeat (key 12), v0–4. Keeps a member's session alive. REBALANCE_IN_PROGRESS tells a member to
// rejoin; ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and (v3+, static members) FENCED_INSTANCE_ID tell it
// that it is no longer part of the current generation. A heartbeat for an unknown group is
// UNKNOWN_MEMBER_ID, as in Kafka.
import { defineHandler } from './handler.js'

export const heartbeat = defineHandler({
  apiKey: 12,
  handle(request, ctx) {
    return ctx.broker.groups.heartbeat(request)
  },
})
