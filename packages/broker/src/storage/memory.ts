import { randomBytes } from 'node:crypto'
import { BatchAttributes, BatchHeader, readInt64, setBaseOffset } from '@fluxo/protocol'
import { type RetainableSegment, deletableSegments } from '../log/deletable-segments.js'
import { StorageError } from '../log/storage-error.js'
import type {
  AppendResult,
  LogConfig,
  LogStore,
  PartitionLog,
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
