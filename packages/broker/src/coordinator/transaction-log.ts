/**
 * The transaction coordinator's durable state: records in the internal topic `__transaction_state`,
 * in Kafka's own schemas, so the log reads the same as Kafka's (TransactionLogMessageFormatter can
 * decode the transaction records).
 *
 *   key   TransactionLogKey, record type 0: int16 0, transactionalId string
 *   value TransactionLogValue v1 (flexible): int16 1, producerId int64, producerEpoch int16,
 *         transactionTimeoutMs int32, transactionStatus int8, transactionPartitions [topic, [partition]],
 *         lastUpdateTimestampMs int64, startTimestampMs int64, tagged: 0 previousProducerId,
 *         1 nextProducerId, 2 clientTransactionVersion. v0 (not flexible, no tags) is read too.
 *         null: a tombstone, the transactional id expired (transactional.id.expiration.ms).
 *
 * One more record type is Fluxo's own: Kafka keeps its producer id blocks in the controller's metadata
 * log (ProducerIdsRecord: brokerId, nextProducerId), which Fluxo does not have, so the block is a record
 * here with a type far from Kafka's (Kafka's loaders skip record types they do not know):
 *
 *   key   int16 32767
 *   value int16 0, brokerId int32, nextProducerId int64 (every id below it may have been handed out)
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
import type { Cluster } from '../cluster/cluster.js'
import type { Partition } from '../cluster/partition.js'

export const TRANSACTION_STATE_TOPIC = '__transaction_state'

const TXN_KEY_TYPE = 0
const PRODUCER_ID_BLOCK_KEY_TYPE = 32767
const TXN_VALUE_VERSION = 1

/** Kafka's TransactionState: names (DescribeTransactions, ListTransactions) and the ids stored in the log. */
export const TxnState = {
  Empty: 'Empty',
  Ongoing: 'Ongoing',
  PrepareCommit: 'PrepareCommit',
  PrepareAbort: 'PrepareAbort',
  CompleteCommit: 'CompleteCommit',
  CompleteAbort: 'CompleteAbort',
  Dead: 'Dead',
  PrepareEpochFence: 'PrepareEpochFence',
} as const
export type TxnState = (typeof TxnState)[keyof typeof TxnState]

const STATE_IDS: readonly TxnState[] = [
  TxnState.Empty,
  TxnState.Ongoing,
  TxnState.PrepareCommit,
  TxnState.PrepareAbort,
  TxnState.CompleteCommit,
  TxnState.CompleteAbort,
  TxnState.Dead,
  TxnState.PrepareEpochFence,
]

/** What one TransactionLogValue holds. Partitions are topic → partition ids. */
export interface TxnLogValue {
  producerId: number
  previousProducerId: number
  nextProducerId: number
  producerEpoch: number
  txnTimeoutMs: number
  state: TxnState
  partitions: ReadonlyMap<string, ReadonlySet<number>>
  txnLastUpdateTimestamp: number
  txnStartTimestamp: number
}

export type TxnLogRecord =
  | { type: 'transaction'; transactionalId: string; value: TxnLogValue | null }
  | { type: 'producerIdBlock'; brokerId: number; nextProducerId: number }

export function encodeTxnKey(transactionalId: string): Buffer {
  const w = new Writer(32)
  w.int16(TXN_KEY_TYPE)
  w.string(false, transactionalId)
  return w.toBuffer()
}

export function encodeTxnValue(value: TxnLogValue): Buffer {
  const w = new Writer(64)
  w.int16(TXN_VALUE_VERSION)
  w.int64(value.producerId)
  w.int16(value.producerEpoch)
  w.int32(value.txnTimeoutMs)
  w.int8(STATE_IDS.indexOf(value.state))
  w.arrayLength(true, value.partitions.size)
  for (const [topic, partitions] of value.partitions) {
    w.string(true, topic)
    w.arrayLength(true, partitions.size)
    for (const p of [...partitions].sort((a, b) => a - b)) w.int32(p)
    w.taggedFields(undefined)
  }
  w.int64(value.txnLastUpdateTimestamp)
  w.int64(value.txnStartTimestamp)
  const tags: [number, (w: Writer) => void][] = []
  if (value.previousProducerId !== -1) tags.push([0, (t) => t.int64(value.previousProducerId)])
  if (value.nextProducerId !== -1) tags.push([1, (t) => t.int64(value.nextProducerId)])
  w.taggedFields(undefined, tags)
  return w.toBuffer()
}

export function encodeProducerIdBlockKey(): Buffer {
  const w = new Writer(2)
  w.int16(PRODUCER_ID_BLOCK_KEY_TYPE)
  return w.toBuffer()
}

export function encodeProducerIdBlockValue(brokerId: number, nextProducerId: number): Buffer {
  const w = new Writer(16)
  w.int16(0)
  w.int32(brokerId)
  w.int64(nextProducerId)
  return w.toBuffer()
}

/** A record of __transaction_state, or null for a record type this broker does not know. */
export function decodeTxnLogRecord(key: Buffer, value: Buffer | null): TxnLogRecord | null {
  const k = new Reader(key)
  const type = k.int16()
  if (type === PRODUCER_ID_BLOCK_KEY_TYPE) {
    if (value === null) return null
    const v = new Reader(value)
    v.int16()
    return { type: 'producerIdBlock', brokerId: v.int32(), nextProducerId: v.int64() }
  }
  if (type !== TXN_KEY_TYPE) return null
  const transactionalId = k.string(false)
  if (value === null) return { type: 'transaction', transactionalId, value: null }
  const v = new Reader(value)
  const version = v.int16()
  if (version > 1) throw new DecodeError(`unknown TransactionLogValue version ${version}`)
  const flexible = version >= 1
  const producerId = v.int64()
  const producerEpoch = v.int16()
  const txnTimeoutMs = v.int32()
  const stateId = v.int8()
  const state = STATE_IDS[stateId]
  if (state === undefined) throw new DecodeError(`unknown transaction state id ${stateId}`)
  const partitions = new Map<string, Set<number>>()
  const topics = v.arrayLength(flexible)
  for (let i = 0; i < topics; i++) {
    const topic = v.string(flexible)
    const count = v.arrayLength(flexible)
    const ids = new Set<number>()
    for (let j = 0; j < count; j++) ids.add(v.int32())
    if (flexible) v.skipTaggedFields()
    partitions.set(topic, ids)
  }
  const txnLastUpdateTimestamp = v.int64()
  const txnStartTimestamp = v.int64()
  let previousProducerId = -1
  let nextProducerId = -1
  if (flexible) {
    v.taggedFields((tag, r) => {
      if (tag === 0) previousProducerId = r.int64()
      else if (tag === 1) nextProducerId = r.int64()
      else return false
      return true
    })
  }
  return {
    type: 'transaction',
    transactionalId,
    value: {
      producerId,
      previousProducerId,
      nextProducerId,
      producerEpoch,
      txnTimeoutMs,
      state,
      partitions,
      txnLastUpdateTimestamp,
      txnStartTimestamp,
    },
  }
}

/** One batch of __transaction_state records (a record is a key and a value, null for a tombstone). */
export function encodeTxnLogBatch(records: { key: Buffer; value: Buffer | null }[], now: number): Buffer {
  return encodeRecordBatchSync({ records: records.map((r) => ({ ...r, timestamp: now })) })
}

/** Every record of the stored batches, in log order; control batches are skipped. */
export function* txnLogRecords(
  batch: Buffer,
): Iterable<{ key: Buffer; value: Buffer | null; offset: number }> {
  for (const b of decodeRecordBatchesSync(batch)) {
    if (b.isControl) continue
    for (const r of b.records) if (r.key !== null) yield { key: r.key, value: r.value, offset: r.offset }
  }
}

/** Where the coordinator's records are stored: __transaction_state in the broker, a list in tests. */
export interface TransactionLog {
  /** Appends one batch; resolves once the log has it (fsynced when the backend does that). */
  append(batch: Buffer): Promise<void>
  /** Every stored batch, oldest first, for replay on start. */
  batches(): AsyncIterable<Buffer>
}

/** Topic configs of __transaction_state, as Kafka creates it (compacted, 100 MiB segments). */
export const TRANSACTION_STATE_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'compression.type': 'uncompressed',
  'segment.bytes': '104857600',
}

/**
 * The broker's TransactionLog: one partition of `__transaction_state`. Kafka hashes transactional ids
 * onto transaction.state.log.num.partitions partitions so coordinators can move between brokers;
 * one broker coordinates every id, so one partition holds them all (as __consumer_offsets here).
 * The topic is created on first use; an existing one keeps its partitions and only partition 0 is used.
 */
export class ClusterTransactionLog implements TransactionLog {
  private creating: Promise<void> | undefined

  constructor(private readonly cluster: Cluster) {}

  ensure(): Promise<void> {
    if (this.cluster.topic(TRANSACTION_STATE_TOPIC)) return Promise.resolve()
    this.creating ??= this.cluster
      .createTopic(TRANSACTION_STATE_TOPIC, 1, 1, { ...TRANSACTION_STATE_TOPIC_CONFIGS })
      .then(() => undefined)
      .finally(() => {
        this.creating = undefined
      })
    return this.creating
  }

  async append(batch: Buffer): Promise<void> {
    await this.ensure()
    const partition = this.cluster.topic(TRANSACTION_STATE_TOPIC)!.partitions[0]
    const result = await partition.append(batch, true)
    if (result.errorCode !== 0)
      throw new TransactionLogError(result.errorMessage ?? `error ${result.errorCode}`)
  }

  async *batches(): AsyncIterable<Buffer> {
    const topic = this.cluster.topic(TRANSACTION_STATE_TOPIC)
    if (!topic) return
    for (const partition of topic.partitions) yield* readAll(partition)
  }
}

/** A transaction state change could not be written to __transaction_state. */
export class TransactionLogError extends FluxoError {
  constructor(message: string) {
    super('ERR_FLUXO_TRANSACTION_LOG', message)
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
