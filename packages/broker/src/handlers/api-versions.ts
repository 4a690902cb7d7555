// ApiVersions (key 18), v0–4. Lists exactly the APIs and versions this broker serves. A request
// with a version newer than ours is answered by the connection layer with v0 UNSUPPORTED_VERSION
// and this same list, so the client can retry with a version we know (KIP-511).
import { ErrorCode, defaultApiVersionsResponse } from '@fluxo/protocol'
import { type BrokerContext, defineHandler } from './handler.js'

export function apiVersionsBody(broker: BrokerContext, errorCode: number = ErrorCode.NONE) {
  return {
    ...defaultApiVersionsResponse(),
    errorCode,
    apiKeys: broker.apis().map(({ apiKey, minVersion, maxVersion }) => ({ apiKey, minVersion, maxVersion })),
  }
}

export const apiVersions = defineHandler({
  apiKey: 18,
  handle(_request, ctx) {
    return apiVersionsBody(ctx.broker)
  },
})
