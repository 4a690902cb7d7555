/**
 * The consumer: manual assignment or group subscription (classic protocol with range, roundrobin
 * and cooperative-sticky assignors, or KIP-848 with `groupProtocol: 'consumer'`), consumed with
 * `for await` or `run()`.
 *
 * Fetching, group membership and processing are decoupled: fetches fill a bounded per-partition
 * buffer, heartbeats run on their own timer, and the application takes records at its own pace. A
 * handler slower than session.timeout.ms therefore keeps the membership; only the buffer stops
 * growing. Offsets follow Java's consumer: `position` is the next offset to hand out, and a record
 * counts as consumed (for auto-commit) once the application asks for the next one or its handler
 * resolves.
 */
import { Cluster } from '../cluster/cluster.js'
import { ClientError, IllegalStateError } from '../errors.js'
import type { GroupMetadata, TopicPartitionOffset } from '../producer/transaction.js'
import { type Deserializer, bytesSerde } from '../serde.js'
import { type AssignorName, assignorFor } from './assignors.js'
import { ConsumerGroupMember } from './consumer-group-member.js'
import {
  type FetchedRecord,
  Fetcher,
  type IsolationLevel,
  type OffsetResetStrategy,
  type PartitionState,
  type TopicPartition,
  tpKey,
} from './fetcher.js'
import { GroupMember, type GroupMemberOptions, type Membership, type RebalanceListeners } from './group.js'

export type { IsolationLevel, OffsetResetStrategy, TopicPartition } from './fetcher.js'
export { NoOffsetForPartitionError } from './fetcher.js'

/** A key or value its deserializer rejected; the partition stays at `offset` until a seek moves past it. */
export class DeserializationError extends ClientError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    cause: unknown,
  ) {
    super(
      'ERR_FLUXO_DESERIALIZATION',
      `cannot deserialize the record at ${topic}-${partition}@${offset}: ${(cause as Error)?.message ?? cause}`,
      false,
      { cause },
    )
  }
}

export interface ConsumerHeader {
  key: string
  value: Buffer | null
}

export interface ConsumerRecord<K = Buffer, V = Buffer> {
  topic: string
  partition: number
  offset: number
  key: K | null
  value: V | null
  /** In record order; Kafka allows a key more than once. */
  headers: ConsumerHeader[]
  /** Epoch ms: the producer's CreateTime, or the broker's LogAppendTime (see timestampType). */
  timestamp: number
  timestampType: 'CreateTime' | 'LogAppendTime'
  /** Leader epoch of the batch the record came in (-1 when unknown). */
  leaderEpoch: number
}

export interface PartitionStats extends TopicPartition {
  /** Next offset to hand out; -1 while not known yet. */
  position: number
  /** At the last fetch; -1 before the first. */
  highWatermark: number
  /** highWatermark - position, -1 while either is unknown. */
  lag: number
  /** Fetched and waiting for the application: at most about twice maxPartitionBytes. */
  bufferedRecords: number
  bufferedBytes: number
  paused: boolean
}

/** The records of one partition handed to `eachBatch`, in offset order. */
export interface ConsumerBatch<K = Buffer, V = Buffer> {
  topic: string
  partition: number
  records: ConsumerRecord<K, V>[]
  /** The partition's high watermark at the last fetch: `highWatermark - 1 - lastOffset` is the lag. */
  highWatermark: number
}

export interface TopicDeserializers<K = unknown, V = unknown> {
  key?: Deserializer<K>
  value?: Deserializer<V>
}

export interface ConsumerOptions<K = Buffer, V = Buffer> extends RebalanceListeners {
  /** The consumer group (group.id). Without one, only `assign` works and `commit` is unavailable. */
  groupId?: string
  /** Static membership (group.instance.id, KIP-345): a restart within the session timeout keeps the assignment. */
  groupInstanceId?: string
  /** The coordinator drops a member that sent no heartbeat for this long, in ms (session.timeout.ms). Default 45000. */
  sessionTimeoutMs?: number
  /** Time members have to rejoin during a rebalance, in ms (max.poll.interval.ms). Default 300000. */
  rebalanceTimeoutMs?: number
  /** Time between heartbeats, in ms (heartbeat.interval.ms). Default 3000. */
  heartbeatIntervalMs?: number
  /**
   * Assignors offered to the group, preferred first (partition.assignment.strategy). Default
   * `['range', 'cooperative-sticky']`, Kafka 3.x's default. The cooperative protocol (KIP-429) is
   * used only when every listed assignor supports it, i.e. `['cooperative-sticky']`.
   */
  assignors?: AssignorName[]
  /**
   * The group protocol (group.protocol): 'classic' (JoinGroup/SyncGroup, client-side assignors, the
   * default) or 'consumer' (KIP-848: ConsumerGroupHeartbeat, the coordinator assigns; `assignors`,
   * `sessionTimeoutMs` and `heartbeatIntervalMs` then come from the broker's group config).
   */
  groupProtocol?: 'classic' | 'consumer'
  /** With groupProtocol 'consumer': the coordinator's assignor, 'uniform' or 'range' (group.remote.assignor). Default: the broker's. */
  groupRemoteAssignor?: string
  /** Where to start without a committed offset or after OFFSET_OUT_OF_RANGE (auto.offset.reset). Default 'latest'. */
  autoOffsetReset?: OffsetResetStrategy
  /** Commit consumed offsets periodically and before partitions are revoked (enable.auto.commit). Default true with a groupId. */
  autoCommit?: boolean
  /** Interval of automatic commits, in ms (auto.commit.interval.ms). Default 5000. */
  autoCommitIntervalMs?: number
  /** 'read_committed' skips aborted transactional records and stops at the last stable offset (isolation.level). Default 'read_uncommitted'. */
  isolationLevel?: IsolationLevel
  /** Bytes the broker waits for before answering a Fetch (fetch.min.bytes). Default 1. */
  minBytes?: number
  /** Upper bound on a Fetch response (fetch.max.bytes). Default 52428800. */
  maxBytes?: number
  /** Upper bound per partition in a Fetch response (max.partition.fetch.bytes); also the per-partition buffer size. Default 1048576. */
  maxPartitionBytes?: number
  /** Longest the broker holds a Fetch waiting for minBytes, in ms (fetch.max.wait.ms). Default 500. */
  maxWaitMs?: number
  /** Key deserializer for every topic without its own (key.deserializer). Default: Buffers as received. */
  keyDeserializer?: Deserializer<K>
  /** Value deserializer for every topic without its own (value.deserializer). Default: Buffers as received. */
  valueDeserializer?: Deserializer<V>
  /** Deserializers by topic name. */
  topics?: Record<string, TopicDeserializers>
}

export interface RunOptions<K, V> {
  /** Called for each record in order per partition; the record counts as consumed when it resolves. */
  eachRecord?: (record: ConsumerRecord<K, V>) => unknown | Promise<unknown>
  /** Called with the buffered records of one partition; they count as consumed when it resolves. */
  eachBatch?: (batch: ConsumerBatch<K, V>) => unknown | Promise<unknown>
  /** Most records per eachBatch call. Default 500 (max.poll.records). */
  maxBatchRecords?: number
}

export class Consumer<K = Buffer, V = Buffer> implements AsyncIterable<ConsumerRecord<K, V>> {
  private readonly fetcher: Fetcher
  readonly groupId: string | undefined
  private readonly groupInstanceId: string | undefined
  private readonly group: Membership | undefined
  private readonly autoCommit: boolean
  private readonly keyDeserializer: Deserializer<unknown>
  private readonly valueDeserializer: Deserializer<unknown>
  private readonly topicDeserializers: Record<string, TopicDeserializers>
  private mode: 'none' | 'assign' | 'subscribe' = 'none'
  private autoCommitTimer: NodeJS.Timeout | undefined
  private closing = false
  private running: Promise<void> | undefined
  /** Resolves when the record handler currently running (run()) finishes. */
  private handling: Promise<unknown> | undefined

  constructor(
    private readonly cluster: Cluster,
    options: ConsumerOptions<K, V> = {},
    /**
     * Fetches use their own connections: a long-polling Fetch would otherwise hold heartbeats,
     * JoinGroup and commits behind it on the shared socket (Kafka answers in order), as Java's
     * consumer avoids with its separate coordinator connection.
     */
    private readonly fetchCluster: Cluster = new Cluster(cluster.options),
  ) {
    this.groupId = options.groupId
    this.groupInstanceId = options.groupInstanceId
    if (options.groupInstanceId !== undefined && options.groupId === undefined)
      throw new IllegalStateError('groupInstanceId needs a groupId')
    this.autoCommit = options.groupId !== undefined && (options.autoCommit ?? true)
    this.keyDeserializer = (options.keyDeserializer ?? bytesSerde) as Deserializer<unknown>
    this.valueDeserializer = (options.valueDeserializer ?? bytesSerde) as Deserializer<unknown>
    this.topicDeserializers = options.topics ?? {}
    if ((options.heartbeatIntervalMs ?? 3000) >= (options.sessionTimeoutMs ?? 45_000))
      throw new IllegalStateError('heartbeatIntervalMs must be lower than sessionTimeoutMs')
    const autoOffsetReset = options.autoOffsetReset ?? 'latest'
    if (!['latest', 'earliest', 'none'].includes(autoOffsetReset))
      throw new IllegalStateError(`autoOffsetReset must be latest, earliest or none, not ${autoOffsetReset}`)
    const assignors = options.assignors ?? ['range', 'cooperative-sticky']
    for (const a of assignors) assignorFor(a) // unknown names fail now
    const groupProtocol = options.groupProtocol ?? 'classic'
    if (groupProtocol !== 'classic' && groupProtocol !== 'consumer')
      throw new IllegalStateError(`groupProtocol must be classic or consumer, not ${groupProtocol}`)
    if (options.groupId !== undefined) {
      const membership: GroupMemberOptions = {
        groupId: options.groupId,
        groupInstanceId: options.groupInstanceId ?? null,
        sessionTimeoutMs: options.sessionTimeoutMs ?? 45_000,
        rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 300_000,
        heartbeatIntervalMs: options.heartbeatIntervalMs ?? 3000,
        assignors,
        listeners: {
          onPartitionsAssigned: options.onPartitionsAssigned,
          onPartitionsRevoked: options.onPartitionsRevoked,
          onPartitionsLost: options.onPartitionsLost,
        },
        owned: () => this.assignment(),
        addPartitions: (tps) => this.fetcher.add(tps, true),
        releasePartitions: (tps) => this.fetcher.release(tps),
        removePartitions: (tps) => this.fetcher.remove(tps),
        pausePartitions: (tps) => this.fetcher.setPaused(tps, true),
        commitBeforeRevoke: async (tps) => {
          await this.waitForHandler(options.rebalanceTimeoutMs ?? 300_000)
          if (this.autoCommit) await this.commitConsumed(tps)
        },
        notify: () => this.fetcher.notify(),
      }
      this.group =
        groupProtocol === 'consumer'
          ? new ConsumerGroupMember(cluster, {
              ...membership,
              remoteAssignor: options.groupRemoteAssignor ?? null,
            })
          : new GroupMember(cluster, membership)
    }
    this.fetcher = new Fetcher(fetchCluster, {
      isolationLevel: options.isolationLevel ?? 'read_uncommitted',
      autoOffsetReset,
      minBytes: options.minBytes ?? 1,
      maxBytes: options.maxBytes ?? 52_428_800,
      maxPartitionBytes: options.maxPartitionBytes ?? 1_048_576,
      maxWaitMs: options.maxWaitMs ?? 500,
      committed: this.group ? (tps) => this.group!.fetchCommitted(tps) : undefined,
    })
    if (this.autoCommit) {
      const interval = options.autoCommitIntervalMs ?? 5000
      this.autoCommitTimer = setInterval(() => {
        // Not while (re)joining: the revocation commits what it must, and a commit with a stale
        // generation would only earn an error.
        if (this.mode === 'subscribe' && !this.group?.isMember) return
        this.commitConsumed().catch(() => {}) // retried at the next interval; close() commits once more
      }, interval)
      this.autoCommitTimer.unref()
    }
  }

  /**
   * Joins the group and consumes what the assignor gives this member from `topics` (a list, or a
   * pattern matched against every non-internal topic, re-evaluated on each rebalance).
   */
  subscribe(topics: readonly string[] | RegExp): void {
    this.checkOpen()
    if (!this.group) throw new IllegalStateError('subscribe needs a groupId; use assign() without one')
    if (this.mode === 'assign')
      throw new IllegalStateError('this consumer uses assign(); it cannot also subscribe')
    this.mode = 'subscribe'
    this.group.subscribe(topics instanceof RegExp ? topics : [...topics])
  }

  /**
   * Ends the subscription or manual assignment: a group member commits what it consumed (with
   * autoCommit), gives up its partitions and leaves the group. `subscribe` or `assign` may follow.
   */
  async unsubscribe(): Promise<void> {
    this.checkOpen()
    if (this.mode === 'subscribe') await this.group!.unsubscribe()
    else this.fetcher.remove(this.assignment())
    this.mode = 'none'
  }

  /**
   * Consumes exactly these partitions, replacing any earlier assignment. Without `offset`, a partition
   * starts at the group's committed offset (with a groupId), else per autoOffsetReset.
   */
  assign(partitions: readonly (TopicPartition & { offset?: number })[]): void {
    this.checkOpen()
    if (this.mode === 'subscribe')
      throw new IllegalStateError('this consumer subscribed; it cannot also assign()')
    this.mode = 'assign'
    const keep = new Set(partitions.map((p) => tpKey(p.topic, p.partition)))
    this.fetcher.remove(this.assignment().filter((tp) => !keep.has(tpKey(tp.topic, tp.partition))))
    this.fetcher.add(partitions)
  }

  /**
   * The member's group identity (for a transactional producer's sendOffsets, KIP-447): generation -1
   * and member id '' while not in a group.
   */
  groupMetadata(): GroupMetadata {
    return {
      groupId: this.groupId ?? '',
      generationId: this.group?.generationId ?? -1,
      memberId: this.group?.memberId ?? '',
      groupInstanceId: this.groupInstanceId ?? null,
    }
  }

  /**
   * Per assigned partition: position, high watermark, lag (records between the position and the
   * high watermark at the last fetch) and what is fetched but not handed out yet.
   */
  stats(): PartitionStats[] {
    return [...this.fetcher.partitions.values()].map((s) => ({
      topic: s.topic,
      partition: s.partition,
      position: s.position,
      highWatermark: s.highWatermark,
      lag: s.position >= 0 && s.highWatermark >= 0 ? Math.max(0, s.highWatermark - s.position) : -1,
      bufferedRecords: s.buffer.length - s.bufferHead,
      bufferedBytes: s.bufferedBytes,
      paused: s.paused,
    }))
  }

  /** The partitions currently assigned (by assign() or by the group). */
  assignment(): TopicPartition[] {
    return [...this.fetcher.partitions.values()].map((s) => ({ topic: s.topic, partition: s.partition }))
  }

  /** The next record handed out from this partition will be the one at `offset`. */
  seek({ topic, partition, offset }: TopicPartition & { offset: number }): void {
    const s = this.requireAssigned(topic, partition)
    this.fetcher.seek(s.topic, s.partition, offset)
  }

  /** Stops fetching and handing out records of these partitions until resume(). */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.requireAssigned(tp.topic, tp.partition)
    this.fetcher.setPaused(partitions, true)
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.fetcher.setPaused(partitions, false)
  }

  paused(): TopicPartition[] {
    return [...this.fetcher.partitions.values()]
      .filter((s) => s.paused)
      .map((s) => ({ topic: s.topic, partition: s.partition }))
  }

  /**
   * The offset of the next record this consumer will hand out for the partition, waiting (up to
   * `timeoutMs`) for the committed offset or reset when it is not known yet.
   */
  async position(tp: TopicPartition, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const s = this.requireAssigned(tp.topic, tp.partition)
      if (s.position >= 0) return s.position
      this.fetcher.throwIfError()
      if (Date.now() >= deadline)
        throw new IllegalStateError(`no position for ${tp.topic}-${tp.partition} within ${timeoutMs} ms`)
      this.fetcher.schedule()
      await this.fetcher.waitForData(Math.min(50, deadline - Date.now()))
    }
  }

  /**
   * Commits offsets for the group: those given (the next offset to read, as Kafka stores them), or
   * by default the position of every assigned partition, i.e. everything handed out so far.
   */
  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    const group = this.requireGroup()
    const list =
      offsets ??
      [...this.fetcher.partitions.values()]
        .filter((s) => s.position >= 0)
        .map((s) => ({
          topic: s.topic,
          partition: s.partition,
          offset: s.position,
          leaderEpoch: s.positionEpoch,
        }))
    if (list.length === 0) return
    await group.commit(list)
    // What the application committed is done with: auto-commit must not move back behind it.
    for (const o of list) {
      const s = this.fetcher.get(o.topic, o.partition)
      if (!s) continue
      s.committedOffset = o.offset
      if (o.offset > s.consumed) {
        s.consumed = o.offset
        s.consumedEpoch = o.leaderEpoch ?? -1
      }
    }
  }

  /** The group's committed offsets for these partitions; offset -1 where there is none. */
  async committed(partitions: readonly TopicPartition[]): Promise<TopicPartitionOffset[]> {
    const group = this.requireGroup()
    const found = await group.fetchCommitted(partitions)
    return partitions.map((tp) => {
      const c = found.get(tpKey(tp.topic, tp.partition))
      return {
        topic: tp.topic,
        partition: tp.partition,
        offset: c?.offset ?? -1,
        leaderEpoch: c?.leaderEpoch ?? -1,
      }
    })
  }

  /** Commits what the application finished with (auto-commit), for `only` or every partition. */
  private async commitConsumed(only?: readonly TopicPartition[]): Promise<void> {
    if (!this.group) return
    const keys = only ? new Set(only.map((tp) => tpKey(tp.topic, tp.partition))) : undefined
    const list: (TopicPartitionOffset & { state: PartitionState })[] = []
    for (const s of this.fetcher.partitions.values()) {
      if (keys && !keys.has(s.key)) continue
      if (s.consumed < 0 || s.consumed === s.committedOffset) continue
      list.push({
        topic: s.topic,
        partition: s.partition,
        offset: s.consumed,
        leaderEpoch: s.consumedEpoch,
        state: s,
      })
    }
    if (list.length === 0) return
    await this.group.commit(list)
    for (const e of list) e.state.committedOffset = e.offset
  }

  /**
   * Records one at a time. A record counts as consumed (for auto-commit) when the loop asks for the
   * next one; leaving the loop early leaves the last record unconsumed. The loop ends after close().
   */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord<K, V>> {
    let last: { state: PartitionState; version: number; fetched: FetchedRecord } | undefined
    return {
      next: async () => {
        if (last)
          this.fetcher.markConsumed(
            last.state,
            last.version,
            last.fetched.record.offset,
            last.fetched.leaderEpoch,
          )
        last = undefined
        for (;;) {
          if (this.closing) return { done: true, value: undefined }
          this.fetcher.throwIfError()
          this.group?.throwIfError()
          const taken = this.fetcher.take(1)
          if (taken) {
            const fetched = taken.records[0]
            last = { state: taken.state, version: taken.version, fetched }
            return { done: false, value: this.toRecord(taken.state, fetched) }
          }
          await this.fetcher.waitForData(1000)
        }
      },
      return: async () => {
        last = undefined
        return { done: true, value: undefined }
      },
    }
  }

  /**
   * Hands records to `eachRecord` or `eachBatch` until close(). Resolves once close() stopped the
   * loop; rejects with the error that stopped it (a handler's or the consumer's).
   */
  run(options: RunOptions<K, V>): Promise<void> {
    this.checkOpen()
    if (this.running) throw new IllegalStateError('run() is already running')
    if (!options.eachRecord === !options.eachBatch)
      throw new IllegalStateError('run() needs exactly one of eachRecord and eachBatch')
    this.running = this.runLoop(options).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async runLoop(options: RunOptions<K, V>): Promise<void> {
    const max = options.eachBatch ? (options.maxBatchRecords ?? 500) : 1
    while (!this.closing) {
      this.fetcher.throwIfError()
      this.group?.throwIfError()
      const taken = this.fetcher.take(max)
      if (!taken) {
        await this.fetcher.waitForData(1000)
        continue
      }
      const { state, version, records } = taken
      if (options.eachBatch) {
        const batch: ConsumerBatch<K, V> = {
          topic: state.topic,
          partition: state.partition,
          records: records.map((r) => this.toRecord(state, r)),
          highWatermark: state.highWatermark,
        }
        await this.handle(options.eachBatch(batch))
        const last = records[records.length - 1]
        this.fetcher.markConsumed(state, version, last.record.offset, last.leaderEpoch)
      } else {
        const r = records[0]
        await this.handle(options.eachRecord!(this.toRecord(state, r)))
        this.fetcher.markConsumed(state, version, r.record.offset, r.leaderEpoch)
      }
    }
  }

  private async handle(result: unknown): Promise<void> {
    if (!(result instanceof Promise)) return
    this.handling = result
    try {
      await result
    } finally {
      this.handling = undefined
    }
  }

  /** Before revoking, the handler at work may finish, within half the rebalance timeout. */
  private async waitForHandler(rebalanceTimeoutMs: number): Promise<void> {
    const h = this.handling
    if (!h) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      h.catch(() => {}),
      new Promise((resolve) => {
        timer = setTimeout(resolve, rebalanceTimeoutMs / 2)
      }),
    ])
    clearTimeout(timer)
  }

  /**
   * Deserializes a record. On failure the partition goes back to that record (as Java's consumer
   * does) and a DeserializationError says where: seek past it to skip it.
   */
  private toRecord(state: PartitionState, f: FetchedRecord): ConsumerRecord<K, V> {
    const serde = this.topicDeserializers[state.topic]
    const r = f.record
    let key: K | null
    let value: V | null
    try {
      key = (serde?.key ?? this.keyDeserializer).deserialize(r.key, state.topic) as K | null
      value = (serde?.value ?? this.valueDeserializer).deserialize(r.value, state.topic) as V | null
    } catch (err) {
      this.fetcher.seek(state.topic, state.partition, r.offset)
      throw new DeserializationError(state.topic, state.partition, r.offset, err)
    }
    return {
      topic: state.topic,
      partition: state.partition,
      offset: r.offset,
      key,
      value,
      headers: r.headers,
      timestamp: r.timestamp,
      timestampType: f.timestampType === 1 ? 'LogAppendTime' : 'CreateTime',
      leaderEpoch: f.leaderEpoch,
    }
  }

  /**
   * Stops consumption: the running loop ends after its current handler, consumed offsets are
   * committed (with autoCommit), the group is left (unless static: a static member keeps its
   * partitions until its session times out) and the connections close. Whatever is not done
   * within `timeoutMs` (default 30000, as Java's close()) is abandoned.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing) return
    this.closing = true
    if (this.autoCommitTimer) clearInterval(this.autoCommitTimer)
    this.fetcher.close()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs ?? 30_000)
    })
    try {
      await Promise.race([
        (async () => {
          await this.running?.catch(() => {})
          if (this.autoCommit && (this.mode === 'assign' || this.group?.isMember))
            await this.commitConsumed().catch(() => {})
          await this.group?.close()
        })(),
        timeout,
      ])
    } finally {
      clearTimeout(timer)
      await Promise.all([this.cluster.close(), this.fetchCluster.close()])
    }
  }

  private checkOpen(): void {
    if (this.closing) throw new IllegalStateError('the consumer is closed')
  }

  private requireGroup(): Membership {
    if (!this.group) throw new IllegalStateError('commits need a groupId')
    return this.group
  }

  private requireAssigned(topic: string, partition: number): PartitionState {
    const s = this.fetcher.get(topic, partition)
    if (!s) throw new IllegalStateError(`${topic}-${partition} is not assigned to this consumer`)
    return s
  }
}
