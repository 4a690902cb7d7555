// ConsumerGroupDescribe (key 69), v0–1. KIP-848 groups: state, group and assignment epochs, assignor,
// members with their current and target assignments (topic ids and names). v1 (KIP-1099) adds the
// member type, always 1 (consumer protocol) here. A classic or unknown group is GROUP_ID_NOT_FOUND,
// an empty id INVALID_GROUP_ID. includeAuthorizedOperations is ignored (no ACLs yet).
import { defineHandler } from './handler.js'

export const consumerGroupDescribe = defineHandler({
  apiKey: 69,
  handle(request, ctx) {
    return ctx.broker.groups.consumerGroupDescribe(request, ctx.version)
  },
})
