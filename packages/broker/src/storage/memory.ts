import { randomBytes } from 'node:crypto'
import { BatchAttributes, BatchHeader, readInt64, setBaseOffset } from '@fluxo/protocol'
import { StorageError } from '../log/storage-error.js'
import type {
  AppendResult,
  LogConfig,
  LogStore,
  PartitionLog,
  ReadResult,
  TimestampLookup,
  TopicRecord,
} from './types.js'

/** One partition's batches, kept by the store so that reopening a partition finds them again. */
class MemoryPartition {
  readonly batches: Buffer[] = []
  /** Per batch: base offset, last offset, and the largest maxTimestamp up to and including it. */
  readonly baseOffsets: number[] = []
  readonly lastOffsets: number[] = []
  readonly runningMaxTimestamps: number[] = []
  nextOffset = 0
  maxTimestamp = -1
  offsetOfMaxTimestamp = -1
}

/**
 * In-memory PartitionLog with the file log's semantics: offsets assigned in call order, whole
 * batches on read within maxBytes (first batch always whole, KIP-74), timestamp lookups by batch.
 * Batches are copied on append: the caller's buffer is a slice of a request frame.
 */
class MemoryLog implements PartitionLog {
  private closed = false

  constructor(private readonly data: MemoryPartition) {}

  get logStartOffset(): number {
    return 0
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
    const first = data.nextOffset
    let next = first
    for (const batch of batches) {
      const copy = Buffer.allocUnsafeSlow(batch.length)
      batch.copy(copy)
      setBaseOffset(batch, next)
      setBaseOffset(copy, next)
      const lastOffset = next + copy.readInt32BE(BatchHeader.lastOffsetDelta)
      const maxTimestamp = readInt64(copy, BatchHeader.maxTimestamp)
      if (maxTimestamp > data.maxTimestamp) {
        const logAppendTime =
          (copy.readInt16BE(BatchHeader.attributes) & BatchAttributes.timestampTypeLogAppend) !== 0
        data.maxTimestamp = maxTimestamp
        data.offsetOfMaxTimestamp = logAppendTime ? next : lastOffset
      }
      data.batches.push(copy)
      data.baseOffsets.push(next)
      data.lastOffsets.push(lastOffset)
      data.runningMaxTimestamps.push(data.maxTimestamp)
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

  flush(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }
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

  async openPartition(topic: TopicRecord, partition: number, _config: LogConfig): Promise<PartitionLog> {
    const key = `${topic.name}-${partition}`
    const open = this.logs.get(key)
    if (open !== undefined && !open.isClosed) return open
    let data = this.partitions.get(key)
    if (data === undefined) {
      data = new MemoryPartition()
      this.partitions.set(key, data)
    }
    const log = new MemoryLog(data)
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

/** A LogStore in memory: for tests and embedded brokers that need no durability. */
export function createMemoryStore(): LogStore {
  return new MemoryStore()
}
