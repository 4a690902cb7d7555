// DescribeGroups (key 15), v0–5. State, protocol type, and members with client id, client host
// (as "/address"), group.instance.id (v4+). As Kafka, the selected protocol and each member's
// metadata and assignment are only filled in when the group is Stable. An unknown group is
// described as Dead with no error (versions before 6). Authorized operations (v3+) are not
// computed: there are no ACLs yet.
import { defineHandler } from './handler.js'

export const describeGroups = defineHandler({
  apiKey: 15,
  handle(request, ctx) {
    return ctx.broker.groups.describeGroups(request)
  },
})
