/**
 * The transaction coordinator (Kafka's TransactionCoordinator + TransactionStateManager, KIP-98): it
 * allocates producer ids, tracks each transactional id's transaction through
 *
 *   Empty ─AddPartitions/AddOffsets→ Ongoing ─EndTxn→ PrepareCommit | PrepareAbort ─markers→ CompleteCommit | CompleteAbort
 *
 * and writes the COMMIT/ABORT control batches to every partition of a transaction. Every state change
 * is a record in __transaction_state (transaction-log.ts) appended before the change takes effect in
 * memory, so a restart replays the log: a transaction found in PrepareCommit/PrepareAbort gets its
 * markers written again, an Ongoing one runs into its timeout as usual.
 *
 * Operations on one transactional id run one at a time (a per-id queue stands in for Kafka's
 * per-metadata lock plus pendingState); EndTxn answers once the markers are written and the Complete
 * record is in the log, so a committed transaction is readable when the producer hears of it. When a
 * marker cannot be written the decision stays in the log (Prepare*) and the markers are retried; the
 * producer meanwhile gets CONCURRENT_TRANSACTIONS, as in Kafka.
 *
 * Fencing: InitProducerId for a transactional id bumps its epoch (older producers get PRODUCER_FENCED);
 * when a transaction is open, it is aborted first with the bumped epoch and the caller gets
 * CONCURRENT_TRANSACTIONS to retry (Kafka's PrepareEpochFence). transaction.timeout.ms: a periodic check
 * (transaction.abort.timed.out.transaction.cleanup.interval.ms) aborts transactions open longer than
 * their timeout, fencing the producer the same way. transactional.id.expiration.ms: ids idle that long
 * (no transaction open) are removed with a tombstone.
 *
 * Transaction version 1 semantics (KIP-98/KIP-360/KIP-890 part 1): the epoch is bumped by
 * InitProducerId and fencing, not by every EndTxn (KIP-890 part 2, EndTxn v5, is not served).
 */
import { DecodeError, ErrorCode } from '@fluxo/protocol'
import type { Logger } from 'pino'
import { type Clock, systemClock } from './clock.js'
import {
  type TransactionLog,
  type TxnLogValue,
  TxnState,
  decodeTxnLogRecord,
  encodeProducerIdBlockKey,
  encodeProducerIdBlockValue,
  encodeTxnKey,
  encodeTxnLogBatch,
  encodeTxnValue,
  txnLogRecords,
} from './transaction-log.js'

export { TxnState } from './transaction-log.js'

const NO_PRODUCER_ID = -1
const NO_PRODUCER_EPOCH = -1
const SHORT_MAX = 32767
/** Producer ids reserved per __transaction_state record (Kafka's controller hands out blocks of 1000). */
const PRODUCER_ID_BLOCK_SIZE = 1000
/** How long to wait before writing markers again after a partition refused one. */
const MARKER_RETRY_MS = 1000
/** Kafka's coordinator epoch is the __transaction_state partition's leader epoch: one leader, never moved. */
const COORDINATOR_EPOCH = 0

/** Kafka does not let a client use the last epochs, so the coordinator can always fence (isEpochExhausted). */
export function isEpochExhausted(epoch: number): boolean {
  return epoch >= SHORT_MAX - 1
}

export interface TxnMarker {
  producerId: number
  producerEpoch: number
  commit: boolean
  coordinatorEpoch: number
}

/** The partitions transactions write to (the cluster in the broker, fakes in tests). */
export interface TxnPartitions {
  exists(topic: string, partition: number): boolean
  /** Partition.writeTxnMarker; UNKNOWN_TOPIC_OR_PARTITION when the partition is gone. */
  writeTxnMarker(topic: string, partition: number, marker: TxnMarker): Promise<{ errorCode: number }>
}

export interface TransactionCoordinatorConfig {
  brokerId: number
  /** transaction.max.timeout.ms */
  transactionMaxTimeoutMs: number
  /** transactional.id.expiration.ms */
  transactionalIdExpirationMs: number
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  abortTimedOutTransactionCleanupIntervalMs: number
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredTransactionalIdCleanupIntervalMs: number
}

export const defaultTransactionCoordinatorConfig: TransactionCoordinatorConfig = {
  brokerId: 1,
  transactionMaxTimeoutMs: 900_000,
  transactionalIdExpirationMs: 604_800_000,
  abortTimedOutTransactionCleanupIntervalMs: 10_000,
  removeExpiredTransactionalIdCleanupIntervalMs: 3_600_000,
}

export interface TransactionCoordinatorOptions {
  log: TransactionLog
  partitions: TxnPartitions
  /** The __consumer_offsets partition holding a group's offsets (AddOffsetsToTxn adds it to the transaction). */
  offsetsPartitionFor(groupId: string): Promise<TopicPartition>
  config?: Partial<TransactionCoordinatorConfig>
  clock?: Clock
  logger?: Logger
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface PartitionResult extends TopicPartition {
  errorCode: number
}

export interface InitProducerIdResult {
  errorCode: number
  producerId: number
  producerEpoch: number
}

/** A transactional id's state, for DescribeTransactions and tests. */
export interface TransactionDescription {
  transactionalId: string
  state: TxnState
  producerId: number
  producerEpoch: number
  txnTimeoutMs: number
  /** -1 when no transaction is open. */
  txnStartTimestamp: number
  txnLastUpdateTimestamp: number
  /** Partitions of the open transaction (while completing: those still without a marker). */
  partitions: TopicPartition[]
}

interface TxnMetadata {
  transactionalId: string
  producerId: number
  previousProducerId: number
  producerEpoch: number
  /** The epoch before the last bump, for retried InitProducerId (KIP-360); not persisted, as in Kafka. */
  lastProducerEpoch: number
  txnTimeoutMs: number
  state: TxnState
  partitions: Map<string, Set<number>>
  txnStartTimestamp: number
  txnLastUpdateTimestamp: number
  /** A fence bumped the epoch but its record was not written: the next fence reuses the epoch. */
  hasFailedEpochFence: boolean
}

type Transit = Omit<TxnMetadata, 'transactionalId' | 'hasFailedEpochFence'>

/** A failed step of a state change: the Kafka error to answer with. */
class TxnError extends Error {
  constructor(readonly errorCode: number) {
    super(`transaction error ${errorCode}`)
  }
}

export class TransactionCoordinator {
  private readonly txns = new Map<string, TxnMetadata>()
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly config: TransactionCoordinatorConfig
  private readonly clock: Clock
  private readonly logger: Logger | undefined
  private nextProducerId = 0
  /** Ids below this are reserved in the log (never handed out again after a restart). */
  private reservedUntil = 0
  private reserving: Promise<void> | undefined
  private readonly timers = new Set<unknown>()
  private closed = false

  constructor(private readonly options: TransactionCoordinatorOptions) {
    this.config = { ...defaultTransactionCoordinatorConfig, ...options.config }
    this.clock = options.clock ?? systemClock
    this.logger = options.logger
  }

  // ---- lifecycle ----

  /**
   * Replays __transaction_state, completes transactions that were decided (Prepare*) before the
   * broker stopped, and starts the timeout and expiration checks.
   */
  async start(): Promise<void> {
    let records = 0
    for await (const batch of this.options.log.batches()) {
      for (const r of txnLogRecords(batch)) {
        let decoded: ReturnType<typeof decodeTxnLogRecord>
        try {
          decoded = decodeTxnLogRecord(r.key, r.value)
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err
          this.logger?.warn(
            { offset: r.offset, err: err.message },
            'skipping an undecodable transaction record',
          )
          continue
        }
        if (!decoded) continue
        records++
        if (decoded.type === 'producerIdBlock') {
          this.reservedUntil = Math.max(this.reservedUntil, decoded.nextProducerId)
        } else if (decoded.value === null) {
          this.txns.delete(decoded.transactionalId)
        } else {
          const v = decoded.value
          this.reservedUntil = Math.max(this.reservedUntil, v.producerId + 1)
          this.txns.set(decoded.transactionalId, {
            transactionalId: decoded.transactionalId,
            producerId: v.producerId,
            previousProducerId: v.previousProducerId,
            producerEpoch: v.producerEpoch,
            lastProducerEpoch: NO_PRODUCER_EPOCH,
            txnTimeoutMs: v.txnTimeoutMs,
            state: v.state,
            partitions: new Map([...v.partitions].map(([t, ps]) => [t, new Set(ps)])),
            txnStartTimestamp: v.txnStartTimestamp,
            txnLastUpdateTimestamp: v.txnLastUpdateTimestamp,
            hasFailedEpochFence: false,
          })
        }
      }
    }
    // Ids of the last block may have been handed out before the stop: start after it.
    this.nextProducerId = this.reservedUntil
    if (records > 0)
      this.logger?.info(
        { transactionalIds: this.txns.size, records, nextProducerId: this.nextProducerId },
        'loaded transaction state from __transaction_state',
      )
    const decided = [...this.txns.values()].filter(
      (m) => m.state === TxnState.PrepareCommit || m.state === TxnState.PrepareAbort,
    )
    await Promise.all(decided.map((m) => this.exclusive(m.transactionalId, () => this.complete(m))))
    this.schedule(this.config.abortTimedOutTransactionCleanupIntervalMs, () =>
      this.abortTimedOutTransactions(),
    )
    this.schedule(this.config.removeExpiredTransactionalIdCleanupIntervalMs, () =>
      this.removeExpiredTransactionalIds(),
    )
  }

  close(): void {
    this.closed = true
    for (const timer of this.timers) this.clock.clearTimeout(timer)
    this.timers.clear()
  }

  // ---- producer ids ----

  /**
   * A producer id never handed out before, on this broker or before any of its restarts: ids come
   * from blocks reserved by a record in __transaction_state before the first id of a block is used.
   */
  async allocateProducerId(): Promise<number> {
    while (this.nextProducerId >= this.reservedUntil) {
      this.reserving ??= this.reserveBlock().finally(() => {
        this.reserving = undefined
      })
      await this.reserving
    }
    return this.nextProducerId++
  }

  private async reserveBlock(): Promise<void> {
    const until = Math.max(this.reservedUntil, this.nextProducerId) + PRODUCER_ID_BLOCK_SIZE
    const value = encodeProducerIdBlockValue(this.config.brokerId, until)
    await this.options.log.append(
      encodeTxnLogBatch([{ key: encodeProducerIdBlockKey(), value }], this.clock.now()),
    )
    this.reservedUntil = until
  }

  // ---- InitProducerId ----

  /**
   * InitProducerId (KIP-98, KIP-360). A null transactional id (idempotent producer) gets a fresh
   * producer id with epoch 0, whatever id it passes. A transactional id gets its producer id with the
   * epoch bumped, which fences older producers of the id; `expected` (v3+) is the producer id and
   * epoch the client had, so a retried or recovering producer keeps its id.
   */
  async initProducerId(
    transactionalId: string | null,
    txnTimeoutMs: number,
    expected: { producerId: number; producerEpoch: number } | null = null,
  ): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({
      errorCode,
      producerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
    })
    try {
      if (transactionalId === null) {
        return { errorCode: ErrorCode.NONE, producerId: await this.allocateProducerId(), producerEpoch: 0 }
      }
      if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST)
      if (!this.validTimeout(txnTimeoutMs)) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
      if (expected && expected.producerId === NO_PRODUCER_ID && expected.producerEpoch === NO_PRODUCER_EPOCH)
        expected = null
      const want = expected
      return await this.exclusive(transactionalId, async () => {
        let meta = this.txns.get(transactionalId)
        if (!meta) {
          meta = {
            transactionalId,
            producerId: await this.allocateProducerId(),
            previousProducerId: NO_PRODUCER_ID,
            producerEpoch: NO_PRODUCER_EPOCH,
            lastProducerEpoch: NO_PRODUCER_EPOCH,
            txnTimeoutMs,
            state: TxnState.Empty,
            partitions: new Map(),
            txnStartTimestamp: -1,
            txnLastUpdateTimestamp: this.clock.now(),
            hasFailedEpochFence: false,
          }
        }
        if (want && !isValidProducerId(meta, want)) return fail(ErrorCode.PRODUCER_FENCED)
        switch (meta.state) {
          case TxnState.PrepareCommit:
          case TxnState.PrepareAbort:
            return fail(ErrorCode.CONCURRENT_TRANSACTIONS)
          case TxnState.Ongoing: {
            // Abort the open transaction with a bumped epoch, which fences its producer; the caller
            // retries and gets yet another epoch (or a new producer id when this one ran out).
            const error = await this.fenceAndAbort(meta)
            return fail(error === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : error)
          }
          default: {
            const transit = await this.prepareInit(meta, txnTimeoutMs, want)
            await this.persist(meta, transit)
            this.logger?.info(
              { transactionalId, producerId: meta.producerId, producerEpoch: meta.producerEpoch },
              'initialized transactional id',
            )
            return {
              errorCode: ErrorCode.NONE,
              producerId: meta.producerId,
              producerEpoch: meta.producerEpoch,
            }
          }
        }
      })
    } catch (err) {
      if (err instanceof TxnError) return fail(err.errorCode)
      this.logger?.error({ err, transactionalId }, 'InitProducerId failed')
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    }
  }

  /** The Empty state a (re)initialised producer starts in: the next epoch, or a new id when epochs ran out. */
  private async prepareInit(
    meta: TxnMetadata,
    txnTimeoutMs: number,
    expected: { producerId: number; producerEpoch: number } | null,
  ): Promise<Transit> {
    const base = {
      ...snapshot(meta),
      state: TxnState.Empty,
      txnTimeoutMs,
      partitions: new Map(),
      txnStartTimestamp: -1,
      txnLastUpdateTimestamp: this.clock.now(),
    }
    if (
      isEpochExhausted(meta.producerEpoch) &&
      (!expected || expected.producerEpoch === meta.producerEpoch)
    ) {
      return {
        ...base,
        producerId: await this.allocateProducerId(),
        previousProducerId: meta.producerId,
        producerEpoch: 0,
        lastProducerEpoch: expected ? meta.producerEpoch : NO_PRODUCER_EPOCH,
      }
    }
    const bumped = meta.producerEpoch + 1
    if (!expected) return { ...base, producerEpoch: bumped, lastProducerEpoch: NO_PRODUCER_EPOCH }
    if (meta.producerEpoch === NO_PRODUCER_EPOCH || expected.producerEpoch === meta.producerEpoch)
      return { ...base, producerEpoch: bumped, lastProducerEpoch: meta.producerEpoch }
    // A retry of an InitProducerId whose answer was lost: the same epoch again.
    if (expected.producerEpoch === meta.lastProducerEpoch) return base
    throw new TxnError(ErrorCode.PRODUCER_FENCED)
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn ----

  /**
   * AddPartitionsToTxn: partitions the producer is about to write to join its transaction (starting
   * one when none is open). Unknown partitions are UNKNOWN_TOPIC_OR_PARTITION and the others then
   * OPERATION_NOT_ATTEMPTED; otherwise every partition gets the coordinator's answer.
   */
  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: readonly TopicPartition[],
  ): Promise<PartitionResult[]> {
    const unknown = partitions.filter((p) => !this.options.partitions.exists(p.topic, p.partition))
    if (unknown.length > 0) {
      return partitions.map((p) => ({
        ...p,
        errorCode: unknown.includes(p)
          ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          : ErrorCode.OPERATION_NOT_ATTEMPTED,
      }))
    }
    const errorCode = await this.add(transactionalId, producerId, producerEpoch, partitions)
    return partitions.map((p) => ({ ...p, errorCode }))
  }

  /** AddOffsetsToTxn: the group's __consumer_offsets partition joins the transaction. */
  async addOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
  ): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID
    let offsetsPartition: TopicPartition
    try {
      offsetsPartition = await this.options.offsetsPartitionFor(groupId)
    } catch (err) {
      this.logger?.error({ err, groupId }, 'could not find the offsets partition of a group')
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    }
    return this.add(transactionalId, producerId, producerEpoch, [offsetsPartition])
  }

  private async add(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: readonly TopicPartition[],
  ): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST
    return this.guard(transactionalId, async () => {
      const meta = this.txns.get(transactionalId)
      if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
      if (meta.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED
      if (meta.state === TxnState.PrepareCommit || meta.state === TxnState.PrepareAbort)
        return ErrorCode.CONCURRENT_TRANSACTIONS
      if (meta.state === TxnState.Ongoing && partitions.every((p) => hasPartition(meta, p)))
        return ErrorCode.NONE
      const now = this.clock.now()
      const merged = meta.state === TxnState.Ongoing ? copyPartitions(meta.partitions) : new Map()
      for (const p of partitions) {
        let set = merged.get(p.topic)
        if (!set) merged.set(p.topic, (set = new Set()))
        set.add(p.partition)
      }
      await this.persist(meta, {
        ...snapshot(meta),
        state: TxnState.Ongoing,
        partitions: merged,
        txnStartTimestamp: meta.state === TxnState.Ongoing ? meta.txnStartTimestamp : now,
        txnLastUpdateTimestamp: now,
      })
      return ErrorCode.NONE
    })
  }

  // ---- verification (KIP-890 part 1) ----

  /**
   * Whether a transactional Produce to this partition belongs to the producer's open transaction,
   * answered with the error the Produce response carries: NONE when it does; INVALID_TXN_STATE when
   * the partition was not added (or no transaction is open), so no hanging transaction can start;
   * INVALID_PRODUCER_EPOCH for an epoch other than the coordinator's; INVALID_PRODUCER_ID_MAPPING for an
   * unknown transactional id or another producer id; NOT_ENOUGH_REPLICAS (retriable, as Kafka maps
   * CONCURRENT_TRANSACTIONS for Produce) while the transaction is completing. Synchronous: call it
   * right before queueing the append, with no await in between, so a marker cannot slip between the
   * check and the write.
   */
  verifyPartition(
    transactionalId: string | null,
    producerId: number,
    producerEpoch: number,
    topic: string,
    partition: number,
  ): number {
    if (transactionalId === null || transactionalId === '') return ErrorCode.INVALID_REQUEST
    const meta = this.txns.get(transactionalId)
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
    if (meta.producerEpoch !== producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH
    if (meta.state === TxnState.PrepareCommit || meta.state === TxnState.PrepareAbort)
      return ErrorCode.NOT_ENOUGH_REPLICAS
    if (meta.state === TxnState.Ongoing && hasPartition(meta, { topic, partition })) return ErrorCode.NONE
    return ErrorCode.INVALID_TXN_STATE
  }

  /**
   * AddPartitionsToTxn v4+ verifyOnly: per partition NONE when it is in the open transaction, else
   * `notInTxn` (INVALID_TXN_STATE, or TRANSACTION_ABORTABLE from v5); a transaction-level error
   * applies to every partition.
   */
  verifyPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: readonly TopicPartition[],
    notInTxn: number,
  ): PartitionResult[] {
    const all = (errorCode: number) => partitions.map((p) => ({ ...p, errorCode }))
    if (transactionalId === '') return all(ErrorCode.INVALID_REQUEST)
    const meta = this.txns.get(transactionalId)
    if (!meta || meta.producerId !== producerId) return all(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    if (meta.producerEpoch !== producerEpoch) return all(ErrorCode.PRODUCER_FENCED)
    if (meta.state === TxnState.PrepareCommit || meta.state === TxnState.PrepareAbort)
      return all(ErrorCode.CONCURRENT_TRANSACTIONS)
    return partitions.map((p) => ({
      ...p,
      errorCode: meta.state === TxnState.Ongoing && hasPartition(meta, p) ? ErrorCode.NONE : notInTxn,
    }))
  }

  /**
   * TxnOffsetCommit: runs `write` (the group coordinator's append of the offsets) when the producer is
   * the current one of the transactional id and the group's offsets partition is in its open
   * transaction (AddOffsetsToTxn came first). It runs on the id's queue, so no marker can be written
   * to __consumer_offsets between the check and the append: offsets never land after their
   * transaction's marker. INVALID_PRODUCER_EPOCH for a stale epoch is what Kafka's offsets append
   * answers a fenced producer.
   */
  async txnOffsetCommit<T>(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
    write: () => Promise<T>,
  ): Promise<{ errorCode: number; result?: T }> {
    if (transactionalId === '') return { errorCode: ErrorCode.INVALID_REQUEST }
    let offsetsPartition: TopicPartition
    try {
      offsetsPartition = await this.options.offsetsPartitionFor(groupId)
    } catch (err) {
      this.logger?.error({ err, groupId }, 'could not find the offsets partition of a group')
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }
    }
    return this.exclusive(transactionalId, async () => {
      const meta = this.txns.get(transactionalId)
      if (!meta || meta.producerId !== producerId) return { errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING }
      if (meta.producerEpoch !== producerEpoch) return { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH }
      if (meta.state === TxnState.PrepareCommit || meta.state === TxnState.PrepareAbort)
        return { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS }
      if (meta.state !== TxnState.Ongoing || !hasPartition(meta, offsetsPartition))
        return { errorCode: ErrorCode.INVALID_TXN_STATE }
      return { errorCode: ErrorCode.NONE, result: await write() }
    })
  }

  // ---- EndTxn ----

  /**
   * EndTxn: commits or aborts the open transaction. Answers once the decision is in the log and, unless
   * a partition refused its marker (then markers are retried in the background), once every partition
   * has its marker and the Complete record is written. A retry of a completed EndTxn answers NONE.
   */
  async endTransaction(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST
    return this.guard(transactionalId, async () => {
      const meta = this.txns.get(transactionalId)
      if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
      if (producerEpoch !== meta.producerEpoch) return ErrorCode.PRODUCER_FENCED
      switch (meta.state) {
        case TxnState.Ongoing:
          await this.prepare(meta, commit, meta.producerEpoch)
          await this.complete(meta)
          return ErrorCode.NONE
        case TxnState.CompleteCommit:
          return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE
        case TxnState.CompleteAbort:
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE
        case TxnState.PrepareCommit:
          return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE
        case TxnState.PrepareAbort:
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS
        default:
          return ErrorCode.INVALID_TXN_STATE
      }
    })
  }

  /** Writes PrepareCommit/PrepareAbort: from here the outcome survives any restart. */
  private async prepare(meta: TxnMetadata, commit: boolean, producerEpoch: number): Promise<void> {
    await this.persist(meta, {
      ...snapshot(meta),
      state: commit ? TxnState.PrepareCommit : TxnState.PrepareAbort,
      producerEpoch,
      lastProducerEpoch: producerEpoch !== meta.producerEpoch ? NO_PRODUCER_EPOCH : meta.lastProducerEpoch,
      txnLastUpdateTimestamp: this.clock.now(),
    })
  }

  /**
   * Writes the markers of a decided transaction to its partitions, then CompleteCommit/CompleteAbort.
   * Called with the id's queue held. Partitions that got their marker leave the set (in memory only:
   * after a restart every partition gets it again, which a partition takes as a no-op). When a
   * partition refuses, the rest stays for a retry.
   */
  private async complete(meta: TxnMetadata): Promise<void> {
    const commit = meta.state === TxnState.PrepareCommit
    const marker: TxnMarker = {
      producerId: meta.producerId,
      producerEpoch: meta.producerEpoch,
      commit,
      coordinatorEpoch: COORDINATOR_EPOCH,
    }
    const targets: TopicPartition[] = []
    for (const [topic, ps] of meta.partitions) for (const partition of ps) targets.push({ topic, partition })
    const results = await Promise.all(
      targets.map(async (tp) => {
        try {
          const { errorCode } = await this.options.partitions.writeTxnMarker(tp.topic, tp.partition, marker)
          return { tp, errorCode }
        } catch (err) {
          this.logger?.error({ err, ...tp }, 'writing a transaction marker failed')
          return { tp, errorCode: ErrorCode.KAFKA_STORAGE_ERROR }
        }
      }),
    )
    let failed = false
    for (const { tp, errorCode } of results) {
      // A deleted partition needs no marker (Kafka drops it too). A partition that saw a newer epoch of
      // this producer cannot take the marker and never will: retrying would block the id forever.
      if (errorCode === ErrorCode.NONE || errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        removePartition(meta, tp)
      } else if (errorCode === ErrorCode.INVALID_PRODUCER_EPOCH) {
        this.logger?.error(
          { ...tp, transactionalId: meta.transactionalId, producerId: meta.producerId, errorCode },
          'a partition refused a transaction marker; dropping it',
        )
        removePartition(meta, tp)
      } else {
        failed = true
      }
    }
    if (failed) {
      this.logger?.warn(
        { transactionalId: meta.transactionalId, producerId: meta.producerId },
        'transaction markers not written yet; retrying',
      )
      this.retryCompletion(meta)
      return
    }
    try {
      await this.persist(meta, {
        ...snapshot(meta),
        state: commit ? TxnState.CompleteCommit : TxnState.CompleteAbort,
        partitions: new Map(),
        txnLastUpdateTimestamp: this.clock.now(),
      })
    } catch (err) {
      if (!(err instanceof TxnError)) throw err
      this.retryCompletion(meta)
    }
  }

  private retryCompletion(meta: TxnMetadata): void {
    this.schedule(
      MARKER_RETRY_MS,
      () =>
        this.exclusive(meta.transactionalId, async () => {
          const current = this.txns.get(meta.transactionalId)
          if (
            current === meta &&
            (meta.state === TxnState.PrepareCommit || meta.state === TxnState.PrepareAbort)
          )
            await this.complete(meta)
        }),
      false,
    )
  }

  /**
   * Kafka's PrepareEpochFence followed by an abort: bumps the epoch (unless a failed fence already
   * did, or it is at its maximum), writes PrepareAbort with it, then the markers. Called with the
   * queue held. Returns NONE, or the error of the failed log write.
   */
  private async fenceAndAbort(meta: TxnMetadata): Promise<number> {
    const bumped =
      meta.hasFailedEpochFence || meta.producerEpoch === SHORT_MAX
        ? meta.producerEpoch
        : meta.producerEpoch + 1
    try {
      await this.prepare(meta, false, bumped)
    } catch (err) {
      if (!(err instanceof TxnError)) throw err
      meta.hasFailedEpochFence = true
      return err.errorCode
    }
    meta.hasFailedEpochFence = false
    await this.complete(meta)
    return ErrorCode.NONE
  }

  // ---- timeouts and expiration ----

  /**
   * transaction.timeout.ms: aborts every transaction open longer than its timeout, with a bumped
   * epoch, so the producer that left it is fenced (its next request gets PRODUCER_FENCED).
   */
  async abortTimedOutTransactions(): Promise<void> {
    const now = this.clock.now()
    const timedOut = [...this.txns.values()].filter(
      (m) => m.state === TxnState.Ongoing && m.txnStartTimestamp + m.txnTimeoutMs < now,
    )
    await Promise.all(
      timedOut.map((m) =>
        this.exclusive(m.transactionalId, async () => {
          const meta = this.txns.get(m.transactionalId)
          if (meta !== m || meta.state !== TxnState.Ongoing) return
          this.logger?.info(
            {
              transactionalId: meta.transactionalId,
              producerId: meta.producerId,
              timeoutMs: meta.txnTimeoutMs,
            },
            'aborting a transaction that ran past its timeout',
          )
          await this.fenceAndAbort(meta)
        }).catch((err) =>
          this.logger?.error({ err, transactionalId: m.transactionalId }, 'timeout abort failed'),
        ),
      ),
    )
  }

  /**
   * transactional.id.expiration.ms: ids with no open transaction whose last update is that old are
   * removed (a tombstone in the log); a producer using one afterwards gets INVALID_PRODUCER_ID_MAPPING.
   */
  async removeExpiredTransactionalIds(): Promise<void> {
    const now = this.clock.now()
    const expirable = (m: TxnMetadata, at: number) =>
      (m.state === TxnState.Empty ||
        m.state === TxnState.CompleteCommit ||
        m.state === TxnState.CompleteAbort) &&
      m.txnLastUpdateTimestamp <= at - this.config.transactionalIdExpirationMs
    const expired = [...this.txns.values()].filter((m) => expirable(m, now))
    for (const m of expired) {
      await this.exclusive(m.transactionalId, async () => {
        // An operation queued before this one may have started a transaction meanwhile.
        if (this.txns.get(m.transactionalId) !== m || !expirable(m, now)) return
        await this.options.log.append(
          encodeTxnLogBatch([{ key: encodeTxnKey(m.transactionalId), value: null }], this.clock.now()),
        )
        this.txns.delete(m.transactionalId)
        this.logger?.info({ transactionalId: m.transactionalId }, 'expired transactional id')
      }).catch((err) =>
        this.logger?.error(
          { err, transactionalId: m.transactionalId },
          'could not expire a transactional id',
        ),
      )
    }
  }

  // ---- admin ----

  describe(transactionalId: string): TransactionDescription | undefined {
    const meta = this.txns.get(transactionalId)
    if (!meta) return undefined
    const partitions: TopicPartition[] = []
    for (const [topic, ps] of meta.partitions)
      for (const partition of [...ps].sort((a, b) => a - b)) partitions.push({ topic, partition })
    return {
      transactionalId,
      state: meta.state,
      producerId: meta.producerId,
      producerEpoch: meta.producerEpoch,
      txnTimeoutMs: meta.txnTimeoutMs,
      txnStartTimestamp: meta.txnStartTimestamp,
      txnLastUpdateTimestamp: meta.txnLastUpdateTimestamp,
      partitions,
    }
  }

  /**
   * ListTransactions: every transactional id matching all the filters (an empty filter matches all;
   * `minDurationMs` >= 0 keeps transactions open longer than that, KIP-994). State names the
   * coordinator does not know are returned in `unknownStates`.
   */
  list(
    states: readonly string[],
    producerIds: readonly number[],
    minDurationMs = -1,
  ): {
    unknownStates: string[]
    transactions: { transactionalId: string; producerId: number; state: TxnState }[]
  } {
    const known = new Set<string>(Object.values(TxnState))
    const unknownStates = states.filter((s) => !known.has(s))
    const stateFilter = new Set(states)
    const pidFilter = new Set(producerIds)
    const now = this.clock.now()
    const transactions = [...this.txns.values()]
      .filter((m) => m.state !== TxnState.Dead)
      .filter((m) => pidFilter.size === 0 || pidFilter.has(m.producerId))
      .filter((m) => stateFilter.size === 0 || stateFilter.has(m.state))
      .filter((m) => minDurationMs < 0 || now - m.txnStartTimestamp > minDurationMs)
      .map((m) => ({ transactionalId: m.transactionalId, producerId: m.producerId, state: m.state }))
    return { unknownStates, transactions }
  }

  // ---- internals ----

  private validTimeout(txnTimeoutMs: number): boolean {
    return txnTimeoutMs > 0 && txnTimeoutMs <= this.config.transactionMaxTimeoutMs
  }

  /** Runs `fn` on the id's queue, mapping a failed log write to COORDINATOR_NOT_AVAILABLE. */
  private async guard(transactionalId: string, fn: () => Promise<number>): Promise<number> {
    try {
      return await this.exclusive(transactionalId, fn)
    } catch (err) {
      if (err instanceof TxnError) return err.errorCode
      this.logger?.error({ err, transactionalId }, 'transaction operation failed')
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    }
  }

  /** One operation at a time per transactional id, in arrival order. */
  private exclusive<T>(transactionalId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(transactionalId) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    const settled = run.then(
      () => {},
      () => {},
    )
    this.queues.set(transactionalId, settled)
    settled.then(() => {
      if (this.queues.get(transactionalId) === settled) this.queues.delete(transactionalId)
    })
    return run
  }

  /**
   * Appends the new state of a transactional id and, once the log has it, makes it current. A failed
   * append changes nothing and surfaces as COORDINATOR_NOT_AVAILABLE (retriable).
   */
  private async persist(meta: TxnMetadata, transit: Transit): Promise<void> {
    const value: TxnLogValue = {
      producerId: transit.producerId,
      previousProducerId: transit.previousProducerId,
      nextProducerId: NO_PRODUCER_ID,
      producerEpoch: transit.producerEpoch,
      txnTimeoutMs: transit.txnTimeoutMs,
      state: transit.state,
      partitions: transit.partitions,
      txnLastUpdateTimestamp: transit.txnLastUpdateTimestamp,
      txnStartTimestamp: transit.txnStartTimestamp,
    }
    try {
      await this.options.log.append(
        encodeTxnLogBatch(
          [{ key: encodeTxnKey(meta.transactionalId), value: encodeTxnValue(value) }],
          this.clock.now(),
        ),
      )
    } catch (err) {
      this.logger?.error(
        { err, transactionalId: meta.transactionalId },
        'could not write to __transaction_state',
      )
      throw new TxnError(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    }
    Object.assign(meta, transit)
    this.txns.set(meta.transactionalId, meta)
  }

  /**
   * Runs `fn` after `ms`, and with `repeat` every `ms` after that. The next run is scheduled when one
   * starts, so a clock that jumps fires every run that fell due; runs may overlap, which the tasks
   * allow (each re-checks a transaction's state on its queue before changing it).
   */
  private schedule(ms: number, fn: () => Promise<void>, repeat = true): void {
    if (this.closed) return
    const tick = () => {
      this.timers.delete(timer)
      if (repeat && !this.closed) {
        timer = this.clock.setTimeout(tick, ms)
        this.timers.add(timer)
      }
      fn().catch((err) => this.logger?.error({ err }, 'transaction coordinator task failed'))
    }
    let timer = this.clock.setTimeout(tick, ms)
    this.timers.add(timer)
  }
}

/**
 * KIP-360: the producer id and epoch a client passes may be the current id, or the previous id when
 * its epochs ran out (a retry after a rotation it never heard of); a just-created id accepts anything.
 */
function isValidProducerId(
  meta: TxnMetadata,
  expected: { producerId: number; producerEpoch: number },
): boolean {
  return (
    meta.producerEpoch === NO_PRODUCER_EPOCH ||
    expected.producerId === meta.producerId ||
    (expected.producerId === meta.previousProducerId && isEpochExhausted(expected.producerEpoch))
  )
}

function snapshot(meta: TxnMetadata): Transit {
  return {
    producerId: meta.producerId,
    previousProducerId: meta.previousProducerId,
    producerEpoch: meta.producerEpoch,
    lastProducerEpoch: meta.lastProducerEpoch,
    txnTimeoutMs: meta.txnTimeoutMs,
    state: meta.state,
    partitions: meta.partitions,
    txnStartTimestamp: meta.txnStartTimestamp,
    txnLastUpdateTimestamp: meta.txnLastUpdateTimestamp,
  }
}

function hasPartition(meta: TxnMetadata, tp: TopicPartition): boolean {
  return meta.partitions.get(tp.topic)?.has(tp.partition) ?? false
}

function removePartition(meta: TxnMetadata, tp: TopicPartition): void {
  const set = meta.partitions.get(tp.topic)
  if (!set) return
  set.delete(tp.partition)
  if (set.size === 0) meta.partitions.delete(tp.topic)
}

function copyPartitions(partitions: ReadonlyMap<string, ReadonlySet<number>>): Map<string, Set<number>> {
  return new Map([...partitions].map(([t, ps]) => [t, new Set(ps)]))
}
