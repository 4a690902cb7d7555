// OffsetFetch (key 9), v1–9. Committed offsets of the partitions asked for (-1 and "" metadata
// where none is committed), or of every committed partition when topics is null (v2+). v5+ adds
// the leader epoch, v7+ requireStable (nothing to wait for: Fluxo has no transactional offsets
// yet), v8+ several groups per request. An unknown group is not an error: it has no offsets.
import { defineHandler } from './handler.js'

export const offsetFetch = defineHandler({
  apiKey: 9,
  handle(request, ctx) {
    return ctx.broker.groups.offsetFetch(request, ctx.version)
  },
})
