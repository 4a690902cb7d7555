/**
 * Client side of Kafka transactions (KIP-98): the transactional id's coordinator (FindCoordinator
 * key type 1) hands out the producer id and epoch (InitProducerId), learns each partition before
 * the first record goes to it (AddPartitionsToTxn) and each group whose offsets ride along
 * (AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator), and writes the commit or abort
 * markers on EndTxn.
 *
 * AddPartitionsToTxn v4+ is for brokers only and EndTxn v5 bumps the epoch per transaction
 * (KIP-890): clients use at most v3 and v4, which the cluster caps by default.
 */
import { ApiKey, ErrorCode } from '@fluxo/protocol'
import { type Cluster, CoordinatorType } from '../cluster/cluster.js'
import type { Connection } from '../connection/connection.js'
import { IllegalStateError, KafkaError } from '../errors.js'

export const TransactionState = {
  uninitialized: 'uninitialized',
  ready: 'ready',
  inTransaction: 'inTransaction',
  committing: 'committing',
  aborting: 'aborting',
  fatal: 'fatal',
} as const
export type TransactionState = (typeof TransactionState)[keyof typeof TransactionState]

/** A consumed position to commit with the transaction: the offset of the next record to read. */
export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset: number
  /** Leader epoch of the last consumed record; -1 when unknown. */
  leaderEpoch?: number
  metadata?: string | null
}

/** The consumer group member committing, for fencing zombie members (KIP-447). */
export interface GroupMetadata {
  groupId: string
  generationId?: number
  memberId?: string
  groupInstanceId?: string | null
}

interface Flusher {
  waitIdle(): Promise<void>
  producerId: number
  producerEpoch: number
}

/** Errors after which the coordinator must be looked up again. */
const COORDINATOR_MOVED = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE])
/** Errors that mean "ask again shortly". */
const RETRY_LATER = new Set<number>([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.CONCURRENT_TRANSACTIONS,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
])
/** Errors after which this producer can never be used again. */
const FATAL = new Set<number>([
  ErrorCode.PRODUCER_FENCED,
  ErrorCode.INVALID_PRODUCER_EPOCH,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  ErrorCode.UNSUPPORTED_VERSION,
])

export class TransactionManager {
  state: TransactionState = TransactionState.uninitialized
  private readonly added = new Set<string>()
  private readonly toAdd = new Map<string, { topic: string; partition: number }>()
  private fatalError: Error | undefined
  private offsetsAdded = false

  constructor(
    private readonly cluster: Cluster,
    readonly transactionalId: string,
    private readonly timeoutMs: number,
    private readonly producer: Flusher,
  ) {}

  get inTransaction(): boolean {
    return this.state === TransactionState.inTransaction
  }

  /** Called per record: partitions new to the transaction are added before their first batch is sent. */
  addPartition(topic: string, partition: number): void {
    const key = `${topic}\u0000${partition}`
    if (!this.added.has(key) && !this.toAdd.has(key)) this.toAdd.set(key, { topic, partition })
  }

  /**
   * A request to the transaction coordinator, retried while the coordinator moves or is busy.
   * `errorOf` extracts the error code from the response.
   */
  private async toCoordinator<T>(
    send: (conn: Connection) => Promise<T>,
    errorOf: (res: T) => number,
  ): Promise<T> {
    return this.cluster.retry(
      async () => {
        const conn = await this.cluster.coordinator(this.transactionalId, CoordinatorType.transaction)
        const res = await send(conn)
        const code = errorOf(res)
        if (code === ErrorCode.NONE) return res
        if (COORDINATOR_MOVED.has(code))
          this.cluster.invalidateCoordinator(this.transactionalId, CoordinatorType.transaction)
        const err = new KafkaError(code, null, { resource: this.transactionalId })
        if (FATAL.has(code)) this.fail(err)
        throw err
      },
      {
        retries: Math.max(this.cluster.retryOptions.retries, 10),
        shouldRetry: (err) =>
          err instanceof KafkaError
            ? RETRY_LATER.has(err.errorCode)
            : (err as { retriable?: boolean }).retriable === true,
      },
    )
  }

  private fail(err: Error): void {
    this.state = TransactionState.fatal
    this.fatalError = err
  }

  private check(allowed: TransactionState[], action: string): void {
    if (this.fatalError) throw this.fatalError
    if (!allowed.includes(this.state))
      throw new IllegalStateError(`cannot ${action} in transaction state ${this.state}`)
  }

  /** InitProducerId for the transactional id: fences older producers with the same id. */
  async initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    const res = await this.toCoordinator(
      (conn) =>
        conn.request(ApiKey.InitProducerId, {
          transactionalId: this.transactionalId,
          transactionTimeoutMs: this.timeoutMs,
          producerId: -1,
          producerEpoch: -1,
        }),
      (r) => r.errorCode,
    )
    if (this.state === TransactionState.uninitialized) this.state = TransactionState.ready
    return { producerId: res.producerId, producerEpoch: res.producerEpoch }
  }

  begin(): void {
    this.check([TransactionState.ready], 'begin a transaction')
    this.state = TransactionState.inTransaction
  }

  async addPendingPartitions(): Promise<void> {
    if (this.toAdd.size === 0) return
    const pending = [...this.toAdd.values()]
    const byTopic = new Map<string, number[]>()
    for (const { topic, partition } of pending) {
      const list = byTopic.get(topic)
      if (list) list.push(partition)
      else byTopic.set(topic, [partition])
    }
    const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }))
    await this.toCoordinator(
      (conn) =>
        conn.requestAny(24, {
          transactions: [],
          v3AndBelowTransactionalId: this.transactionalId,
          v3AndBelowProducerId: this.producer.producerId,
          v3AndBelowProducerEpoch: this.producer.producerEpoch,
          v3AndBelowTopics: topics,
        }) as Promise<AddPartitionsToTxnResponseV3>,
      (res) => {
        for (const t of res.resultsByTopicV3AndBelow ?? [])
          for (const p of t.resultsByPartition)
            if (p.partitionErrorCode !== ErrorCode.NONE) return p.partitionErrorCode
        return ErrorCode.NONE
      },
    )
    for (const { topic, partition } of pending) {
      const key = `${topic}\u0000${partition}`
      this.toAdd.delete(key)
      this.added.add(key)
    }
  }

  /**
   * Adds consumed offsets to the transaction: they become visible to the group only if it commits
   * (the consume-transform-produce loop).
   */
  async sendOffsets(group: GroupMetadata, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.check([TransactionState.inTransaction], 'send offsets')
    await this.toCoordinator(
      (conn) =>
        conn.requestAny(25, {
          transactionalId: this.transactionalId,
          producerId: this.producer.producerId,
          producerEpoch: this.producer.producerEpoch,
          groupId: group.groupId,
        }) as Promise<{ errorCode: number }>,
      (r) => r.errorCode,
    )
    this.offsetsAdded = true
    const byTopic = new Map<string, TopicPartitionOffset[]>()
    for (const o of offsets) {
      const list = byTopic.get(o.topic)
      if (list) list.push(o)
      else byTopic.set(o.topic, [o])
    }
    await this.cluster.retry(
      async () => {
        const conn = await this.cluster.coordinator(group.groupId, CoordinatorType.group)
        const res = (await conn.requestAny(28, {
          transactionalId: this.transactionalId,
          groupId: group.groupId,
          producerId: this.producer.producerId,
          producerEpoch: this.producer.producerEpoch,
          generationId: group.generationId ?? -1,
          memberId: group.memberId ?? '',
          groupInstanceId: group.groupInstanceId ?? null,
          topics: [...byTopic].map(([name, list]) => ({
            name,
            partitions: list.map((o) => ({
              partitionIndex: o.partition,
              committedOffset: o.offset,
              committedLeaderEpoch: o.leaderEpoch ?? -1,
              committedMetadata: o.metadata ?? null,
            })),
          })),
        })) as TxnOffsetCommitResponse
        for (const t of res.topics)
          for (const p of t.partitions) {
            if (p.errorCode === ErrorCode.NONE) continue
            if (COORDINATOR_MOVED.has(p.errorCode))
              this.cluster.invalidateCoordinator(group.groupId, CoordinatorType.group)
            throw new KafkaError(p.errorCode, null, {
              groupId: group.groupId,
              topic: t.name,
              partition: p.partitionIndex,
            })
          }
      },
      {
        shouldRetry: (err) =>
          err instanceof KafkaError
            ? RETRY_LATER.has(err.errorCode) || err.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            : (err as { retriable?: boolean }).retriable === true,
      },
    )
  }

  /** Flushes the transaction's records, then commits. */
  async commit(): Promise<void> {
    this.check([TransactionState.inTransaction], 'commit')
    this.state = TransactionState.committing
    try {
      await this.producer.waitIdle()
      await this.endTxn(true)
    } catch (err) {
      // A failed commit leaves an open transaction that the application should abort.
      if (!this.fatalError) this.state = TransactionState.inTransaction
      throw err
    }
  }

  /** Waits for in-flight records, then aborts: consumers reading committed data never see them. */
  async abort(): Promise<void> {
    this.check([TransactionState.inTransaction, TransactionState.committing], 'abort')
    this.state = TransactionState.aborting
    try {
      await this.producer.waitIdle()
      await this.endTxn(false)
    } catch (err) {
      if (!this.fatalError) this.state = TransactionState.inTransaction
      throw err
    }
  }

  private async endTxn(committed: boolean): Promise<void> {
    // Nothing was added: the coordinator knows of no transaction, and there is nothing to end.
    if (this.added.size === 0 && this.toAdd.size === 0 && !this.offsetsAdded) {
      this.reset()
      return
    }
    await this.addPendingPartitions()
    await this.toCoordinator(
      (conn) =>
        conn.requestAny(26, {
          transactionalId: this.transactionalId,
          producerId: this.producer.producerId,
          producerEpoch: this.producer.producerEpoch,
          committed,
        }) as Promise<{ errorCode: number }>,
      (r) => r.errorCode,
    )
    this.reset()
  }

  private reset(): void {
    this.added.clear()
    this.toAdd.clear()
    this.offsetsAdded = false
    this.state = TransactionState.ready
  }
}

interface AddPartitionsToTxnResponseV3 {
  resultsByTopicV3AndBelow?: {
    name: string
    resultsByPartition: { partitionIndex: number; partitionErrorCode: number }[]
  }[]
}

interface TxnOffsetCommitResponse {
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[]
}
