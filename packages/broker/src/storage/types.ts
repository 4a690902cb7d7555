/**
 * The storage interface every backend implements (memory, file; postgres later). The broker's
 * partition layer sits above it: validation, long-poll waiters and ordering live there, not here.
 *
 * Record batches are opaque bytes here: a backend stores what it is given after the partition layer
 * has patched the base offset, and returns whole batches on read.
 */

import type { OffsetMap } from '../log/offset-map.js'

/** Per-partition settings a backend needs, resolved from topic configs (Kafka names in comments). */
export interface LogConfig {
  /** segment.bytes: roll the active segment when it would grow past this. */
  segmentBytes: number
  /** segment.ms: roll the active segment when its first batch is older than this. */
  segmentMs: number
  /** index.interval.bytes: bytes between sparse offset/time index entries. */
  indexIntervalBytes: number
  /** flush.messages: fsync after this many records (Number.MAX_SAFE_INTEGER = never by count). */
  flushMessages: number
  /** flush.ms: fsync when the oldest unflushed data is older than this (null = never by time). */
  flushMs: number | null
}

export interface AppendResult {
  /** Offset assigned to the first record of the first batch. */
  baseOffset: number
  /** Offset of the last record appended. */
  lastOffset: number
}

export interface ReadResult {
  /** Whole batches, in offset order; the first contains the requested offset. */
  batches: Buffer[]
  bytes: number
}

export interface TimestampLookup {
  offset: number
  timestamp: number
}

/** The delete cleanup policy's limits for one run (a topic's retention.ms and retention.bytes). */
export interface RetentionPolicy {
  /** retention.ms: delete segments whose largest timestamp is more than this older than `now`; -1 = no limit. */
  retentionMs: number
  /** retention.bytes: delete the oldest segments while the log stays at least this large; -1 = no limit. */
  retentionBytes: number
  /** Wall-clock time of the run, in ms. */
  now: number
}

export interface RetentionResult {
  deletedSegments: number
  deletedBytes: number
  /** The log start offset after the run. */
  logStartOffset: number
}

/** The compact cleanup policy's settings for one run: a topic's configs and the cleaner's clock. */
export interface CompactionPolicy {
  /** Wall-clock time of the run, in ms. */
  now: number
  /** min.compaction.lag.ms: a segment holding a record younger than this is not cleaned yet. */
  minCompactionLagMs: number
  /** max.compaction.lag.ms: a dirty segment whose first batch is older than this is cleaned whatever the ratio. */
  maxCompactionLagMs: number
  /** min.cleanable.dirty.ratio: clean once dirty bytes / (clean + dirty bytes) exceeds this. */
  minCleanableDirtyRatio: number
  /** delete.retention.ms: how long a tombstone stays once a clean has seen it (its delete horizon, KIP-534). */
  deleteRetentionMs: number
  /** Nothing at or above this offset is cleaned: the last stable offset. Default: the log end offset. */
  uncleanableOffset?: number
}

/** Points of a segment swap where CleanOptions.onPhase is awaited. */
export type CleanPhase =
  /** The replacement segment is written and durable; the swap is not committed (a crash discards it). */
  | 'cleaned'
  /** The swap is committed; the replaced segments are still on disk (a crash completes the swap on open). */
  | 'swapped'

export interface CleanOptions extends CompactionPolicy {
  /** The key → offset map (log/offset-map.ts), reused across runs; its size bounds the keys one run dedupes. */
  offsetMap: OffsetMap
  /** log.cleaner.io.buffer.size: bytes of the read and write buffers together. */
  ioBufferSize: number
  /** Clean even when the policy does not call for it. */
  force?: boolean
  /**
   * Last data offset of each producer whose state the partition keeps: that batch stays, emptied of
   * records if need be, so the producer's sequence numbers survive cleaning (as in Kafka).
   */
  producerLastOffsets?: ReadonlyMap<number, number>
  /**
   * The partition's aborted transactions (Kafka's transaction index) from logStartOffset up to
   * uncleanableOffset. With them, aborted records are removed and committed transactional records
   * supersede older ones; without them, transactional records are kept unless a later
   * non-transactional record of their key supersedes them, and never supersede others.
   */
  abortedTransactions?: readonly { producerId: number; firstOffset: number; lastOffset: number }[]
  /** Awaited at each step of each segment swap; tests use it to crash a broker in the middle. */
  onPhase?: (phase: CleanPhase, segment: { baseOffset: number }) => void | Promise<void>
}

/** Where a log stands for the compact policy (Kafka's LogToClean and LogCleanerManager.cleanableOffsets). */
export interface CompactionStatus {
  /** The first offset the last clean did not cover (its checkpoint), or logStartOffset. */
  firstDirtyOffset: number
  /** Cleaning stops before this offset: the active segment, min.compaction.lag.ms, the last stable offset. */
  firstUncleanableOffset: number
  /** Bytes of segments starting below firstDirtyOffset. */
  cleanBytes: number
  /** Bytes of segments from firstDirtyOffset up to the first uncleanable segment. */
  cleanableBytes: number
  /** cleanableBytes / (cleanBytes + cleanableBytes); 0 for an empty log. */
  dirtyRatio: number
  /** How long ago max.compaction.lag.ms ran out for the oldest dirty segment; 0 when it has not. */
  compactionDelayMs: number
  /** The earliest delete horizon of a tombstone left by the last clean, or -1 when none is. */
  deleteHorizonMs: number
  /**
   * The policy calls for a clean: the dirty ratio exceeds min.cleanable.dirty.ratio, or
   * max.compaction.lag.ms ran out with bytes to clean, or a tombstone's delete horizon passed.
   */
  due: boolean
}

export interface CleanResult {
  /** False when the log was not due (and `force` unset): nothing was read or written. */
  cleaned: boolean
  /** The log's status when the run began. */
  status: CompactionStatus
  /** The next run's firstDirtyOffset: below the uncleanable offset when the offset map filled up. */
  firstDirtyOffset: number
  /** Segments read and rewritten, and the segments that replaced them. */
  segmentsCleaned: number
  segmentsWritten: number
  bytesRead: number
  bytesWritten: number
  recordsRead: number
  recordsRemoved: number
  /** Share of the offset map's capacity this run used. */
  mapUtilization: number
}

/** One partition's log. Backends serialise appends: offsets are assigned in call order. */
export interface PartitionLog {
  /** First offset still stored. */
  readonly logStartOffset: number
  /** Offset the next appended record gets (the high watermark on a single node). */
  readonly logEndOffset: number

  /**
   * Appends batches that have already been validated. The backend writes each batch's base offset
   * into its header (bytes 0..7, outside the CRC) and stores it. When the returned promise
   * resolves, the data is in the operating system (a process crash loses nothing); with
   * `sync: true` it is also fsynced (a power loss loses nothing). The buffers are handed over: the
   * caller must not reuse them (the memory backend may keep them instead of copying).
   */
  append(batches: readonly Buffer[], options?: { sync?: boolean }): Promise<AppendResult>

  /**
   * Reads whole batches from the batch containing `offset` onwards, stopping before a batch
   * that would make the total exceed `maxBytes` — except the first batch, which is returned whole
   * even when larger (KIP-74), so a consumer always progresses.
   * Offsets outside [logStartOffset, logEndOffset] are the caller's to reject.
   */
  read(offset: number, maxBytes: number): Promise<ReadResult>

  /** First offset whose batch maxTimestamp >= timestamp (ListOffsets by time), or null if none. */
  offsetForTimestamp(timestamp: number): Promise<TimestampLookup | null>

  /** Offset and timestamp of the record with the largest timestamp (ListOffsets -3, KIP-734). */
  maxTimestamp(): Promise<TimestampLookup | null>

  /**
   * Applies cleanup.policy=delete as Kafka's UnifiedLog.deleteOldSegments does. Only whole segments
   * go, oldest first, and deletion stops at the first segment that must stay. A segment goes when
   * it lies wholly below logStartOffset, when its largest timestamp is more than retentionMs before
   * `now` (the file's modification time when no batch has a timestamp), or while the log minus the
   * segment is still at least retentionBytes. The active segment counts too when it is not empty:
   * when every segment is to go, a new empty one is rolled at logEndOffset first, so the log is
   * never without a segment. logStartOffset then moves to the first remaining segment's base
   * offset, and survives restart where the backend persists data.
   */
  deleteRetained(policy: RetentionPolicy): Promise<RetentionResult>

  /**
   * Moves logStartOffset up to `offset` (DeleteRecords, KIP-107). Takes effect at once for reads
   * and lookups; a lower offset than the current start is a no-op (the start never moves back).
   * Rejects with a RangeError when `offset` is past logEndOffset. Resolves once the new start is
   * persisted where the backend persists data. No segment is removed here: as in Kafka, the next
   * retention pass deletes the segments that now lie wholly below the start.
   */
  advanceLogStartOffset(offset: number): Promise<void>

  /** Bytes of batches the log holds (Kafka's UnifiedLog.size: every segment, the active one too). */
  size(): number

  /** Where the log stands for cleanup.policy=compact (what the log cleaner picks the dirtiest log by). */
  compactionStatus(policy: CompactionPolicy): Promise<CompactionStatus>

  /**
   * Applies cleanup.policy=compact as Kafka's log cleaner does, when the policy calls for it (or
   * `force`): keeps the latest record of each key in [logStartOffset, firstUncleanableOffset) and
   * drops tombstones whose delete horizon passed. The active segment is never touched. Offsets do
   * not change (reads at a removed offset return the next batch); batches keep their base offset,
   * last offset delta, producer fields and codec. Closed segments are rewritten in groups no larger
   * than segment.bytes, each swapped in atomically: a crash at any point leaves the log as before
   * the group or as after it, never in between. The offset map bounds memory: when the dirty part
   * holds more keys than fit, the run stops where it filled and the next run continues from there.
   * Runs are serialised with deleteRetained. See docs/compaction.md.
   */
  clean(options: CleanOptions): Promise<CleanResult>

  /**
   * The newest producer-state snapshot (Kafka's <offset>.snapshot files) whose offset is at most
   * logEndOffset, or null when there is none; snapshots past the log end (a tail lost in a crash)
   * are discarded. The memory backend keeps none: its partitions rebuild by scanning the log.
   */
  readProducerSnapshot(): Promise<ProducerSnapshot | null>

  /**
   * Registers what the log calls for a producer-state snapshot when it rolls a segment and when it
   * closes; the callback returns null when it has nothing to write. Backends without snapshot files
   * ignore it. Snapshots are written without fsync: a lost or torn one (CRC in the data) only means
   * a longer scan at the next open.
   */
  setProducerSnapshotSource(source: () => ProducerSnapshot | null): void

  /**
   * Takes new settings (a topic config change). Rolling and flushing follow them from the next
   * append; existing segments keep their index interval.
   */
  updateConfig(config: LogConfig): void

  /** fsync everything appended so far. */
  flush(): Promise<void>
  close(): Promise<void>
}

/** Producer state (idempotence, transactions) as of `offset`: covers every batch below it. */
export interface ProducerSnapshot {
  offset: number
  /** Opaque to the backend: the partition layer's format, with its own CRC. */
  data: Buffer
}

/** What survives restart about a topic. */
export interface TopicRecord {
  name: string
  /** Kafka topic id, base64url of 16 bytes as Kafka prints it. */
  topicId: string
  partitions: number
  /** Topic-level config overrides (Kafka names), as given at creation or by AlterConfigs. */
  configs: Record<string, string>
}

export interface LogStore {
  readonly kind: 'memory' | 'file'
  /** Absolute path of the data directory (Kafka's log dir, for DescribeLogDirs); null in memory. */
  readonly logDir: string | null
  /** Cluster id, generated once and then stable across restarts. */
  clusterId(): Promise<string>
  loadTopics(): Promise<TopicRecord[]>
  saveTopic(topic: TopicRecord): Promise<void>
  /** Removes the topic record and all its partition data. */
  deleteTopic(topic: TopicRecord): Promise<void>
  /** Opens (creating when missing, recovering when present) one partition's log. */
  openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog>
  /** Flushes and closes every open partition. */
  close(): Promise<void>
}
