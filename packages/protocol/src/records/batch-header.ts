import { crc32c } from '../crc32c.js'

/**
 * Record batch v2 header, read and patched in place. The broker's produce and fetch paths work on
 * batches as bytes: they never decode individual records.
 *
 *   baseOffset: int64            @0
 *   batchLength: int32           @8   (bytes after this field)
 *   partitionLeaderEpoch: int32  @12
 *   magic: int8                  @16
 *   crc: uint32                  @17  (CRC-32C of bytes 21..end)
 *   attributes: int16            @21
 *   lastOffsetDelta: int32       @23
 *   baseTimestamp: int64         @27
 *   maxTimestamp: int64          @35
 *   producerId: int64            @43
 *   producerEpoch: int16         @51
 *   baseSequence: int32          @53
 *   recordCount: int32           @57
 *   records                      @61
 */
export const BatchHeader = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  size: 61,
} as const

/** Bytes before `batchLength` counts: baseOffset + batchLength. */
export const BATCH_LENGTH_OVERHEAD = 12

export const BatchAttributes = {
  compressionMask: 0x07,
  timestampTypeLogAppend: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type CompressionType = (typeof Compression)[keyof typeof Compression]

export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4)
}

export function writeInt64(buf: Buffer, pos: number, value: number): void {
  const hi = Math.floor(value / 4294967296)
  buf.writeInt32BE(hi, pos)
  buf.writeUInt32BE(value - hi * 4294967296, pos + 4)
}

/** Summary of one batch header; numbers, not bigint (offsets and timestamps stay below 2^53). */
export interface BatchInfo {
  baseOffset: number
  /** Total size in bytes, header included. */
  size: number
  magic: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

export function readBatchInfo(buf: Buffer, pos = 0): BatchInfo {
  return {
    baseOffset: readInt64(buf, pos + BatchHeader.baseOffset),
    size: buf.readInt32BE(pos + BatchHeader.batchLength) + BATCH_LENGTH_OVERHEAD,
    magic: buf.readInt8(pos + BatchHeader.magic),
    attributes: buf.readInt16BE(pos + BatchHeader.attributes),
    lastOffsetDelta: buf.readInt32BE(pos + BatchHeader.lastOffsetDelta),
    baseTimestamp: readInt64(buf, pos + BatchHeader.baseTimestamp),
    maxTimestamp: readInt64(buf, pos + BatchHeader.maxTimestamp),
    producerId: readInt64(buf, pos + BatchHeader.producerId),
    producerEpoch: buf.readInt16BE(pos + BatchHeader.producerEpoch),
    baseSequence: buf.readInt32BE(pos + BatchHeader.baseSequence),
    recordCount: buf.readInt32BE(pos + BatchHeader.recordCount),
  }
}

/** CRC-32C as stored in the header, and as computed over bytes 21..end of the batch. */
export function batchCrcMatches(batch: Buffer): boolean {
  return batch.readUInt32BE(BatchHeader.crc) === crc32c(batch.subarray(BatchHeader.attributes))
}

/** Recomputes and stores the CRC after the header was patched (e.g. LogAppendTime). */
export function writeBatchCrc(batch: Buffer): void {
  batch.writeUInt32BE(crc32c(batch.subarray(BatchHeader.attributes)), BatchHeader.crc)
}

/** Assigns offsets: the base offset is outside the CRC, so no recomputation is needed. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  writeInt64(batch, BatchHeader.baseOffset, baseOffset)
}

/** LogAppendTime: sets the timestamp type bit and maxTimestamp, then recomputes the CRC. */
export function setLogAppendTime(batch: Buffer, timestamp: number): void {
  batch.writeInt16BE(
    batch.readInt16BE(BatchHeader.attributes) | BatchAttributes.timestampTypeLogAppend,
    BatchHeader.attributes,
  )
  writeInt64(batch, BatchHeader.maxTimestamp, timestamp)
  writeBatchCrc(batch)
}
