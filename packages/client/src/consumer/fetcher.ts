/**
 * The consumer's fetch side: per-partition positions and bounded record buffers, Fetches per leader
 * (long-polling with fetch.max.wait.ms; a second one pipelined behind a first that cannot park, so
 * the broker reads the log while this side decodes), offset resets through ListOffsets, and the
 * read_committed filter over the response's abortedTransactions (as Java's CompletedFetch does).
 *
 * Records are buffered per partition; a partition is fetched again only once its buffer holds less
 * than max.partition.fetch.bytes, so a slow handler stops fetching instead of filling memory.
 */
import {
  ApiKey,
  ControlRecordType,
  ErrorCode,
  type FetchResponse,
  type FetchResponsePartitionData,
  type KafkaRecord,
  type ListOffsetsResponse,
  type RecordBatch,
  ZERO_UUID,
  controlRecordType,
  decodeRecordBatches,
} from '@fluxo/protocol'
import { type Cluster, isStaleMetadataError } from '../cluster/cluster.js'
import { backoffMs } from '../cluster/retry.js'
import type { Connection } from '../connection/connection.js'
import { ClientError, KafkaError, isRetriable } from '../errors.js'

export type OffsetResetStrategy = 'latest' | 'earliest' | 'none'
export type IsolationLevel = 'read_uncommitted' | 'read_committed'

export interface TopicPartition {
  topic: string
  partition: number
}

/** No committed offset and autoOffsetReset 'none' (Kafka's NoOffsetForPartitionException). */
export class NoOffsetForPartitionError extends ClientError {
  readonly topic: string
  readonly partition: number
  constructor(tp: TopicPartition) {
    super(
      'ERR_FLUXO_NO_OFFSET_FOR_PARTITION',
      `no committed offset for ${tp.topic}-${tp.partition} and autoOffsetReset is 'none'`,
      false,
    )
    this.topic = tp.topic
    this.partition = tp.partition
  }
}

/** A fetched record with what the consumer needs to hand it out. */
export interface FetchedRecord {
  record: KafkaRecord
  timestampType: number
  leaderEpoch: number
}

export interface PartitionState extends TopicPartition {
  key: string
  /** Next offset to hand out; -1 while unknown (waiting for a committed offset or a reset). */
  position: number
  /** Leader epoch of the last record handed out, -1 when none. */
  positionEpoch: number
  /** Next offset to fetch (ahead of `position` by what is buffered). */
  fetchOffset: number
  /** Offset after the last record the application finished with (what auto-commit commits). */
  consumed: number
  consumedEpoch: number
  /** The offset this consumer last committed or read as committed, -1 when none. */
  committedOffset: number
  paused: boolean
  /** Fetched but not handed out until the application's onPartitionsAssigned returned. */
  held: boolean
  buffer: FetchedRecord[]
  bufferHead: number
  bufferedBytes: number
  highWatermark: number
  /**
   * Where a fetch stops at the last response: the high watermark, or under read_committed the last
   * stable offset. A fetch from below it is answered at once; -1 while unknown.
   */
  readableEnd: number
  /** Bumped by seek and reset: responses to fetches sent before are dropped. */
  version: number
  fetching: boolean
  /** A reset or committed-offset lookup is running. */
  initializing: boolean
  retryAt: number
  failures: number
  /** Stopped after an error handed to the application (OFFSET_OUT_OF_RANGE with 'none', ...) until a seek. */
  halted: boolean
}

export interface FetcherOptions {
  isolationLevel: IsolationLevel
  autoOffsetReset: OffsetResetStrategy
  minBytes: number
  maxBytes: number
  maxPartitionBytes: number
  maxWaitMs: number
  /** Supplies committed offsets for partitions without a position (the group's OffsetFetch), if any. */
  committed?: (tps: TopicPartition[]) => Promise<Map<string, { offset: number; leaderEpoch: number }>>
}

/** Fetches to one leader in flight at once: one being answered, one queued behind it at the broker. */
const MAX_FETCHES_PER_NODE = 2

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

export class Fetcher {
  readonly partitions = new Map<string, PartitionState>()
  /**
   * Fetches in flight per leader. A second one is pipelined behind the first (for partitions not in
   * it) only while the first cannot park at the broker: Kafka answers in order on a connection, so
   * a long-polling Fetch would hold up the one behind it.
   */
  private readonly nodesInFlight = new Map<number, { eager: boolean }[]>()
  private scheduled = false
  private wakeTimer: NodeJS.Timeout | undefined
  private closed = false
  private waiters: (() => void)[] = []
  private readonly errors: Error[] = []
  private roundRobin = 0
  private current: PartitionState | undefined
  /** Connections with a Fetch sent: closing drops them instead of waiting out a long poll. */
  private readonly fetchConnections = new Set<Connection>()

  constructor(
    private readonly cluster: Cluster,
    private readonly options: FetcherOptions,
  ) {}

  /** Adds partitions (keeping those already present). `offset` given: start there; else committed or reset. */
  add(tps: readonly (TopicPartition & { offset?: number })[], held = false): void {
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition)
      let s = this.partitions.get(key)
      if (!s) {
        s = {
          topic: tp.topic,
          partition: tp.partition,
          key,
          position: -1,
          positionEpoch: -1,
          fetchOffset: -1,
          consumed: -1,
          consumedEpoch: -1,
          committedOffset: -1,
          paused: false,
          held,
          buffer: [],
          bufferHead: 0,
          bufferedBytes: 0,
          highWatermark: -1,
          readableEnd: -1,
          version: 0,
          fetching: false,
          initializing: false,
          retryAt: 0,
          failures: 0,
          halted: false,
        }
        this.partitions.set(key, s)
      }
      if (tp.offset !== undefined && tp.offset >= 0) this.seek(tp.topic, tp.partition, tp.offset)
    }
    this.schedule()
  }

  /** Lets records of held partitions be handed out. */
  release(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const s = this.partitions.get(tpKey(tp.topic, tp.partition))
      if (s) s.held = false
    }
    this.notify()
  }

  remove(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.partitions.delete(tpKey(tp.topic, tp.partition))
    this.notify()
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.partitions.get(tpKey(topic, partition))
  }

  seek(topic: string, partition: number, offset: number): void {
    const s = this.partitions.get(tpKey(topic, partition))
    if (!s) return
    s.version++
    s.position = offset
    s.positionEpoch = -1
    s.fetchOffset = offset
    s.consumed = offset
    s.consumedEpoch = -1
    s.buffer = []
    s.bufferHead = 0
    s.bufferedBytes = 0
    s.retryAt = 0
    s.halted = false
    this.schedule()
    this.notify()
  }

  /** Forgets the position so the committed offset (or the reset policy) decides again. */
  resetPosition(s: PartitionState): void {
    s.version++
    s.position = -1
    s.fetchOffset = -1
    s.buffer = []
    s.bufferHead = 0
    s.bufferedBytes = 0
    this.schedule()
  }

  setPaused(tps: readonly TopicPartition[], paused: boolean): void {
    for (const tp of tps) {
      const s = this.partitions.get(tpKey(tp.topic, tp.partition))
      if (s) s.paused = paused
    }
    this.schedule()
    this.notify()
  }

  /**
   * Takes up to `max` buffered records of one partition, moving round robin over the partitions
   * that have some, and advances that partition's position past them.
   */
  take(max: number): { state: PartitionState; version: number; records: FetchedRecord[] } | undefined {
    let s = this.current && this.partitions.get(this.current.key) === this.current ? this.current : undefined
    if (!s || s.paused || s.held || s.bufferHead >= s.buffer.length) {
      s = undefined
      const list = [...this.partitions.values()]
      for (let i = 0; i < list.length; i++) {
        const c = list[(this.roundRobin + i) % list.length]
        if (c.paused || c.held || c.bufferHead >= c.buffer.length) continue
        this.roundRobin = (this.roundRobin + i + 1) % list.length
        s = c
        break
      }
      if (!s) return undefined
      this.current = s
    }
    const end = Math.min(s.buffer.length, s.bufferHead + max)
    const records = max === 1 ? [s.buffer[s.bufferHead]] : s.buffer.slice(s.bufferHead, end)
    s.bufferHead = end
    for (const r of records) s.bufferedBytes -= recordBytes(r.record)
    if (s.bufferHead >= s.buffer.length) {
      s.buffer = []
      s.bufferHead = 0
      s.bufferedBytes = 0
      this.current = undefined
      this.schedule()
    } else if (s.bufferedBytes < this.options.maxPartitionBytes && !s.fetching) this.schedule()
    const last = records[records.length - 1]
    s.position = last.record.offset + 1
    s.positionEpoch = last.leaderEpoch
    return { state: s, version: s.version, records }
  }

  /** Records the application is done with up to `offset` (inclusive), for auto-commit. */
  markConsumed(s: PartitionState, version: number, offset: number, leaderEpoch: number): void {
    if (this.partitions.get(s.key) !== s || s.version !== version) return
    if (offset + 1 > s.consumed) {
      s.consumed = offset + 1
      s.consumedEpoch = leaderEpoch
    }
  }

  /** Throws (once) an error a fetch left for the application. */
  throwIfError(): void {
    const err = this.errors.shift()
    if (err) throw err
  }

  /** Resolves when records may be available, an error is waiting, or `notify` was called. */
  waitForData(timeoutMs: number): Promise<void> {
    if (this.errors.length > 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.waiters.push(done)
    })
  }

  notify(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Stops fetching; a Fetch parked at the broker is abandoned (its connection is only ours). */
  close(): void {
    this.closed = true
    if (this.wakeTimer) clearTimeout(this.wakeTimer)
    for (const conn of this.fetchConnections) if (conn.inFlight > 0) conn.destroy(undefined)
    this.notify()
  }

  private fail(err: Error): void {
    this.errors.push(err)
    this.notify()
  }

  schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.run()
    })
  }

  private wakeAt(time: number): void {
    if (this.wakeTimer || this.closed) return
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined
        this.schedule()
      },
      Math.max(0, time - Date.now()),
    )
  }

  private run(): void {
    if (this.closed) return
    const now = Date.now()
    const toInit: PartitionState[] = []
    const byNode = new Map<number, PartitionState[]>()
    const missing = new Set<string>()
    let nextWake = Number.POSITIVE_INFINITY
    for (const s of this.partitions.values()) {
      if (s.halted) continue
      if (s.retryAt > now) {
        nextWake = Math.min(nextWake, s.retryAt)
        continue
      }
      if (s.position < 0) {
        if (!s.initializing) toInit.push(s)
        continue
      }
      if (s.paused || s.fetching || s.bufferedBytes >= this.options.maxPartitionBytes) continue
      const leader = this.cluster.leader(s.topic, s.partition)
      if (leader < 0) {
        missing.add(s.topic)
        continue
      }
      const inFlight = this.nodesInFlight.get(leader)
      if (inFlight) {
        // Pipelined only behind fetches that cannot park, and only partitions with records waiting,
        // so that this fetch cannot park either and hold up the next one.
        if (inFlight.length >= MAX_FETCHES_PER_NODE || inFlight.some((f) => !f.eager)) continue
        if (this.options.minBytes > 1 || s.fetchOffset >= s.readableEnd) continue
      }
      const list = byNode.get(leader)
      if (list) list.push(s)
      else byNode.set(leader, [s])
    }
    if (nextWake !== Number.POSITIVE_INFINITY) this.wakeAt(nextWake)
    if (toInit.length > 0) void this.initPositions(toInit)
    if (missing.size > 0) {
      for (const t of missing) this.cluster.invalidate(t)
      this.cluster
        .topics([...missing])
        .catch(() => {})
        .finally(() => this.wakeAt(Date.now() + this.cluster.retryOptions.initialRetryTimeMs))
    }
    for (const [node, states] of byNode) {
      // With nothing in flight and records waiting in several partitions, two fetches: the broker
      // serves the second while this consumer reads and hands out the first's records, and the
      // first's partitions are fetched again behind the second.
      const waiting =
        !this.nodesInFlight.has(node) && this.options.minBytes <= 1
          ? states.filter((s) => s.fetchOffset < s.readableEnd)
          : []
      if (waiting.length >= 2) {
        const first = waiting.slice(0, waiting.length >> 1)
        const firstSet = new Set(first)
        void this.fetchFrom(node, first)
        void this.fetchFrom(
          node,
          states.filter((s) => !firstSet.has(s)),
        )
      } else void this.fetchFrom(node, states)
    }
  }

  /** After NOT_LEADER_OR_FOLLOWER and the like: fetch metadata again before the next attempt. */
  private refreshLeader(topic: string): void {
    this.cluster.invalidate(topic)
    this.cluster
      .topics([topic])
      .catch(() => {})
      .finally(() => this.schedule())
  }

  private backoff(s: PartitionState): void {
    s.retryAt =
      Date.now() +
      backoffMs(
        s.failures++,
        this.cluster.retryOptions.initialRetryTimeMs,
        this.cluster.retryOptions.maxRetryTimeMs,
      )
    this.wakeAt(s.retryAt)
  }

  /** Committed offsets first (with a group), then the reset policy for what is left. */
  private async initPositions(states: PartitionState[]): Promise<void> {
    for (const s of states) s.initializing = true
    const versions = new Map(states.map((s) => [s, s.version]))
    try {
      let rest = states
      if (this.options.committed) {
        const committed = await this.options.committed(states)
        rest = []
        for (const s of states) {
          const c = committed.get(s.key)
          if (this.partitions.get(s.key) !== s || s.version !== versions.get(s)) continue
          if (c && c.offset >= 0) {
            this.setPosition(s, c.offset, c.leaderEpoch)
            s.committedOffset = c.offset
          } else rest.push(s)
        }
      }
      if (rest.length > 0) await this.resetOffsets(rest, versions)
    } catch (err) {
      if (isRetriable(err)) for (const s of states) this.backoff(s)
      else {
        // Reported once; these partitions wait for a seek (or a new assignment) instead of failing again.
        for (const s of states) if (s.position < 0) s.halted = true
        this.fail(err as Error)
      }
    } finally {
      for (const s of states) s.initializing = false
      this.schedule()
    }
  }

  private setPosition(s: PartitionState, offset: number, epoch: number): void {
    s.version++
    s.position = offset
    s.positionEpoch = epoch
    s.fetchOffset = offset
    s.consumed = offset
    s.consumedEpoch = epoch
    s.failures = 0
    s.halted = false
  }

  /** ListOffsets per leader with the reset policy (latest = the last stable offset under read_committed). */
  private async resetOffsets(states: PartitionState[], versions: Map<PartitionState, number>): Promise<void> {
    if (this.options.autoOffsetReset === 'none') {
      throw new NoOffsetForPartitionError(states[0])
    }
    const timestamp = this.options.autoOffsetReset === 'earliest' ? -2 : -1
    await this.cluster.topics([...new Set(states.map((s) => s.topic))])
    const byNode = new Map<number, PartitionState[]>()
    for (const s of states) {
      const leader = this.cluster.leader(s.topic, s.partition)
      if (leader < 0) {
        this.cluster.invalidate(s.topic)
        this.backoff(s)
        continue
      }
      const list = byNode.get(leader)
      if (list) list.push(s)
      else byNode.set(leader, [s])
    }
    await Promise.all(
      [...byNode].map(async ([node, list]) => {
        const topics = new Map<string, PartitionState[]>()
        for (const s of list) {
          const t = topics.get(s.topic)
          if (t) t.push(s)
          else topics.set(s.topic, [s])
        }
        let res: ListOffsetsResponse
        try {
          res = await this.cluster.request(node, ApiKey.ListOffsets, {
            replicaId: -1,
            isolationLevel: this.options.isolationLevel === 'read_committed' ? 1 : 0,
            topics: [...topics].map(([name, ps]) => ({
              name,
              partitions: ps.map((s) => ({
                partitionIndex: s.partition,
                currentLeaderEpoch: -1,
                timestamp,
                maxNumOffsets: 1,
              })),
            })),
            timeoutMs: 30_000,
          })
        } catch (err) {
          if (!isRetriable(err)) throw err
          for (const s of list) this.backoff(s)
          return
        }
        for (const t of res.topics) {
          for (const p of t.partitions) {
            const s = this.partitions.get(tpKey(t.name, p.partitionIndex))
            if (!s || s.version !== versions.get(s)) continue
            if (p.errorCode !== ErrorCode.NONE) {
              const err = new KafkaError(p.errorCode, null, { topic: t.name, partition: p.partitionIndex })
              if (!isRetriable(err)) throw err
              if (isStaleMetadataError(err)) this.cluster.invalidate(t.name)
              this.backoff(s)
              continue
            }
            this.setPosition(s, p.offset, -1)
          }
        }
      }),
    )
  }

  private async fetchFrom(node: number, states: PartitionState[]): Promise<void> {
    // Answered at once (minBytes 1) when some partition is known to have records past its offset.
    const flight = {
      eager: this.options.minBytes <= 1 && states.some((s) => s.fetchOffset < s.readableEnd),
    }
    const flights = this.nodesInFlight.get(node)
    if (flights) flights.push(flight)
    else this.nodesInFlight.set(node, [flight])
    const sent = states.map((s) => ({ s, version: s.version, offset: s.fetchOffset }))
    for (const s of states) s.fetching = true
    try {
      const conn = await this.cluster.connection(node)
      if (this.closed) return
      this.fetchConnections.add(conn)
      conn.onClose(() => this.fetchConnections.delete(conn))
      let version = conn.versionFor(ApiKey.Fetch)
      const topics = new Map<string, typeof sent>()
      for (const e of sent) {
        const list = topics.get(e.s.topic)
        if (list) list.push(e)
        else topics.set(e.s.topic, [e])
      }
      const idToName = new Map<string, string>()
      for (const name of topics.keys()) {
        const id = this.cluster.topic(name)?.topicId ?? ZERO_UUID
        if (id === ZERO_UUID) version = Math.min(version, 12)
        idToName.set(id, name)
      }
      const res: FetchResponse = await conn.request(
        ApiKey.Fetch,
        {
          clusterId: null,
          replicaId: -1,
          replicaState: null,
          maxWaitMs: this.options.maxWaitMs,
          minBytes: this.options.minBytes,
          maxBytes: this.options.maxBytes,
          isolationLevel: this.options.isolationLevel === 'read_committed' ? 1 : 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [...topics].map(([name, list]) => ({
            topic: name,
            topicId: this.cluster.topic(name)?.topicId ?? ZERO_UUID,
            partitions: list.map((e) => ({
              partition: e.s.partition,
              currentLeaderEpoch: -1,
              fetchOffset: e.offset,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: this.options.maxPartitionBytes,
              replicaDirectoryId: ZERO_UUID,
            })),
          })),
          forgottenTopicsData: [],
          rackId: '',
        },
        { version, timeoutMs: (this.cluster.options.requestTimeoutMs ?? 30_000) + this.options.maxWaitMs },
      )
      if (res.errorCode !== ErrorCode.NONE) throw new KafkaError(res.errorCode, 'Fetch failed')
      const sentByKey = new Map(sent.map((e) => [e.s.key, e]))
      for (const t of res.responses) {
        const name = version >= 13 ? idToName.get(t.topicId) : t.topic
        if (name === undefined) continue
        for (const p of t.partitions) {
          const e = sentByKey.get(tpKey(name, p.partitionIndex))
          if (!e) continue
          const s = this.partitions.get(e.s.key)
          if (s !== e.s || s.version !== e.version || s.fetchOffset !== e.offset) continue
          await this.onPartition(s, p, e.version)
        }
      }
    } catch (err) {
      if (this.closed) return
      if (isStaleMetadataError(err) || isRetriable(err)) {
        for (const topic of new Set(sent.map((e) => e.s.topic))) this.refreshLeader(topic)
        for (const e of sent) this.backoff(e.s)
      } else this.fail(err as Error)
    } finally {
      for (const s of states) s.fetching = false
      const list = this.nodesInFlight.get(node)
      if (list) {
        list.splice(list.indexOf(flight), 1)
        if (list.length === 0) this.nodesInFlight.delete(node)
      }
      this.schedule()
    }
  }

  private async onPartition(
    s: PartitionState,
    p: FetchResponsePartitionData,
    version: number,
  ): Promise<void> {
    if (p.errorCode === ErrorCode.NONE) {
      s.failures = 0
      s.highWatermark = p.highWatermark
      s.readableEnd = this.options.isolationLevel === 'read_committed' ? p.lastStableOffset : p.highWatermark
      if (!p.records || p.records.length === 0) return
      let batches: RecordBatch[]
      try {
        batches = await decodeRecordBatches(p.records)
      } catch (err) {
        // A corrupt batch fails the same way on every fetch: stop here until the application seeks.
        s.halted = true
        this.fail(err as Error)
        return
      }
      if (s.version !== version || this.partitions.get(s.key) !== s) return
      const added = this.append(s, batches, p)
      if (added > 0) this.notify()
      return
    }
    if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      if (this.options.autoOffsetReset === 'none') {
        this.fail(
          new KafkaError(
            p.errorCode,
            `fetch offset ${s.fetchOffset} is out of range and autoOffsetReset is 'none'`,
            {
              topic: s.topic,
              partition: s.partition,
            },
          ),
        )
        s.halted = true // until the application seeks
        return
      }
      // Fetch from the reset position: the committed offset is what went out of range.
      s.version++
      s.position = -1
      s.fetchOffset = -1
      await this.resetOffsets([s], new Map([[s, s.version]])).catch((err) => this.fail(err as Error))
      return
    }
    const err = new KafkaError(p.errorCode, null, { topic: s.topic, partition: s.partition })
    if (isStaleMetadataError(err) || isRetriable(err)) {
      if (isStaleMetadataError(err)) this.refreshLeader(s.topic)
      this.backoff(s)
      return
    }
    this.fail(err)
    s.halted = true
  }

  /** Buffers the records at or after the fetch offset; returns how many were added. */
  private append(s: PartitionState, batches: RecordBatch[], p: FetchResponsePartitionData): number {
    const readCommitted = this.options.isolationLevel === 'read_committed'
    // KIP-98: the aborted transactions overlapping this fetch, by first offset.
    const aborted = readCommitted
      ? [...(p.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset)
      : []
    const abortedProducers = new Set<number>()
    let added = 0
    let next = s.fetchOffset
    for (const b of batches) {
      const lastOffset = b.baseOffset + b.lastOffsetDelta
      if (lastOffset < s.fetchOffset) continue
      next = lastOffset + 1
      if (readCommitted) {
        while (aborted.length > 0 && aborted[0].firstOffset <= lastOffset)
          abortedProducers.add(aborted.shift()!.producerId)
      }
      if (b.isControl) {
        if (readCommitted && b.records[0] && controlRecordType(b.records[0]) === ControlRecordType.abort)
          abortedProducers.delete(b.producerId)
        continue
      }
      if (readCommitted && b.isTransactional && abortedProducers.has(b.producerId)) continue
      for (const r of b.records) {
        if (r.offset < s.fetchOffset) continue
        s.buffer.push({ record: r, timestampType: b.timestampType, leaderEpoch: b.partitionLeaderEpoch })
        s.bufferedBytes += recordBytes(r)
        added++
      }
    }
    s.fetchOffset = Math.max(s.fetchOffset, next)
    return added
  }
}

function recordBytes(r: KafkaRecord): number {
  return 24 + (r.key?.length ?? 0) + (r.value?.length ?? 0)
}
