// ListGroups (key 16), v0–5. Every group this coordinator knows, including Empty groups that only
// hold offsets. v4+ statesFilter (KIP-518) and v5+ typesFilter (KIP-848; every group here is
// "classic"), both case-insensitive, empty meaning all.
import { defineHandler } from './handler.js'

export const listGroups = defineHandler({
  apiKey: 16,
  handle(request, ctx) {
    return ctx.broker.groups.listGroups(request, ctx.version)
  },
})
