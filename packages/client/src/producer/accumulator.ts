/**
 * Records waiting to be sent, one queue of batches per partition. A batch closes when it reaches
 * batch.size or when linger.ms has passed since its first record; closed batches wait for the
 * sender. Records are encoded into the batch's buffer as they are appended (RecordBatchBuilder), so
 * a batch is bytes plus each record's resolve and reject; it keeps its encoded bytes (and so its sequence
 * number) across retries.
 */
import { RecordBatchBuilder } from '@fluxo/protocol'

/** Where and when a record was written. */
export interface RecordMetadata {
  topic: string
  partition: number
  /** The record's offset; -1 when the broker reported a duplicate of an earlier send (offset unknown). */
  offset: number
  /** CreateTime set by the producer, or the broker's LogAppendTime for topics configured so. */
  timestamp: number
}

/** The record batch v2 header. */
export const BATCH_HEADER_BYTES = 61

/**
 * Batch buffers of batch.size bytes, reused once a batch is acknowledged (as Java's BufferPool):
 * a fresh large buffer costs an mmap, page faults on first write and GC pressure.
 */
export class BufferPool {
  private readonly free: Buffer[] = []

  constructor(
    readonly bufferSize: number,
    private readonly maxFree: number,
  ) {}

  allocate(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize)
  }

  release(buffer: Buffer): void {
    if (buffer.length === this.bufferSize && this.free.length < this.maxFree) this.free.push(buffer)
  }
}

export class ProducerBatch {
  readonly builder: RecordBatchBuilder
  /** Each record's Promise, settled when the batch is. */
  readonly resolvers: ((metadata: RecordMetadata) => void)[] = []
  readonly rejecters: ((err: Error) => void)[] = []
  /** Each record's CreateTime, for its RecordMetadata. */
  readonly timestamps: number[] = []
  closed = false
  /** Set when first sent: the batch's bytes with producer id, epoch and sequence stamped in. */
  encoded: Buffer | undefined
  /** The builder's buffer when it came from the pool and has not gone back yet. */
  pooled: Buffer | undefined
  producerId = -1
  producerEpoch = -1
  baseSequence = -1
  attempts = 0
  /** Earliest time of the next attempt after a failure (epoch ms). */
  retryAt = 0
  lingerTimer: NodeJS.Timeout | undefined

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdAt: number,
    buffer: Buffer,
    pooled: boolean,
  ) {
    this.builder = new RecordBatchBuilder(buffer)
    if (pooled) this.pooled = buffer
  }

  get recordCount(): number {
    return this.resolvers.length
  }

  get sizeBytes(): number {
    return this.builder.sizeInBytes
  }

  resolve(baseOffset: number, logAppendTime: number): void {
    const { topic, partition, resolvers, timestamps } = this
    for (let i = 0; i < resolvers.length; i++) {
      resolvers[i]({
        topic,
        partition,
        offset: baseOffset < 0 ? -1 : baseOffset + i,
        timestamp: logAppendTime >= 0 ? logAppendTime : timestamps[i],
      })
    }
  }

  reject(err: Error): void {
    for (const reject of this.rejecters) reject(err)
  }
}

/** A partition's queue and its idempotence state. */
export class PartitionQueue {
  /** Oldest first; only the last one can be open. */
  readonly batches: ProducerBatch[] = []
  inFlight = 0
  /** Next sequence number for this partition under the current producer id (KIP-98). */
  nextSequence = 0
  /** A batch failed and waits to be re-sent: nothing newer goes out until it is acknowledged. */
  retrying = false

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get open(): ProducerBatch | undefined {
    const last = this.batches[this.batches.length - 1]
    return last && !last.closed ? last : undefined
  }

  /** Puts a failed batch back before every batch not yet sent, keeping sequence order. */
  requeue(batch: ProducerBatch): void {
    let at = 0
    while (
      at < this.batches.length &&
      this.batches[at].encoded !== undefined &&
      this.batches[at].baseSequence < batch.baseSequence
    )
      at++
    this.batches.splice(at, 0, batch)
  }
}
