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
 */
import {
  DecodeError,
  FluxoError,
  Reader,
  Writer,
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
  /** Appends one record batch to the partition holding `groupId`; resolves once the log has it. */
  append(groupId: string, batch: Buffer): Promise<void>
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

export class OffsetStore {
  private readonly groups = new Map<string, GroupOffsets>()

  constructor(
    private readonly log: OffsetsLog,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {}

  /** Rebuilds the map from the log. Records that do not decode are skipped with a warning. */
  async load(): Promise<number> {
    let records = 0
    for await (const batch of this.log.batches()) {
      for (const b of decodeRecordBatchesSync(batch)) {
        if (b.isControl) continue
        for (const r of b.records) {
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
          this.apply(decoded.groupId, decoded, decoded.value)
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
    await this.log.append(groupId, batch)
    for (const e of entries) this.apply(groupId, e, e.value)
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
    await this.log.append(groupId, batch)
    for (const r of present) this.apply(groupId, r, null)
  }

  /** Deletes every offset of the group. */
  async deleteGroup(groupId: string, now: number): Promise<void> {
    const refs: TopicPartitionRef[] = []
    for (const [topic, partitions] of this.offsets(groupId))
      for (const partition of partitions.keys()) refs.push({ topic, partition })
    await this.delete(groupId, refs, now)
  }

  private apply(groupId: string, ref: TopicPartitionRef, value: OffsetAndMetadata | null): void {
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

  async append(groupId: string, batch: Buffer): Promise<void> {
    await this.ensure()
    const topic = this.cluster.topic(OFFSETS_TOPIC)!
    const partition = topic.partitions[offsetsPartitionFor(groupId, topic.partitions.length)]
    const result = await partition.append(batch, true)
    if (result.errorCode !== 0) throw new OffsetsLogError(result.errorMessage ?? `error ${result.errorCode}`)
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
