// JoinGroup (key 11), v0–9. Classic group membership (coordinator/classic-group.ts). The answer may
// wait: until every known member rejoined or the rebalance timeout passed, and for a new group
// group.initial.rebalance.delay.ms. The connection handles its requests one at a time (as Kafka's
// does), which is fine: clients send JoinGroup alone and wait for it.
// v0 has no rebalance timeout (the session timeout is used). v4+ (KIP-394): a member without a
// group.instance.id joining for the first time gets MEMBER_ID_REQUIRED with its id and joins again.
// v5+ group.instance.id (KIP-345, static membership). v7+ returns the protocol type; before v7 the
// protocol name is "" rather than null. v9 skipAssignment for a static leader rejoining (KIP-814).
import { clientInfo, defineHandler } from './handler.js'

export const joinGroup = defineHandler({
  apiKey: 11,
  handle(request, ctx) {
    return ctx.broker.groups.joinGroup(request, ctx.version, clientInfo(ctx))
  },
})
