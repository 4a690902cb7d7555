import fs from 'node:fs'
import path from 'node:path'
import { BatchHeader, setBaseOffset } from '@fluxo/protocol'
import type { Logger } from 'pino'
import type {
  AppendResult,
  CleanOptions,
  CleanResult,
  CompactionPolicy,
  CompactionStatus,
  LogConfig,
  PartitionLog,
  ProducerSnapshot,
  ReadResult,
  RetentionPolicy,
  RetentionResult,
  TimestampLookup,
} from '../storage/types.js'
import {
  type CleanableLog,
  type CleanerCheckpoint,
  FileCleanerSegment,
  cleanLog,
  compactionStatus,
  readCleanerCheckpoint,
  recoverCleanerFiles,
  startFileReplacement,
  writeCleanerCheckpoint,
} from './cleaner.js'
import { deletableSegments } from './deletable-segments.js'
import { type LogIo, defaultLogIo } from './file-io.js'
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  LogSegment,
  type SegmentMark,
  TIME_INDEX_SUFFIX,
  segmentFileName,
} from './segment.js'
import { StorageError, toStorageError } from './storage-error.js'

const MAX_TIMER_MS = 2 ** 31 - 1

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/
/**
 * The log start offset, kept per partition directory (Kafka keeps one log-start-offset-checkpoint
 * per data directory): a version line, then the offset.
 */
const CHECKPOINT_FILE = 'log-start-offset-checkpoint'
const CHECKPOINT_VERSION = 0

export interface FileLogOptions {
  /** The partition directory, `<dataDir>/<topic>-<partition>`. */
  dir: string
  config: LogConfig
  logger: Logger
  /** Write and fsync calls; tests inject failures here. */
  io?: LogIo
  /** Wall clock for segment.ms; Date.now by default. */
  now?: () => number
}

/**
 * A partition log on local files, laid out as Kafka lays it out: segments named by base offset,
 * each a .log file of record batches with a sparse .index and .timeindex.
 *
 * Appends are synchronous writes to a kept-open descriptor (the data is in the OS when append
 * resolves), so offsets are assigned in call order without a queue; fsyncs are asynchronous and
 * grouped (one fsync serves every append that arrived while the previous one ran).
 */
export class FileLog implements PartitionLog {
  private readonly segments: LogSegment[]
  private readonly io: LogIo
  private readonly now: () => number
  private readonly logger: Logger
  private config: LogConfig
  private nextOffset: number
  /** Kafka's logStartOffset: never below the first segment's base offset, never moves back. */
  private startOffset: number
  /** Retention runs one at a time, so checkpoints are written in the order offsets advance. */
  private retention: Promise<unknown> = Promise.resolve()
  /** The log cleaner's checkpoint, read on first use (undefined until then). */
  private cleanerCheckpoint: CleanerCheckpoint | null | undefined = undefined
  private dirFd: number
  /** Segments written since their last fsync, and whether the directory gained files. */
  private readonly dirty = new Set<LogSegment>()
  private dirDirty = false
  private unflushedRecords = 0
  private flushTimer: NodeJS.Timeout | null = null
  private flushInFlight: Promise<void> | null = null
  private flushQueued: Promise<void> | null = null
  /** Set when the log can no longer be trusted (fsync or rollback failed): every call fails. */
  private offline: StorageError | null = null
  private closed = false
  /** The partition layer's producer state, snapshotted on segment roll and at close. */
  private snapshotSource: (() => ProducerSnapshot | null) | null = null

  private constructor(
    readonly dir: string,
    segments: LogSegment[],
    dirFd: number,
    logStartOffset: number,
    options: FileLogOptions,
  ) {
    this.segments = segments
    this.dirFd = dirFd
    this.io = options.io ?? defaultLogIo
    this.now = options.now ?? Date.now
    this.logger = options.logger
    this.config = options.config
    this.nextOffset = this.active.nextOffset
    this.startOffset = Math.max(logStartOffset, this.segments[0].baseOffset)
  }

  /** Opens the log in `dir`, creating it when missing and recovering it when present. */
  static open(options: FileLogOptions): FileLog {
    const { dir, logger } = options
    const segmentOptions = {
      io: options.io ?? defaultLogIo,
      indexIntervalBytes: options.config.indexIntervalBytes,
    }
    fs.mkdirSync(dir, { recursive: true })
    recoverCleanerFiles(dir, logger)
    const logs = new Set<number>()
    const indexFiles: string[] = []
    for (const name of fs.readdirSync(dir)) {
      const match = SEGMENT_FILE.exec(name)
      if (match === null) continue
      if (match[2] === 'log') logs.add(Number(match[1]))
      else indexFiles.push(name)
    }
    for (const name of indexFiles) {
      if (!logs.has(Number(name.slice(0, 20)))) fs.rmSync(path.join(dir, name), { force: true })
    }
    const baseOffsets = [...logs].sort((a, b) => a - b)
    const segments: LogSegment[] = []
    try {
      for (let i = 0; i < baseOffsets.length; i++) {
        const last = i === baseOffsets.length - 1
        const { segment, truncation } = LogSegment.open(dir, baseOffsets[i], last, segmentOptions)
        segments.push(segment)
        if (truncation === null) continue
        logger.warn(
          { segment: segment.logPath, position: truncation.position, truncatedBytes: truncation.bytes },
          `truncated corrupt log tail: ${truncation.reason}`,
        )
        if (!last) {
          // Offsets must stay contiguous: what followed a cut segment cannot be trusted (as Kafka).
          for (const later of baseOffsets.slice(i + 1)) {
            logger.warn(
              { segment: path.join(dir, segmentFileName(later, LOG_SUFFIX)) },
              'deleting segment after corruption',
            )
            for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
              fs.rmSync(path.join(dir, segmentFileName(later, suffix)), { force: true })
            }
          }
          void segments.pop()!.close(false)
          segments.push(LogSegment.open(dir, baseOffsets[i], true, segmentOptions).segment)
          break
        }
      }
      if (segments.length === 0) segments.push(LogSegment.create(dir, 0, segmentOptions))
      const logStartOffset = readCheckpoint(dir, logger)
      const last = segments[segments.length - 1]
      if (logStartOffset > last.nextOffset) {
        // Recovery cut the log below its checkpointed start (unflushed tail lost): like Kafka's
        // LogLoader, drop every segment and start empty at the log start offset.
        logger.warn(
          { dir, logStartOffset, logEndOffset: last.nextOffset },
          'log end offset is below the log start offset; deleting all segments',
        )
        for (const segment of segments.splice(0)) segment.destroy()
        segments.push(LogSegment.create(dir, logStartOffset, segmentOptions))
      }
      return new FileLog(dir, segments, fs.openSync(dir, 'r'), logStartOffset, options)
    } catch (err) {
      for (const segment of segments) void segment.close(false).catch(() => {})
      throw toStorageError(err, `cannot open log ${dir}`)
    }
  }

  get logStartOffset(): number {
    return this.startOffset
  }

  get logEndOffset(): number {
    return this.nextOffset
  }

  get isClosed(): boolean {
    return this.closed
  }

  private get active(): LogSegment {
    return this.segments[this.segments.length - 1]
  }

  append(batches: readonly Buffer[], options?: { sync?: boolean }): Promise<AppendResult> {
    let result: AppendResult
    try {
      result = this.appendSync(batches)
    } catch (err) {
      return Promise.reject(err)
    }
    const records = result.lastOffset - result.baseOffset + 1
    if (records > 0) {
      this.unflushedRecords += records
      if (
        options?.sync === true ||
        this.unflushedRecords >= this.config.flushMessages ||
        this.config.flushMs === 0
      ) {
        return this.flush().then(() => result)
      }
      this.scheduleFlush()
    } else if (options?.sync === true) {
      return this.flush().then(() => result)
    }
    return Promise.resolve(result)
  }

  private appendSync(batches: readonly Buffer[]): AppendResult {
    this.checkUsable()
    const first = this.nextOffset
    const now = this.now()
    const segmentCount = this.segments.length
    const startSegment = this.active
    const mark: SegmentMark = startSegment.mark()
    let segment = startSegment
    let next = first
    let groupStart = 0
    let groupBytes = 0
    try {
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i]
        const lastOffsetDelta =
          batch.length >= BatchHeader.size ? batch.readInt32BE(BatchHeader.lastOffsetDelta) : -1
        // Reads trust batchLength, so a buffer that disagrees with it would corrupt the log.
        if (lastOffsetDelta < 0 || batch.readInt32BE(BatchHeader.batchLength) + 12 !== batch.length) {
          throw new StorageError(`batch ${i} of the append is malformed (length or lastOffsetDelta)`)
        }
        const lastOffset = next + lastOffsetDelta
        if (
          segment.isFull(groupBytes, batch.length, lastOffset, this.config.segmentBytes) ||
          this.isOld(segment, now)
        ) {
          segment.append(batches, groupStart, i, now)
          segment = this.roll(next)
          groupStart = i
          groupBytes = 0
        }
        setBaseOffset(batch, next)
        groupBytes += batch.length
        next = lastOffset + 1
      }
      segment.append(batches, groupStart, batches.length, now)
    } catch (err) {
      this.undo(segmentCount, startSegment, mark)
      throw toStorageError(err, `append to ${this.dir} failed`)
    }
    this.nextOffset = next
    this.dirty.add(segment)
    if (this.segments.length > segmentCount) {
      for (let i = segmentCount - 1; i < this.segments.length - 1; i++) {
        const rolled = this.segments[i]
        this.dirty.add(rolled)
        try {
          rolled.deactivate()
        } catch (err) {
          // The data is safe; only the index files are missing, and the next open rebuilds them.
          this.logger.warn({ err, segment: rolled.logPath }, 'cannot write index files of a rolled segment')
        }
      }
      this.dirDirty = true
      this.writeProducerSnapshot()
      // Kafka flushes a rolled segment in the background so that only the active one needs recovery.
      this.flush().catch((err) =>
        this.logger.error({ err, dir: this.dir }, 'flush after segment roll failed'),
      )
    }
    return { baseOffset: first, lastOffset: next - 1 }
  }

  /** segment.ms: the segment's first append is older than the limit. */
  private isOld(segment: LogSegment, now: number): boolean {
    return segment.firstAppendAt !== null && now - segment.firstAppendAt > this.config.segmentMs
  }

  private roll(baseOffset: number): LogSegment {
    const segment = LogSegment.create(this.dir, baseOffset, {
      io: this.io,
      indexIntervalBytes: this.config.indexIntervalBytes,
    })
    this.segments.push(segment)
    return segment
  }

  /** Restores the log to its state before a failed append; if even that fails, takes it offline. */
  private undo(segmentCount: number, startSegment: LogSegment, mark: SegmentMark): void {
    try {
      while (this.segments.length > segmentCount) this.segments.pop()!.destroy()
      startSegment.rollback(mark)
    } catch (err) {
      this.offline = toStorageError(err, `log ${this.dir} is offline: rollback of a failed append failed`)
      this.logger.error({ err, dir: this.dir }, 'rollback of a failed append failed; log offline')
    }
  }

  read(offset: number, maxBytes: number): Promise<ReadResult> {
    try {
      return Promise.resolve(this.readSync(offset, maxBytes))
    } catch (err) {
      return Promise.reject(toStorageError(err, `read from ${this.dir} failed`))
    }
  }

  private readSync(offset: number, maxBytes: number): ReadResult {
    this.checkUsable()
    const batches: Buffer[] = []
    let bytes = 0
    if (offset >= this.nextOffset) return { batches, bytes }
    let index = this.segmentFor(offset)
    let position = -1
    while (index < this.segments.length) {
      position = this.segments[index].findBatch(offset)
      if (position >= 0) break
      index++
    }
    while (position >= 0 && index < this.segments.length) {
      const result = this.segments[index].read(position, maxBytes - bytes, batches.length === 0)
      for (const batch of result.batches) batches.push(batch)
      bytes += result.bytes
      if (!result.reachedEnd || bytes >= maxBytes) break
      index++
      position = 0
    }
    return { batches, bytes }
  }

  /** Index of the last segment whose base offset is <= offset (0 when offset precedes them all). */
  private segmentFor(offset: number): number {
    let lo = 0
    let hi = this.segments.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.segments[mid].baseOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  offsetForTimestamp(timestamp: number): Promise<TimestampLookup | null> {
    try {
      this.checkUsable()
      for (const segment of this.segments) {
        const found = segment.findTimestamp(timestamp)
        if (found !== null) return Promise.resolve(found)
      }
      return Promise.resolve(null)
    } catch (err) {
      return Promise.reject(toStorageError(err, `timestamp lookup in ${this.dir} failed`))
    }
  }

  maxTimestamp(): Promise<TimestampLookup | null> {
    try {
      this.checkUsable()
    } catch (err) {
      return Promise.reject(err)
    }
    let best: TimestampLookup | null = null
    for (const segment of this.segments) {
      if (segment.offsetOfMaxTimestamp >= 0 && (best === null || segment.maxTimestamp > best.timestamp)) {
        best = { offset: segment.offsetOfMaxTimestamp, timestamp: segment.maxTimestamp }
      }
    }
    return Promise.resolve(best)
  }

  updateConfig(config: LogConfig): void {
    this.config = config
  }

  size(): number {
    let bytes = 0
    for (const segment of this.segments) bytes += segment.size
    return bytes
  }

  /**
   * The new start is visible at once; the checkpoint is written behind any retention run in
   * progress, so checkpoints land in the order the start offset advanced. Each write records the
   * start offset current at that moment, never an older one.
   */
  advanceLogStartOffset(offset: number): Promise<void> {
    try {
      this.checkUsable()
    } catch (err) {
      return Promise.reject(err)
    }
    if (offset > this.nextOffset) {
      return Promise.reject(
        new RangeError(`log start offset ${offset} is past the log end offset ${this.nextOffset}`),
      )
    }
    if (offset <= this.startOffset) return this.retention.then(noop, noop)
    this.startOffset = offset
    const write = this.retention
      .catch(() => {})
      .then(() => this.writeCheckpoint(this.startOffset))
      .catch((err) => {
        throw toStorageError(err, `cannot write the log start offset checkpoint of ${this.dir}`)
      })
    this.retention = write
    return write
  }

  deleteRetained(policy: RetentionPolicy): Promise<RetentionResult> {
    const run = this.retention.catch(() => {}).then(() => this.deleteSegments(policy))
    this.retention = run
    return run
  }

  compactionStatus(policy: CompactionPolicy): Promise<CompactionStatus> {
    try {
      this.checkUsable()
      return Promise.resolve(compactionStatus(this.cleanable(), policy))
    } catch (err) {
      return Promise.reject(toStorageError(err, `compaction status of ${this.dir} failed`))
    }
  }

  /**
   * Runs in the retention chain: retention closes the segments it deletes, which must not happen
   * under a clean reading them. A close during a clean stops it at the next batch.
   */
  clean(options: CleanOptions): Promise<CleanResult> {
    const run = this.retention
      .catch(() => {})
      .then(() => cleanLog(this.cleanable(), options))
      .catch((err) => {
        throw toStorageError(err, `cleaning ${this.dir} failed`)
      })
    this.retention = run
    return run
  }

  /** This log as the cleaner (log/cleaner.ts) sees it. */
  private cleanable(): CleanableLog<FileCleanerSegment> {
    const log = this
    return {
      get logStartOffset() {
        return log.startOffset
      },
      get logEndOffset() {
        return log.nextOffset
      },
      get segmentBytes() {
        return log.config.segmentBytes
      },
      segments: () => this.segments.map((segment) => new FileCleanerSegment(segment)),
      checkpoint: () => {
        this.cleanerCheckpoint ??= readCleanerCheckpoint(this.dir, this.logger)
        return this.cleanerCheckpoint
      },
      saveCheckpoint: async (checkpoint) => {
        await writeCleanerCheckpoint(this.dir, checkpoint, this.io, this.dirFd)
        this.cleanerCheckpoint = checkpoint
      },
      replace: (group, onPhase) => {
        const next = this.segments[this.segments.indexOf(group[group.length - 1].segment) + 1]
        return startFileReplacement(
          group,
          next.baseOffset,
          {
            dir: this.dir,
            io: this.io,
            dirFd: this.dirFd,
            indexIntervalBytes: this.config.indexIntervalBytes,
            logger: this.logger,
            swap: (old, replacement) => {
              const at = this.segments.indexOf(old[0])
              if (at < 0 || this.segments[at + old.length - 1] !== old[old.length - 1]) {
                throw new StorageError(`segments of ${this.dir} changed under the cleaner`)
              }
              this.segments.splice(at, old.length, replacement)
              for (const segment of old) this.dirty.delete(segment)
            },
            retire: async (old) => {
              // As in deleteSegments: an fsync in flight may still use the old descriptors.
              if (this.flushInFlight !== null) await this.flushInFlight.catch(() => {})
              for (const segment of old) await segment.close(false).catch(() => {})
            },
          },
          onPhase,
        )
      },
      checkOpen: () => this.checkUsable(),
    }
  }

  /**
   * Segments are unlinked at once rather than renamed to .deleted for file.delete.delay.ms as
   * Kafka does: Kafka needs the delay because reads hand out file regions (sendfile) that outlive
   * the lookup, but ours copy the bytes in one synchronous call, so no read can see a segment
   * after it leaves `segments`. Only an fsync in flight may still use a descriptor: those are
   * closed after it ends.
   */
  private async deleteSegments(policy: RetentionPolicy): Promise<RetentionResult> {
    this.checkUsable()
    const count = deletableSegments(this.segments, this.startOffset, policy)
    if (count === 0) return { deletedSegments: 0, deletedBytes: 0, logStartOffset: this.startOffset }
    if (count === this.segments.length) {
      // The log always keeps a segment: roll an empty one at the log end offset to replace them all.
      try {
        this.roll(this.nextOffset)
      } catch (err) {
        throw toStorageError(err, `cannot roll a segment in ${this.dir}`)
      }
      this.dirDirty = true
    }
    const doomed = this.segments.splice(0, count)
    let deletedBytes = 0
    for (const segment of doomed) {
      this.dirty.delete(segment)
      deletedBytes += segment.size
    }
    const pendingFsync = this.flushInFlight
    this.startOffset = Math.max(this.startOffset, this.segments[0].baseOffset)
    const logStartOffset = this.startOffset
    try {
      await this.writeCheckpoint(logStartOffset)
    } catch (err) {
      // Not fatal: once the segment files are gone, reopening derives the same start offset from
      // the first remaining segment.
      this.logger.warn({ err, dir: this.dir }, 'cannot write the log start offset checkpoint')
    }
    for (const segment of doomed) {
      try {
        segment.removeFiles()
      } catch (err) {
        // The next run after a restart deletes it again: it lies below the log start offset.
        this.logger.warn({ err, segment: segment.logPath }, 'cannot delete segment files')
      }
    }
    if (pendingFsync !== null) await pendingFsync.catch(() => {})
    for (const segment of doomed) await segment.close(false).catch(() => {})
    return { deletedSegments: doomed.length, deletedBytes, logStartOffset }
  }

  /** Replaces the checkpoint atomically; the directory fsync also makes a rolled segment's entry durable. */
  private async writeCheckpoint(offset: number): Promise<void> {
    const file = path.join(this.dir, CHECKPOINT_FILE)
    const tmp = `${file}.tmp`
    const handle = await fs.promises.open(tmp, 'w')
    try {
      await handle.writeFile(`${CHECKPOINT_VERSION}\n${offset}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.promises.rename(tmp, file)
    await this.io.fsync(this.dirFd)
  }

  /**
   * fsyncs everything appended before the call. Calls arriving while an fsync runs share the next
   * one (group commit), so a burst of `sync: true` appends costs two fsyncs, not one each.
   */
  flush(): Promise<void> {
    if (this.offline !== null) return Promise.reject(this.offline)
    if (this.flushQueued !== null) return this.flushQueued
    if (this.flushInFlight !== null) {
      const queued = this.flushInFlight
        .catch(() => {})
        .then(() => {
          this.flushQueued = null
          return this.startFlush()
        })
      this.flushQueued = queued
      return queued
    }
    return this.startFlush()
  }

  private startFlush(): Promise<void> {
    if (this.offline !== null) return Promise.reject(this.offline)
    const segments = [...this.dirty]
    const dir = this.dirDirty
    this.dirty.clear()
    this.dirDirty = false
    this.unflushedRecords = 0
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer)
      this.flushTimer = null
    }
    if (segments.length === 0 && !dir) return Promise.resolve()
    const syncs = segments.map((segment) => segment.fsync())
    if (dir) syncs.push(this.io.fsync(this.dirFd))
    const inFlight = Promise.all(syncs).then(
      () => {},
      (err) => {
        // After a failed fsync the page cache state is unknown (the data may be silently gone):
        // like Kafka, stop using the log rather than acknowledge writes that may be lost.
        this.offline ??= toStorageError(err, `fsync of ${this.dir} failed; log offline`)
        this.logger.error({ err, dir: this.dir }, 'fsync failed; log offline')
        throw this.offline
      },
    )
    this.flushInFlight = inFlight
    const done = () => {
      if (this.flushInFlight === inFlight) this.flushInFlight = null
    }
    inFlight.then(done, done)
    return inFlight
  }

  private scheduleFlush(): void {
    const flushMs = this.config.flushMs
    // Kafka's default flush.ms is Long.MAX_VALUE ("never"); timers cannot wait past 2^31-1 ms.
    if (flushMs === null || flushMs > MAX_TIMER_MS || this.flushTimer !== null) return
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null
      this.flush().catch((err) => this.logger.error({ err, dir: this.dir }, 'scheduled flush failed'))
    }, flushMs)
    this.flushTimer.unref()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.flushTimer !== null) clearTimeout(this.flushTimer)
    this.flushTimer = null
    await this.retention.catch(() => {})
    let failure: unknown = null
    if (this.offline === null) this.writeProducerSnapshot()
    try {
      if (this.offline === null) await this.flush()
    } catch (err) {
      failure = err
    }
    if (this.flushInFlight !== null) await this.flushInFlight.catch(() => {})
    const last = this.active
    for (const segment of this.segments) await segment.close(segment === last)
    fs.closeSync(this.dirFd)
    this.dirFd = -1
    if (failure !== null) throw toStorageError(failure, `closing ${this.dir} failed`)
  }

  readProducerSnapshot(): Promise<ProducerSnapshot | null> {
    try {
      this.checkUsable()
      const offsets = this.snapshotOffsets()
      for (const offset of offsets.filter((o) => o > this.nextOffset)) {
        fs.rmSync(path.join(this.dir, snapshotFileName(offset)), { force: true })
      }
      const newest = offsets.filter((o) => o <= this.nextOffset).at(-1)
      if (newest === undefined) return Promise.resolve(null)
      return Promise.resolve({
        offset: newest,
        data: fs.readFileSync(path.join(this.dir, snapshotFileName(newest))),
      })
    } catch (err) {
      return Promise.reject(toStorageError(err, `cannot read a producer snapshot in ${this.dir}`))
    }
  }

  setProducerSnapshotSource(source: () => ProducerSnapshot | null): void {
    this.snapshotSource = source
  }

  /** Offsets of the snapshot files in the directory, ascending. */
  private snapshotOffsets(): number[] {
    const offsets: number[] = []
    for (const name of fs.readdirSync(this.dir)) {
      const match = SNAPSHOT_FILE.exec(name)
      if (match !== null) offsets.push(Number(match[1]))
      else if (name.endsWith(`${SNAPSHOT_SUFFIX}.tmp`)) fs.rmSync(path.join(this.dir, name), { force: true })
    }
    return offsets.sort((a, b) => a - b)
  }

  /**
   * Writes `<offset>.snapshot` (through a temporary file and a rename) and keeps the newest
   * SNAPSHOTS_KEPT. A failure only costs a longer scan at the next open, so it is logged, not thrown.
   */
  private writeProducerSnapshot(): void {
    try {
      const snapshot = this.snapshotSource?.()
      if (!snapshot) return
      const file = path.join(this.dir, snapshotFileName(snapshot.offset))
      fs.writeFileSync(`${file}.tmp`, snapshot.data)
      fs.renameSync(`${file}.tmp`, file)
      this.dirDirty = true
      const offsets = this.snapshotOffsets()
      for (const offset of offsets.slice(0, Math.max(0, offsets.length - SNAPSHOTS_KEPT))) {
        fs.rmSync(path.join(this.dir, snapshotFileName(offset)), { force: true })
      }
    } catch (err) {
      this.logger.warn({ err, dir: this.dir }, 'cannot write a producer state snapshot')
    }
  }

  private checkUsable(): void {
    if (this.offline !== null) throw this.offline
    if (this.closed) throw new StorageError(`log ${this.dir} is closed`)
  }
}

function noop(): void {}

const SNAPSHOT_SUFFIX = '.snapshot'
const SNAPSHOT_FILE = /^(\d{20})\.snapshot$/
/** Only the newest is ever read: when it is torn, the partition rebuilds by scanning the whole log. */
const SNAPSHOTS_KEPT = 1

function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${SNAPSHOT_SUFFIX}`
}

/** The checkpointed log start offset of the partition in `dir`; 0 when there is none. */
function readCheckpoint(dir: string, logger: Logger): number {
  const file = path.join(dir, CHECKPOINT_FILE)
  fs.rmSync(`${file}.tmp`, { force: true })
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  const match = /^(\d+)\n(\d+)\n$/.exec(text)
  if (match === null || Number(match[1]) !== CHECKPOINT_VERSION) {
    // The segments still bound the start offset from below; only an advance past them is lost.
    logger.warn({ file }, 'ignoring a malformed log start offset checkpoint')
    return 0
  }
  return Number(match[2])
}
