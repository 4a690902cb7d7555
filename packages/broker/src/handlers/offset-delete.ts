// OffsetDelete (key 47), v0 (KIP-496). Deletes a group's committed offsets for some partitions. An
// unknown group is GROUP_ID_NOT_FOUND. A group with members may do it only when it is a consumer
// group ("consumer" protocol type, NON_EMPTY_GROUP otherwise), and not for topics its members
// subscribe to (read from their consumer protocol subscriptions): GROUP_SUBSCRIBED_TO_TOPIC.
// Unknown partitions are UNKNOWN_TOPIC_OR_PARTITION.
import { defineHandler } from './handler.js'

export const offsetDelete = defineHandler({
  apiKey: 47,
  handle(request, ctx) {
    return ctx.broker.groups.offsetDelete(request)
  },
})
