import type { Logger } from 'pino'
import type { BrokerConfig, TopicConfig } from '../config.js'
import { OffsetMap } from '../log/offset-map.js'
import { StorageError } from '../log/storage-error.js'
import type { CleanOptions, CleanResult, CompactionPolicy, CompactionStatus } from '../storage/types.js'
import type { Cluster, Topic } from './cluster.js'
import type { Partition } from './partition.js'

export interface PartitionClean extends CleanResult {
  topic: string
  partition: number
}

export interface LogCleanerRunOptions {
  /** The cleaner's clock for this pass (compaction lags, delete horizons); Date.now() by default. */
  now?: number
  /** Clean every compacted partition, due or not. */
  force?: boolean
  /** Awaited at each step of each segment swap (see CleanOptions.onPhase). */
  onPhase?: CleanOptions['onPhase']
}

/** What the cleaner may ask of a partition beyond the Partition type: aborted transactions, when it keeps them. */
interface TransactionalPartition {
  abortedTransactions?(
    fetchOffset: number,
    upperBoundOffset: number,
  ): readonly { producerId: number; firstOffset: number; lastOffset: number }[]
}

/**
 * The log cleaner of one broker (Kafka's LogCleaner with its LogCleanerManager): compacts the
 * partitions of topics whose cleanup.policy includes compact, the dirtiest first. Passes never
 * overlap, so one offset map (log.cleaner.dedupe.buffer.size / log.cleaner.threads, allocated at
 * the first clean) serves them all; Fluxo runs one cleaner, whatever log.cleaner.threads says.
 */
export class LogCleaner {
  private map: OffsetMap | null = null
  private running: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | null = null
  private stopped = false

  constructor(
    private readonly cluster: Cluster,
    private readonly config: Pick<
      BrokerConfig,
      'logCleanerDedupeBufferSize' | 'logCleanerIoBufferSize' | 'logCleanerThreads' | 'logCleanerBackoffMs'
    >,
    private readonly logger?: Logger,
  ) {}

  /**
   * One pass: each compacted partition that its policy finds due at `now` (or every one with
   * `force`) is cleaned once, the highest dirty ratio first. A failing partition is logged and
   * skipped. Resolves with the partitions cleaned. Calls queue behind a pass in progress.
   */
  run(options: LogCleanerRunOptions = {}): Promise<PartitionClean[]> {
    const pass = this.running.catch(() => {}).then(() => this.pass(options))
    this.running = pass
    return pass
  }

  /**
   * Runs passes in the background: after a pass that cleaned something the next starts at once
   * (as Kafka's cleaner thread loops), otherwise after log.cleaner.backoff.ms. The timer does not
   * keep the process alive.
   */
  start(): void {
    this.stopped = false
    this.schedule(this.config.logCleanerBackoffMs)
  }

  /** Stops scheduling passes; a clean in progress stops when its log closes. */
  stop(): void {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.run().then(
        (cleaned) => this.schedule(cleaned.length > 0 ? 0 : this.config.logCleanerBackoffMs),
        (err) => {
          this.logger?.error({ err }, 'log cleaner pass failed')
          this.schedule(this.config.logCleanerBackoffMs)
        },
      )
    }, delayMs)
    this.timer.unref()
  }

  private async pass(options: LogCleanerRunOptions): Promise<PartitionClean[]> {
    const now = options.now ?? Date.now()
    const candidates: {
      topic: Topic
      partition: Partition
      policy: CompactionPolicy
      status: CompactionStatus
    }[] = []
    for (const topic of this.cluster.topics()) {
      if (!topic.config.cleanupPolicy.includes('compact')) continue
      for (const partition of topic.partitions) {
        const policy = compactionPolicy(topic.config, partition, now)
        try {
          const status = await partition.log.compactionStatus(policy)
          if (status.due || options.force === true) candidates.push({ topic, partition, policy, status })
        } catch (err) {
          this.failed(err, topic, partition)
        }
      }
    }
    // Kafka's grabFilthiestCompactedLog picks the highest cleanable ratio.
    candidates.sort((a, b) => b.status.dirtyRatio - a.status.dirtyRatio)
    const cleaned: PartitionClean[] = []
    for (const { topic, partition, policy } of candidates) {
      if (this.stopped) break
      // A topic deleted during the pass has closed logs: nothing left to do for it.
      if (this.cluster.topic(topic.name) !== topic) continue
      try {
        const result = await partition.log.clean({
          ...policy,
          offsetMap: this.offsetMap(),
          ioBufferSize: Math.floor(
            this.config.logCleanerIoBufferSize / Math.max(1, this.config.logCleanerThreads),
          ),
          force: options.force,
          onPhase: options.onPhase,
          producerLastOffsets: await producerLastOffsets(partition),
          abortedTransactions: (partition as Partition & TransactionalPartition).abortedTransactions?.(
            partition.logStartOffset,
            policy.uncleanableOffset ?? partition.highWatermark,
          ),
        })
        if (!result.cleaned) continue
        const entry = { topic: topic.name, partition: partition.index, ...result }
        cleaned.push(entry)
        this.logger?.info(
          {
            topic: topic.name,
            partition: partition.index,
            dirtyRatio: result.status.dirtyRatio,
            firstDirtyOffset: result.firstDirtyOffset,
            segmentsCleaned: result.segmentsCleaned,
            segmentsWritten: result.segmentsWritten,
            bytesRead: result.bytesRead,
            bytesWritten: result.bytesWritten,
            recordsRemoved: result.recordsRemoved,
            mapUtilization: result.mapUtilization,
          },
          'log cleaned',
        )
      } catch (err) {
        this.failed(err, topic, partition)
      }
    }
    return cleaned
  }

  private offsetMap(): OffsetMap {
    const threads = Math.max(1, this.config.logCleanerThreads)
    // Kafka caps each cleaner's map below 2 GiB, the largest ByteBuffer.
    this.map ??= new OffsetMap(Math.min(this.config.logCleanerDedupeBufferSize / threads, 2 ** 31 - 1))
    return this.map
  }

  private failed(err: unknown, topic: Topic, partition: Partition): void {
    // A log closed under the cleaner (topic deleted, broker stopping) is no failure.
    if (err instanceof StorageError && /is closed/.test(err.message)) {
      this.logger?.debug({ topic: topic.name, partition: partition.index }, 'log closed during cleaning')
      return
    }
    this.logger?.error({ err, topic: topic.name, partition: partition.index }, 'log cleaning failed')
  }
}

/** The compact policy of one partition at `now`: its topic's configs, bounded by its last stable offset. */
function compactionPolicy(config: TopicConfig, partition: Partition, now: number): CompactionPolicy {
  return {
    now,
    minCompactionLagMs: config.minCompactionLagMs,
    maxCompactionLagMs: config.maxCompactionLagMs,
    minCleanableDirtyRatio: config.minCleanableDirtyRatio,
    deleteRetentionMs: config.deleteRetentionMs,
    uncleanableOffset: partition.lastStableOffset,
  }
}

/** The last data offset of each producer with state on the partition (Kafka's lastRecordsOfActiveProducers). */
async function producerLastOffsets(partition: Partition): Promise<Map<number, number>> {
  const offsets = new Map<number, number>()
  for (const entry of await partition.activeProducers()) {
    const last = entry.batches[entry.batches.length - 1]
    if (last !== undefined) offsets.set(entry.producerId, last.lastOffset)
  }
  return offsets
}
