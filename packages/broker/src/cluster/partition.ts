import { ErrorCode, decodeRecordBatchesSync, setLogAppendTime, validateBatches } from '@fluxo/protocol'
import type { Logger } from 'pino'
import type { TopicConfig } from '../config.js'
import type { PartitionLog, TimestampLookup } from '../storage/types.js'

export interface PartitionAppendResult {
  errorCode: number
  errorMessage: string | null
  baseOffset: number
  /** LogAppendTime stamped on the batches, or -1 when the topic uses CreateTime. */
  logAppendTime: number
}

export interface PartitionRead {
  errorCode: number
  highWatermark: number
  logStartOffset: number
  /** Whole batches, concatenated (one view when the backend returned contiguous bytes). */
  records: Buffer | null
  bytes: number
}

/**
 * One partition on this broker: validates produced batches (header and CRC, never records),
 * appends them through the storage backend and wakes fetches waiting for data.
 */
export class Partition {
  private readonly waiters = new Set<() => void>()

  constructor(
    readonly topicName: string,
    readonly index: number,
    readonly log: PartitionLog,
    private config: TopicConfig,
    private readonly logger: Logger,
  ) {}

  get highWatermark(): number {
    return this.log.logEndOffset
  }

  get logStartOffset(): number {
    return this.log.logStartOffset
  }

  reconfigure(config: TopicConfig): void {
    this.config = config
  }

  /**
   * Validates and appends one partition's records from a ProduceRequest. Resolves once the data is
   * in the operating system (and fsynced when `sync`). Validation failures append nothing.
   */
  async append(records: Buffer | null, sync: boolean): Promise<PartitionAppendResult> {
    if (records === null || records.length === 0) {
      return fail(ErrorCode.INVALID_RECORD, 'no records in the produce request')
    }
    const checked = validateBatches(records, this.config.maxMessageBytes)
    if (!checked.ok) return fail(ErrorCode[checked.error], checked.message)
    // Produce v3+ carries exactly one batch per partition (Kafka's ProduceRequest.validateRecords).
    if (checked.batches.length !== 1) {
      return fail(ErrorCode.INVALID_RECORD, `expected one record batch, got ${checked.batches.length}`)
    }

    let logAppendTime = -1
    if (this.config.messageTimestampType === 'LogAppendTime') {
      logAppendTime = Date.now()
      for (const batch of checked.batches) setLogAppendTime(batch, logAppendTime)
    }
    try {
      const { baseOffset } = await this.log.append(checked.batches, {
        sync: sync && this.config.flushOnAcksAll,
      })
      this.wake()
      return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset, logAppendTime }
    } catch (err) {
      this.logger.error({ err, topic: this.topicName, partition: this.index }, 'append failed')
      return fail(ErrorCode.KAFKA_STORAGE_ERROR, 'the broker could not write to its log')
    }
  }

  /** Reads from `offset`; an offset outside [logStartOffset, highWatermark] is OFFSET_OUT_OF_RANGE. */
  async read(offset: number, maxBytes: number): Promise<PartitionRead> {
    const highWatermark = this.highWatermark
    const logStartOffset = this.logStartOffset
    if (offset < logStartOffset || offset > highWatermark) {
      return {
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        highWatermark,
        logStartOffset,
        records: null,
        bytes: 0,
      }
    }
    if (offset === highWatermark || maxBytes <= 0) {
      return { errorCode: ErrorCode.NONE, highWatermark, logStartOffset, records: null, bytes: 0 }
    }
    try {
      const { batches, bytes } = await this.log.read(offset, maxBytes)
      return {
        errorCode: ErrorCode.NONE,
        highWatermark,
        logStartOffset,
        records: join(batches, bytes),
        bytes,
      }
    } catch (err) {
      this.logger.error({ err, topic: this.topicName, partition: this.index, offset }, 'read failed')
      return {
        errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
        highWatermark,
        logStartOffset,
        records: null,
        bytes: 0,
      }
    }
  }

  /**
   * ListOffsets by timestamp: the first record whose timestamp is at or after `timestamp`. The
   * backend finds the batch; the records of that one batch are decoded to answer per record, as
   * Kafka does.
   */
  async offsetForTimestamp(timestamp: number): Promise<TimestampLookup | null> {
    const found = await this.log.offsetForTimestamp(timestamp)
    if (!found) return null
    for (const record of await this.recordsOfBatchAt(found.offset)) {
      if (record.timestamp >= timestamp) return { offset: record.offset, timestamp: record.timestamp }
    }
    return found
  }

  /** ListOffsets -3 (KIP-734): the record with the largest timestamp (the first one on ties). */
  async maxTimestamp(): Promise<TimestampLookup | null> {
    const found = await this.log.maxTimestamp()
    if (!found) return null
    let best: TimestampLookup | null = null
    for (const record of await this.recordsOfBatchAt(found.offset)) {
      if (!best || record.timestamp > best.timestamp)
        best = { offset: record.offset, timestamp: record.timestamp }
    }
    return best && best.timestamp === found.timestamp ? best : found
  }

  private async recordsOfBatchAt(offset: number) {
    const { batches } = await this.log.read(offset, 1)
    if (batches.length === 0) return []
    return decodeRecordBatchesSync(batches[0]).flatMap((b) => b.records)
  }

  /** Calls `wake` on the next append; returns a function that cancels the wait. */
  onAppend(wake: () => void): () => void {
    this.waiters.add(wake)
    return () => this.waiters.delete(wake)
  }

  private wake(): void {
    if (this.waiters.size === 0) return
    const waiting = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiting) wake()
  }
}

function fail(errorCode: number, errorMessage: string): PartitionAppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTime: -1 }
}

/** One buffer for the batches: a view when they sit back to back in memory, a copy otherwise. */
function join(batches: Buffer[], bytes: number): Buffer | null {
  if (batches.length === 0) return null
  if (batches.length === 1) return batches[0]
  const first = batches[0]
  let end = first.byteOffset + first.length
  for (let i = 1; i < batches.length; i++) {
    const b = batches[i]
    if (b.buffer !== first.buffer || b.byteOffset !== end) return Buffer.concat(batches, bytes)
    end += b.length
  }
  return Buffer.from(first.buffer, first.byteOffset, bytes)
}
