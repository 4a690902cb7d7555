/**
 * Records waiting to be sent, one queue of batches per partition. A batch closes when it reaches
 * batch.size or when linger.ms has passed since its first record; closed batches wait for the
 * sender. A batch keeps its encoded bytes (and so its sequence number) across retries.
 */
import type { RecordHeader, RecordInput } from '@fluxo/protocol'

/** Where and when a record was written. */
export interface RecordMetadata {
  topic: string
  partition: number
  /** The record's offset; -1 when the broker reported a duplicate of an earlier send (offset unknown). */
  offset: number
  /** CreateTime set by the producer, or the broker's LogAppendTime for topics configured so. */
  timestamp: number
}

export interface Delivery {
  resolve: (metadata: RecordMetadata) => void
  reject: (err: Error) => void
}

/** Rough per-record overhead in a batch (length, attributes, deltas, counts). */
const RECORD_OVERHEAD = 21
/** The record batch v2 header. */
export const BATCH_HEADER_BYTES = 61

export class ProducerBatch {
  readonly records: RecordInput[] = []
  readonly deliveries: Delivery[] = []
  sizeBytes = BATCH_HEADER_BYTES
  closed = false
  /** Set when first sent: the batch's bytes with producer id, epoch and sequence stamped in. */
  encoded: Buffer | undefined
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
  ) {}

  add(record: RecordInput, delivery: Delivery, size: number): void {
    this.records.push(record)
    this.deliveries.push(delivery)
    this.sizeBytes += size
  }

  resolve(baseOffset: number, logAppendTime: number): void {
    for (let i = 0; i < this.deliveries.length; i++) {
      this.deliveries[i].resolve({
        topic: this.topic,
        partition: this.partition,
        offset: baseOffset < 0 ? -1 : baseOffset + i,
        timestamp: logAppendTime >= 0 ? logAppendTime : (this.records[i].timestamp as number),
      })
    }
  }

  reject(err: Error): void {
    for (const d of this.deliveries) d.reject(err)
  }
}

export function recordSize(
  key: Buffer | null,
  value: Buffer | null,
  headers: RecordHeader[] | undefined,
): number {
  let size = RECORD_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0)
  if (headers) for (const h of headers) size += h.key.length + (h.value?.length ?? 0) + 2
  return size
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
