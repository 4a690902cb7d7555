/**
 * The storage interface every backend implements (memory, file; postgres later). The broker's
 * partition layer sits above it: validation, long-poll waiters and ordering live there, not here.
 *
 * Record batches are opaque bytes here: a backend stores what it is given after the partition layer
 * has patched the base offset, and returns whole batches on read.
 */

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
   * Takes new settings (a topic config change). Rolling and flushing follow them from the next
   * append; existing segments keep their index interval.
   */
  updateConfig(config: LogConfig): void

  /** fsync everything appended so far. */
  flush(): Promise<void>
  close(): Promise<void>
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
