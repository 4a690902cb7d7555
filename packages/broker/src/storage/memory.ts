import { randomBytes } from 'node:crypto'
import { BatchAttributes, BatchHeader, readInt64, setBaseOffset } from '@fluxo/protocol'
import {
  type CleanableLog,
  type CleanerCheckpoint,
  type CleanerSegment,
  cleanLog,
  compactionStatus,
} from '../log/cleaner.js'
import { type RetainableSegment, deletableSegments } from '../log/deletable-segments.js'
import { StorageError } from '../log/storage-error.js'
import type {
  AppendResult,
  CleanOptions,
  CleanResult,
  CompactionPolicy,
  CompactionStatus,
  LogConfig,
  LogStore,
  PartitionLog,
  ProducerSnapshot,
  ReadResult,
  RetentionPolicy,
  RetentionResult,
  TimestampLookup,
  TopicRecord,
} from './types.js'

const INT32_MAX = 2147483647

/**
 * A run of consecutive batches standing in for a file segment. It rolls where the file log rolls
 * (segment.bytes, segment.ms, int32 relative offsets), so retention, which deletes whole segments,
 * deletes the same offsets on both backends. Two differences remain: a batch without timestamps
 * ages from its append time (the file log uses the file's mtime), and segment.ms keeps counting
 * across close and reopen (the file log restarts it).
 */
class MemorySegment implements RetainableSegment {
  /** How many of the partition's batches, after those of earlier segments, belong to this one. */
  batchCount = 0
  size = 0
  maxTimestamp = -1
  /** Wall-clock time of the first append (segment.ms). */
  firstAppendAt: number | null = null
  /** Wall-clock time of the latest append: the stand-in for a file's mtime. */
  lastAppendAt = 0

  constructor(readonly baseOffset: number) {}

  largestTimestamp(): number {
    return this.maxTimestamp >= 0 ? this.maxTimestamp : this.lastAppendAt
  }
}

/** One partition's batches, kept by the store so that reopening a partition finds them again. */
class MemoryPartition {
  batches: Buffer[] = []
  /** Per batch: base offset, last offset, and the largest maxTimestamp up to and including it. */
  baseOffsets: number[] = []
  lastOffsets: number[] = []
  runningMaxTimestamps: number[] = []
  segments: MemorySegment[] = [new MemorySegment(0)]
  logStartOffset = 0
  nextOffset = 0
  maxTimestamp = -1
  offsetOfMaxTimestamp = -1
  /** The log cleaner's checkpoint (the file log keeps it in cleaner-offset-checkpoint). */
  cleanerCheckpoint: CleanerCheckpoint | null = null

  get active(): MemorySegment {
    return this.segments[this.segments.length - 1]
  }

  /** Drops the first `count` batches and recomputes what was derived from them. */
  dropBatches(count: number): void {
    this.batches = this.batches.slice(count)
    this.baseOffsets = this.baseOffsets.slice(count)
    this.lastOffsets = this.lastOffsets.slice(count)
    this.runningMaxTimestamps = []
    this.maxTimestamp = -1
    this.offsetOfMaxTimestamp = -1
    for (let i = 0; i < this.batches.length; i++) this.track(i)
  }

  /** Accounts for batch `i` in the partition's max timestamp and running maximum. */
  track(i: number): void {
    const batch = this.batches[i]
    const maxTimestamp = readInt64(batch, BatchHeader.maxTimestamp)
    if (maxTimestamp > this.maxTimestamp) {
      const logAppendTime =
        (batch.readInt16BE(BatchHeader.attributes) & BatchAttributes.timestampTypeLogAppend) !== 0
      this.maxTimestamp = maxTimestamp
      this.offsetOfMaxTimestamp = logAppendTime ? this.baseOffsets[i] : this.lastOffsets[i]
    }
    this.runningMaxTimestamps.push(this.maxTimestamp)
  }
}

/**
 * In-memory PartitionLog with the file log's semantics: offsets assigned in call order, whole
 * batches on read within maxBytes (first batch always whole, KIP-74), timestamp lookups by batch,
 * segments for retention. Batches are copied on append: the caller's buffer is a slice of a request
 * frame.
 */
class MemoryLog implements PartitionLog {
  private closed = false
  /** Cleans run one at a time. */
  private cleaning: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly data: MemoryPartition,
    private config: LogConfig,
    private readonly now: () => number,
  ) {}

  get logStartOffset(): number {
    return this.data.logStartOffset
  }

  get logEndOffset(): number {
    return this.data.nextOffset
  }

  get isClosed(): boolean {
    return this.closed
  }

  append(batches: readonly Buffer[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StorageError('partition log is closed'))
    const data = this.data
    const { segmentBytes, segmentMs } = this.config
    const now = this.now()
    const first = data.nextOffset
    let next = first
    for (const batch of batches) {
      setBaseOffset(batch, next)
      const copy = owned(batch)
      const lastOffset = next + copy.readInt32BE(BatchHeader.lastOffsetDelta)
      let segment = data.active
      if (
        segment.size > 0 &&
        (segment.size + copy.length > segmentBytes ||
          lastOffset - segment.baseOffset > INT32_MAX ||
          (segment.firstAppendAt !== null && now - segment.firstAppendAt > segmentMs))
      ) {
        segment = new MemorySegment(next)
        data.segments.push(segment)
      }
      data.batches.push(copy)
      data.baseOffsets.push(next)
      data.lastOffsets.push(lastOffset)
      data.track(data.batches.length - 1)
      segment.batchCount++
      segment.size += copy.length
      segment.maxTimestamp = Math.max(segment.maxTimestamp, readInt64(copy, BatchHeader.maxTimestamp))
      segment.firstAppendAt ??= now
      segment.lastAppendAt = now
      next = lastOffset + 1
    }
    data.nextOffset = next
    return Promise.resolve({ baseOffset: first, lastOffset: next - 1 })
  }

  read(offset: number, maxBytes: number): Promise<ReadResult> {
    if (this.closed) return Promise.reject(new StorageError('partition log is closed'))
    const { batches, lastOffsets } = this.data
    const out: Buffer[] = []
    let bytes = 0
    for (let i = firstAtLeast(lastOffsets, offset); i < batches.length; i++) {
      const size = batches[i].length
      if (out.length > 0 && bytes + size > maxBytes) break
      out.push(batches[i])
      bytes += size
      if (bytes >= maxBytes) break
    }
    return Promise.resolve({ batches: out, bytes })
  }

  offsetForTimestamp(timestamp: number): Promise<TimestampLookup | null> {
    const { batches, baseOffsets, runningMaxTimestamps } = this.data
    // The running maximum is sorted, and its first value >= timestamp is the first such batch.
    const i = firstAtLeast(runningMaxTimestamps, timestamp)
    if (i >= batches.length) return Promise.resolve(null)
    return Promise.resolve({
      offset: baseOffsets[i],
      timestamp: readInt64(batches[i], BatchHeader.maxTimestamp),
    })
  }

  maxTimestamp(): Promise<TimestampLookup | null> {
    const { offsetOfMaxTimestamp, maxTimestamp } = this.data
    return Promise.resolve(
      offsetOfMaxTimestamp < 0 ? null : { offset: offsetOfMaxTimestamp, timestamp: maxTimestamp },
    )
  }

  deleteRetained(policy: RetentionPolicy): Promise<RetentionResult> {
    if (this.closed) return Promise.reject(new StorageError('partition log is closed'))
    const data = this.data
    const count = deletableSegments(data.segments, data.logStartOffset, policy)
    if (count === data.segments.length) data.segments.push(new MemorySegment(data.nextOffset))
    const doomed = data.segments.splice(0, count)
    let deletedBytes = 0
    let batches = 0
    for (const segment of doomed) {
      deletedBytes += segment.size
      batches += segment.batchCount
    }
    if (batches > 0) data.dropBatches(batches)
    data.logStartOffset = Math.max(data.logStartOffset, data.segments[0].baseOffset)
    return Promise.resolve({ deletedSegments: count, deletedBytes, logStartOffset: data.logStartOffset })
  }

  advanceLogStartOffset(offset: number): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('partition log is closed'))
    const data = this.data
    if (offset > data.nextOffset) {
      return Promise.reject(
        new RangeError(`log start offset ${offset} is past the log end offset ${data.nextOffset}`),
      )
    }
    data.logStartOffset = Math.max(data.logStartOffset, offset)
    return Promise.resolve()
  }

  size(): number {
    let bytes = 0
    for (const segment of this.data.segments) bytes += segment.size
    return bytes
  }

  /** No snapshots in memory: a reopened partition rebuilds its producer state by scanning. */
  readProducerSnapshot(): Promise<ProducerSnapshot | null> {
    return Promise.resolve(null)
  }

  setProducerSnapshotSource(): void {}

  compactionStatus(policy: CompactionPolicy): Promise<CompactionStatus> {
    if (this.closed) return Promise.reject(new StorageError('partition log is closed'))
    return Promise.resolve(compactionStatus(this.cleanable(), policy))
  }

  clean(options: CleanOptions): Promise<CleanResult> {
    const run = this.cleaning.catch(() => {}).then(() => cleanLog(this.cleanable(), options))
    this.cleaning = run
    return run
  }

  /** This log as the cleaner (log/cleaner.ts) sees it: the same algorithm as the file log's. */
  private cleanable(): CleanableLog<MemoryCleanerSegment> {
    const data = this.data
    const log = this
    return {
      get logStartOffset() {
        return data.logStartOffset
      },
      get logEndOffset() {
        return data.nextOffset
      },
      get segmentBytes() {
        return log.config.segmentBytes
      },
      segments: () => data.segments.map((segment) => new MemoryCleanerSegment(segment, data)),
      checkpoint: () => data.cleanerCheckpoint,
      saveCheckpoint: async (checkpoint) => {
        data.cleanerCheckpoint = checkpoint
      },
      replace: (group, onPhase) => {
        const kept: Buffer[] = []
        const baseOffset = group[0].baseOffset
        return {
          append: (batches) => {
            for (const batch of batches) kept.push(batch)
          },
          commit: async () => {
            await onPhase?.('cleaned', { baseOffset })
            this.checkOpen()
            replaceSegments(
              data,
              group.map((g) => g.segment),
              kept,
            )
            await onPhase?.('swapped', { baseOffset })
          },
          abort: () => {},
        }
      },
      checkOpen: () => this.checkOpen(),
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('partition log is closed')
  }

  updateConfig(config: LogConfig): void {
    this.config = config
  }

  flush(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }
}

/** A memory segment as the cleaner reads it. */
class MemoryCleanerSegment implements CleanerSegment {
  constructor(
    readonly segment: MemorySegment,
    private readonly data: MemoryPartition,
  ) {}

  get baseOffset(): number {
    return this.segment.baseOffset
  }

  get size(): number {
    return this.segment.size
  }

  largestTimestamp(): number {
    return this.segment.largestTimestamp()
  }

  firstBatchTimestamp(): number {
    const first = this.data.batches[batchIndex(this.data, this.segment)]
    return this.segment.batchCount > 0 ? readInt64(first, BatchHeader.maxTimestamp) : -1
  }

  /** Iterates a copy of the segment's batch list: retention may drop batches meanwhile. */
  *batches(fromOffset: number): Iterable<Buffer> {
    const start = batchIndex(this.data, this.segment)
    const end = start + this.segment.batchCount
    const batches = this.data.batches.slice(start, end)
    const lastOffsets = this.data.lastOffsets.slice(start, end)
    for (let i = 0; i < batches.length; i++) if (lastOffsets[i] >= fromOffset) yield batches[i]
  }
}

/** Index in the partition's batch list of the first batch of `segment`. */
function batchIndex(data: MemoryPartition, segment: MemorySegment): number {
  let index = 0
  for (const s of data.segments) {
    if (s === segment) return index
    index += s.batchCount
  }
  throw new StorageError('segment is no longer in the log')
}

/** Puts one segment holding `batches` in place of the consecutive segments `group`. */
function replaceSegments(data: MemoryPartition, group: readonly MemorySegment[], batches: Buffer[]): void {
  const at = data.segments.indexOf(group[0])
  if (at < 0 || data.segments[at + group.length - 1] !== group[group.length - 1]) {
    throw new StorageError('segments changed under the cleaner')
  }
  const start = batchIndex(data, group[0])
  let count = 0
  for (const segment of group) count += segment.batchCount
  const replacement = new MemorySegment(group[0].baseOffset)
  replacement.firstAppendAt = group[0].firstAppendAt
  replacement.lastAppendAt = group[group.length - 1].lastAppendAt
  const baseOffsets: number[] = []
  const lastOffsets: number[] = []
  for (const batch of batches) {
    const baseOffset = readInt64(batch, BatchHeader.baseOffset)
    baseOffsets.push(baseOffset)
    lastOffsets.push(baseOffset + batch.readInt32BE(BatchHeader.lastOffsetDelta))
    replacement.batchCount++
    replacement.size += batch.length
    replacement.maxTimestamp = Math.max(replacement.maxTimestamp, readInt64(batch, BatchHeader.maxTimestamp))
  }
  const end = start + count
  data.batches = [...data.batches.slice(0, start), ...batches, ...data.batches.slice(end)]
  data.baseOffsets = [...data.baseOffsets.slice(0, start), ...baseOffsets, ...data.baseOffsets.slice(end)]
  data.lastOffsets = [...data.lastOffsets.slice(0, start), ...lastOffsets, ...data.lastOffsets.slice(end)]
  data.segments.splice(at, group.length, replacement)
  // Recomputes the running maximum timestamps the time lookups use.
  data.dropBatches(0)
}

/**
 * The appended buffers are handed over (see PartitionLog.append). A batch that fills most of the
 * memory it lives in (a large produce frame) is kept as is; a small one is copied so that it does
 * not keep a whole socket chunk alive.
 */
function owned(batch: Buffer): Buffer {
  if (batch.length * 2 >= batch.buffer.byteLength) return batch
  const copy = Buffer.allocUnsafeSlow(batch.length)
  batch.copy(copy)
  return copy
}

/** Index of the first element >= value in a sorted array (length when none is). */
function firstAtLeast(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

class MemoryStore implements LogStore {
  readonly kind = 'memory' as const
  readonly logDir = null
  constructor(private readonly now: () => number) {}

  private readonly id = randomBytes(16).toString('base64url')
  private readonly topics = new Map<string, TopicRecord>()
  private readonly partitions = new Map<string, MemoryPartition>()
  private readonly logs = new Map<string, MemoryLog>()

  async clusterId(): Promise<string> {
    return this.id
  }

  async loadTopics(): Promise<TopicRecord[]> {
    return [...this.topics.values()].map(copyTopic)
  }

  async saveTopic(topic: TopicRecord): Promise<void> {
    this.topics.set(topic.name, copyTopic(topic))
  }

  async deleteTopic(topic: TopicRecord): Promise<void> {
    const prefix = `${topic.name}-`
    for (const key of [...this.partitions.keys()]) {
      if (!key.startsWith(prefix) || !/^\d+$/.test(key.slice(prefix.length))) continue
      await this.logs.get(key)?.close()
      this.logs.delete(key)
      this.partitions.delete(key)
    }
    this.topics.delete(topic.name)
  }

  async openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog> {
    const key = `${topic.name}-${partition}`
    const open = this.logs.get(key)
    if (open !== undefined && !open.isClosed) return open
    let data = this.partitions.get(key)
    if (data === undefined) {
      data = new MemoryPartition()
      this.partitions.set(key, data)
    }
    const log = new MemoryLog(data, config, this.now)
    this.logs.set(key, log)
    return log
  }

  async close(): Promise<void> {
    for (const log of this.logs.values()) await log.close()
    this.logs.clear()
  }
}

function copyTopic(topic: TopicRecord): TopicRecord {
  return { ...topic, configs: { ...topic.configs } }
}

export interface MemoryStoreOptions {
  /** Wall clock for segment.ms; Date.now by default. */
  now?: () => number
}

/** A LogStore in memory: for tests and embedded brokers that need no durability. */
export function createMemoryStore(options: MemoryStoreOptions = {}): LogStore {
  return new MemoryStore(options.now ?? Date.now)
}
