// SyncGroup (key 14), v0–5. The leader sends every member's assignment; the coordinator relays them
// and never reads them. Followers wait until the leader has synced. Assignments naming members the
// group does not know are ignored, members the leader left out get an empty one (as Kafka). v3+
// group.instance.id. v5+ (KIP-559) the client must send the protocol type and name, which must
// match the group's (INCONSISTENT_GROUP_PROTOCOL otherwise); the response echoes them.
import { defineHandler } from './handler.js'

export const syncGroup = defineHandler({
  apiKey: 14,
  handle(request, ctx) {
    return ctx.broker.groups.syncGroup(request, ctx.version)
  },
})
