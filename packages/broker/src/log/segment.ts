import fs from 'node:fs'
import path from 'node:path'
import {
  BATCH_LENGTH_OVERHEAD,
  BatchAttributes,
  BatchHeader,
  batchCrcMatches,
  readInt64,
} from '@fluxo/protocol'
import { type LogIo, readFully } from './file-io.js'
import { OffsetIndex } from './offset-index.js'
import { TimeIndex } from './time-index.js'

const INT32_MAX = 2147483647
/** Bytes of a batch header up to and including maxTimestamp. */
const HEADER_PREFIX = BatchHeader.maxTimestamp + 8
const RECOVERY_CHUNK = 1 << 20
const TAIL_SCAN_CHUNK = 64 << 10

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'

/** Kafka's segment file name: the base offset, zero-padded to 20 digits. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`
}

/** Reads only happen synchronously, so one scratch buffer serves every header lookup. */
const scratch = Buffer.allocUnsafe(HEADER_PREFIX)

export interface SegmentOptions {
  io: LogIo
  indexIntervalBytes: number
}

/** State captured before an append so a failed write can be undone exactly. */
export interface SegmentMark {
  size: number
  nextOffset: number
  offsetEntries: number
  timeEntries: number
  bytesSinceIndex: number
  maxTimestamp: number
  offsetOfMaxTimestamp: number
  firstAppendAt: number | null
}

/** What recovery found wrong with a segment, when it cut it short. */
export interface Truncation {
  position: number
  bytes: number
  reason: string
}

export interface SegmentReadResult {
  batches: Buffer[]
  bytes: number
  /** The read stopped at the end of the segment (so the next segment may continue it). */
  reachedEnd: boolean
}

/**
 * One segment of a partition log: the .log file of batches and its sparse .index and .timeindex.
 * Only the active (last) segment is appended to. Indexes are held in memory and written to their
 * files when the segment stops being active, when the log closes, and after recovery rebuilt them:
 * appends cost one write system call, and after a crash the active segment is rescanned anyway.
 * Each segment keeps one descriptor open on its .log file.
 */
export class LogSegment {
  readonly logPath: string
  size = 0
  /** Offset after this segment's last batch. */
  nextOffset: number
  maxTimestamp = -1
  /** Offset reported for maxTimestamp (KIP-734): the batch's last offset, or its first with LogAppendTime. */
  offsetOfMaxTimestamp = -1
  /** Wall-clock time of the first append since the segment was created or opened (segment.ms). */
  firstAppendAt: number | null = null
  offsetIndex: OffsetIndex
  timeIndex: TimeIndex
  private bytesSinceIndex = 0
  /** Background fsync of index files written at deactivation. */
  private indexSync: Promise<void> | null = null

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private fd: number,
    private readonly options: SegmentOptions,
  ) {
    this.logPath = path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX))
    this.nextOffset = baseOffset
    this.offsetIndex = new OffsetIndex(baseOffset)
    this.timeIndex = new TimeIndex(baseOffset)
  }

  /** Creates an empty active segment, replacing any stale files of the same name. */
  static create(dir: string, baseOffset: number, options: SegmentOptions): LogSegment {
    const fd = fs.openSync(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'w+')
    return new LogSegment(dir, baseOffset, fd, options)
  }

  /**
   * Opens an existing segment. The active segment, and any segment whose indexes are missing or
   * fail their sanity check, is scanned batch by batch (length, magic, offsets, CRC) and cut at the
   * first torn or corrupt batch; its indexes are rebuilt. Other segments trust their indexes and
   * only read the headers after the last index entry.
   */
  static open(
    dir: string,
    baseOffset: number,
    active: boolean,
    options: SegmentOptions,
  ): { segment: LogSegment; truncation: Truncation | null } {
    const fd = fs.openSync(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'r+')
    const segment = new LogSegment(dir, baseOffset, fd, options)
    try {
      segment.size = fs.fstatSync(fd).size
      if (!active && segment.loadIndexes()) return { segment, truncation: null }
      const truncation = segment.recover()
      segment.writeIndexFiles(false)
      return { segment, truncation }
    } catch (err) {
      segment.closeSync()
      throw err
    }
  }

  mark(): SegmentMark {
    return {
      size: this.size,
      nextOffset: this.nextOffset,
      offsetEntries: this.offsetIndex.length,
      timeEntries: this.timeIndex.length,
      bytesSinceIndex: this.bytesSinceIndex,
      maxTimestamp: this.maxTimestamp,
      offsetOfMaxTimestamp: this.offsetOfMaxTimestamp,
      firstAppendAt: this.firstAppendAt,
    }
  }

  /** Undoes everything appended since `mark`, on disk and in memory. Throws if the disk refuses. */
  rollback(mark: SegmentMark): void {
    fs.ftruncateSync(this.fd, mark.size)
    this.offsetIndex.truncate(mark.offsetEntries)
    this.timeIndex.truncate(mark.timeEntries)
    this.size = mark.size
    this.nextOffset = mark.nextOffset
    this.bytesSinceIndex = mark.bytesSinceIndex
    this.maxTimestamp = mark.maxTimestamp
    this.offsetOfMaxTimestamp = mark.offsetOfMaxTimestamp
    this.firstAppendAt = mark.firstAppendAt
  }

  /**
   * Writes batches[from..to) (base offsets already assigned) at the end of the segment with one
   * vectored write, and indexes them. On failure the caller rolls back to its mark.
   */
  append(batches: readonly Buffer[], from: number, to: number, now: number): void {
    if (from >= to) return
    const start = this.size
    let position = start
    for (let i = from; i < to; i++) {
      this.track(batches[i], 0, position, true)
      position += batches[i].length
    }
    this.options.io.writev(
      this.fd,
      from === 0 && to === batches.length ? batches : batches.slice(from, to),
      start,
    )
    this.size = position
    this.firstAppendAt ??= now
  }

  /**
   * True when a batch of `bytes` ending at `lastOffset` must start a new segment: segment.bytes
   * would be exceeded (`pending` bytes of the same append are not written yet), or its offset would
   * not fit the indexes' int32 relative offset. An empty segment takes any batch.
   */
  isFull(pending: number, bytes: number, lastOffset: number, segmentBytes: number): boolean {
    if (lastOffset - this.baseOffset > INT32_MAX) return this.size + pending > 0
    return this.size + pending > 0 && this.size + pending + bytes > segmentBytes
  }

  /**
   * Position of the first batch whose last offset is >= `offset`, or -1 when the segment has none.
   * Starts at the offset index's entry and walks batch headers from there.
   */
  findBatch(offset: number): number {
    if (offset >= this.nextOffset) return -1
    let position = this.offsetIndex.lookup(offset)
    while (position + BATCH_LENGTH_OVERHEAD <= this.size) {
      readFully(this.fd, scratch, 0, BatchHeader.lastOffsetDelta + 4, position)
      const last = readInt64(scratch, 0) + scratch.readInt32BE(BatchHeader.lastOffsetDelta)
      if (last >= offset) return position
      position += scratch.readInt32BE(BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
    }
    return -1
  }

  /**
   * Reads whole batches from `position` while they fit in `maxBytes`; with `first`, the first batch
   * is returned whole even when larger (KIP-74). One read in the common case; the batches are
   * slices of one buffer.
   */
  read(position: number, maxBytes: number, first: boolean): SegmentReadResult {
    const available = this.size - position
    if (available <= 0) return { batches: [], bytes: 0, reachedEnd: true }
    const want = Math.min(available, Math.max(0, maxBytes))
    const batches: Buffer[] = []
    let used = 0
    let buf: Buffer | null = null
    if (want >= BATCH_LENGTH_OVERHEAD) {
      buf = Buffer.allocUnsafe(want)
      readFully(this.fd, buf, 0, want, position)
      while (used + BATCH_LENGTH_OVERHEAD <= want) {
        const size = buf.readInt32BE(used + BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
        if (used + size > want) break
        batches.push(buf.subarray(used, used + size))
        used += size
      }
    }
    if (batches.length === 0 && first) {
      let size: number
      if (buf !== null) {
        size = buf.readInt32BE(BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
      } else {
        readFully(this.fd, scratch, 0, BATCH_LENGTH_OVERHEAD, position)
        size = scratch.readInt32BE(BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
      }
      const whole = Buffer.allocUnsafe(size)
      readFully(this.fd, whole, 0, size, position)
      batches.push(whole)
      used = size
    }
    return { batches, bytes: used, reachedEnd: position + used >= this.size }
  }

  /** First batch with maxTimestamp >= `timestamp`: its base offset and maxTimestamp. */
  findTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    if (this.maxTimestamp < timestamp) return null
    const from = this.timeIndex.lookup(timestamp)
    let position = from === null ? 0 : this.offsetIndex.lookup(from)
    while (position + BATCH_LENGTH_OVERHEAD <= this.size) {
      readFully(this.fd, scratch, 0, HEADER_PREFIX, position)
      const maxTimestamp = readInt64(scratch, BatchHeader.maxTimestamp)
      if (maxTimestamp >= timestamp) return { offset: readInt64(scratch, 0), timestamp: maxTimestamp }
      position += scratch.readInt32BE(BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
    }
    return null
  }

  fsync(): Promise<void> {
    return this.options.io.fsync(this.fd)
  }

  /**
   * Kafka's LogSegment.largestTimestamp, which retention.ms is measured against: the largest batch
   * timestamp, or the file's modification time when no batch carries one.
   */
  largestTimestamp(): number {
    if (this.maxTimestamp >= 0) return this.maxTimestamp
    return fs.fstatSync(this.fd).mtimeMs
  }

  /**
   * Unlinks the segment's files (retention). The descriptor stays valid until close, so an fsync
   * already in flight on it completes on the unlinked inode instead of failing.
   */
  removeFiles(): void {
    fs.rmSync(this.logPath, { force: true })
    this.removeIndexFiles()
  }

  /**
   * The segment stops being active: its indexes are written now and fsynced in the background.
   * If that fails the files are removed, so the next open rebuilds them instead of trusting them.
   */
  deactivate(): void {
    try {
      this.writeIndexFiles(true)
    } catch (err) {
      this.removeIndexFiles()
      throw err
    }
  }

  /** Closes the segment; the active one writes its indexes first (an optimisation only). */
  async close(active: boolean): Promise<void> {
    try {
      if (this.indexSync !== null) await this.indexSync
      if (active && this.fd >= 0) {
        try {
          this.writeIndexFiles(false)
        } catch {
          this.removeIndexFiles()
        }
      }
    } finally {
      this.closeSync()
    }
  }

  /** Closes the files and deletes them (a segment created by a failed append). */
  destroy(): void {
    this.closeSync()
    this.removeIndexFiles()
    fs.rmSync(this.logPath, { force: true })
  }

  private closeSync(): void {
    if (this.fd >= 0) fs.closeSync(this.fd)
    this.fd = -1
  }

  private indexPath(suffix: string): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, suffix))
  }

  /** Replaces both index files with the in-memory entries; `background` fsyncs them asynchronously. */
  private writeIndexFiles(background: boolean): void {
    const syncs: Promise<void>[] = []
    for (const [suffix, data] of [
      [INDEX_SUFFIX, this.offsetIndex.encode()],
      [TIME_INDEX_SUFFIX, this.timeIndex.encode()],
    ] as const) {
      const fd = fs.openSync(this.indexPath(suffix), 'w')
      try {
        if (data.length > 0) this.options.io.writev(fd, [data], 0)
      } catch (err) {
        fs.closeSync(fd)
        throw err
      }
      if (background)
        syncs.push(
          this.options.io.fsync(fd).then(
            () => fs.closeSync(fd),
            () => closeQuietly(fd),
          ),
        )
      else fs.closeSync(fd)
    }
    if (background) this.indexSync = Promise.all(syncs).then(() => {})
  }

  private removeIndexFiles(): void {
    fs.rmSync(this.indexPath(INDEX_SUFFIX), { force: true })
    fs.rmSync(this.indexPath(TIME_INDEX_SUFFIX), { force: true })
  }

  /** Loads both index files; false when either is missing or fails its sanity check. */
  private loadIndexes(): boolean {
    const offsetData = readIfExists(this.indexPath(INDEX_SUFFIX))
    const timeData = readIfExists(this.indexPath(TIME_INDEX_SUFFIX))
    if (offsetData === null || timeData === null) return false
    const offsetIndex = OffsetIndex.parse(this.baseOffset, offsetData, this.size)
    const timeIndex = TimeIndex.parse(this.baseOffset, timeData)
    if (offsetIndex === null || timeIndex === null) return false
    this.offsetIndex = offsetIndex
    this.timeIndex = timeIndex
    this.maxTimestamp = timeIndex.lastTimestamp()
    this.offsetOfMaxTimestamp = timeIndex.lastOffset()
    // The batches after the last index entry are not described by the indexes: read their headers
    // for the segment's end offset and largest timestamp. Anything odd there means a full recovery.
    const tail = this.scan(this.offsetIndex.lastPosition(), false, TAIL_SCAN_CHUNK)
    if (tail !== null) {
      this.offsetIndex = new OffsetIndex(this.baseOffset)
      this.timeIndex = new TimeIndex(this.baseOffset)
      this.maxTimestamp = -1
      this.offsetOfMaxTimestamp = -1
      this.nextOffset = this.baseOffset
      return false
    }
    return true
  }

  /** Full scan with CRC checks; rebuilds the in-memory indexes and cuts the file at the first bad batch. */
  private recover(): Truncation | null {
    const problem = this.scan(0, true, RECOVERY_CHUNK)
    if (problem === null) return null
    const truncation = {
      position: problem.position,
      bytes: this.size - problem.position,
      reason: problem.reason,
    }
    fs.ftruncateSync(this.fd, problem.position)
    this.size = problem.position
    return truncation
  }

  /**
   * Walks batches from `from` to the end of the file, tracking each one (indexes when verifying).
   * Returns the position and reason of the first torn or invalid batch, or null when all are sound.
   */
  private scan(
    from: number,
    verify: boolean,
    chunkSize: number,
  ): { position: number; reason: string } | null {
    const reader = new ChunkReader(this.fd, this.size, chunkSize)
    let position = from
    let expected = verify ? this.baseOffset : Math.max(this.baseOffset, this.nextOffset)
    while (position < this.size) {
      const left = this.size - position
      if (left < BATCH_LENGTH_OVERHEAD) return { position, reason: 'partial batch header' }
      let at = reader.ensure(position, Math.min(left, BatchHeader.size))
      const size = reader.buf.readInt32BE(at + BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
      if (size < BatchHeader.size) return { position, reason: `invalid batch length ${size}` }
      if (size > left) return { position, reason: `batch of ${size} bytes extends past the end of the file` }
      if (reader.buf.readInt8(at + BatchHeader.magic) !== 2) return { position, reason: 'unsupported magic' }
      const baseOffset = readInt64(reader.buf, at)
      const lastOffsetDelta = reader.buf.readInt32BE(at + BatchHeader.lastOffsetDelta)
      if (baseOffset < expected || lastOffsetDelta < 0) {
        return { position, reason: `out-of-order base offset ${baseOffset} (expected >= ${expected})` }
      }
      if (baseOffset + lastOffsetDelta - this.baseOffset > INT32_MAX) {
        return { position, reason: `offset ${baseOffset} too far from the segment's base offset` }
      }
      if (verify) {
        at = reader.ensure(position, size)
        if (!batchCrcMatches(reader.buf.subarray(at, at + size))) return { position, reason: 'CRC mismatch' }
      }
      this.track(reader.buf, at, position, verify)
      expected = this.nextOffset
      position += size
    }
    return null
  }

  /** Accounts for one batch (header at `buf[at]`) stored at `position`: offsets, timestamps, indexes. */
  private track(buf: Buffer, at: number, position: number, index: boolean): void {
    const baseOffset = readInt64(buf, at)
    const lastOffset = baseOffset + buf.readInt32BE(at + BatchHeader.lastOffsetDelta)
    const maxTimestamp = readInt64(buf, at + BatchHeader.maxTimestamp)
    if (maxTimestamp > this.maxTimestamp) {
      const logAppendTime =
        (buf.readInt16BE(at + BatchHeader.attributes) & BatchAttributes.timestampTypeLogAppend) !== 0
      this.maxTimestamp = maxTimestamp
      this.offsetOfMaxTimestamp = logAppendTime ? baseOffset : lastOffset
    }
    if (index) {
      if (this.bytesSinceIndex > this.options.indexIntervalBytes) {
        this.offsetIndex.append(baseOffset, position)
        this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
        this.bytesSinceIndex = 0
      }
      this.bytesSinceIndex += buf.readInt32BE(at + BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD
    }
    this.nextOffset = lastOffset + 1
  }
}

/** Sequential reader over a file range that keeps a window of it in one buffer. */
class ChunkReader {
  buf: Buffer
  private start = 0
  private end = 0

  constructor(
    private readonly fd: number,
    private readonly fileSize: number,
    private readonly chunkSize: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(fileSize, BatchHeader.size)))
  }

  /** Makes bytes [position, position + length) available; returns their offset in `buf`. */
  ensure(position: number, length: number): number {
    if (position >= this.start && position + length <= this.end) return position - this.start
    const size = Math.max(length, Math.min(this.chunkSize, this.fileSize - position))
    if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size)
    readFully(this.fd, this.buf, 0, size, position)
    this.start = position
    this.end = position + size
    return 0
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd)
  } catch {}
}

function readIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}
