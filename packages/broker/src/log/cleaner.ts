import fs from 'node:fs'
import path from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import {
  BATCH_LENGTH_OVERHEAD,
  BatchAttributes,
  BatchHeader,
  type CompressionType,
  type Cursor,
  compressSync,
  decompressSync,
  readInt64,
  readVarInt,
  readVarLong,
  sizeOfVarInt,
  sizeOfVarLong,
  writeBatchCrc,
  writeInt64,
  writeVarInt,
  writeVarLong,
} from '@fluxo/protocol'
import type { Logger } from 'pino'
import type {
  CleanOptions,
  CleanPhase,
  CleanResult,
  CompactionPolicy,
  CompactionStatus,
} from '../storage/types.js'
import type { LogIo } from './file-io.js'
import type { OffsetMap } from './offset-map.js'
import { INDEX_SUFFIX, LOG_SUFFIX, LogSegment, TIME_INDEX_SUFFIX, segmentFileName } from './segment.js'
import { StorageError } from './storage-error.js'

/*
 * The log cleaner (cleanup.policy=compact), after Kafka's Cleaner and LogCleanerManager, written
 * once for every backend: a backend hands it a CleanableLog (its segments, the cleaner checkpoint,
 * and a way to swap a group of segments for a rewritten one). The second half of this file is the
 * file backend's crash-safe swap and its recovery.
 *
 * One run: find the dirty range [firstDirtyOffset, firstUncleanableOffset); read it into the offset
 * map (key hash → latest offset) until the map is full; then rewrite every segment below the map's
 * end, keeping a record when no later record of its key exists and dropping tombstones whose delete
 * horizon passed. Memory stays bounded: the map's fixed size, plus a read chunk and the batch in hand.
 */

const INT32_MAX = 2147483647
/** Smallest read chunk, whatever log.cleaner.io.buffer.size says. */
const MIN_CHUNK_BYTES = 64 << 10

/** What the cleaner needs of a segment. Segments it reads are closed: no append changes them. */
export interface CleanerSegment {
  readonly baseOffset: number
  /** Bytes of batches in the segment. */
  readonly size: number
  /** Largest batch timestamp (or retention's stand-in), for min.compaction.lag.ms. */
  largestTimestamp(): number
  /** maxTimestamp of the first batch, or -1 for an empty segment (max.compaction.lag.ms). */
  firstBatchTimestamp(): number
  /** Whole batches in offset order, from the first whose last offset is >= `fromOffset`, read about `chunkBytes` at a time. */
  batches(fromOffset: number, chunkBytes: number): Iterable<Buffer>
}

/** The segment being written to replace a group of segments. */
export interface SegmentReplacement {
  /** Appends batches (offsets already set) in order. */
  append(batches: readonly Buffer[]): void
  /** Makes the new segment durable and puts it in place of the group, atomically. */
  commit(): Promise<void>
  /** Discards the new segment; the group stays. */
  abort(): void
}

/** What the cleaner remembers of a log between runs (Kafka's cleaner-offset-checkpoint). */
export interface CleanerCheckpoint {
  /** The first offset the last run did not clean. */
  firstDirtyOffset: number
  /** The earliest delete horizon among the tombstones the last run kept, or -1. */
  deleteHorizonMs: number
}

/** A backend's partition log as the cleaner sees it. */
export interface CleanableLog<S extends CleanerSegment = CleanerSegment> {
  readonly logStartOffset: number
  readonly logEndOffset: number
  /** segment.bytes: the most bytes of segments one replacement takes in. */
  readonly segmentBytes: number
  /** Every segment, oldest first; the last is the active segment. */
  segments(): readonly S[]
  checkpoint(): CleanerCheckpoint | null
  saveCheckpoint(checkpoint: CleanerCheckpoint): Promise<void>
  /** Starts the segment that will replace `group`: consecutive closed segments. */
  replace(group: readonly S[], onPhase: CleanOptions['onPhase']): SegmentReplacement
  /** Throws when the log was closed meanwhile: the run stops and discards what it was writing. */
  checkOpen(): void
}

/** Kafka's LogCleanerManager.cleanableOffsets and LogToClean, with Fluxo's delete-horizon trigger. */
export function compactionStatus(log: CleanableLog, policy: CompactionPolicy): CompactionStatus {
  const segments = log.segments()
  const active = segments[segments.length - 1]
  const { logStartOffset, logEndOffset } = log
  const checkpoint = log.checkpoint()
  let firstDirtyOffset = checkpoint?.firstDirtyOffset ?? logStartOffset
  // Below the start (retention or DeleteRecords moved it) or past the end (a tail lost in a crash):
  // Kafka starts over from the log start offset.
  if (firstDirtyOffset < logStartOffset || firstDirtyOffset > logEndOffset) firstDirtyOffset = logStartOffset

  let uncleanable = Math.min(active.baseOffset, policy.uncleanableOffset ?? logEndOffset)
  const dirtyFrom = segmentIndex(segments, firstDirtyOffset)
  if (policy.minCompactionLagMs > 0) {
    for (let i = dirtyFrom; i < segments.length - 1; i++) {
      if (segments[i].largestTimestamp() > policy.now - policy.minCompactionLagMs) {
        uncleanable = Math.min(uncleanable, segments[i].baseOffset)
        break
      }
    }
  }
  const firstUncleanableOffset = Math.max(firstDirtyOffset, uncleanable)

  // As Kafka counts them: the segment holding firstDirtyOffset counts as clean and as cleanable; the
  // one holding the uncleanable offset does not count as cleanable.
  const uncleanableSegmentBase = segments[segmentIndex(segments, firstUncleanableOffset)].baseOffset
  const cleanableFrom = segmentIndex(segments, Math.min(firstDirtyOffset, uncleanableSegmentBase))
  let cleanBytes = 0
  let cleanableBytes = 0
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]
    if (segment.baseOffset < firstDirtyOffset) cleanBytes += segment.size
    if (i >= cleanableFrom && segment.baseOffset < uncleanableSegmentBase) cleanableBytes += segment.size
  }
  const totalBytes = cleanBytes + cleanableBytes
  const dirtyRatio = totalBytes > 0 ? cleanableBytes / totalBytes : 0

  let compactionDelayMs = 0
  const cleanUntil = policy.now - policy.maxCompactionLagMs
  // With max.compaction.lag.ms at its default (Long.MAX_VALUE) no batch can be that old: skip the reads.
  if (cleanUntil > 0) {
    let earliest = Number.POSITIVE_INFINITY
    for (let i = dirtyFrom; i < segments.length - 1; i++) {
      const timestamp = segments[i].firstBatchTimestamp()
      if (timestamp > 0 && timestamp < earliest) earliest = timestamp
    }
    if (earliest < cleanUntil) compactionDelayMs = cleanUntil - earliest
  }

  const deleteHorizonMs = checkpoint?.deleteHorizonMs ?? -1
  // Kafka only revisits a log for its dirty ratio, so a tombstone may outlive its horizon for as long
  // as no new writes come; Fluxo also cleans when the earliest horizon it left has passed.
  const horizonDue = deleteHorizonMs >= 0 && policy.now >= deleteHorizonMs
  const due =
    totalBytes > 0 &&
    ((compactionDelayMs > 0 && cleanableBytes > 0) ||
      dirtyRatio > policy.minCleanableDirtyRatio ||
      horizonDue)
  return {
    firstDirtyOffset,
    firstUncleanableOffset,
    cleanBytes,
    cleanableBytes,
    dirtyRatio,
    compactionDelayMs,
    deleteHorizonMs,
    due,
  }
}

interface CleanStats {
  bytesRead: number
  bytesWritten: number
  recordsRead: number
  recordsRemoved: number
  /** Earliest delete horizon among the kept batches that carry tombstones. */
  deleteHorizonMs: number
}

/** One run of the cleaner over `log` (Kafka's Cleaner.doClean). */
export async function cleanLog<S extends CleanerSegment>(
  log: CleanableLog<S>,
  options: CleanOptions,
): Promise<CleanResult> {
  log.checkOpen()
  const status = compactionStatus(log, options)
  const map = options.offsetMap
  const result: CleanResult = {
    cleaned: false,
    status,
    firstDirtyOffset: status.firstDirtyOffset,
    segmentsCleaned: 0,
    segmentsWritten: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsRemoved: 0,
    mapUtilization: 0,
  }
  if (!status.due && options.force !== true) return result

  const chunkBytes = Math.max(MIN_CHUNK_BYTES, Math.floor(options.ioBufferSize / 2))
  const { firstDirtyOffset, firstUncleanableOffset } = status
  const aborted = options.abortedTransactions ? new AbortedTransactions(options.abortedTransactions) : null
  await buildOffsetMap(log, map, firstDirtyOffset, firstUncleanableOffset, chunkBytes, aborted)
  const endOffset = map.latestOffset + 1
  if (endOffset <= firstDirtyOffset && firstDirtyOffset < firstUncleanableOffset) {
    throw new StorageError(
      `the offset map (${map.maxEntries} keys) cannot hold the keys of the batch at offset ${firstDirtyOffset}: raise log.cleaner.dedupe.buffer.size`,
    )
  }

  const stats: CleanStats = {
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsRemoved: 0,
    deleteHorizonMs: -1,
  }
  const filter: FilterContext = {
    map,
    aborted,
    now: options.now,
    deleteRetentionMs: options.deleteRetentionMs,
    producerLastOffsets: options.producerLastOffsets,
    stats,
  }
  const segments = log.segments()
  const cleanable = segments.slice(0, segments.length - 1).filter((s) => s.baseOffset < endOffset)
  for (const group of groupSegments(segments, cleanable.length, log.segmentBytes)) {
    log.checkOpen()
    const written = await cleanGroup(log, group, filter, chunkBytes, options.onPhase)
    result.segmentsCleaned += group.length
    if (written) result.segmentsWritten++
  }
  await log.saveCheckpoint({ firstDirtyOffset: endOffset, deleteHorizonMs: stats.deleteHorizonMs })
  result.cleaned = true
  result.firstDirtyOffset = endOffset
  result.bytesRead = stats.bytesRead
  result.bytesWritten = stats.bytesWritten
  result.recordsRead = stats.recordsRead
  result.recordsRemoved = stats.recordsRemoved
  result.mapUtilization = map.utilization
  return result
}

/** Index of the last segment whose base offset is <= offset (0 when offset precedes them all). */
function segmentIndex(segments: readonly CleanerSegment[], offset: number): number {
  let lo = 0
  let hi = segments.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (segments[mid].baseOffset <= offset) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * Kafka's Cleaner.buildOffsetMap: reads the keys of [firstDirtyOffset, firstUncleanableOffset) into
 * the map until it is full. map.latestOffset ends at the last offset covered: a batch counts only
 * once all its keys are in, and a segment read to its end covers up to the next segment's base
 * offset (the offsets a previous clean removed there).
 */
async function buildOffsetMap(
  log: CleanableLog,
  map: OffsetMap,
  firstDirtyOffset: number,
  firstUncleanableOffset: number,
  chunkBytes: number,
  aborted: AbortedTransactions | null,
): Promise<void> {
  map.clear()
  map.latestOffset = firstDirtyOffset - 1
  const segments = log.segments()
  let read = 0
  for (let i = segmentIndex(segments, firstDirtyOffset); i < segments.length - 1; i++) {
    const segment = segments[i]
    if (segment.baseOffset >= firstUncleanableOffset) break
    const end = Math.min(segments[i + 1].baseOffset, firstUncleanableOffset)
    for (const batch of segment.batches(firstDirtyOffset, chunkBytes)) {
      const baseOffset = readInt64(batch, BatchHeader.baseOffset)
      if (baseOffset >= firstUncleanableOffset) return
      if (!mapBatch(batch, map, firstDirtyOffset, aborted)) return
      const lastOffset = baseOffset + batch.readInt32BE(BatchHeader.lastOffsetDelta)
      if (lastOffset > map.latestOffset) map.latestOffset = lastOffset
      read += batch.length
      if (read >= chunkBytes) {
        read = 0
        await yieldToEventLoop()
        log.checkOpen()
      }
    }
    if (end - 1 > map.latestOffset) map.latestOffset = end - 1
  }
}

/** Puts the keys of one batch into the map; false when the map filled up before its last key. */
function mapBatch(
  batch: Buffer,
  map: OffsetMap,
  firstDirtyOffset: number,
  aborted: AbortedTransactions | null,
): boolean {
  const attributes = batch.readInt16BE(BatchHeader.attributes)
  if ((attributes & BatchAttributes.control) !== 0) return true
  const baseOffset = readInt64(batch, BatchHeader.baseOffset)
  // Below the last stable offset every transaction is decided. An aborted record must not
  // supersede anything; without the list of aborted transactions no transactional record does, so
  // an aborted write can never remove a committed value (such keys are merely compacted less).
  if ((attributes & BatchAttributes.transactional) !== 0) {
    if (aborted === null || aborted.contains(readInt64(batch, BatchHeader.producerId), baseOffset))
      return true
  }
  let ok = true
  forEachRecord(batch, (record, section) => {
    const offset = baseOffset + record.offsetDelta
    if (record.keyLength < 0 || offset < firstDirtyOffset) return true
    ok = map.put(section.subarray(record.keyStart, record.keyStart + record.keyLength), offset)
    return ok
  })
  return ok
}

/**
 * Kafka's groupSegmentsBySize: consecutive segments go into one replacement while their bytes stay
 * within segment.bytes and their offsets within the index's int32 range, so that compaction also
 * merges the small segments it leaves.
 */
function* groupSegments<S extends CleanerSegment>(
  segments: readonly S[],
  count: number,
  segmentBytes: number,
): Generator<S[]> {
  let i = 0
  while (i < count) {
    const group = [segments[i]]
    let bytes = segments[i].size
    i++
    while (
      i < count &&
      bytes + segments[i].size <= segmentBytes &&
      // The next segment's base offset bounds this one's last offset.
      (segments[i].size === 0 || segments[i + 1].baseOffset - 1 - group[0].baseOffset <= INT32_MAX)
    ) {
      bytes += segments[i].size
      group.push(segments[i])
      i++
    }
    yield group
  }
}

/**
 * Rewrites one group into its replacement (Kafka's Cleaner.cleanSegments). A lone segment that the
 * filter leaves as it is is not rewritten. Returns whether a replacement was swapped in.
 */
async function cleanGroup<S extends CleanerSegment>(
  log: CleanableLog<S>,
  group: readonly S[],
  filter: FilterContext,
  chunkBytes: number,
  onPhase: CleanOptions['onPhase'],
): Promise<boolean> {
  const replacement = log.replace(group, onPhase)
  try {
    let changed = group.length > 1
    let pending: Buffer[] = []
    let pendingBytes = 0
    let written = 0
    let read = 0
    for (const segment of group) {
      for (const batch of segment.batches(segment.baseOffset, chunkBytes)) {
        filter.stats.bytesRead += batch.length
        const kept = filterBatch(batch, filter)
        if (kept !== batch) changed = true
        if (kept !== null) {
          pending.push(kept)
          pendingBytes += kept.length
        }
        if (pendingBytes >= chunkBytes) {
          replacement.append(pending)
          written += pendingBytes
          pending = []
          pendingBytes = 0
        }
        read += batch.length
        if (read >= chunkBytes) {
          read = 0
          await yieldToEventLoop()
          log.checkOpen()
        }
      }
    }
    if (!changed) {
      replacement.abort()
      return false
    }
    if (pending.length > 0) replacement.append(pending)
    await replacement.commit()
    filter.stats.bytesWritten += written + pendingBytes
    return true
  } catch (err) {
    replacement.abort()
    throw err
  }
}

/** Aborted transactions by producer, to tell an aborted transactional batch by its base offset. */
class AbortedTransactions {
  private readonly byProducer = new Map<number, { firstOffset: number; lastOffset: number }[]>()

  constructor(list: NonNullable<CleanOptions['abortedTransactions']>) {
    for (const txn of list) {
      let ranges = this.byProducer.get(txn.producerId)
      if (ranges === undefined) this.byProducer.set(txn.producerId, (ranges = []))
      ranges.push(txn)
    }
    for (const ranges of this.byProducer.values()) ranges.sort((a, b) => a.firstOffset - b.firstOffset)
  }

  contains(producerId: number, offset: number): boolean {
    const ranges = this.byProducer.get(producerId)
    if (ranges === undefined) return false
    let lo = 0
    let hi = ranges.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (ranges[mid].lastOffset < offset) lo = mid + 1
      else hi = mid
    }
    return lo < ranges.length && ranges[lo].firstOffset <= offset
  }
}

interface FilterContext {
  map: OffsetMap
  aborted: AbortedTransactions | null
  now: number
  deleteRetentionMs: number
  producerLastOffsets: ReadonlyMap<number, number> | undefined
  stats: CleanStats
}

/** Where the fields of one record sit in its batch's (decompressed) records section. */
interface RecordView {
  /** Start of the record's length varint, and the end of the record. */
  start: number
  end: number
  /** Start of the offsetDelta varint: everything from here on is copied as it is. */
  afterTimestamp: number
  timestampDelta: number
  offsetDelta: number
  keyStart: number
  /** -1 for a null key. */
  keyLength: number
  /** -1 for a null value (a tombstone). */
  valueLength: number
}

const record: RecordView = {
  start: 0,
  end: 0,
  afterTimestamp: 0,
  timestampDelta: 0,
  offsetDelta: 0,
  keyStart: 0,
  keyLength: -1,
  valueLength: -1,
}

/**
 * Walks the records of a v2 batch without building objects; `visit` gets one reused view per record
 * and the decompressed section, and stops the walk by returning false.
 */
function forEachRecord(batch: Buffer, visit: (record: RecordView, section: Buffer) => boolean): Buffer {
  const attributes = batch.readInt16BE(BatchHeader.attributes)
  const count = batch.readInt32BE(BatchHeader.recordCount)
  const section = decompressSync(
    (attributes & BatchAttributes.compressionMask) as CompressionType,
    batch.subarray(BatchHeader.size),
  )
  const cursor: Cursor = { pos: 0 }
  for (let i = 0; i < count; i++) {
    record.start = cursor.pos
    const length = readVarInt(section, cursor)
    record.end = cursor.pos + length
    if (length < 0 || record.end > section.length) {
      throw new StorageError(`corrupt record ${i} in the batch at offset ${readInt64(batch, 0)}`)
    }
    cursor.pos++ // attributes: unused in v2
    record.timestampDelta = readVarLong(section, cursor)
    record.afterTimestamp = cursor.pos
    record.offsetDelta = readVarInt(section, cursor)
    record.keyLength = readVarInt(section, cursor)
    record.keyStart = cursor.pos
    if (record.keyLength > 0) cursor.pos += record.keyLength
    record.valueLength = readVarInt(section, cursor)
    if (cursor.pos > record.end) {
      throw new StorageError(`corrupt record ${i} in the batch at offset ${readInt64(batch, 0)}`)
    }
    cursor.pos = record.end
    if (!visit(record, section)) break
  }
  return section
}

/**
 * Kafka's MemoryRecords.filterTo with the cleaner's record filter: returns the batch itself when
 * every record stays and nothing changes, a rewritten batch (same base offset, last offset delta,
 * producer fields, leader epoch and codec) when some go, or null when none stays. Control batches
 * (transaction markers) stay as they are.
 *
 * A record stays when it lies past the map's coverage, or when no later offset of its key is in the
 * map and it is not a tombstone past its delete horizon. Keyless records go, as in Kafka. KIP-534:
 * the first clean that keeps a tombstone stamps its batch with a delete horizon (now +
 * delete.retention.ms, stored as the batch's base timestamp with attribute bit 6); a later clean
 * past that time drops it, so a consumer that started reading before the horizon still sees it.
 */
function filterBatch(batch: Buffer, ctx: FilterContext): Buffer | null {
  const attributes = batch.readInt16BE(BatchHeader.attributes)
  const count = batch.readInt32BE(BatchHeader.recordCount)
  ctx.stats.recordsRead += count
  if ((attributes & BatchAttributes.control) !== 0) return batch
  const baseOffset = readInt64(batch, BatchHeader.baseOffset)
  if (
    (attributes & BatchAttributes.transactional) !== 0 &&
    ctx.aborted?.contains(readInt64(batch, BatchHeader.producerId), baseOffset) === true
  ) {
    // Kafka's cleaner removes aborted records: read_committed consumers skip them anyway.
    ctx.stats.recordsRemoved += count
    return retainedEmpty(batch, ctx)
  }
  // An empty batch only ever stays for a producer's sequence numbers.
  if (count === 0) return retainedEmpty(batch, ctx)
  const baseTimestamp = readInt64(batch, BatchHeader.baseTimestamp)
  const hasHorizon = (attributes & BatchAttributes.deleteHorizon) !== 0
  const retainDeletes = !hasHorizon || ctx.now < baseTimestamp
  const { map } = ctx
  const kept: number[] = []
  let containsTombstones = false
  let maxTimestamp = -1
  const section = forEachRecord(batch, (r, data) => {
    const offset = baseOffset + r.offsetDelta
    let retain: boolean
    if (offset > map.latestOffset) retain = true
    else if (r.keyLength < 0) retain = false
    else {
      const latest = offset >= map.get(data.subarray(r.keyStart, r.keyStart + r.keyLength))
      retain = latest && (r.valueLength >= 0 || retainDeletes)
    }
    if (retain) {
      kept.push(r.start, r.end, r.afterTimestamp, r.timestampDelta)
      if (r.valueLength < 0) containsTombstones = true
      maxTimestamp = Math.max(maxTimestamp, baseTimestamp + r.timestampDelta)
    }
    return true
  })
  const keptCount = kept.length / 4
  ctx.stats.recordsRemoved += count - keptCount
  const setHorizon = containsTombstones && !hasHorizon
  const horizon = setHorizon ? ctx.now + ctx.deleteRetentionMs : hasHorizon ? baseTimestamp : -1
  if (containsTombstones && (ctx.stats.deleteHorizonMs < 0 || horizon < ctx.stats.deleteHorizonMs)) {
    ctx.stats.deleteHorizonMs = horizon
  }
  if (keptCount === count && !setHorizon) return batch
  if (keptCount === 0) return retainedEmpty(batch, ctx)

  const newBase = setHorizon ? horizon : baseTimestamp
  let size = 0
  for (let i = 0; i < kept.length; i += 4) {
    if (newBase === baseTimestamp) size += kept[i + 1] - kept[i]
    else {
      const body = 1 + sizeOfVarLong(baseTimestamp + kept[i + 3] - newBase) + kept[i + 1] - kept[i + 2]
      size += sizeOfVarInt(body) + body
    }
  }
  const records = Buffer.allocUnsafe(size)
  let pos = 0
  for (let i = 0; i < kept.length; i += 4) {
    const start = kept[i]
    const end = kept[i + 1]
    const afterTimestamp = kept[i + 2]
    if (newBase === baseTimestamp) {
      pos += section.copy(records, pos, start, end)
      continue
    }
    const delta = baseTimestamp + kept[i + 3] - newBase
    pos = writeVarInt(records, pos, 1 + sizeOfVarLong(delta) + end - afterTimestamp)
    records[pos++] = 0
    pos = writeVarLong(records, pos, delta)
    pos += section.copy(records, pos, afterTimestamp, end)
  }
  const compression = (attributes & BatchAttributes.compressionMask) as CompressionType
  const payload = compressSync(compression, records)
  const out = Buffer.allocUnsafe(BatchHeader.size + payload.length)
  batch.copy(out, 0, 0, BatchHeader.size)
  payload.copy(out, BatchHeader.size)
  out.writeInt32BE(out.length - BATCH_LENGTH_OVERHEAD, BatchHeader.batchLength)
  out.writeInt16BE(
    hasHorizon || setHorizon ? attributes | BatchAttributes.deleteHorizon : attributes,
    BatchHeader.attributes,
  )
  writeInt64(out, BatchHeader.baseTimestamp, newBase)
  // LogAppendTime batches keep the broker's time; CreateTime ones take their kept records' largest.
  if ((attributes & BatchAttributes.timestampTypeLogAppend) === 0) {
    writeInt64(out, BatchHeader.maxTimestamp, maxTimestamp)
  }
  out.writeInt32BE(keptCount, BatchHeader.recordCount)
  writeBatchCrc(out)
  return out
}

/**
 * What is left of a batch none of whose records stay: nothing, or its header alone when it is a
 * producer's last batch (Kafka's RETAIN_EMPTY), which keeps its offsets and sequence numbers.
 */
function retainedEmpty(batch: Buffer, ctx: FilterContext): Buffer | null {
  const producerId = readInt64(batch, BatchHeader.producerId)
  const lastOffset = readInt64(batch, BatchHeader.baseOffset) + batch.readInt32BE(BatchHeader.lastOffsetDelta)
  if (producerId < 0 || ctx.producerLastOffsets?.get(producerId) !== lastOffset) return null
  if (batch.readInt32BE(BatchHeader.recordCount) === 0) return batch
  const out = Buffer.allocUnsafe(BatchHeader.size)
  batch.copy(out, 0, 0, BatchHeader.size)
  out.writeInt32BE(BatchHeader.size - BATCH_LENGTH_OVERHEAD, BatchHeader.batchLength)
  const attributes = out.readInt16BE(BatchHeader.attributes)
  out.writeInt16BE(attributes & ~BatchAttributes.compressionMask, BatchHeader.attributes)
  out.writeInt32BE(0, BatchHeader.recordCount)
  writeBatchCrc(out)
  return out
}

// ---------------------------------------------------------------------------------------------------
// File backend: crash-safe swap of cleaned segments, the checkpoint, and recovery on open.
//
// A replacement for the group [B, E) is written as <B>.log.cleaned and fsynced; <B>.swap-range,
// holding E, is written and fsynced; renaming <B>.log.cleaned to <B>.log.swap commits the swap (a
// single atomic rename). Then the replaced segments' files are removed, <B>.log.swap is renamed over
// <B>.log, and the new segment is opened (its indexes are built from it); <B>.swap-range goes last.
// On open, recoverCleanerFiles deletes every .cleaned file (uncommitted) and completes every
// .log.swap: the range file says which segments it replaced, so none of them survives even when the
// cleaning removed the group's last offsets (Kafka's LogLoader infers the range from the swap
// segment itself). Index files of the new segment are not written before the swap: opening it
// rebuilds them, so no stale index can ever be read against it.
// ---------------------------------------------------------------------------------------------------

const CLEANED_SUFFIX = '.cleaned'
const SWAP_SUFFIX = '.swap'
const RANGE_SUFFIX = '.swap-range'
const CHECKPOINT_FILE = 'cleaner-offset-checkpoint'
const CHECKPOINT_VERSION = 0
const SWAP_FILE = /^(\d{20})\.log\.swap$/
const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/

/** A closed segment of the file log, as the cleaner reads it. */
export class FileCleanerSegment implements CleanerSegment {
  constructor(readonly segment: LogSegment) {}

  get baseOffset(): number {
    return this.segment.baseOffset
  }

  get size(): number {
    return this.segment.size
  }

  largestTimestamp(): number {
    return this.segment.largestTimestamp()
  }

  firstBatchTimestamp(): number {
    if (this.segment.size === 0) return -1
    const [first] = this.segment.read(0, 0, true).batches
    return readInt64(first, BatchHeader.maxTimestamp)
  }

  *batches(fromOffset: number, chunkBytes: number): Iterable<Buffer> {
    const segment = this.segment
    let position = fromOffset > segment.baseOffset ? segment.findBatch(fromOffset) : 0
    if (position < 0) return
    const end = segment.size
    while (position < end) {
      const { batches, bytes } = segment.read(position, chunkBytes, true)
      if (bytes === 0) return
      yield* batches
      position += bytes
    }
  }
}

export interface FileReplacementContext {
  dir: string
  io: LogIo
  dirFd: number
  indexIntervalBytes: number
  /** Puts the opened replacement in place of the group in the log's segment list; returns at once. */
  swap(group: readonly LogSegment[], replacement: LogSegment): void
  /** Closes the replaced segments once no fsync uses them. */
  retire(group: readonly LogSegment[]): Promise<void>
  logger: Logger
}

/** Starts writing the replacement of `group`, whose offsets end before `endOffset`. */
export function startFileReplacement(
  group: readonly FileCleanerSegment[],
  endOffset: number,
  ctx: FileReplacementContext,
  onPhase: CleanOptions['onPhase'],
): SegmentReplacement {
  const segments = group.map((g) => g.segment)
  const baseOffset = segments[0].baseOffset
  const logFile = path.join(ctx.dir, segmentFileName(baseOffset, LOG_SUFFIX))
  const cleanedFile = logFile + CLEANED_SUFFIX
  const swapFile = logFile + SWAP_SUFFIX
  const rangeFile = path.join(ctx.dir, segmentFileName(baseOffset, RANGE_SUFFIX))
  let fd = fs.openSync(cleanedFile, 'w')
  let position = 0
  let committing = false
  const phase = async (name: CleanPhase) => {
    if (onPhase !== undefined) await onPhase(name, { baseOffset })
  }
  return {
    append(batches) {
      ctx.io.writev(fd, batches, position)
      for (const batch of batches) position += batch.length
    },
    async commit() {
      committing = true
      // Retention falls back to the file's modification time for batches without timestamps: keep
      // the replaced segments' (Kafka does the same).
      const mtime = fs.statSync(segments[segments.length - 1].logPath).mtime
      fs.futimesSync(fd, mtime, mtime)
      await ctx.io.fsync(fd)
      fs.closeSync(fd)
      fd = -1
      await writeDurably(rangeFile, `${CHECKPOINT_VERSION}\n${endOffset}\n`)
      await phase('cleaned')
      fs.renameSync(cleanedFile, swapFile)
      await ctx.io.fsync(ctx.dirFd)
      await phase('swapped')
      // From here to the swap in memory nothing awaits: no read sees the log half swapped.
      for (const old of segments) {
        if (old.baseOffset === baseOffset) {
          fs.rmSync(path.join(ctx.dir, segmentFileName(baseOffset, INDEX_SUFFIX)), { force: true })
          fs.rmSync(path.join(ctx.dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX)), { force: true })
        } else old.removeFiles()
      }
      fs.renameSync(swapFile, logFile)
      const opened = LogSegment.open(ctx.dir, baseOffset, false, {
        io: ctx.io,
        indexIntervalBytes: ctx.indexIntervalBytes,
      })
      if (opened.truncation !== null) {
        ctx.logger.error(
          { segment: logFile, ...opened.truncation },
          'a cleaned segment failed its check after the swap; truncated',
        )
      }
      ctx.swap(segments, opened.segment)
      fs.rmSync(rangeFile, { force: true })
      await ctx.io.fsync(ctx.dirFd)
      await ctx.retire(segments)
    },
    abort() {
      if (fd >= 0) fs.closeSync(fd)
      fd = -1
      // After the commit rename the swap is done on the next open; before it, nothing happened.
      if (committing && fs.existsSync(swapFile)) return
      fs.rmSync(cleanedFile, { force: true })
      fs.rmSync(rangeFile, { force: true })
    },
  }
}

/**
 * Kafka's LogLoader handling of .cleaned and .swap files, run before the segments are opened:
 * discards uncommitted replacements and completes committed ones.
 */
export function recoverCleanerFiles(dir: string, logger: Logger): void {
  const names = fs.readdirSync(dir)
  let changed = false
  for (const name of names) {
    if (!name.endsWith(CLEANED_SUFFIX)) continue
    fs.rmSync(path.join(dir, name), { force: true })
    changed = true
  }
  for (const name of names) {
    const match = SWAP_FILE.exec(name)
    if (match === null) continue
    const baseOffset = Number(match[1])
    const rangeFile = path.join(dir, segmentFileName(baseOffset, RANGE_SUFFIX))
    const endOffset = readRange(rangeFile)
    changed = true
    if (endOffset === null) {
      // The range file is durable before any swap is committed; without it this is no swap of ours.
      logger.warn({ file: path.join(dir, name) }, 'deleting a swap file without its range')
      fs.rmSync(path.join(dir, name), { force: true })
      continue
    }
    for (const other of names) {
      const segment = SEGMENT_FILE.exec(other)
      if (segment === null) continue
      const offset = Number(segment[1])
      if (offset >= baseOffset && offset < endOffset) fs.rmSync(path.join(dir, other), { force: true })
    }
    fs.renameSync(path.join(dir, name), path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)))
    logger.warn(
      { dir, baseOffset, endOffset },
      'completed a log cleaner swap interrupted by a crash: the cleaned segment replaces the old ones',
    )
  }
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(RANGE_SUFFIX)) fs.rmSync(path.join(dir, name), { force: true })
  }
  if (changed) {
    const fd = fs.openSync(dir, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  }
}

function readRange(file: string): number | null {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
  const match = /^(\d+)\n(\d+)\n$/.exec(text)
  return match === null || Number(match[1]) !== CHECKPOINT_VERSION ? null : Number(match[2])
}

/**
 * The cleaner checkpoint of the partition in `dir` (Kafka keeps one cleaner-offset-checkpoint per
 * data directory; Fluxo one per partition, like its log start offset): version, first dirty offset,
 * earliest delete horizon.
 */
export function readCleanerCheckpoint(dir: string, logger: Logger): CleanerCheckpoint | null {
  const file = path.join(dir, CHECKPOINT_FILE)
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const match = /^(\d+)\n(\d+)\n(-1|\d+)\n$/.exec(text)
  if (match === null || Number(match[1]) !== CHECKPOINT_VERSION) {
    // Losing it only costs work: the next clean starts from the log start offset.
    logger.warn({ file }, 'ignoring a malformed cleaner checkpoint')
    return null
  }
  return { firstDirtyOffset: Number(match[2]), deleteHorizonMs: Number(match[3]) }
}

export async function writeCleanerCheckpoint(
  dir: string,
  checkpoint: CleanerCheckpoint,
  io: LogIo,
  dirFd: number,
): Promise<void> {
  const file = path.join(dir, CHECKPOINT_FILE)
  const tmp = `${file}.tmp`
  await writeDurably(
    tmp,
    `${CHECKPOINT_VERSION}\n${checkpoint.firstDirtyOffset}\n${checkpoint.deleteHorizonMs}\n`,
  )
  await fs.promises.rename(tmp, file)
  await io.fsync(dirFd)
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await fs.promises.open(file, 'w')
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
}
