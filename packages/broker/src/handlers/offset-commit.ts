// OffsetCommit (key 8), v2–9. Commits are written to __consumer_offsets and acknowledged once the
// append resolved. Generation -1 with no member id is a simple commit, accepted while the group is
// Empty or does not exist (it is created). Otherwise the member and generation must be current:
// ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID (v7+ group.instance.id),
// REBALANCE_IN_PROGRESS while the group completes a rebalance; a generation for a group that does
// not exist is ILLEGAL_GENERATION (GROUP_ID_NOT_FOUND from v9, as Kafka). Per partition:
// UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE above 4096 bytes (offset.metadata.max.bytes).
// v2–4 retentionTimeMs is ignored (Kafka 4 ignores it too); v6+ carries the leader epoch.
import { defineHandler } from './handler.js'

export const offsetCommit = defineHandler({
  apiKey: 8,
  handle(request, ctx) {
    return ctx.broker.groups.offsetCommit(request, ctx.version)
  },
})
