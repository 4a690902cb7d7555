/**
 * The client's view of the cluster: bootstrap, the metadata cache (brokers, topics, partition
 * leaders), one pipelined connection per broker, coordinator lookup and retries. The producer, the
 * admin and the consumer all sit on one `Cluster`.
 *
 * Metadata is refreshed when a caller reports it stale (NOT_LEADER_OR_FOLLOWER,
 * UNKNOWN_TOPIC_OR_PARTITION, a closed connection...) and when it is older than metadataMaxAgeMs.
 */
import {
  ApiKey,
  type ApiRequests,
  type ApiResponses,
  ErrorCode,
  type MetadataResponse,
  ZERO_UUID,
} from '@fluxo/protocol'
import { Connection, type RequestOptions } from '../connection/connection.js'
import { ConnectionError, IllegalStateError, KafkaError, isRetriable } from '../errors.js'
import { type RetryCall, type RetryOptions, retry } from './retry.js'

export interface ClusterOptions {
  /** `host:port` of one or more brokers to learn the cluster from. */
  bootstrap: string[]
  /** Sent in every request header. Default `fluxo`. */
  clientId?: string
  /** Time allowed to open a connection, in ms. Default 10000. */
  connectTimeoutMs?: number
  /** Time allowed for each response, in ms. Default 30000. */
  requestTimeoutMs?: number
  /** Backoff for retriable failures. */
  retry?: RetryOptions
  /** Metadata older than this is refreshed before use, in ms (Kafka's metadata.max.age.ms). Default 300000. */
  metadataMaxAgeMs?: number
  /** Caps on API versions, by API key; see ConnectionOptions.maxVersions. */
  maxVersions?: Readonly<Record<number, number>>
}

export interface BrokerInfo {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

export interface PartitionInfo {
  partition: number
  /** Leader node id, -1 when there is none. */
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  offlineReplicas: number[]
  errorCode: number
}

export interface TopicInfo {
  name: string
  topicId: string
  isInternal: boolean
  partitions: PartitionInfo[]
  /** When this entry was fetched (epoch ms). */
  updatedAt: number
}

/** FindCoordinator key types. */
export const CoordinatorType = { group: 0, transaction: 1 } as const
export type CoordinatorType = (typeof CoordinatorType)[keyof typeof CoordinatorType]

/** Topic errors after which a Metadata request should be repeated. */
const RETRY_METADATA = new Set<number>([
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
])

/**
 * Versions clients stay below: AddPartitionsToTxn v4+ is broker-to-broker, EndTxn v5 changes the
 * epoch on every transaction (KIP-890 part 2), which this client does not implement yet.
 */
const CLIENT_VERSION_CAPS: Readonly<Record<number, number>> = { 24: 3, 26: 4 }

export function parseHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':')
  if (at <= 0) throw new IllegalStateError(`bootstrap address ${address} is not host:port`)
  const port = Number(address.slice(at + 1))
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new IllegalStateError(`bootstrap address ${address} has an invalid port`)
  let host = address.slice(0, at)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  return { host, port }
}

export class Cluster {
  readonly options: ClusterOptions
  readonly retryOptions: Required<RetryOptions>
  private readonly maxVersions: Readonly<Record<number, number>>
  clusterId: string | null = null
  controllerId = -1
  private readonly brokerMap = new Map<number, BrokerInfo>()
  private readonly topicMap = new Map<string, TopicInfo>()
  private readonly staleTopics = new Set<string>()
  private readonly connections = new Map<number, Promise<Connection>>()
  private bootstrapConnection: Promise<Connection> | undefined
  private readonly coordinators = new Map<string, BrokerInfo>()
  private metadataInFlight: Promise<MetadataResponse> | undefined
  private metadataQueued: { topics: Set<string> | null; promise: Promise<MetadataResponse> } | undefined
  private closed = false

  constructor(options: ClusterOptions) {
    if (!options.bootstrap?.length) throw new IllegalStateError('bootstrap needs at least one host:port')
    for (const b of options.bootstrap) parseHostPort(b)
    this.options = options
    this.maxVersions = { ...CLIENT_VERSION_CAPS, ...options.maxVersions }
    this.retryOptions = {
      retries: options.retry?.retries ?? 5,
      initialRetryTimeMs: options.retry?.initialRetryTimeMs ?? 100,
      maxRetryTimeMs: options.retry?.maxRetryTimeMs ?? 1000,
    }
  }

  brokers(): BrokerInfo[] {
    return [...this.brokerMap.values()]
  }

  broker(nodeId: number): BrokerInfo | undefined {
    return this.brokerMap.get(nodeId)
  }

  /** The cached metadata of `topic`, if any (possibly stale). */
  topic(name: string): TopicInfo | undefined {
    return this.topicMap.get(name)
  }

  /** Leader node of a partition from the cache; -1 when unknown. */
  leader(topic: string, partition: number): number {
    return this.topicMap.get(topic)?.partitions[partition]?.leader ?? -1
  }

  /** Marks a topic's metadata stale: the next `topics()` call fetches it again. */
  invalidate(topic: string): void {
    this.staleTopics.add(topic)
  }

  /**
   * Metadata for `names`, from the cache when fresh, else from the cluster. Topics that do not
   * exist (and were not auto-created) are absent from the result.
   */
  async topics(
    names: readonly string[],
    options: { allowAutoTopicCreation?: boolean } = {},
  ): Promise<Map<string, TopicInfo>> {
    const maxAge = this.options.metadataMaxAgeMs ?? 300_000
    const now = Date.now()
    const missing = names.filter((n) => {
      const t = this.topicMap.get(n)
      return !t || this.staleTopics.has(n) || now - t.updatedAt > maxAge
    })
    if (missing.length > 0) {
      await retry(
        async () => {
          const md = await this.refreshMetadata(missing, options)
          const retriable = md.topics.find((t) => RETRY_METADATA.has(t.errorCode) && !!t.name)
          // A topic just auto-created has no leader yet: Kafka answers LEADER_NOT_AVAILABLE once.
          if (retriable && retriable.errorCode === ErrorCode.LEADER_NOT_AVAILABLE)
            throw new KafkaError(retriable.errorCode, null, { topic: retriable.name! })
        },
        { ...this.retryOptions, retries: Math.min(this.retryOptions.retries, 3) },
      )
    }
    const out = new Map<string, TopicInfo>()
    for (const n of names) {
      const t = this.topicMap.get(n)
      if (t) out.set(n, t)
    }
    return out
  }

  /** Like `topics`, for one topic; throws UNKNOWN_TOPIC_OR_PARTITION when it does not exist. */
  async topicInfo(name: string, options: { allowAutoTopicCreation?: boolean } = {}): Promise<TopicInfo> {
    const t = (await this.topics([name], options)).get(name)
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, { topic: name })
    return t
  }

  /**
   * Sends a Metadata request for `topics` (null: every topic) and updates the cache. Calls made
   * while a request is running are merged into one follow-up request.
   */
  refreshMetadata(
    topics: readonly string[] | null,
    options: { allowAutoTopicCreation?: boolean } = {},
  ): Promise<MetadataResponse> {
    if (!this.metadataInFlight) {
      this.metadataInFlight = this.fetchMetadata(topics, options.allowAutoTopicCreation ?? false).finally(
        () => {
          this.metadataInFlight = undefined
        },
      )
      return this.metadataInFlight
    }
    if (!this.metadataQueued) {
      const queued = {
        topics: topics ? new Set(topics) : null,
        promise: undefined as unknown as Promise<MetadataResponse>,
      }
      queued.promise = this.metadataInFlight
        .catch(() => undefined)
        .then(() => {
          this.metadataQueued = undefined
          return this.refreshMetadata(queued.topics ? [...queued.topics] : null, options)
        })
      this.metadataQueued = queued
      return queued.promise
    }
    const q = this.metadataQueued
    if (q.topics && topics) for (const t of topics) q.topics.add(t)
    else q.topics = null
    return q.promise
  }

  private async fetchMetadata(
    topics: readonly string[] | null,
    allowAutoTopicCreation: boolean,
  ): Promise<MetadataResponse> {
    const md = await this.requestToAny(ApiKey.Metadata, {
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    })
    this.applyMetadata(md, topics)
    return md
  }

  private applyMetadata(md: MetadataResponse, requested: readonly string[] | null): void {
    const now = Date.now()
    this.clusterId = md.clusterId
    this.controllerId = md.controllerId
    if (md.brokers.length > 0) {
      const seen = new Set<number>()
      for (const b of md.brokers) {
        seen.add(b.nodeId)
        const old = this.brokerMap.get(b.nodeId)
        if (old && (old.host !== b.host || old.port !== b.port)) this.dropConnection(b.nodeId)
        this.brokerMap.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })
      }
      for (const id of [...this.brokerMap.keys()]) {
        if (!seen.has(id)) {
          this.brokerMap.delete(id)
          this.dropConnection(id)
        }
      }
    }
    for (const t of md.topics) {
      if (!t.name) continue
      if (
        t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
        t.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION
      ) {
        this.topicMap.delete(t.name)
        this.staleTopics.delete(t.name)
        continue
      }
      if (t.errorCode !== ErrorCode.NONE && t.partitions.length === 0) continue
      const partitions: PartitionInfo[] = []
      for (const p of t.partitions) {
        partitions[p.partitionIndex] = {
          partition: p.partitionIndex,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offlineReplicas: p.offlineReplicas,
          errorCode: p.errorCode,
        }
      }
      this.topicMap.set(t.name, {
        name: t.name,
        topicId: t.topicId,
        isInternal: t.isInternal,
        partitions,
        updatedAt: now,
      })
      if (t.errorCode === ErrorCode.NONE) this.staleTopics.delete(t.name)
    }
    if (requested === null) {
      const names = new Set(md.topics.map((t) => t.name))
      for (const name of [...this.topicMap.keys()]) if (!names.has(name)) this.topicMap.delete(name)
    }
  }

  /** The connection to `nodeId`, opened on first use. */
  connection(nodeId: number): Promise<Connection> {
    if (this.closed) return Promise.reject(new IllegalStateError('the client is closed'))
    const existing = this.connections.get(nodeId)
    if (existing) return existing
    const broker = this.brokerMap.get(nodeId) ?? this.coordinatorBroker(nodeId)
    if (!broker) return Promise.reject(new ConnectionError(`broker ${nodeId} is not in the cluster metadata`))
    return this.open(nodeId, broker)
  }

  private coordinatorBroker(nodeId: number): BrokerInfo | undefined {
    for (const b of this.coordinators.values()) if (b.nodeId === nodeId) return b
    return undefined
  }

  private open(nodeId: number, broker: BrokerInfo): Promise<Connection> {
    const opening = Connection.connect({
      host: broker.host,
      port: broker.port,
      nodeId,
      clientId: this.options.clientId ?? 'fluxo',
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxVersions: this.maxVersions,
    })
    this.connections.set(nodeId, opening)
    opening.then(
      (c) =>
        c.onClose(() => {
          if (this.connections.get(nodeId) === opening) this.connections.delete(nodeId)
        }),
      () => {
        if (this.connections.get(nodeId) === opening) this.connections.delete(nodeId)
      },
    )
    return opening
  }

  private dropConnection(nodeId: number): void {
    const c = this.connections.get(nodeId)
    if (!c) return
    this.connections.delete(nodeId)
    c.then((conn) => conn.close()).catch(() => {})
  }

  /** A connection to any broker: an open one if there is one, else a known broker, else bootstrap. */
  async anyConnection(): Promise<Connection> {
    if (this.closed) throw new IllegalStateError('the client is closed')
    for (const c of this.connections.values()) {
      const conn = await c.catch(() => undefined)
      if (conn && !conn.closed) return conn
    }
    const brokers = this.brokers()
    if (brokers.length > 0) {
      const start = Math.floor(Math.random() * brokers.length)
      let lastError: unknown
      for (let i = 0; i < brokers.length; i++) {
        const b = brokers[(start + i) % brokers.length]
        try {
          return await this.connection(b.nodeId)
        } catch (err) {
          lastError = err
        }
      }
      // Every known broker failed: go back to the bootstrap list, as Kafka's clients do (KIP-899).
      return this.bootstrap().catch(() => {
        throw lastError
      })
    }
    return this.bootstrap()
  }

  private async bootstrap(): Promise<Connection> {
    const current = this.bootstrapConnection && (await this.bootstrapConnection.catch(() => undefined))
    if (current && !current.closed) return current
    const addresses = [...this.options.bootstrap].sort(() => Math.random() - 0.5)
    const attempt = (async () => {
      let lastError: unknown
      for (const address of addresses) {
        const { host, port } = parseHostPort(address)
        try {
          return await Connection.connect({
            host,
            port,
            clientId: this.options.clientId ?? 'fluxo',
            connectTimeoutMs: this.options.connectTimeoutMs,
            requestTimeoutMs: this.options.requestTimeoutMs,
            maxVersions: this.maxVersions,
          })
        } catch (err) {
          lastError = err
        }
      }
      throw lastError
    })()
    this.bootstrapConnection = attempt
    attempt.catch(() => {
      if (this.bootstrapConnection === attempt) this.bootstrapConnection = undefined
    })
    return attempt
  }

  /** Sends a request to `nodeId` (or any broker when undefined). */
  async request<K extends keyof ApiRequests>(
    nodeId: number | undefined,
    apiKey: K,
    body: ApiRequests[K],
    options?: RequestOptions,
  ): Promise<ApiResponses[K]> {
    const conn = nodeId === undefined ? await this.anyConnection() : await this.connection(nodeId)
    return conn.request(apiKey, body, options)
  }

  /** `request` to any broker, retried with backoff on retriable failures. */
  requestToAny<K extends keyof ApiRequests>(
    apiKey: K,
    body: ApiRequests[K],
    options?: RequestOptions,
  ): Promise<ApiResponses[K]> {
    return this.retry(() => this.request(undefined, apiKey, body, options))
  }

  /** Runs `fn` with this cluster's backoff settings. */
  retry<T>(fn: (attempt: number) => Promise<T>, options: RetryCall = {}): Promise<T> {
    return retry(fn, { ...this.retryOptions, ...options })
  }

  /** The controller's connection (admin requests that Kafka routes to it), or any broker. */
  async controllerConnection(): Promise<Connection> {
    if (this.controllerId < 0 || !this.brokerMap.has(this.controllerId)) await this.refreshMetadata([])
    if (this.controllerId >= 0 && this.brokerMap.has(this.controllerId))
      return this.connection(this.controllerId)
    return this.anyConnection()
  }

  /**
   * The coordinator of a group (type 0) or transactional id (type 1), found with FindCoordinator
   * and cached until `invalidateCoordinator`.
   */
  async coordinator(key: string, type: CoordinatorType): Promise<Connection> {
    const cacheKey = `${type}:${key}`
    const cached = this.coordinators.get(cacheKey)
    if (cached) return this.connection(cached.nodeId)
    const broker = await this.retry(async () => {
      const conn = await this.anyConnection()
      const batched = conn.versionFor(ApiKey.FindCoordinator) >= 4
      const res = await conn.request(ApiKey.FindCoordinator, {
        key: batched ? '' : key,
        keyType: type,
        coordinatorKeys: batched ? [key] : [],
      })
      const c = batched
        ? res.coordinators[0]
        : {
            nodeId: res.nodeId,
            host: res.host,
            port: res.port,
            errorCode: res.errorCode,
            errorMessage: res.errorMessage,
          }
      if (!c) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'empty FindCoordinator response')
      if (c.errorCode !== ErrorCode.NONE)
        throw new KafkaError(
          c.errorCode,
          c.errorMessage,
          type === CoordinatorType.group ? { groupId: key } : {},
        )
      return { nodeId: c.nodeId, host: c.host, port: c.port, rack: null }
    })
    this.coordinators.set(cacheKey, broker)
    if (!this.brokerMap.has(broker.nodeId)) this.brokerMap.set(broker.nodeId, broker)
    return this.connection(broker.nodeId)
  }

  invalidateCoordinator(key: string, type: CoordinatorType): void {
    this.coordinators.delete(`${type}:${key}`)
  }

  /** Closes every connection, after their in-flight requests complete. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const all = [...this.connections.values()]
    if (this.bootstrapConnection) all.push(this.bootstrapConnection)
    this.connections.clear()
    this.bootstrapConnection = undefined
    await Promise.all(all.map((c) => c.then((conn) => conn.close()).catch(() => {})))
  }
}

/** Errors after which cached metadata for the partition is suspect. */
export function isStaleMetadataError(err: unknown): boolean {
  if (err instanceof KafkaError) {
    return (
      err.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
      err.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
      err.errorCode === ErrorCode.LEADER_NOT_AVAILABLE ||
      err.errorCode === ErrorCode.FENCED_LEADER_EPOCH ||
      err.errorCode === ErrorCode.UNKNOWN_LEADER_EPOCH ||
      err.errorCode === ErrorCode.KAFKA_STORAGE_ERROR
    )
  }
  return err instanceof ConnectionError || (isRetriable(err) && !(err instanceof KafkaError))
}
