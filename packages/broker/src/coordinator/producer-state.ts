// Per-partition producer state, after Kafka's ProducerStateManager, ProducerStateEntry and
// ProducerAppendInfo: for each producer id the epoch, the last five appended batches (sequence dedup
// for retried produce requests, KIP-98), the first offset of its ongoing transaction, and the
// partition's aborted transactions (Kafka's .txnindex). Pure: no I/O, a clock is passed in; the
// partition feeds it appended batches and persists it through snapshot()/restore().
import { ErrorCode, FluxoError, crc32c, readInt64, writeInt64 } from '@fluxo/protocol'

export const NO_PRODUCER_ID = -1
export const NO_PRODUCER_EPOCH = -1
export const NO_SEQUENCE = -1
/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the producer's max.in.flight.requests ceiling. */
export const NUM_BATCHES_TO_RETAIN = 5

const INT32_MAX = 2147483647

/** One appended batch of a producer (Kafka's BatchMetadata). */
export interface BatchMetadata {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
  /** The batch's maxTimestamp as stored (the append time on LogAppendTime topics). */
  timestamp: number
}

export interface ProducerStateEntry {
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  lastTimestamp: number
  /** Oldest first; at most NUM_BATCHES_TO_RETAIN, all of the current epoch. */
  batches: BatchMetadata[]
  /** First offset of the producer's ongoing transaction on this partition, or -1. */
  currentTxnFirstOffset: number
}

/** An aborted transaction as Fetch reports it (Kafka's AbortedTxn). */
export interface AbortedTxn {
  producerId: number
  firstOffset: number
  /** Offset of the abort marker. */
  lastOffset: number
  /** The last stable offset once this transaction completed: lets lookups stop early. */
  lastStableOffset: number
}

/** The producer fields of a record batch header. */
export interface ProducerBatch {
  producerId: number
  producerEpoch: number
  baseSequence: number
  lastOffsetDelta: number
  maxTimestamp: number
  isTransactional: boolean
}

export type AppendCheck =
  | { kind: 'append' }
  /** A retry of a batch already in the log: answer with its offsets, append nothing. */
  | { kind: 'duplicate'; batch: BatchMetadata }
  | { kind: 'error'; errorCode: number; errorMessage: string }

export interface CompletedTxn {
  producerId: number
  firstOffset: number
  lastOffset: number
  aborted: boolean
}

export interface ProducerStateOptions {
  /** "topic-partition", for messages. */
  topicPartition: string
  /** producer.id.expiration.ms */
  producerIdExpirationMs: number
}

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from int32 max to 0. */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1
  return sequence + increment
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX)
}

function error(errorCode: number, errorMessage: string): AppendCheck {
  return { kind: 'error', errorCode, errorMessage }
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerStateEntry>()
  /** producerId → first offset of its ongoing transaction (Kafka's ongoingTxns). */
  private readonly ongoing = new Map<number, number>()
  /** In marker order, so lastOffset and lastStableOffset ascend. */
  private aborted: AbortedTxn[] = []

  constructor(private readonly options: ProducerStateOptions) {}

  get producerCount(): number {
    return this.producers.size
  }

  entry(producerId: number): ProducerStateEntry | undefined {
    return this.producers.get(producerId)
  }

  /** Every producer with state here (DescribeProducers). */
  activeProducers(): ProducerStateEntry[] {
    return [...this.producers.values()]
  }

  /**
   * Checks a client's data batch before it is appended, in Kafka's order: duplicate of one of the
   * producer's last five batches (same epoch, same sequence range) first; then the epoch (older →
   * INVALID_PRODUCER_EPOCH); then the sequence: a new epoch must start at 0 unless the producer is
   * unknown here, the same epoch must continue the last sequence. A producer with no state accepts
   * any sequence (Kafka since KIP-360; UNKNOWN_PRODUCER_ID is no longer returned). A non-transactional
   * batch during the producer's open transaction is INVALID_TXN_STATE. Appends by a broker
   * coordinator to its internal topic (Kafka's AppendOrigin.COORDINATOR) get the epoch check only.
   */
  checkAppend(batch: ProducerBatch, origin: 'client' | 'coordinator' = 'client'): AppendCheck {
    const { producerId, producerEpoch, baseSequence } = batch
    const entry = this.producers.get(producerId)
    const client = origin === 'client'
    const lastSeqOfBatch = incrementSequence(baseSequence, batch.lastOffsetDelta)
    if (client && entry !== undefined && entry.producerEpoch === producerEpoch) {
      const duplicate = entry.batches.find((b) => b.firstSeq === baseSequence && b.lastSeq === lastSeqOfBatch)
      if (duplicate !== undefined) return { kind: 'duplicate', batch: duplicate }
    }
    const where = `producer ${producerId} in ${this.options.topicPartition}`
    const currentEpoch = entry?.producerEpoch ?? NO_PRODUCER_EPOCH
    if (producerEpoch < currentEpoch) {
      return error(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `Epoch of ${where} is ${producerEpoch}, which is smaller than the last seen epoch ${currentEpoch}`,
      )
    }
    if (!client) {
      // no sequence numbers to check
    } else if (producerEpoch !== currentEpoch) {
      if (baseSequence !== 0 && currentEpoch !== NO_PRODUCER_EPOCH) {
        return error(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `Invalid sequence number for new epoch of ${where}: ${producerEpoch} (request epoch), ${baseSequence} (seq. number), ${currentEpoch} (current producer epoch)`,
        )
      }
    } else if (entry !== undefined) {
      const last = entry.batches.at(-1)
      const currentLastSeq = last === undefined ? NO_SEQUENCE : last.lastSeq
      if (!inSequence(currentLastSeq, baseSequence)) {
        return error(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `Out of order sequence number for ${where}: ${baseSequence} (incoming seq. number), ${currentLastSeq} (current end sequence number)`,
        )
      }
    }
    if (entry !== undefined && entry.currentTxnFirstOffset >= 0 && !batch.isTransactional) {
      return error(ErrorCode.INVALID_TXN_STATE, `Expected transactional write from ${where}`)
    }
    return { kind: 'append' }
  }

  /**
   * Records an appended data batch (after checkAppend, or unchecked while rebuilding from the log).
   * A transactional batch with no open transaction starts one at its first offset.
   */
  appendData(batch: ProducerBatch, firstOffset: number, lastOffset: number): void {
    const entry = this.entryFor(batch.producerId)
    if (entry.producerEpoch !== batch.producerEpoch) {
      entry.batches = []
      entry.producerEpoch = batch.producerEpoch
    }
    entry.batches.push({
      firstSeq: batch.baseSequence,
      lastSeq: incrementSequence(batch.baseSequence, batch.lastOffsetDelta),
      firstOffset,
      lastOffset,
      timestamp: batch.maxTimestamp,
    })
    if (entry.batches.length > NUM_BATCHES_TO_RETAIN) entry.batches.shift()
    entry.lastTimestamp = batch.maxTimestamp
    if (batch.isTransactional && entry.currentTxnFirstOffset < 0) {
      entry.currentTxnFirstOffset = firstOffset
      this.ongoing.set(batch.producerId, firstOffset)
    }
  }

  /**
   * Checks a COMMIT/ABORT marker from the transaction coordinator: an epoch older than the
   * producer's is INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED
   * (Kafka's appendEndTxnMarker with transaction version 0/1 rules).
   */
  checkMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number): AppendCheck {
    const entry = this.producers.get(producerId)
    if (entry === undefined) return { kind: 'append' }
    const where = `producer ${producerId} in ${this.options.topicPartition}`
    if (producerEpoch < entry.producerEpoch) {
      return error(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `Epoch of ${where} is ${producerEpoch}, which is smaller than the last seen epoch ${entry.producerEpoch}`,
      )
    }
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      return error(
        ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        `Invalid coordinator epoch for ${where}: ${coordinatorEpoch} (zombie), ${entry.coordinatorEpoch} (current)`,
      )
    }
    return { kind: 'append' }
  }

  /**
   * Records an appended marker at `offset`: the producer's open transaction (if any) completes, and
   * an aborted one joins the aborted list. `logEndOffset` is the log end after the marker.
   */
  appendMarker(
    marker: { producerId: number; producerEpoch: number; coordinatorEpoch: number; commit: boolean },
    offset: number,
    timestamp: number,
    logEndOffset: number,
  ): CompletedTxn | null {
    const entry = this.entryFor(marker.producerId)
    let completed: CompletedTxn | null = null
    if (entry.currentTxnFirstOffset >= 0) {
      completed = {
        producerId: marker.producerId,
        firstOffset: entry.currentTxnFirstOffset,
        lastOffset: offset,
        aborted: !marker.commit,
      }
    }
    if (entry.producerEpoch !== marker.producerEpoch) {
      entry.batches = []
      entry.producerEpoch = marker.producerEpoch
    }
    entry.coordinatorEpoch = marker.coordinatorEpoch
    entry.currentTxnFirstOffset = -1
    entry.lastTimestamp = timestamp
    this.ongoing.delete(marker.producerId)
    if (completed?.aborted) {
      this.aborted.push({
        producerId: completed.producerId,
        firstOffset: completed.firstOffset,
        lastOffset: completed.lastOffset,
        lastStableOffset: this.firstUndecidedOffset() ?? logEndOffset,
      })
    }
    return completed
  }

  /** First offset of the earliest ongoing transaction, or null when none is open. */
  firstUndecidedOffset(): number | null {
    let first: number | null = null
    for (const offset of this.ongoing.values()) if (first === null || offset < first) first = offset
    return first
  }

  /**
   * Aborted transactions overlapping [fetchOffset, upperBoundOffset): Kafka's
   * collectAbortedTxns, as Fetch returns them to read_committed consumers.
   */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): AbortedTxn[] {
    const found: AbortedTxn[] = []
    let lo = 0
    let hi = this.aborted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.aborted[mid].lastOffset < fetchOffset) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < this.aborted.length; i++) {
      const txn = this.aborted[i]
      if (txn.firstOffset < upperBoundOffset) found.push(txn)
      // Every transaction completed after this one started at or past its last stable offset.
      if (txn.lastStableOffset >= upperBoundOffset) break
    }
    return found
  }

  /** Forgets aborted transactions wholly below the log start offset (their data is gone). */
  truncateHead(logStartOffset: number): void {
    if (this.aborted.length > 0 && this.aborted[0].lastOffset < logStartOffset) {
      this.aborted = this.aborted.filter((t) => t.lastOffset >= logStartOffset)
    }
  }

  /**
   * producer.id.expiration.ms: drops producers without an open transaction whose last batch
   * timestamp is that old (Kafka's removeExpiredProducers). Returns how many went.
   */
  removeExpiredProducers(now: number): number {
    let removed = 0
    for (const [producerId, entry] of this.producers) {
      if (
        entry.currentTxnFirstOffset < 0 &&
        now - entry.lastTimestamp >= this.options.producerIdExpirationMs
      ) {
        this.producers.delete(producerId)
        removed++
      }
    }
    return removed
  }

  private entryFor(producerId: number): ProducerStateEntry {
    let entry = this.producers.get(producerId)
    if (entry === undefined) {
      entry = {
        producerId,
        producerEpoch: NO_PRODUCER_EPOCH,
        coordinatorEpoch: -1,
        lastTimestamp: -1,
        batches: [],
        currentTxnFirstOffset: -1,
      }
      this.producers.set(producerId, entry)
    }
    return entry
  }

  /**
   * Serialises the state (Fluxo's snapshot format, not Kafka's: it keeps all five batches per
   * producer, so dedup survives a restart for every in-flight request, and the aborted list, which
   * Kafka keeps in per-segment .txnindex files):
   *
   *   version int16, crc32c uint32 (of everything after it), producerCount int32,
   *   per producer: producerId int64, producerEpoch int16, coordinatorEpoch int32, lastTimestamp int64,
   *     currentTxnFirstOffset int64, batchCount int8, per batch: firstSeq int32, lastSeq int32,
   *     firstOffset int64, lastOffset int64, timestamp int64
   *   abortedCount int32, per aborted: producerId int64, firstOffset int64, lastOffset int64,
   *     lastStableOffset int64
   */
  snapshot(): Buffer {
    let size = HEADER_SIZE + 4 + 4 + this.aborted.length * ABORTED_SIZE
    for (const entry of this.producers.values()) size += PRODUCER_SIZE + entry.batches.length * BATCH_SIZE
    const buf = Buffer.alloc(size)
    buf.writeInt16BE(SNAPSHOT_VERSION, 0)
    let pos = HEADER_SIZE
    buf.writeInt32BE(this.producers.size, pos)
    pos += 4
    for (const entry of this.producers.values()) {
      writeInt64(buf, pos, entry.producerId)
      buf.writeInt16BE(entry.producerEpoch, pos + 8)
      buf.writeInt32BE(entry.coordinatorEpoch, pos + 10)
      writeInt64(buf, pos + 14, entry.lastTimestamp)
      writeInt64(buf, pos + 22, entry.currentTxnFirstOffset)
      buf.writeInt8(entry.batches.length, pos + 30)
      pos += PRODUCER_SIZE
      for (const b of entry.batches) {
        buf.writeInt32BE(b.firstSeq, pos)
        buf.writeInt32BE(b.lastSeq, pos + 4)
        writeInt64(buf, pos + 8, b.firstOffset)
        writeInt64(buf, pos + 16, b.lastOffset)
        writeInt64(buf, pos + 24, b.timestamp)
        pos += BATCH_SIZE
      }
    }
    buf.writeInt32BE(this.aborted.length, pos)
    pos += 4
    for (const t of this.aborted) {
      writeInt64(buf, pos, t.producerId)
      writeInt64(buf, pos + 8, t.firstOffset)
      writeInt64(buf, pos + 16, t.lastOffset)
      writeInt64(buf, pos + 24, t.lastStableOffset)
      pos += ABORTED_SIZE
    }
    buf.writeUInt32BE(crc32c(buf.subarray(HEADER_SIZE)), 2)
    return buf
  }

  /** Replaces the state with a snapshot's; throws SnapshotError when it is corrupt. */
  restore(data: Buffer): void {
    if (data.length < HEADER_SIZE + 8) throw new SnapshotError('snapshot is truncated')
    const version = data.readInt16BE(0)
    if (version !== SNAPSHOT_VERSION) throw new SnapshotError(`unknown snapshot version ${version}`)
    if (data.readUInt32BE(2) !== crc32c(data.subarray(HEADER_SIZE))) {
      throw new SnapshotError('snapshot CRC mismatch')
    }
    const producers: ProducerStateEntry[] = []
    const aborted: AbortedTxn[] = []
    try {
      let pos = HEADER_SIZE
      const producerCount = data.readInt32BE(pos)
      pos += 4
      for (let i = 0; i < producerCount; i++) {
        const entry: ProducerStateEntry = {
          producerId: readInt64(data, pos),
          producerEpoch: data.readInt16BE(pos + 8),
          coordinatorEpoch: data.readInt32BE(pos + 10),
          lastTimestamp: readInt64(data, pos + 14),
          currentTxnFirstOffset: readInt64(data, pos + 22),
          batches: [],
        }
        const batchCount = data.readInt8(pos + 30)
        pos += PRODUCER_SIZE
        for (let b = 0; b < batchCount; b++) {
          entry.batches.push({
            firstSeq: data.readInt32BE(pos),
            lastSeq: data.readInt32BE(pos + 4),
            firstOffset: readInt64(data, pos + 8),
            lastOffset: readInt64(data, pos + 16),
            timestamp: readInt64(data, pos + 24),
          })
          pos += BATCH_SIZE
        }
        producers.push(entry)
      }
      const abortedCount = data.readInt32BE(pos)
      pos += 4
      for (let i = 0; i < abortedCount; i++) {
        aborted.push({
          producerId: readInt64(data, pos),
          firstOffset: readInt64(data, pos + 8),
          lastOffset: readInt64(data, pos + 16),
          lastStableOffset: readInt64(data, pos + 24),
        })
        pos += ABORTED_SIZE
      }
      if (pos !== data.length) throw new SnapshotError(`${data.length - pos} bytes after the snapshot`)
    } catch (err) {
      if (err instanceof SnapshotError) throw err
      throw new SnapshotError(`snapshot is malformed: ${(err as Error).message}`)
    }
    this.producers.clear()
    this.ongoing.clear()
    for (const entry of producers) {
      this.producers.set(entry.producerId, entry)
      if (entry.currentTxnFirstOffset >= 0) this.ongoing.set(entry.producerId, entry.currentTxnFirstOffset)
    }
    this.aborted = aborted
  }
}

const SNAPSHOT_VERSION = 1
const HEADER_SIZE = 6
const PRODUCER_SIZE = 31
const BATCH_SIZE = 32
const ABORTED_SIZE = 32

export class SnapshotError extends FluxoError {
  constructor(message: string) {
    super('ERR_FLUXO_PRODUCER_SNAPSHOT', message)
  }
}
