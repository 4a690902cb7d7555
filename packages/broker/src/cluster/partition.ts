import {
  BatchAttributes,
  BatchHeader,
  ControlRecordType,
  ErrorCode,
  type KafkaRecord,
  controlRecordType,
  decodeRecordBatchesSync,
  encodeRecordBatchSync,
  endTxnMarker,
  readInt64,
  setLogAppendTime,
  validateBatches,
} from '@fluxo/protocol'
import type { Logger } from 'pino'
import type { TopicConfig } from '../config.js'
import {
  type ProducerBatch,
  type ProducerStateEntry,
  ProducerStateManager,
} from '../coordinator/producer-state.js'
import type { PartitionLog, TimestampLookup } from '../storage/types.js'
import { type RecordError, validateRecords } from './record-validation.js'

export interface PartitionAppendResult {
  errorCode: number
  errorMessage: string | null
  baseOffset: number
  /** LogAppendTime stamped on the batches, or -1 when the topic uses CreateTime. */
  logAppendTime: number
  /** Produce v8+: the records that failed validation (INVALID_RECORD, INVALID_TIMESTAMP). */
  recordErrors: RecordError[]
}

export interface PartitionRead {
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** Whole batches, concatenated (one view when the backend returned contiguous bytes). */
  records: Buffer | null
  bytes: number
  /** read_committed: aborted transactions overlapping the returned batches; null for read_uncommitted. */
  abortedTransactions: { producerId: number; firstOffset: number }[] | null
}

export const IsolationLevel = { readUncommitted: 0, readCommitted: 1 } as const
export type IsolationLevel = (typeof IsolationLevel)[keyof typeof IsolationLevel]

export interface PartitionOptions {
  /** Wall clock for timestamps checks, LogAppendTime and producer expiry; Date.now by default. */
  now?: () => number
  /** producer.id.expiration.ms; Kafka's default 86400000. */
  producerIdExpirationMs?: number
  /** producer.id.expiration.check.interval.ms; Kafka's default 600000. */
  producerIdExpirationCheckIntervalMs?: number
}

export interface AppendOptions {
  /**
   * Who writes: a client (full idempotence checks) or a broker coordinator writing its internal
   * topic (Kafka's AppendOrigin.COORDINATOR: producer epoch checked, sequences not).
   */
  origin?: 'client' | 'coordinator'
  /**
   * For transactional batches: asks the transaction coordinator whether the partition is part of
   * the producer's ongoing transaction (KIP-890 verification); an error code other than NONE
   * rejects the batch with it.
   */
  verifyTransaction?: (producerId: number, producerEpoch: number) => number | Promise<number>
}

/** A COMMIT or ABORT marker from the transaction coordinator. */
export interface TxnMarker {
  producerId: number
  producerEpoch: number
  commit: boolean
  coordinatorEpoch: number
}

type Exclusive =
  | { kind: 'appended'; baseOffset: number }
  | { kind: 'duplicate'; baseOffset: number; timestamp: number }
  | { kind: 'error'; errorCode: number; errorMessage: string }

/** Log bytes read per step while rebuilding producer state. */
const SCAN_BYTES = 1 << 20

/**
 * One partition on this broker: validates produced batches (headers always, records only when a
 * topic config needs them), checks idempotent and transactional producers against the partition's
 * producer state, appends through the storage backend, writes transaction markers, and wakes
 * fetches waiting for data.
 *
 * Producer state is rebuilt when the partition opens (from the newest snapshot, then the log past
 * it); appends, markers and reads wait for that. Appends run one at a time from the producer check
 * to the log write, so two retries of one batch can never both pass the duplicate check; fsync
 * (acks=all with flush.on.acks.all) happens outside that section and is shared between appends.
 */
export class Partition {
  private readonly waiters = new Set<() => void>()
  private readonly state: ProducerStateManager
  private readonly now: () => number
  private readonly expirationCheckIntervalMs: number
  private lastExpirationCheck: number
  /** Resolves when producer state is rebuilt (never rejects: a failure sets `loadError`). */
  private readonly ready: Promise<void>
  private loaded = false
  private loadError: unknown = null
  /** The exclusive section: producer check, log append, state update. */
  private tail: Promise<unknown>
  /** Producer state covers every batch below this offset (the snapshot's offset). */
  private mapEndOffset = 0
  /** First offset of a transactional batch being appended that opens a transaction. */
  private pendingTxnOffset: number | null = null

  constructor(
    readonly topicName: string,
    readonly index: number,
    readonly log: PartitionLog,
    private config: TopicConfig,
    private readonly logger: Logger,
    options: PartitionOptions = {},
  ) {
    this.now = options.now ?? Date.now
    this.state = new ProducerStateManager({
      topicPartition: `${topicName}-${index}`,
      producerIdExpirationMs: options.producerIdExpirationMs ?? 86_400_000,
    })
    this.expirationCheckIntervalMs = options.producerIdExpirationCheckIntervalMs ?? 600_000
    this.lastExpirationCheck = this.now()
    this.ready = this.load()
    this.tail = this.ready
  }

  get highWatermark(): number {
    return this.log.logEndOffset
  }

  get logStartOffset(): number {
    return this.log.logStartOffset
  }

  /**
   * Kafka's last stable offset: the first offset of the earliest ongoing transaction (never below
   * the log start offset), else the high watermark. Until producer state is rebuilt at open, the
   * log start offset: read_committed readers see nothing rather than something undecided.
   */
  get lastStableOffset(): number {
    const highWatermark = this.highWatermark
    if (!this.loaded) return Math.min(this.logStartOffset, highWatermark)
    let first = this.state.firstUndecidedOffset()
    if (this.pendingTxnOffset !== null && (first === null || this.pendingTxnOffset < first)) {
      first = this.pendingTxnOffset
    }
    if (first === null || first >= highWatermark) return highWatermark
    return Math.max(first, this.logStartOffset)
  }

  /** Resolves once producer state is rebuilt from the log (appends and reads wait for it anyway). */
  whenLoaded(): Promise<void> {
    return this.ready
  }

  /** Takes a topic config change: appends validate with it, the log rolls and flushes by it. */
  reconfigure(config: TopicConfig, logConfig: Parameters<PartitionLog['updateConfig']>[0]): void {
    this.config = config
    this.log.updateConfig(logConfig)
  }

  /**
   * Validates and appends one partition's records from a ProduceRequest. Resolves once the data is
   * in the operating system (and fsynced when `sync` and flush.on.acks.all). Validation failures
   * append nothing. A retried idempotent batch already in the log answers with its original offset.
   */
  async append(
    records: Buffer | null,
    sync: boolean,
    options: AppendOptions = {},
  ): Promise<PartitionAppendResult> {
    if (records === null || records.length === 0) {
      return fail(ErrorCode.INVALID_RECORD, 'no records in the produce request')
    }
    const config = this.config
    const checked = validateBatches(records, config.maxMessageBytes)
    if (!checked.ok) return fail(ErrorCode[checked.error], checked.message)
    // Produce v3+ carries exactly one batch per partition (Kafka's ProduceRequest.validateRecords).
    if (checked.batches.length !== 1) {
      return fail(ErrorCode.INVALID_RECORD, `expected one record batch, got ${checked.batches.length}`)
    }
    const now = this.now()
    const validated = await validateRecords(checked.batches[0], config, now, this.name)
    if (!validated.ok) {
      return { ...fail(validated.errorCode, validated.errorMessage), recordErrors: validated.recordErrors }
    }
    const batch = validated.batch
    const producer = producerBatch(batch)
    if (producer.isTransactional) {
      if (producer.producerId < 0) {
        return fail(ErrorCode.INVALID_RECORD, 'transactional batch without a producer id')
      }
      if (options.verifyTransaction) {
        const errorCode = await options.verifyTransaction(producer.producerId, producer.producerEpoch)
        if (errorCode !== ErrorCode.NONE) {
          return fail(
            errorCode,
            `producer ${producer.producerId} (epoch ${producer.producerEpoch}) has no ongoing transaction with ${this.name}`,
          )
        }
      }
    }
    let logAppendTime = -1
    if (config.messageTimestampType === 'LogAppendTime') {
      logAppendTime = now
      setLogAppendTime(batch, logAppendTime)
      producer.maxTimestamp = logAppendTime
    }

    const outcome = await this.exclusive(() =>
      this.appendExclusive(batch, producer, options.origin ?? 'client', now),
    )
    switch (outcome.kind) {
      case 'error':
        return fail(outcome.errorCode, outcome.errorMessage)
      case 'duplicate':
        // Kafka answers a retry with the first attempt's offsets (DUPLICATE_SEQUENCE_NUMBER never
        // reaches clients); its append time is the stored batch's on LogAppendTime topics.
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          baseOffset: outcome.baseOffset,
          logAppendTime: logAppendTime === -1 ? -1 : outcome.timestamp,
          recordErrors: [],
        }
    }
    if (sync && config.flushOnAcksAll) {
      try {
        await this.log.flush()
      } catch (err) {
        this.logger.error({ err, topic: this.topicName, partition: this.index }, 'flush failed')
        return fail(ErrorCode.KAFKA_STORAGE_ERROR, 'the broker could not flush its log')
      }
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: outcome.baseOffset,
      logAppendTime,
      recordErrors: [],
    }
  }

  /** Producer checks, the log write and the producer state update, with no other append between. */
  private async appendExclusive(
    batch: Buffer,
    producer: ProducerBatch,
    origin: 'client' | 'coordinator',
    now: number,
  ): Promise<Exclusive> {
    if (this.loadError !== null) return storageFailure('the partition could not load its producer state')
    const idempotent = producer.producerId >= 0
    if (idempotent) {
      this.maybeExpireProducers(now)
      const check = this.state.checkAppend(producer, origin)
      if (check.kind === 'duplicate') {
        return { kind: 'duplicate', baseOffset: check.batch.firstOffset, timestamp: check.batch.timestamp }
      }
      if (check.kind === 'error') return check
    }
    // Until the state records it, the transaction this batch opens holds the LSO below its offset.
    if (
      producer.isTransactional &&
      (this.state.entry(producer.producerId)?.currentTxnFirstOffset ?? -1) < 0
    ) {
      this.pendingTxnOffset = this.log.logEndOffset
    }
    try {
      const result = await this.log.append([batch], { sync: false })
      if (idempotent) this.state.appendData(producer, result.baseOffset, result.lastOffset)
      this.mapEndOffset = result.lastOffset + 1
      this.pendingTxnOffset = null
      this.wake()
      return { kind: 'appended', baseOffset: result.baseOffset }
    } catch (err) {
      this.pendingTxnOffset = null
      this.logger.error({ err, topic: this.topicName, partition: this.index }, 'append failed')
      return storageFailure('the broker could not write to its log')
    }
  }

  /**
   * Appends a COMMIT or ABORT control batch for the producer and completes its ongoing transaction
   * here: the last stable offset moves, an abort joins the aborted list. A marker for a producer
   * without an ongoing transaction on this partition is still written, as Kafka does. An epoch older
   * than the producer's is INVALID_PRODUCER_EPOCH, an older coordinator epoch
   * TRANSACTION_COORDINATOR_FENCED.
   */
  async writeTxnMarker(marker: TxnMarker): Promise<{ errorCode: number; offset: number }> {
    const config = this.config
    const outcome = await this.exclusive(async (): Promise<Exclusive> => {
      if (this.loadError !== null) return storageFailure('the partition could not load its producer state')
      const check = this.state.checkMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch)
      if (check.kind === 'error') return check
      const now = this.now()
      const type = marker.commit ? ControlRecordType.commit : ControlRecordType.abort
      const batch = encodeRecordBatchSync({
        records: [endTxnMarker(type, marker.coordinatorEpoch, now)],
        isControl: true,
        isTransactional: true,
        producerId: marker.producerId,
        producerEpoch: marker.producerEpoch,
        baseSequence: -1,
      })
      if (config.messageTimestampType === 'LogAppendTime') setLogAppendTime(batch, now)
      try {
        const result = await this.log.append([batch], { sync: false })
        this.state.appendMarker(marker, result.baseOffset, now, result.lastOffset + 1)
        this.mapEndOffset = result.lastOffset + 1
        this.wake()
        return { kind: 'appended', baseOffset: result.baseOffset }
      } catch (err) {
        this.logger.error({ err, topic: this.topicName, partition: this.index }, 'marker append failed')
        return storageFailure('the broker could not write to its log')
      }
    })
    if (outcome.kind === 'error') return { errorCode: outcome.errorCode, offset: -1 }
    // Kafka writes markers with acks=all.
    if (config.flushOnAcksAll) {
      try {
        await this.log.flush()
      } catch (err) {
        this.logger.error({ err, topic: this.topicName, partition: this.index }, 'flush failed')
        return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, offset: -1 }
      }
    }
    return { errorCode: ErrorCode.NONE, offset: outcome.baseOffset }
  }

  /** Producers with state on this partition (DescribeProducers), after expiring old ones. */
  activeProducers(): Promise<ProducerStateEntry[]> {
    return this.exclusive(async () => {
      this.maybeExpireProducers(this.now(), true)
      return this.state.activeProducers()
    })
  }

  /**
   * Reads from `offset`; an offset outside [logStartOffset, highWatermark] is OFFSET_OUT_OF_RANGE.
   * read_committed stops before the last stable offset and lists the aborted transactions the
   * returned batches overlap (Kafka's FetchResponse semantics, v4+): the consumer drops their records.
   */
  async read(
    offset: number,
    maxBytes: number,
    isolation: IsolationLevel = IsolationLevel.readUncommitted,
  ): Promise<PartitionRead> {
    if (!this.loaded) await this.ready
    const committed = isolation === IsolationLevel.readCommitted
    const highWatermark = this.highWatermark
    const lastStableOffset = this.lastStableOffset
    const logStartOffset = this.logStartOffset
    const result: PartitionRead = {
      errorCode: ErrorCode.NONE,
      highWatermark,
      lastStableOffset,
      logStartOffset,
      records: null,
      bytes: 0,
      abortedTransactions: committed ? [] : null,
    }
    if (offset < logStartOffset || offset > highWatermark) {
      return { ...result, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }
    }
    const limit = committed ? lastStableOffset : highWatermark
    if (offset >= limit || maxBytes <= 0) return result
    try {
      let { batches, bytes } = await this.log.read(offset, maxBytes)
      if (committed) {
        // The LSO is a batch boundary (a transaction's first batch, or the high watermark).
        let keep = batches.length
        while (keep > 0 && readInt64(batches[keep - 1], BatchHeader.baseOffset) >= limit) keep--
        if (keep < batches.length) {
          batches = batches.slice(0, keep)
          bytes = batches.reduce((sum, b) => sum + b.length, 0)
        }
        if (batches.length > 0) {
          const last = batches[batches.length - 1]
          const upperBound =
            readInt64(last, BatchHeader.baseOffset) + last.readInt32BE(BatchHeader.lastOffsetDelta) + 1
          this.state.truncateHead(logStartOffset)
          result.abortedTransactions = this.state
            .abortedTransactions(offset, upperBound)
            .map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }))
        }
      }
      return { ...result, records: join(batches, bytes), bytes }
    } catch (err) {
      this.logger.error({ err, topic: this.topicName, partition: this.index, offset }, 'read failed')
      return { ...result, errorCode: ErrorCode.KAFKA_STORAGE_ERROR }
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

  private get name(): string {
    return `${this.topicName}-${this.index}`
  }

  /** Runs `fn` after every earlier exclusive section (and the initial load) has finished. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn)
    this.tail = run.catch(() => {})
    return run
  }

  /** producer.id.expiration.check.interval.ms, checked lazily on appends instead of by a timer. */
  private maybeExpireProducers(now: number, force = false): void {
    if (!force && now - this.lastExpirationCheck < this.expirationCheckIntervalMs) return
    this.lastExpirationCheck = now
    this.state.removeExpiredProducers(now)
  }

  /**
   * Rebuilds producer state: the newest snapshot, then every batch header after it (records are
   * decoded only for control batches, to tell commit from abort). Registers the snapshot source so
   * the log can persist the state on segment roll and close.
   */
  private async load(): Promise<void> {
    try {
      let from = this.log.logStartOffset
      const snapshot = await this.log.readProducerSnapshot()
      if (snapshot !== null) {
        try {
          this.state.restore(snapshot.data)
          from = Math.max(from, snapshot.offset)
        } catch (err) {
          this.logger.warn(
            { err, topic: this.topicName, partition: this.index, offset: snapshot.offset },
            'ignoring a corrupt producer state snapshot; scanning the whole log',
          )
        }
      }
      const end = this.log.logEndOffset
      let offset = from
      while (offset < end) {
        const { batches } = await this.log.read(offset, SCAN_BYTES)
        if (batches.length === 0) break
        for (const batch of batches) {
          const baseOffset = readInt64(batch, BatchHeader.baseOffset)
          const lastOffset = baseOffset + batch.readInt32BE(BatchHeader.lastOffsetDelta)
          if (lastOffset >= offset) this.replay(batch, baseOffset, lastOffset)
          offset = Math.max(offset, lastOffset + 1)
        }
      }
      this.mapEndOffset = Math.max(offset, end)
      this.state.truncateHead(this.log.logStartOffset)
      this.state.removeExpiredProducers(this.now())
      this.loaded = true
      this.log.setProducerSnapshotSource(() =>
        this.loadError === null ? { offset: this.mapEndOffset, data: this.state.snapshot() } : null,
      )
    } catch (err) {
      this.loadError = err
      this.loaded = true
      this.logger.error(
        { err, topic: this.topicName, partition: this.index },
        'cannot rebuild producer state; appends will fail',
      )
    }
  }

  /** Applies one stored batch to producer state without checks (Kafka's ValidationType.None). */
  private replay(batch: Buffer, baseOffset: number, lastOffset: number): void {
    const producer = producerBatch(batch)
    if (producer.producerId < 0) return
    if ((batch.readInt16BE(BatchHeader.attributes) & BatchAttributes.control) === 0) {
      this.state.appendData(producer, baseOffset, lastOffset)
      return
    }
    let record: KafkaRecord | undefined
    try {
      record = decodeRecordBatchesSync(batch)[0]?.records[0]
    } catch (err) {
      this.logger.warn(
        { err, topic: this.topicName, partition: this.index, baseOffset },
        'unreadable control batch',
      )
      return
    }
    // An empty control batch is what compaction leaves of a transaction: nothing to apply.
    if (record === undefined) return
    const type = controlRecordType(record)
    if (type !== ControlRecordType.commit && type !== ControlRecordType.abort) return
    const value = record.value
    const coordinatorEpoch = value !== null && value.length >= 6 ? value.readInt32BE(2) : -1
    this.state.appendMarker(
      {
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        coordinatorEpoch,
        commit: type === ControlRecordType.commit,
      },
      baseOffset,
      record.timestamp,
      lastOffset + 1,
    )
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
  return { errorCode, errorMessage, baseOffset: -1, logAppendTime: -1, recordErrors: [] }
}

function storageFailure(errorMessage: string): Exclusive {
  return { kind: 'error', errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage }
}

/** The producer fields of a batch header. */
function producerBatch(batch: Buffer): ProducerBatch {
  return {
    producerId: readInt64(batch, BatchHeader.producerId),
    producerEpoch: batch.readInt16BE(BatchHeader.producerEpoch),
    baseSequence: batch.readInt32BE(BatchHeader.baseSequence),
    lastOffsetDelta: batch.readInt32BE(BatchHeader.lastOffsetDelta),
    maxTimestamp: readInt64(batch, BatchHeader.maxTimestamp),
    isTransactional: (batch.readInt16BE(BatchHeader.attributes) & BatchAttributes.transactional) !== 0,
  }
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
