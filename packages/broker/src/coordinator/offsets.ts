/**
 * Committed offsets, kept in memory and made durable in the internal topic `__consumer_offsets`, as
 * Kafka does: each commit is a record keyed by (group, topic, partition) in Kafka's own schemas, so
 * the log reads the same as Kafka's (kafka-console-consumer's OffsetsMessageFormatter can decode it).
 *
 *   key   OffsetCommitKey, record type 1: int16 1, group string, topic string, partition int32
 *   value OffsetCommitValue v3: int16 3, offset int64, leaderEpoch int32, metadata string, commitTimestamp int64
 *         (null: a tombstone, the offset was deleted)
 *
 * On start the whole log is replayed: later records win, tombstones delete. A commit is applied in
 * memory only after its append resolved, so an acknowledged commit is always in the log.
 *
 * Transactional offsets (TxnOffsetCommit, KIP-98) are written as Kafka writes them: the same records
 * in a transactional batch carrying the producer id and epoch. They stay pending per producer until
 * the transaction coordinator writes the producer's COMMIT or ABORT marker to __consumer_offsets
 * (completeTransaction); on replay the marker in the log does the same. A commit applies a pending
 * offset only when no offset for that partition was appended after it (Kafka compares the log
 * positions), so an older transactional offset never replaces a newer plain commit. Fluxo keeps one
 * __consumer_offsets partition, so a producer's marker there covers all its pending groups.
 */
import {
  ControlRecordType,
  DecodeError,
  FluxoError,
  Reader,
  Writer,
  controlRecordType,
  decodeRecordBatchesSync,
  encodeRecordBatchSync,
  readBatchInfo,
} from '@fluxo/protocol'
import type { Logger } from 'pino'
import type { Cluster } from '../cluster/cluster.js'
import type { Partition } from '../cluster/partition.js'

export const OFFSETS_TOPIC = '__consumer_offsets'

/** Kafka's offset.metadata.max.bytes default: longer commit metadata is OFFSET_METADATA_TOO_LARGE. */
export const OFFSET_METADATA_MAX_BYTES = 4096

/** Record types (the key's version field) Kafka writes to __consumer_offsets. */
const OFFSET_COMMIT_KEY_V0 = 0
const OFFSET_COMMIT_KEY = 1
const OFFSET_COMMIT_VALUE_VERSION = 3

export interface OffsetAndMetadata {
  offset: number
  /** -1 when the client did not send one. */
  leaderEpoch: number
  metadata: string
  commitTimestamp: number
}

export interface TopicPartitionRef {
  topic: string
  partition: number
}

export interface OffsetCommitEntry extends TopicPartitionRef {
  value: OffsetAndMetadata
}

/** Where offset records are stored: the __consumer_offsets partitions in the broker, a list in tests. */
export interface OffsetsLog {
  /**
   * Appends one record batch to the partition holding `groupId`; resolves once the log has it. A log
   * that assigns offsets resolves with the batch's base offset (the order transactional offsets are
   * compared in); a list in a test may resolve with nothing.
   */
  append(groupId: string, batch: Buffer): Promise<unknown>
  /** Every stored batch, oldest first, for replay on start. */
  batches(): AsyncIterable<Buffer>
  /** Makes sure the log exists (the broker creates __consumer_offsets on first use). */
  ensure?(): Promise<void>
}

export function encodeOffsetKey(groupId: string, topic: string, partition: number): Buffer {
  const w = new Writer(64)
  w.int16(OFFSET_COMMIT_KEY)
  w.string(false, groupId)
  w.string(false, topic)
  w.int32(partition)
  return w.toBuffer()
}

export function encodeOffsetValue(value: OffsetAndMetadata): Buffer {
  const w = new Writer(64)
  w.int16(OFFSET_COMMIT_VALUE_VERSION)
  w.int64(value.offset)
  w.int32(value.leaderEpoch)
  w.string(false, value.metadata)
  w.int64(value.commitTimestamp)
  return w.toBuffer()
}

export interface DecodedOffsetRecord extends TopicPartitionRef {
  groupId: string
  /** null: a tombstone. */
  value: OffsetAndMetadata | null
}

/** An offset commit record, or null for the other record types (group metadata) Kafka also writes. */
export function decodeOffsetRecord(key: Buffer, value: Buffer | null): DecodedOffsetRecord | null {
  const k = new Reader(key)
  const type = k.int16()
  if (type !== OFFSET_COMMIT_KEY && type !== OFFSET_COMMIT_KEY_V0) return null
  const groupId = k.string(false)
  const topic = k.string(false)
  const partition = k.int32()
  if (value === null) return { groupId, topic, partition, value: null }
  const v = new Reader(value)
  const version = v.int16()
  const flexible = version >= 4
  const offset = v.int64()
  const leaderEpoch = version >= 3 ? v.int32() : -1
  const metadata = v.string(flexible)
  const commitTimestamp = v.int64()
  return { groupId, topic, partition, value: { offset, leaderEpoch, metadata, commitTimestamp } }
}

type GroupOffsets = Map<string, Map<number, OffsetAndMetadata>>

/** A transactional offset waiting for its transaction's marker. */
interface PendingOffset extends TopicPartitionRef {
  groupId: string
  value: OffsetAndMetadata
  /** Log position of its record, compared with the committed offset's on completion. */
  position: number
}

function positionKey(groupId: string, topic: string, partition: number): string {
  return `${groupId}\u0000${topic}\u0000${partition}`
}

export class OffsetStore {
  private readonly groups = new Map<string, GroupOffsets>()
  /** Log position of each committed offset's record (positionKey → position). */
  private readonly positions = new Map<string, number>()
  /** producerId → positionKey → its pending transactional offset. */
  private readonly pending = new Map<number, Map<string, PendingOffset>>()
  /** Highest log position seen: records replayed count up from 0; appends use their offsets. */
  private position = -1

  constructor(
    private readonly log: OffsetsLog,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {}

  /** Rebuilds the map from the log. Records that do not decode are skipped with a warning. */
  async load(): Promise<number> {
    let records = 0
    for await (const batch of this.log.batches()) {
      for (const b of decodeRecordBatchesSync(batch)) {
        if (b.isControl) {
          for (const r of b.records) {
            this.position++
            const type = controlRecordType(r)
            if (type === ControlRecordType.commit || type === ControlRecordType.abort)
              this.completeTransaction(b.producerId, type === ControlRecordType.commit)
          }
          continue
        }
        for (const r of b.records) {
          const position = ++this.position
          if (r.key === null) continue
          let decoded: DecodedOffsetRecord | null
          try {
            decoded = decodeOffsetRecord(r.key, r.value)
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err
            this.logger?.warn(
              { offset: r.offset, err: err.message },
              `skipping an undecodable ${OFFSETS_TOPIC} record`,
            )
            continue
          }
          if (!decoded) continue
          if (b.isTransactional) {
            if (decoded.value)
              this.addPending(b.producerId, decoded.groupId, decoded, decoded.value, position)
          } else {
            this.apply(decoded.groupId, decoded, decoded.value, position)
          }
          records++
        }
      }
    }
    return records
  }

  get(groupId: string, topic: string, partition: number): OffsetAndMetadata | undefined {
    return this.groups.get(groupId)?.get(topic)?.get(partition)
  }

  /** The group's committed offsets, topic → partition → offset (live view; do not modify). */
  offsets(groupId: string): ReadonlyMap<string, ReadonlyMap<number, OffsetAndMetadata>> {
    return this.groups.get(groupId) ?? new Map()
  }

  has(groupId: string): boolean {
    return this.groups.has(groupId)
  }

  groupIds(): string[] {
    return [...this.groups.keys()]
  }

  /** Appends the commits as one batch and, once the log has them, makes them visible. */
  async commit(groupId: string, entries: readonly OffsetCommitEntry[], now: number): Promise<void> {
    if (entries.length === 0) return
    const batch = encodeRecordBatchSync({
      records: entries.map((e) => ({
        key: encodeOffsetKey(groupId, e.topic, e.partition),
        value: encodeOffsetValue(e.value),
        timestamp: now,
      })),
    })
    const base = this.appended(await this.log.append(groupId, batch), entries.length)
    entries.forEach((e, i) => this.apply(groupId, e, e.value, base + i))
  }

  /**
   * TxnOffsetCommit: appends the offsets as a transactional batch of the producer and keeps them
   * pending until its transaction completes.
   */
  async commitTransactional(
    groupId: string,
    producerId: number,
    producerEpoch: number,
    entries: readonly OffsetCommitEntry[],
    now: number,
  ): Promise<void> {
    if (entries.length === 0) return
    const batch = encodeRecordBatchSync({
      records: entries.map((e) => ({
        key: encodeOffsetKey(groupId, e.topic, e.partition),
        value: encodeOffsetValue(e.value),
        timestamp: now,
      })),
      producerId,
      producerEpoch,
      baseSequence: 0,
      isTransactional: true,
    })
    const base = this.appended(await this.log.append(groupId, batch), entries.length)
    entries.forEach((e, i) => this.addPending(producerId, groupId, e, e.value, base + i))
  }

  /**
   * The producer's transaction ended (its marker is in __consumer_offsets): on commit its pending
   * offsets become committed, except where a later record already set that partition's offset; on
   * abort they are dropped. Returns the groups that got offsets.
   */
  completeTransaction(producerId: number, commit: boolean): string[] {
    const entries = this.pending.get(producerId)
    if (!entries) return []
    this.pending.delete(producerId)
    if (!commit) return []
    const groups = new Set<string>()
    for (const [key, e] of entries) {
      const current = this.positions.get(key)
      if (current !== undefined && current > e.position) continue
      this.apply(e.groupId, e, e.value, e.position)
      groups.add(e.groupId)
    }
    return [...groups]
  }

  /** Whether a transaction of some producer holds an offset for this partition (OffsetFetch requireStable). */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    const key = positionKey(groupId, topic, partition)
    for (const entries of this.pending.values()) if (entries.has(key)) return true
    return false
  }

  /** Whether the group has transactional offsets waiting for a marker. */
  hasPending(groupId: string): boolean {
    for (const entries of this.pending.values())
      for (const e of entries.values()) if (e.groupId === groupId) return true
    return false
  }

  private addPending(
    producerId: number,
    groupId: string,
    ref: TopicPartitionRef,
    value: OffsetAndMetadata,
    position: number,
  ): void {
    let entries = this.pending.get(producerId)
    if (!entries) this.pending.set(producerId, (entries = new Map()))
    entries.set(positionKey(groupId, ref.topic, ref.partition), {
      groupId,
      topic: ref.topic,
      partition: ref.partition,
      value,
      position,
    })
  }

  /** Log position of the first of `count` records just appended at `baseOffset` (if the log told it). */
  private appended(baseOffset: unknown, count: number): number {
    const base = typeof baseOffset === 'number' && baseOffset >= 0 ? baseOffset : this.position + 1
    this.position = Math.max(this.position, base + count - 1)
    return base
  }

  /** Writes tombstones for the given partitions (those with an offset) and forgets them. */
  async delete(groupId: string, refs: readonly TopicPartitionRef[], now: number): Promise<void> {
    const present = refs.filter((r) => this.get(groupId, r.topic, r.partition) !== undefined)
    if (present.length === 0) return
    const batch = encodeRecordBatchSync({
      records: present.map((r) => ({
        key: encodeOffsetKey(groupId, r.topic, r.partition),
        value: null,
        timestamp: now,
      })),
    })
    const base = this.appended(await this.log.append(groupId, batch), present.length)
    present.forEach((r, i) => this.apply(groupId, r, null, base + i))
  }

  /** Deletes every offset of the group. */
  async deleteGroup(groupId: string, now: number): Promise<void> {
    const refs: TopicPartitionRef[] = []
    for (const [topic, partitions] of this.offsets(groupId))
      for (const partition of partitions.keys()) refs.push({ topic, partition })
    await this.delete(groupId, refs, now)
  }

  private apply(
    groupId: string,
    ref: TopicPartitionRef,
    value: OffsetAndMetadata | null,
    position: number,
  ): void {
    const key = positionKey(groupId, ref.topic, ref.partition)
    if (value === null) this.positions.delete(key)
    else this.positions.set(key, position)
    let topics = this.groups.get(groupId)
    if (value === null) {
      const partitions = topics?.get(ref.topic)
      if (!partitions) return
      partitions.delete(ref.partition)
      if (partitions.size === 0) topics!.delete(ref.topic)
      if (topics!.size === 0) this.groups.delete(groupId)
      return
    }
    if (!topics) {
      topics = new Map()
      this.groups.set(groupId, topics)
    }
    let partitions = topics.get(ref.topic)
    if (!partitions) {
      partitions = new Map()
      topics.set(ref.topic, partitions)
    }
    partitions.set(ref.partition, value)
  }
}

/** Java's String.hashCode, which Kafka uses to map a group to a __consumer_offsets partition. */
export function javaStringHash(s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0
  return h
}

/** Kafka's Utils.abs(groupId.hashCode) % partitions. */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const h = javaStringHash(groupId)
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions
}

/** Topic configs of __consumer_offsets, as Kafka creates it (compacted, 100 MiB segments). */
export const OFFSETS_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'compression.type': 'producer',
  'segment.bytes': '104857600',
}

/**
 * The broker's OffsetsLog: the `__consumer_offsets` topic of the cluster. It is created on first use
 * (a commit, or a FindCoordinator for a group) as Kafka creates it, with `partitions` partitions;
 * an existing topic keeps the count it was created with.
 */
export class ClusterOffsetsLog implements OffsetsLog {
  private creating: Promise<void> | undefined

  constructor(
    private readonly cluster: Cluster,
    private readonly partitions = 1,
  ) {}

  /** Creates the topic when missing. */
  ensure(): Promise<void> {
    if (this.cluster.topic(OFFSETS_TOPIC)) return Promise.resolve()
    this.creating ??= this.cluster
      .createTopic(OFFSETS_TOPIC, this.partitions, 1, { ...OFFSETS_TOPIC_CONFIGS })
      .then(() => undefined)
      .finally(() => {
        this.creating = undefined
      })
    return this.creating
  }

  async append(groupId: string, batch: Buffer): Promise<number> {
    await this.ensure()
    const topic = this.cluster.topic(OFFSETS_TOPIC)!
    const partition = topic.partitions[offsetsPartitionFor(groupId, topic.partitions.length)]
    // Kafka appends with origin COORDINATOR: a transactional offsets batch carries no client sequence,
    // so only its producer epoch is checked.
    const result = await partition.append(batch, true, { origin: 'coordinator' })
    if (result.errorCode !== 0) throw new OffsetsLogError(result.errorMessage ?? `error ${result.errorCode}`)
    return result.baseOffset
  }

  async *batches(): AsyncIterable<Buffer> {
    const topic = this.cluster.topic(OFFSETS_TOPIC)
    if (!topic) return
    for (const partition of topic.partitions) yield* readAll(partition)
  }
}

/** An offset commit could not be written to __consumer_offsets. */
export class OffsetsLogError extends FluxoError {
  constructor(message: string) {
    super('ERR_FLUXO_OFFSETS_LOG', message)
  }
}

async function* readAll(partition: Partition): AsyncIterable<Buffer> {
  let offset = partition.logStartOffset
  while (offset < partition.highWatermark) {
    const { batches } = await partition.log.read(offset, 1 << 20)
    if (batches.length === 0) break
    for (const batch of batches) {
      const info = readBatchInfo(batch)
      const next = info.baseOffset + info.lastOffsetDelta + 1
      if (next <= offset) continue
      yield batch
      offset = next
    }
  }
}
