import { crc32c } from '../crc32c.js'
import { sizeOfVarInt, sizeOfVarLong, writeVarInt, writeVarLong } from '../varint.js'
import {
  BATCH_LENGTH_OVERHEAD,
  BatchAttributes,
  BatchHeader,
  Compression,
  type CompressionType,
  writeInt64,
} from './batch-header.js'
import type { RecordHeader } from './record-batch.js'

/** Producer fields of a batch header, stamped when the batch is sent (and again after a new producer id). */
export interface BatchStamp {
  producerId: number
  producerEpoch: number
  baseSequence: number
  isTransactional: boolean
}

/**
 * Writes a record batch v2 in one buffer as records arrive, as Java's MemoryRecordsBuilder does: each
 * record is encoded once, straight into the buffer after room for the 61-byte header, so a producer
 * keeps a batch as bytes rather than as record objects. `build` writes the header and the CRC;
 * `buildHeader` does the same for a records section compressed elsewhere.
 *
 * The first record's timestamp is the batch's baseTimestamp; offset deltas are 0, 1, 2...
 */
export class RecordBatchBuilder {
  private pos: number = BatchHeader.size
  recordCount = 0
  baseTimestamp = 0
  maxTimestamp = -1

  /** `buffer` must hold at least the header; `append` never writes past its end. */
  constructor(readonly buffer: Buffer) {}

  /** Bytes written so far, header included. */
  get sizeInBytes(): number {
    return this.pos
  }

  /** Bytes `append` would add for this record, its length prefix included. */
  recordSize(
    timestamp: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: RecordHeader[] | undefined,
  ): number {
    const size = bodySize(
      this.recordCount === 0 ? 0 : timestamp - this.baseTimestamp,
      this.recordCount,
      key,
      value,
      headers,
    )
    return sizeOfVarInt(size) + size
  }

  /** Whether a record of `size` bytes (from recordSize) still fits in the buffer. */
  hasRoomFor(size: number): boolean {
    return this.pos + size <= this.buffer.length
  }

  /** Appends a record; the caller checked hasRoomFor(recordSize(...)). */
  append(
    timestamp: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: RecordHeader[] | undefined,
  ): void {
    if (this.recordCount === 0) this.baseTimestamp = timestamp
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp
    const buf = this.buffer
    const delta = timestamp - this.baseTimestamp
    const offsetDelta = this.recordCount
    let pos = writeVarInt(buf, this.pos, bodySize(delta, offsetDelta, key, value, headers))
    buf[pos++] = 0 // record attributes
    pos = writeVarLong(buf, pos, delta)
    pos = writeVarInt(buf, pos, offsetDelta)
    pos = writeBytes(buf, pos, key)
    pos = writeBytes(buf, pos, value)
    if (headers === undefined || headers.length === 0) buf[pos++] = 0
    else {
      pos = writeVarInt(buf, pos, headers.length)
      for (const h of headers) {
        pos = writeVarInt(buf, pos, Buffer.byteLength(h.key))
        pos += buf.write(h.key, pos, 'utf8')
        pos = writeBytes(buf, pos, h.value)
      }
    }
    this.pos = pos
    this.recordCount++
  }

  /** The records section written so far (to compress). */
  records(): Buffer {
    return this.buffer.subarray(BatchHeader.size, this.pos)
  }

  /** The uncompressed batch: header and CRC written into the builder's buffer, which it views. */
  build(stamp: BatchStamp): Buffer {
    const batch = this.buffer.subarray(0, this.pos)
    this.writeHeader(batch, Compression.none, stamp)
    return batch
  }

  /** A batch of the header and a records section compressed with `compression`, in a new buffer. */
  buildCompressed(compression: CompressionType, payload: Buffer, stamp: BatchStamp): Buffer {
    const batch = Buffer.allocUnsafe(BatchHeader.size + payload.length)
    batch.set(payload, BatchHeader.size)
    this.writeHeader(batch, compression, stamp)
    return batch
  }

  private writeHeader(batch: Buffer, compression: CompressionType, stamp: BatchStamp): void {
    let attributes: number = compression
    if (stamp.isTransactional) attributes |= BatchAttributes.transactional
    writeInt64(batch, BatchHeader.baseOffset, 0)
    batch.writeInt32BE(batch.length - BATCH_LENGTH_OVERHEAD, BatchHeader.batchLength)
    batch.writeInt32BE(-1, BatchHeader.partitionLeaderEpoch)
    batch[BatchHeader.magic] = 2
    batch.writeInt16BE(attributes, BatchHeader.attributes)
    batch.writeInt32BE(Math.max(0, this.recordCount - 1), BatchHeader.lastOffsetDelta)
    writeInt64(batch, BatchHeader.baseTimestamp, this.baseTimestamp)
    writeInt64(
      batch,
      BatchHeader.maxTimestamp,
      this.recordCount === 0 ? this.baseTimestamp : this.maxTimestamp,
    )
    batch.writeInt32BE(this.recordCount, BatchHeader.recordCount)
    restamp(batch, stamp)
  }
}

/** Rewrites a finished batch's producer id, epoch, base sequence and transactional bit, and its CRC. */
export function restamp(batch: Buffer, stamp: BatchStamp): void {
  writeInt64(batch, BatchHeader.producerId, stamp.producerId)
  batch.writeInt16BE(stamp.producerEpoch, BatchHeader.producerEpoch)
  batch.writeInt32BE(stamp.baseSequence, BatchHeader.baseSequence)
  let attributes = batch.readInt16BE(BatchHeader.attributes) & ~BatchAttributes.transactional
  if (stamp.isTransactional) attributes |= BatchAttributes.transactional
  batch.writeInt16BE(attributes, BatchHeader.attributes)
  batch.writeUInt32BE(crc32c(batch.subarray(BatchHeader.attributes)), BatchHeader.crc)
}

function bodySize(
  timestampDelta: number,
  offsetDelta: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: RecordHeader[] | undefined,
): number {
  let size =
    1 + sizeOfVarLong(timestampDelta) + sizeOfVarInt(offsetDelta) + sizeOfBytes(key) + sizeOfBytes(value)
  if (headers === undefined || headers.length === 0) return size + 1
  size += sizeOfVarInt(headers.length)
  for (const h of headers) {
    const keyLength = Buffer.byteLength(h.key)
    size += sizeOfVarInt(keyLength) + keyLength + sizeOfBytes(h.value)
  }
  return size
}

function sizeOfBytes(value: Buffer | null): number {
  return value === null ? 1 : sizeOfVarInt(value.length) + value.length
}

function writeBytes(buf: Buffer, pos: number, value: Buffer | null): number {
  if (value === null) return writeVarInt(buf, pos, -1)
  pos = writeVarInt(buf, pos, value.length)
  buf.set(value, pos)
  return pos + value.length
}
