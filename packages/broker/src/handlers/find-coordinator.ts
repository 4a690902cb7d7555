// FindCoordinator (key 10), v0–6. One broker coordinates everything: any group key (type 0) and any
// transactional id (type 1) is answered with this broker. v4+ batches keys (KIP-699): one result per
// key. Another key type (share groups, type 2, are not supported) is INVALID_REQUEST. As in Kafka an
// empty group id is not refused here: the group APIs answer it with INVALID_GROUP_ID. A group lookup
// creates __consumer_offsets when it does not exist yet, as Kafka's does.
import { ErrorCode, defaultFindCoordinatorResponse } from '@fluxo/protocol'
import { type RequestContext, defineHandler } from './handler.js'

const GROUP = 0
const TRANSACTION = 1

interface Lookup {
  errorCode: number
  errorMessage: string | null
  nodeId: number
  host: string
  port: number
}

export const findCoordinator = defineHandler({
  apiKey: 10,
  async handle(request, ctx) {
    const found = await lookup(request.keyType, ctx)
    if (ctx.version >= 4) {
      return {
        ...defaultFindCoordinatorResponse(),
        coordinators: request.coordinatorKeys.map((key) => ({ key, ...found })),
      }
    }
    return { ...defaultFindCoordinatorResponse(), ...found }
  },
})

async function lookup(keyType: number, ctx: RequestContext): Promise<Lookup> {
  if (keyType !== GROUP && keyType !== TRANSACTION) {
    return fail(ErrorCode.INVALID_REQUEST, `unsupported coordinator key type ${keyType}`)
  }
  if (keyType === GROUP) {
    try {
      await ctx.broker.groups.ready()
    } catch (err) {
      ctx.broker.logger.error({ err }, 'could not create __consumer_offsets')
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the group coordinator is not available')
    }
  }
  const self = ctx.broker.cluster.self
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    nodeId: self.nodeId,
    host: self.host,
    port: self.port,
  }
}

function fail(errorCode: number, errorMessage: string): Lookup {
  return { errorCode, errorMessage, nodeId: -1, host: '', port: -1 }
}
