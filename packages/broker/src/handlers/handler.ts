import type { ApiRequests, ApiResponses, RequestHeader } from '@fluxo/protocol'
import type { Logger } from 'pino'
import type { Cluster } from '../cluster/cluster.js'
import type { BrokerConfig } from '../config.js'
import type { ClientInfo, GroupCoordinator } from '../coordinator/group-coordinator.js'
import type { TransactionCoordinator } from '../coordinator/transaction-coordinator.js'

/** Returned by a handler when Kafka sends no response (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no response')

/** What every handler may use: the cluster state, the broker's config, its logger. */
export interface BrokerContext {
  cluster: Cluster
  config: BrokerConfig
  logger: Logger
  /** Consumer groups and committed offsets. */
  groups: GroupCoordinator
  /** Producer ids, transactions and their markers (__transaction_state). */
  transactions: TransactionCoordinator
  /** Aborted when the broker shuts down: long-polls answer at once. */
  shutdown: AbortSignal
  /** The APIs this broker serves, for ApiVersions. */
  apis(): readonly SupportedApi[]
}

export interface SupportedApi {
  apiKey: number
  minVersion: number
  maxVersion: number
}

export interface RequestContext {
  header: RequestHeader
  version: number
  broker: BrokerContext
  /** Client address as host:port, for logs and group member hosts. */
  clientAddress: string
}

export interface Handler<K extends keyof ApiRequests = keyof ApiRequests> {
  apiKey: K
  /** Versions this handler serves; defaults to the protocol package's supported range. */
  minVersion?: number
  maxVersion?: number
  handle(
    request: ApiRequests[K],
    ctx: RequestContext,
  ): ApiResponses[K] | typeof NO_RESPONSE | Promise<ApiResponses[K] | typeof NO_RESPONSE>
}

export function defineHandler<K extends keyof ApiRequests>(handler: Handler<K>): Handler<K> {
  return handler
}

/** The client id and host a group member is described with; Kafka prints the host as "/127.0.0.1". */
export function clientInfo(ctx: RequestContext): ClientInfo {
  const address = ctx.clientAddress
  const at = address.lastIndexOf(':')
  const host = at > 0 ? address.slice(0, at) : address
  return { clientId: ctx.header.clientId ?? '', clientHost: `/${host}` }
}
