/**
 * The producer: serializes records, picks partitions, batches them per partition (linger.ms /
 * batch.size) and sends one Produce request per leader with up to maxInFlight requests in flight.
 *
 * Idempotence (KIP-98) is on by default, as in Kafka's clients since 3.0 (KIP-679): the producer
 * gets a producer id with InitProducerId and numbers each partition's batches, so the broker drops
 * duplicates from retries and rejects gaps. Ordering holds with 5 requests in flight because a
 * failed batch goes back to the head of its partition's queue with its original sequence, and
 * nothing newer for that partition is sent until it succeeds.
 */
import {
  ApiKey,
  Compression,
  type CompressionType,
  ErrorCode,
  type ProduceResponse,
  RecordBatchBuilder,
  type RecordHeader,
  compress,
  restamp,
} from '@fluxo/protocol'
import { type Cluster, CoordinatorType, isStaleMetadataError } from '../cluster/cluster.js'
import { backoffMs } from '../cluster/retry.js'
import type { Connection } from '../connection/connection.js'
import {
  ConnectionError,
  DeliveryTimeoutError,
  IllegalStateError,
  KafkaError,
  UnsupportedVersionError,
  isRetriable,
} from '../errors.js'
import { type Serializer, type TopicSerde, defaultSerializer } from '../serde.js'
import {
  BATCH_HEADER_BYTES,
  BufferPool,
  PartitionQueue,
  ProducerBatch,
  type RecordMetadata,
} from './accumulator.js'
import { BuiltInPartitioner, type Partitioner } from './partitioner.js'
import { type GroupMetadata, type TopicPartitionOffset, TransactionManager } from './transaction.js'

export type { RecordMetadata } from './accumulator.js'

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

/** Header values: strings are sent as UTF-8. Kafka allows a key more than once: use the array form. */
export type RecordHeaders =
  | Record<string, string | Buffer | null>
  | ReadonlyArray<readonly [key: string, value: string | Buffer | null]>

export interface ProducerRecord<K = unknown, V = unknown> {
  topic: string
  key?: K | null
  value: V | null
  /** Explicit partition; otherwise the partitioner chooses. */
  partition?: number
  /** CreateTime in epoch ms; default now. */
  timestamp?: number
  headers?: RecordHeaders
}

export interface ProducerOptions<K = unknown, V = unknown> {
  /**
   * Idempotent delivery (enable.idempotence). Default true; when left unset and the broker has no
   * InitProducerId, or acks is not -1, the producer falls back to non-idempotent delivery as Kafka's
   * clients do; when set to true explicitly, either is an error.
   */
  idempotent?: boolean
  /** -1 (all in-sync replicas, default), 1 (the leader) or 0 (no response). */
  acks?: -1 | 0 | 1
  /** How long to wait for more records before sending a batch, in ms (linger.ms). Default 5 (Kafka 4.0, KIP-1030). */
  lingerMs?: number
  /** A batch is sent once it holds this many bytes (batch.size). Default 16384. */
  batchSize?: number
  /** Codec for record batches (compression.type). Default none. */
  compression?: CompressionName
  /** Produce requests in flight per broker (max.in.flight.requests.per.connection). Default 5, at most 5 with idempotence. */
  maxInFlight?: number
  /** Upper bound on a Produce request's size, in bytes (max.request.size). Default 1048576. */
  maxRequestSize?: number
  /** Time the broker may take to replicate before answering, in ms (the Produce request's timeout). Default 30000. */
  ackTimeoutMs?: number
  /** A record fails if it is not acknowledged within this time from send(), in ms (delivery.timeout.ms). Default 120000. */
  deliveryTimeoutMs?: number
  /** Custom partitioner for records without an explicit partition; default murmur2 for keys, sticky otherwise. */
  partitioner?: Partitioner
  /** Let Metadata requests create missing topics when the broker allows it (allow.auto.create.topics). Default true. */
  allowAutoTopicCreation?: boolean
  /** Key serializer for every topic without its own. Default: strings as UTF-8, bytes as they are. */
  keySerializer?: Serializer<K>
  /** Value serializer for every topic without its own. */
  valueSerializer?: Serializer<V>
  /** Serializers by topic name. */
  topics?: Record<string, TopicSerde>
  /** Makes this a transactional producer (transactional.id); implies idempotence. */
  transactionalId?: string
  /** Longest a transaction may stay open before the coordinator aborts it, in ms (transaction.timeout.ms). Default 60000. */
  transactionTimeoutMs?: number
}

const compressionTypes: Record<CompressionName, CompressionType> = {
  none: Compression.none,
  gzip: Compression.gzip,
  snappy: Compression.snappy,
  lz4: Compression.lz4,
  zstd: Compression.zstd,
}

const INT32_MAX = 0x7fffffff

export class Producer<K = string | Buffer, V = string | Buffer> {
  private readonly cluster: Cluster
  private readonly ownsCluster: boolean
  private readonly acks: -1 | 0 | 1
  private readonly lingerMs: number
  private readonly batchSize: number
  private readonly compression: CompressionType
  private readonly maxInFlight: number
  private readonly maxRequestSize: number
  private readonly ackTimeoutMs: number
  private readonly deliveryTimeoutMs: number
  private readonly allowAutoTopicCreation: boolean
  private readonly customPartitioner: Partitioner | undefined
  private readonly partitioner = new BuiltInPartitioner()
  private readonly keySerializer: Serializer<unknown>
  private readonly valueSerializer: Serializer<unknown>
  private readonly topicSerdes: Record<string, TopicSerde>
  private readonly explicitIdempotence: boolean
  private idempotent: boolean
  /** Producer id and epoch from InitProducerId; -1 before (and without idempotence). */
  producerId = -1
  producerEpoch = -1
  private producerIdPromise: Promise<void> | undefined
  private needsNewProducerId = false
  private readonly queues = new Map<string, PartitionQueue>()
  /** The same queues by topic, then partition: looked up once per record. */
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>()
  private readonly bufferPool: BufferPool
  private readonly nodeInFlight = new Map<number, number>()
  private pendingBatches = 0
  /** Records waiting for their topic's metadata before they can join a batch. */
  private readonly metadataWaits = new Set<Promise<void>>()
  private readonly idleWaiters: (() => void)[] = []
  private drainScheduled = false
  private closeOpenScheduled = false
  private draining = false
  private drainAgain = false
  private wakeTimer: NodeJS.Timeout | undefined
  private closing = false
  private fatal: Error | undefined
  readonly transactions: TransactionManager | undefined

  constructor(cluster: Cluster, options: ProducerOptions<K, V> = {}, ownsCluster = true) {
    this.cluster = cluster
    this.ownsCluster = ownsCluster
    this.acks = options.acks ?? -1
    this.lingerMs = options.lingerMs ?? 5
    this.batchSize = Math.max(options.batchSize ?? 16384, BATCH_HEADER_BYTES + 64)
    this.compression = compressionTypes[options.compression ?? 'none']
    if (this.compression === undefined)
      throw new IllegalStateError(`unknown compression ${options.compression}`)
    this.maxInFlight = options.maxInFlight ?? 5
    this.maxRequestSize = options.maxRequestSize ?? 1048576
    // Enough free buffers for maxInFlight full requests, within 32 MiB (Kafka's buffer.memory).
    this.bufferPool = new BufferPool(
      this.batchSize,
      Math.max(
        2,
        Math.min(
          Math.ceil(this.maxRequestSize / this.batchSize) * this.maxInFlight,
          2 ** 25 / this.batchSize,
        ),
      ),
    )
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 120_000
    this.allowAutoTopicCreation = options.allowAutoTopicCreation ?? true
    this.customPartitioner = options.partitioner
    this.keySerializer = (options.keySerializer ?? defaultSerializer) as Serializer<unknown>
    this.valueSerializer = (options.valueSerializer ?? defaultSerializer) as Serializer<unknown>
    this.topicSerdes = options.topics ?? {}
    this.explicitIdempotence = options.idempotent === true || options.transactionalId !== undefined
    if (options.transactionalId !== undefined && options.idempotent === false)
      throw new IllegalStateError('a transactional producer is idempotent: idempotent cannot be false')
    const conflicts = this.acks !== -1 || this.maxInFlight > 5
    if (this.explicitIdempotence && conflicts)
      throw new IllegalStateError('idempotence needs acks=-1 and maxInFlight <= 5 (KIP-679)')
    this.idempotent = options.idempotent ?? !conflicts
    if (options.transactionalId !== undefined) {
      this.transactions = new TransactionManager(
        cluster,
        options.transactionalId,
        options.transactionTimeoutMs ?? 60_000,
        this,
      )
    }
  }

  /**
   * Queues a record and resolves with its partition and offset once the broker acknowledged it
   * (at once with offset -1 for acks=0).
   */
  send(record: ProducerRecord<K, V>): Promise<RecordMetadata> {
    if (this.closing) return Promise.reject(new IllegalStateError('the producer is closed'))
    if (this.fatal) return Promise.reject(this.fatal)
    if (this.transactions && !this.transactions.inTransaction)
      return Promise.reject(
        new IllegalStateError('a transactional producer sends only inside beginTransaction()'),
      )
    let key: Buffer | null
    let value: Buffer | null
    let headers: RecordHeader[] | undefined
    try {
      const serde = this.topicSerdes[record.topic]
      key = (serde?.key ?? this.keySerializer).serialize(record.key ?? null, record.topic)
      value = (serde?.value ?? this.valueSerializer).serialize(record.value, record.topic)
      headers = record.headers === undefined ? undefined : toHeaders(record.headers)
    } catch (err) {
      return Promise.reject(err)
    }
    const timestamp = record.timestamp ?? Date.now()
    const topic = this.cluster.topic(record.topic)
    if (topic && topic.partitions.length > 0)
      return this.appendNew(
        record.topic,
        record.partition,
        topic.partitions.length,
        key,
        value,
        headers,
        timestamp,
      )
    // flush() and close() wait for records still waiting for their topic's metadata.
    let appendedRecord: Promise<RecordMetadata> | undefined
    const appended = this.cluster
      .topicInfo(record.topic, { allowAutoTopicCreation: this.allowAutoTopicCreation })
      .then((t) => {
        appendedRecord = this.appendNew(
          record.topic,
          record.partition,
          t.partitions.length,
          key,
          value,
          headers,
          timestamp,
        )
      })
    const settled = appended.then(noop, noop)
    this.metadataWaits.add(settled)
    void settled.then(() => this.metadataWaits.delete(settled))
    return appended.then(() => appendedRecord as Promise<RecordMetadata>)
  }

  /** Appends a record with a new Promise for it; one shared executor, no closure per record. */
  private appendNew(
    topic: string,
    explicitPartition: number | undefined,
    partitionCount: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: RecordHeader[] | undefined,
    timestamp: number,
  ): Promise<RecordMetadata> {
    const promise = new Promise<RecordMetadata>(capture)
    const { resolve, reject } = captured
    try {
      this.append(topic, explicitPartition, partitionCount, key, value, headers, timestamp, resolve, reject)
    } catch (err) {
      reject(err as Error)
    }
    return promise
  }

  /** Sends several records; resolves when all are acknowledged. */
  sendBatch(records: ReadonlyArray<ProducerRecord<K, V>>): Promise<RecordMetadata[]> {
    return Promise.all(records.map((r) => this.send(r)))
  }

  private append(
    topic: string,
    explicitPartition: number | undefined,
    partitionCount: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: RecordHeader[] | undefined,
    timestamp: number,
    resolve: (m: RecordMetadata) => void,
    reject: (e: Error) => void,
  ): void {
    let partition: number
    if (explicitPartition !== undefined) {
      if (explicitPartition < 0 || explicitPartition >= partitionCount) {
        reject(
          new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic} has ${partitionCount} partitions`, {
            topic,
            partition: explicitPartition,
          }),
        )
        return
      }
      partition = explicitPartition
    } else if (this.customPartitioner) {
      partition = this.customPartitioner({ topic, key }, partitionCount)
    } else {
      partition = this.partitioner.partition(topic, key, partitionCount)
    }
    let queue = this.partitionQueue(topic, partition)
    let batch = queue.open
    if (batch) {
      const size = batch.builder.recordSize(timestamp, key, value, headers)
      if (batch.sizeBytes + size > this.batchSize || !batch.builder.hasRoomFor(size)) {
        this.closeBatch(batch, partitionCount)
        batch = undefined
        // A sticky keyless record moves with the partitioner instead of opening a tiny batch here
        // (Java's abortOnNewBatch, KIP-480).
        if (explicitPartition === undefined && key === null && !this.customPartitioner) {
          partition = this.partitioner.partition(topic, null, partitionCount)
          queue = this.partitionQueue(topic, partition)
          batch = queue.open
          if (batch && !batch.builder.hasRoomFor(batch.builder.recordSize(timestamp, key, value, headers))) {
            this.closeBatch(batch, partitionCount)
            batch = undefined
          }
        }
      }
    }
    if (!batch) {
      const needed = BATCH_HEADER_BYTES + firstRecordSize(timestamp, key, value, headers)
      const pooled = needed <= this.batchSize
      const buffer = pooled ? this.bufferPool.allocate() : Buffer.allocUnsafeSlow(needed)
      batch = new ProducerBatch(topic, partition, Date.now(), buffer, pooled)
      queue.batches.push(batch)
      this.pendingBatches++
      if (this.lingerMs > 0) {
        const b = batch
        b.lingerTimer = setTimeout(() => {
          b.lingerTimer = undefined
          this.closeBatch(b, this.cluster.topic(topic)?.partitions.length ?? partitionCount)
        }, this.lingerMs)
      }
    }
    this.transactions?.addPartition(topic, partition)
    batch.builder.append(timestamp, key, value, headers)
    batch.resolvers.push(resolve)
    batch.rejecters.push(reject)
    batch.timestamps.push(timestamp)
    if (batch.sizeBytes >= this.batchSize) this.closeBatch(batch, partitionCount)
    else if (this.lingerMs === 0) this.scheduleCloseOpen()
  }

  /** linger.ms=0 still gathers the records sent in the same tick: their batches close right after it. */
  private scheduleCloseOpen(): void {
    if (this.closeOpenScheduled) return
    this.closeOpenScheduled = true
    setImmediate(() => {
      this.closeOpenScheduled = false
      let closed = false
      for (const q of this.queues.values()) {
        const open = q.open
        if (!open) continue
        this.closeBatch(open, this.cluster.topic(q.topic)?.partitions.length ?? 1, false)
        closed = true
      }
      if (closed) void this.drain()
    })
  }

  private partitionQueue(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queuesByTopic.get(topic)
    if (!byPartition) {
      byPartition = []
      this.queuesByTopic.set(topic, byPartition)
    }
    let queue = byPartition[partition]
    if (!queue) {
      queue = new PartitionQueue(topic, partition)
      byPartition[partition] = queue
      this.queues.set(`${topic}\u0000${partition}`, queue)
    }
    return queue
  }

  private closeBatch(batch: ProducerBatch, partitionCount: number, scheduleDrain = true): void {
    if (batch.closed) return
    batch.closed = true
    if (batch.lingerTimer) {
      clearTimeout(batch.lingerTimer)
      batch.lingerTimer = undefined
    }
    this.partitioner.onBatchClosed(batch.topic, batch.partition, partitionCount)
    if (scheduleDrain) this.scheduleDrain()
  }

  /** Sends every queued record now and resolves when all have been acknowledged or failed. */
  async flush(): Promise<void> {
    while (this.metadataWaits.size > 0) await Promise.all(this.metadataWaits)
    for (const q of this.queues.values()) {
      const open = q.open
      if (open) this.closeBatch(open, this.cluster.topic(q.topic)?.partitions.length ?? 1)
    }
    if (this.pendingBatches === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /** Flushes, then closes the producer's connections. Further sends fail. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    await this.flush()
    if (this.ownsCluster) await this.cluster.close()
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return
    this.drainScheduled = true
    setImmediate(() => {
      this.drainScheduled = false
      void this.drain()
    })
  }

  private wakeAt(time: number): void {
    const delay = Math.max(0, time - Date.now())
    if (this.wakeTimer) return
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined
      this.scheduleDrain()
    }, delay)
  }

  private async drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true
      return
    }
    this.draining = true
    try {
      do {
        this.drainAgain = false
        await this.drainOnce()
      } while (this.drainAgain)
    } catch (err) {
      // Producer-level failures (no producer id, transaction errors) fail what is queued.
      this.failAll(err as Error)
    } finally {
      this.draining = false
    }
  }

  /** Fails every queued batch; a non-retriable error also makes the producer unusable. */
  private failAll(err: Error): void {
    if (!isRetriable(err)) this.fatal ??= err
    for (const q of this.queues.values()) {
      for (const b of q.batches.splice(0)) {
        if (b.lingerTimer) clearTimeout(b.lingerTimer)
        this.finish(b, err)
      }
    }
  }

  private async ensureProducerId(): Promise<void> {
    if (!this.idempotent) return
    if (this.producerId >= 0 && !this.needsNewProducerId) return
    this.producerIdPromise ??= this.initProducerId().finally(() => {
      this.producerIdPromise = undefined
    })
    await this.producerIdPromise
  }

  private async initProducerId(): Promise<void> {
    if (this.transactions) {
      const { producerId, producerEpoch } = await this.transactions.initProducerId()
      this.setProducerId(producerId, producerEpoch)
      return
    }
    const result = await this.cluster.retry(async () => {
      const conn = await this.cluster.anyConnection()
      if (!conn.supports(ApiKey.InitProducerId)) return undefined
      const res = await conn.request(ApiKey.InitProducerId, {
        transactionalId: null,
        transactionTimeoutMs: INT32_MAX,
        producerId: -1,
        producerEpoch: -1,
      })
      if (res.errorCode !== ErrorCode.NONE) throw new KafkaError(res.errorCode, 'InitProducerId failed')
      return res
    })
    if (!result) {
      if (this.explicitIdempotence)
        throw new UnsupportedVersionError(
          'the broker does not support InitProducerId: idempotence is unavailable',
        )
      this.idempotent = false
      return
    }
    this.setProducerId(result.producerId, result.producerEpoch)
  }

  /** A new producer id restarts every partition's sequence at 0 (KIP-360). */
  setProducerId(producerId: number, producerEpoch: number): void {
    this.producerId = producerId
    this.producerEpoch = producerEpoch
    this.needsNewProducerId = false
    for (const q of this.queues.values()) q.nextSequence = 0
  }

  private async drainOnce(): Promise<void> {
    await this.ensureProducerId()
    const now = Date.now()
    const byNode = new Map<number, ProducerBatch[]>()
    const nodeBytes = new Map<number, number>()
    const missingLeaders = new Set<string>()
    let nextWake = Number.POSITIVE_INFINITY
    for (const q of this.queues.values()) {
      const batch = q.batches[0]
      if (!batch || !batch.closed) continue
      if (now - batch.createdAt > this.deliveryTimeoutMs) {
        q.batches.shift()
        this.expire(q, batch)
        this.drainAgain = true
        continue
      }
      if (q.retrying && q.inFlight > 0) continue
      if (batch.attempts > 0 && batch.retryAt > now) {
        nextWake = Math.min(nextWake, batch.retryAt)
        continue
      }
      const leader = this.cluster.leader(q.topic, q.partition)
      if (leader < 0) {
        missingLeaders.add(q.topic)
        continue
      }
      if ((this.nodeInFlight.get(leader) ?? 0) >= this.maxInFlight) continue
      const bytes = nodeBytes.get(leader) ?? 0
      const list = byNode.get(leader)
      if (list && bytes + batch.sizeBytes > this.maxRequestSize) {
        this.drainAgain = true
        continue
      }
      q.batches.shift()
      q.inFlight++
      if (list) list.push(batch)
      else byNode.set(leader, [batch])
      nodeBytes.set(leader, bytes + batch.sizeBytes)
      // The next batch of this partition can go in the next request on the same connection.
      if (q.batches[0]?.closed && !q.retrying) this.drainAgain = true
    }
    if (missingLeaders.size > 0) {
      for (const t of missingLeaders) this.cluster.invalidate(t)
      this.cluster
        .topics([...missingLeaders], { allowAutoTopicCreation: this.allowAutoTopicCreation })
        .catch(() => {})
        .finally(() => this.wakeAt(Date.now() + this.cluster.retryOptions.initialRetryTimeMs))
    }
    if (nextWake !== Number.POSITIVE_INFINITY) this.wakeAt(nextWake)
    if (byNode.size === 0) {
      this.drainAgain = false
      return
    }
    if (this.transactions) await this.transactions.addPendingPartitions()
    for (const [nodeId, batches] of byNode) await this.sendTo(nodeId, batches)
  }

  private async sendTo(nodeId: number, batches: ProducerBatch[]): Promise<void> {
    const transactional = this.transactions !== undefined
    let compressing: Promise<void>[] | undefined
    for (const b of batches) {
      if (b.encoded && b.producerId === this.producerId && b.producerEpoch === this.producerEpoch) continue
      const q = this.queue(b)
      b.producerId = this.idempotent ? this.producerId : -1
      b.producerEpoch = this.idempotent ? this.producerEpoch : -1
      b.baseSequence = -1
      if (this.idempotent) {
        b.baseSequence = q.nextSequence
        q.nextSequence = (q.nextSequence + b.recordCount) % (INT32_MAX + 1)
      }
      const stamp = {
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        baseSequence: b.baseSequence,
        isTransactional: transactional,
      }
      // A batch sent before was answered or its connection is gone: its bytes are no longer in use.
      if (b.encoded) restamp(b.encoded, stamp)
      else if (this.compression === Compression.none) b.encoded = b.builder.build(stamp)
      else {
        compressing ??= []
        compressing.push(
          compress(this.compression, b.builder.records()).then((payload) => {
            b.encoded = b.builder.buildCompressed(this.compression, payload, stamp)
            this.releaseBuffer(b)
          }),
        )
      }
    }
    if (compressing) await Promise.all(compressing)
    const topicData = new Map<string, { index: number; records: Buffer }[]>()
    for (const b of batches) {
      b.attempts++
      const list = topicData.get(b.topic)
      const entry = { index: b.partition, records: b.encoded! }
      if (list) list.push(entry)
      else topicData.set(b.topic, [entry])
    }
    const body = {
      transactionalId: this.transactions?.transactionalId ?? null,
      acks: this.acks,
      timeoutMs: this.ackTimeoutMs,
      topicData: [...topicData].map(([name, partitionData]) => ({ name, partitionData })),
    }
    let conn: Connection
    try {
      conn = await this.cluster.connection(nodeId)
    } catch (err) {
      for (const b of batches) this.failed(b, err as Error)
      return
    }
    if (this.acks === 0) {
      try {
        conn.sendNoResponse(ApiKey.Produce, body)
        for (const b of batches) this.completed(b, -1, -1)
      } catch (err) {
        for (const b of batches) this.failed(b, err as Error)
      }
      return
    }
    this.nodeInFlight.set(nodeId, (this.nodeInFlight.get(nodeId) ?? 0) + 1)
    conn
      .request(ApiKey.Produce, body, {
        timeoutMs: this.ackTimeoutMs + (this.cluster.options.requestTimeoutMs ?? 30_000),
      })
      .then(
        (res) => this.onResponse(batches, res),
        (err: Error) => {
          for (const b of batches) this.failed(b, err)
        },
      )
      .finally(() => {
        this.nodeInFlight.set(nodeId, (this.nodeInFlight.get(nodeId) ?? 1) - 1)
        this.scheduleDrain()
      })
  }

  private onResponse(batches: ProducerBatch[], res: ProduceResponse): void {
    const results = new Map<string, ProduceResponse['responses'][number]['partitionResponses'][number]>()
    for (const t of res.responses)
      for (const p of t.partitionResponses) results.set(`${t.name}\u0000${p.index}`, p)
    for (const b of batches) {
      const p = results.get(`${b.topic}\u0000${b.partition}`)
      if (!p) {
        this.failed(
          b,
          new KafkaError(
            ErrorCode.UNKNOWN_SERVER_ERROR,
            'no result for this partition in the Produce response',
            b,
          ),
        )
        continue
      }
      if (p.errorCode === ErrorCode.NONE) this.completed(b, p.baseOffset, p.logAppendTimeMs)
      // The broker already has this batch from an earlier attempt whose response was lost.
      else if (p.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) this.completed(b, -1, -1)
      else {
        const detail = p.recordErrors[0]?.batchIndexErrorMessage ?? p.errorMessage
        this.failed(b, new KafkaError(p.errorCode, detail, { topic: b.topic, partition: b.partition }))
      }
    }
  }

  private queue(b: ProducerBatch): PartitionQueue {
    return this.queuesByTopic.get(b.topic)![b.partition]
  }

  /** Gives a batch's buffer back to the pool once nothing will read it again. */
  private releaseBuffer(b: ProducerBatch): void {
    if (b.pooled === undefined) return
    this.bufferPool.release(b.pooled)
    b.pooled = undefined
  }

  private completed(b: ProducerBatch, baseOffset: number, logAppendTime: number): void {
    // With acks=0 the request may still sit in the socket's queue: let the buffer go to the GC.
    if (this.acks !== 0) this.releaseBuffer(b)
    else b.pooled = undefined
    const q = this.queue(b)
    q.inFlight--
    if (q.retrying && (q.batches.length === 0 || q.batches[0].encoded === undefined) && q.inFlight === 0)
      q.retrying = false
    b.resolve(baseOffset, logAppendTime)
    this.finish(b)
  }

  private failed(b: ProducerBatch, err: Error): void {
    const q = this.queue(b)
    q.inFlight--
    // Later batches of a partition whose earlier batch failed see a sequence gap: they are retried too.
    const outOfOrderAfterRetry =
      err instanceof KafkaError && err.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && q.retrying
    const retriable = (isRetriable(err) || outOfOrderAfterRetry) && !this.closingAfterFatal()
    if (retriable && Date.now() - b.createdAt < this.deliveryTimeoutMs) {
      if (isStaleMetadataError(err)) this.cluster.invalidate(b.topic)
      if (err instanceof ConnectionError || isStaleMetadataError(err)) {
        this.cluster
          .topics([b.topic], { allowAutoTopicCreation: this.allowAutoTopicCreation })
          .catch(() => {})
      }
      b.retryAt =
        Date.now() +
        backoffMs(
          b.attempts - 1,
          this.cluster.retryOptions.initialRetryTimeMs,
          this.cluster.retryOptions.maxRetryTimeMs,
        )
      q.retrying = this.idempotent
      q.requeue(b)
      this.wakeAt(b.retryAt)
      return
    }
    if (this.idempotent && b.baseSequence >= 0) {
      // The broker's sequence for this partition now has a gap: start over under a new producer id.
      this.needsNewProducerId = true
    }
    b.reject(err)
    this.finish(b)
  }

  private closingAfterFatal(): boolean {
    return this.fatal !== undefined
  }

  private expire(q: PartitionQueue, b: ProducerBatch): void {
    if (this.idempotent && b.baseSequence >= 0) this.needsNewProducerId = true
    if (q.batches.length === 0 || q.batches[0].encoded === undefined) q.retrying = false
    b.reject(
      new DeliveryTimeoutError(
        `${b.recordCount} record(s) for ${b.topic}-${b.partition} expired after ${this.deliveryTimeoutMs} ms`,
      ),
    )
    this.finish(b)
  }

  private finish(b: ProducerBatch, err?: Error): void {
    if (err) b.reject(err)
    this.pendingBatches--
    if (this.pendingBatches === 0) for (const w of this.idleWaiters.splice(0)) w()
  }

  /**
   * Gets the transactional producer id (fencing any older producer with the same transactionalId).
   * beginTransaction() calls it on first use.
   */
  async initTransactions(): Promise<void> {
    const tm = this.requireTransactions()
    if (tm.state !== 'uninitialized') return
    await this.ensureProducerId()
  }

  /** Starts a transaction: records sent until commit or abort are written atomically. */
  async beginTransaction(): Promise<void> {
    await this.initTransactions()
    this.requireTransactions().begin()
  }

  /**
   * Commits consumed offsets with the transaction (consume-transform-produce). `offsets` are the
   * next offsets to read, as with a consumer commit.
   */
  async sendOffsets(group: GroupMetadata | string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    await this.requireTransactions().sendOffsets(
      typeof group === 'string' ? { groupId: group } : group,
      offsets,
    )
  }

  /** Flushes, then commits the transaction. */
  async commitTransaction(): Promise<void> {
    await this.requireTransactions().commit()
  }

  /** Flushes, then aborts the transaction: read_committed consumers never see its records. */
  async abortTransaction(): Promise<void> {
    await this.requireTransactions().abort()
  }

  private requireTransactions(): TransactionManager {
    if (!this.transactions) throw new IllegalStateError('not a transactional producer: set transactionalId')
    return this.transactions
  }

  /** For the transaction manager: waits until nothing is queued or in flight. */
  async waitIdle(): Promise<void> {
    await this.flush()
  }

  /** For tests and the transaction manager. */
  get bufferedBatches(): number {
    return this.pendingBatches
  }
}

function toHeaders(headers: RecordHeaders): RecordHeader[] {
  const out: RecordHeader[] = []
  const entries = Array.isArray(headers) ? headers : Object.entries(headers)
  for (const [key, value] of entries as [string, string | Buffer | null][]) {
    out.push({
      key,
      value: value === null ? null : typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
    })
  }
  return out
}

/** Bytes a record takes as the first of a batch (timestamp and offset deltas 0). */
function firstRecordSize(
  timestamp: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: RecordHeader[] | undefined,
): number {
  return sizingBuilder.recordSize(timestamp, key, value, headers)
}

const sizingBuilder = new RecordBatchBuilder(Buffer.alloc(BATCH_HEADER_BYTES))

/**
 * The resolving functions of the Promise last constructed with `capture`: its executor runs
 * synchronously in the constructor, so they are read right after, before any other Promise exists.
 */
const captured: { resolve: (m: RecordMetadata) => void; reject: (e: Error) => void } = {
  resolve: () => {},
  reject: () => {},
}
function capture(resolve: (m: RecordMetadata) => void, reject: (e: Error) => void): void {
  captured.resolve = resolve
  captured.reject = reject
}

function noop(): void {}
