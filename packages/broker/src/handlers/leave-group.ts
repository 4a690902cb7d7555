// LeaveGroup (key 13), v0–5. v0–2: one member by member id, its error at the top level. v3+
// (KIP-345): a batch of members, each by member id or by group.instance.id (an empty member id
// removes the static member whatever its id), one result each. The group rebalances without them.
// v5 adds a reason (logged only).
import { defineHandler } from './handler.js'

export const leaveGroup = defineHandler({
  apiKey: 13,
  handle(request, ctx) {
    return ctx.broker.groups.leaveGroup(request, ctx.version)
  },
})
