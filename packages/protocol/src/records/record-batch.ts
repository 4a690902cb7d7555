import { compress, compressSync, decompress, decompressSync } from '../compression/codecs.js'
import { crc32c } from '../crc32c.js'
import { FluxoError } from '../errors.js'
import {
  type Cursor,
  readVarInt,
  readVarLong,
  sizeOfVarInt,
  sizeOfVarLong,
  writeVarInt,
  writeVarLong,
} from '../varint.js'
import {
  BATCH_LENGTH_OVERHEAD,
  BatchAttributes,
  BatchHeader,
  Compression,
  type CompressionType,
  readInt64,
  writeInt64,
} from './batch-header.js'

/**
 * Full record batch v2 codec, for clients and tests. The broker's produce and fetch paths move batches
 * as bytes (batch-header.ts, validate.ts) and never come here.
 */

export const MAGIC = 2

export const TimestampType = { createTime: 0, logAppendTime: 1 } as const
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType]

/** Key of the single record in a control batch: int16 version, int16 type. */
export const ControlRecordType = { abort: 0, commit: 1 } as const
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType]

export class CorruptRecordError extends FluxoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FLUXO_CORRUPT_RECORD', message, options)
  }
}

export interface RecordHeader {
  key: string
  value: Buffer | null
}

/** A decoded record. `key`, `value` and header values are views into the decoded (or decompressed) buffer. */
export interface KafkaRecord {
  offset: number
  /** CreateTime from the record, or the batch's maxTimestamp for LogAppendTime batches (as Java does). */
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

export interface RecordBatch {
  baseOffset: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  compression: CompressionType
  timestampType: TimestampType
  isTransactional: boolean
  isControl: boolean
  hasDeleteHorizon: boolean
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  records: KafkaRecord[]
}

export interface RecordInput {
  key?: Buffer | null
  value: Buffer | null
  headers?: RecordHeader[]
  /** Absolute timestamp; defaults to the batch's baseTimestamp. */
  timestamp?: number
  /** Defaults to the record's index; set it for batches with gaps (compacted). */
  offsetDelta?: number
}

export interface EncodeRecordBatchOptions {
  records: RecordInput[]
  compression?: CompressionType
  baseOffset?: number
  /** -1 from producers; the leader stamps its epoch. */
  partitionLeaderEpoch?: number
  timestampType?: TimestampType
  isTransactional?: boolean
  isControl?: boolean
  /** Defaults to the first record's timestamp (as Java's producer does), else now. */
  baseTimestamp?: number
  /** Defaults to the largest record timestamp. */
  maxTimestamp?: number
  /** Defaults to the largest offsetDelta (0 for an empty batch). */
  lastOffsetDelta?: number
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
}

const MIN_BATCH_LENGTH = BatchHeader.size - BATCH_LENGTH_OVERHEAD

interface PreparedRecords {
  section: Buffer
  recordCount: number
  baseTimestamp: number
  maxTimestamp: number
  lastOffsetDelta: number
}

function sizeOfBytes(value: Buffer | null | undefined): number {
  return value == null ? 1 : sizeOfVarInt(value.length) + value.length
}

function writeBytes(buf: Buffer, pos: number, value: Buffer | null | undefined): number {
  if (value == null) return writeVarInt(buf, pos, -1)
  pos = writeVarInt(buf, pos, value.length)
  return pos + value.copy(buf, pos)
}

function prepareRecords(opts: EncodeRecordBatchOptions): PreparedRecords {
  const records = opts.records
  const count = records.length
  const baseTimestamp = opts.baseTimestamp ?? records[0]?.timestamp ?? Date.now()
  let maxTimestamp = -1
  let lastOffsetDelta = 0
  const bodySizes = new Array<number>(count)
  let total = 0
  for (let i = 0; i < count; i++) {
    const r = records[i]
    const timestamp = r.timestamp ?? baseTimestamp
    const offsetDelta = r.offsetDelta ?? i
    if (timestamp > maxTimestamp) maxTimestamp = timestamp
    if (offsetDelta > lastOffsetDelta) lastOffsetDelta = offsetDelta
    let size =
      1 +
      sizeOfVarLong(timestamp - baseTimestamp) +
      sizeOfVarInt(offsetDelta) +
      sizeOfBytes(r.key) +
      sizeOfBytes(r.value)
    const headers = r.headers ?? []
    size += sizeOfVarInt(headers.length)
    for (const h of headers) {
      const keyLength = Buffer.byteLength(h.key)
      size += sizeOfVarInt(keyLength) + keyLength + sizeOfBytes(h.value)
    }
    bodySizes[i] = size
    total += sizeOfVarInt(size) + size
  }
  const section = Buffer.allocUnsafe(total)
  let pos = 0
  for (let i = 0; i < count; i++) {
    const r = records[i]
    pos = writeVarInt(section, pos, bodySizes[i])
    section[pos++] = 0
    pos = writeVarLong(section, pos, (r.timestamp ?? baseTimestamp) - baseTimestamp)
    pos = writeVarInt(section, pos, r.offsetDelta ?? i)
    pos = writeBytes(section, pos, r.key)
    pos = writeBytes(section, pos, r.value)
    const headers = r.headers ?? []
    pos = writeVarInt(section, pos, headers.length)
    for (const h of headers) {
      pos = writeVarInt(section, pos, Buffer.byteLength(h.key))
      pos += section.write(h.key, pos, 'utf8')
      pos = writeBytes(section, pos, h.value)
    }
  }
  return {
    section,
    recordCount: count,
    baseTimestamp,
    maxTimestamp: opts.maxTimestamp ?? (count === 0 ? baseTimestamp : maxTimestamp),
    lastOffsetDelta: opts.lastOffsetDelta ?? lastOffsetDelta,
  }
}

function assemble(opts: EncodeRecordBatchOptions, prepared: PreparedRecords, payload: Buffer): Buffer {
  const compression = opts.compression ?? Compression.none
  let attributes: number = compression
  if (opts.timestampType === TimestampType.logAppendTime) attributes |= BatchAttributes.timestampTypeLogAppend
  if (opts.isTransactional) attributes |= BatchAttributes.transactional
  if (opts.isControl) attributes |= BatchAttributes.control

  const batch = Buffer.allocUnsafe(BatchHeader.size + payload.length)
  writeInt64(batch, BatchHeader.baseOffset, opts.baseOffset ?? 0)
  batch.writeInt32BE(batch.length - BATCH_LENGTH_OVERHEAD, BatchHeader.batchLength)
  batch.writeInt32BE(opts.partitionLeaderEpoch ?? -1, BatchHeader.partitionLeaderEpoch)
  batch.writeInt8(MAGIC, BatchHeader.magic)
  batch.writeInt16BE(attributes, BatchHeader.attributes)
  batch.writeInt32BE(prepared.lastOffsetDelta, BatchHeader.lastOffsetDelta)
  writeInt64(batch, BatchHeader.baseTimestamp, prepared.baseTimestamp)
  writeInt64(batch, BatchHeader.maxTimestamp, prepared.maxTimestamp)
  writeInt64(batch, BatchHeader.producerId, opts.producerId ?? -1)
  batch.writeInt16BE(opts.producerEpoch ?? -1, BatchHeader.producerEpoch)
  batch.writeInt32BE(opts.baseSequence ?? -1, BatchHeader.baseSequence)
  batch.writeInt32BE(prepared.recordCount, BatchHeader.recordCount)
  payload.copy(batch, BatchHeader.size)
  batch.writeUInt32BE(crc32c(batch.subarray(BatchHeader.attributes)), BatchHeader.crc)
  return batch
}

/** Encodes one batch: records section compressed with `compression`, CRC computed. */
export async function encodeRecordBatch(opts: EncodeRecordBatchOptions): Promise<Buffer> {
  const prepared = prepareRecords(opts)
  return assemble(opts, prepared, await compress(opts.compression ?? Compression.none, prepared.section))
}

export function encodeRecordBatchSync(opts: EncodeRecordBatchOptions): Buffer {
  const prepared = prepareRecords(opts)
  return assemble(opts, prepared, compressSync(opts.compression ?? Compression.none, prepared.section))
}

/** A control record marking the end of a transaction (key: version 0 + type; value: version 0 + coordinator epoch). */
export function endTxnMarker(
  type: ControlRecordType,
  coordinatorEpoch: number,
  timestamp?: number,
): RecordInput {
  const key = Buffer.alloc(4)
  key.writeInt16BE(type, 2)
  const value = Buffer.alloc(6)
  value.writeInt32BE(coordinatorEpoch, 2)
  return { key, value, timestamp }
}

/** The control type of a record from a control batch, or -1 if the key is not a control key. */
export function controlRecordType(record: KafkaRecord): number {
  return record.key !== null && record.key.length >= 4 ? record.key.readInt16BE(2) : -1
}

interface BatchSlice {
  batch: RecordBatch
  recordCount: number
  /** Records section as stored (compressed or not). */
  payload: Buffer
}

/** Walks concatenated batches; a truncated trailing batch (Fetch responses cut at maxBytes) is skipped. */
function sliceBatches(buf: Buffer): BatchSlice[] {
  const slices: BatchSlice[] = []
  let pos = 0
  while (buf.length - pos >= BATCH_LENGTH_OVERHEAD) {
    const batchLength = buf.readInt32BE(pos + BatchHeader.batchLength)
    if (batchLength < MIN_BATCH_LENGTH) {
      throw new CorruptRecordError(
        `batch at byte ${pos}: length ${batchLength} is smaller than a batch header`,
      )
    }
    const end = pos + BATCH_LENGTH_OVERHEAD + batchLength
    if (end > buf.length) break
    const b = buf.subarray(pos, end)
    const magic = b.readInt8(BatchHeader.magic)
    if (magic !== MAGIC) throw new CorruptRecordError(`batch at byte ${pos}: unsupported magic ${magic}`)
    const crc = b.readUInt32BE(BatchHeader.crc)
    const computed = crc32c(b.subarray(BatchHeader.attributes))
    if (crc !== computed) {
      throw new CorruptRecordError(`batch at byte ${pos}: CRC ${crc} does not match computed ${computed}`)
    }
    const attributes = b.readInt16BE(BatchHeader.attributes)
    const recordCount = b.readInt32BE(BatchHeader.recordCount)
    if (recordCount < 0)
      throw new CorruptRecordError(`batch at byte ${pos}: negative record count ${recordCount}`)
    slices.push({
      batch: {
        baseOffset: readInt64(b, BatchHeader.baseOffset),
        partitionLeaderEpoch: b.readInt32BE(BatchHeader.partitionLeaderEpoch),
        magic,
        crc,
        attributes,
        compression: (attributes & BatchAttributes.compressionMask) as CompressionType,
        timestampType:
          attributes & BatchAttributes.timestampTypeLogAppend
            ? TimestampType.logAppendTime
            : TimestampType.createTime,
        isTransactional: (attributes & BatchAttributes.transactional) !== 0,
        isControl: (attributes & BatchAttributes.control) !== 0,
        hasDeleteHorizon: (attributes & BatchAttributes.deleteHorizon) !== 0,
        lastOffsetDelta: b.readInt32BE(BatchHeader.lastOffsetDelta),
        baseTimestamp: readInt64(b, BatchHeader.baseTimestamp),
        maxTimestamp: readInt64(b, BatchHeader.maxTimestamp),
        producerId: readInt64(b, BatchHeader.producerId),
        producerEpoch: b.readInt16BE(BatchHeader.producerEpoch),
        baseSequence: b.readInt32BE(BatchHeader.baseSequence),
        records: [],
      },
      recordCount,
      payload: b.subarray(BatchHeader.size),
    })
    pos = end
  }
  return slices
}

function readBytes(buf: Buffer, cursor: Cursor, end: number): Buffer | null {
  const length = readVarInt(buf, cursor)
  if (length < 0) return null
  const start = cursor.pos
  if (start + length > end)
    throw new CorruptRecordError(`field of ${length} bytes at ${start} overruns its record`)
  cursor.pos = start + length
  return buf.subarray(start, start + length)
}

function decodeRecords(batch: RecordBatch, recordCount: number, section: Buffer): void {
  const cursor: Cursor = { pos: 0 }
  const logAppendTime = batch.timestampType === TimestampType.logAppendTime
  const records = batch.records
  try {
    for (let i = 0; i < recordCount; i++) {
      const length = readVarInt(section, cursor)
      const end = cursor.pos + length
      if (length < 0 || end > section.length) {
        throw new CorruptRecordError(`record ${i}: length ${length} overruns the records section`)
      }
      cursor.pos++ // record attributes: unused
      const timestampDelta = readVarLong(section, cursor)
      const offsetDelta = readVarInt(section, cursor)
      const key = readBytes(section, cursor, end)
      const value = readBytes(section, cursor, end)
      const headerCount = readVarInt(section, cursor)
      if (headerCount < 0) throw new CorruptRecordError(`record ${i}: negative header count ${headerCount}`)
      const headers: RecordHeader[] = []
      for (let h = 0; h < headerCount; h++) {
        const headerKey = readBytes(section, cursor, end)
        if (headerKey === null) throw new CorruptRecordError(`record ${i}: null header key`)
        headers.push({ key: headerKey.toString('utf8'), value: readBytes(section, cursor, end) })
      }
      if (cursor.pos !== end) {
        throw new CorruptRecordError(
          `record ${i}: declared ${length} bytes but read ${length + cursor.pos - end}`,
        )
      }
      records.push({
        offset: batch.baseOffset + offsetDelta,
        timestamp: logAppendTime ? batch.maxTimestamp : batch.baseTimestamp + timestampDelta,
        key,
        value,
        headers,
      })
    }
  } catch (err) {
    if (err instanceof CorruptRecordError) throw err
    throw new CorruptRecordError(`batch at offset ${batch.baseOffset}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  if (cursor.pos !== section.length) {
    throw new CorruptRecordError(
      `batch at offset ${batch.baseOffset}: ${section.length - cursor.pos} bytes left after ${recordCount} records`,
    )
  }
}

/**
 * Decodes concatenated batches (a Fetch response's `records`), verifying each CRC. A partial trailing
 * batch is skipped silently; a corrupt one throws CorruptRecordError, a bad codec CompressionError.
 */
export async function decodeRecordBatches(buf: Buffer): Promise<RecordBatch[]> {
  const slices = sliceBatches(buf)
  for (const s of slices) {
    decodeRecords(s.batch, s.recordCount, await decompress(s.batch.compression, s.payload))
  }
  return slices.map((s) => s.batch)
}

export function decodeRecordBatchesSync(buf: Buffer): RecordBatch[] {
  const slices = sliceBatches(buf)
  for (const s of slices)
    decodeRecords(s.batch, s.recordCount, decompressSync(s.batch.compression, s.payload))
  return slices.map((s) => s.batch)
}
