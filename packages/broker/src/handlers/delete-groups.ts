// DeleteGroups (key 42), v0–2. Deletes Empty groups and their committed offsets (tombstones in
// __consumer_offsets). A group with members is NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
// A name given twice is answered once.
import { defineHandler } from './handler.js'

export const deleteGroups = defineHandler({
  apiKey: 42,
  handle(request, ctx) {
    return ctx.broker.groups.deleteGroups(request)
  },
})
