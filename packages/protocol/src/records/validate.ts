import { crc32c } from '../crc32c.js'
import {
  BATCH_LENGTH_OVERHEAD,
  BatchAttributes,
  BatchHeader,
  Compression,
  readInt64,
} from './batch-header.js'

/** Kafka error names, as the broker's ErrorCode table spells them. */
export type BatchValidationError =
  | 'CORRUPT_MESSAGE'
  | 'UNSUPPORTED_FOR_MESSAGE_FORMAT'
  | 'MESSAGE_TOO_LARGE'
  | 'INVALID_RECORD'

export interface ValidatedBatches {
  ok: true
  /** One view per batch into the request buffer: patching them (offsets, LogAppendTime) patches it. */
  batches: Buffer[]
  recordCount: number
  /** Largest header maxTimestamp over the batches. */
  maxTimestamp: number
}

export interface InvalidBatches {
  ok: false
  error: BatchValidationError
  message: string
}

const HEADER_UP_TO_MAGIC = BatchHeader.magic + 1
const MAX_CODEC = Compression.zstd

function invalid(error: BatchValidationError, message: string): InvalidBatches {
  return { ok: false, error, message }
}

/**
 * Produce-path checks on a partition's `records`, reading headers only: one CRC pass per batch is the
 * main cost. Follows Kafka's order: framing and magic (ByteBufferLogInputStream), size then CRC
 * (UnifiedLog.analyzeAndValidateRecords), then the client-batch rules of LogValidator.validateBatch.
 * Record-level checks that need decoding (timestamps per record, compacted-topic keys) are not done here.
 */
export function validateBatches(buf: Buffer, maxMessageBytes: number): ValidatedBatches | InvalidBatches {
  if (buf.length === 0)
    return invalid('INVALID_RECORD', 'produce requests must have at least one record batch')
  const batches: Buffer[] = []
  let recordCount = 0
  let maxTimestamp = -1
  let pos = 0
  while (pos < buf.length) {
    const remaining = buf.length - pos
    if (remaining < HEADER_UP_TO_MAGIC) {
      return invalid(
        'CORRUPT_MESSAGE',
        `${remaining} trailing bytes at ${pos} are shorter than a batch header`,
      )
    }
    const magic = buf.readInt8(pos + BatchHeader.magic)
    if (magic < 0 || magic > 2) return invalid('CORRUPT_MESSAGE', `invalid magic ${magic} in batch at ${pos}`)
    if (magic < 2) {
      return invalid(
        'UNSUPPORTED_FOR_MESSAGE_FORMAT',
        `message format v${magic} is not supported; use record batch v2`,
      )
    }
    const batchLength = buf.readInt32BE(pos + BatchHeader.batchLength)
    const size = batchLength + BATCH_LENGTH_OVERHEAD
    if (size < BatchHeader.size) {
      return invalid(
        'CORRUPT_MESSAGE',
        `batch at ${pos}: size ${size} is smaller than the ${BatchHeader.size}-byte header`,
      )
    }
    if (size > remaining) {
      return invalid(
        'CORRUPT_MESSAGE',
        `batch at ${pos}: size ${size} overruns the ${remaining} remaining bytes`,
      )
    }
    if (size > maxMessageBytes) {
      return invalid(
        'MESSAGE_TOO_LARGE',
        `batch of ${size} bytes exceeds max.message.bytes ${maxMessageBytes}`,
      )
    }
    const batch = buf.subarray(pos, pos + size)
    const crc = batch.readUInt32BE(BatchHeader.crc)
    if (crc !== crc32c(batch.subarray(BatchHeader.attributes))) {
      return invalid('CORRUPT_MESSAGE', `batch at ${pos}: CRC mismatch`)
    }

    const attributes = batch.readInt16BE(BatchHeader.attributes)
    if ((attributes & BatchAttributes.compressionMask) > MAX_CODEC) {
      return invalid('CORRUPT_MESSAGE', `batch at ${pos}: unknown compression codec ${attributes & 7}`)
    }
    const baseOffset = readInt64(batch, BatchHeader.baseOffset)
    if (baseOffset !== 0)
      return invalid('INVALID_RECORD', `batch at ${pos}: baseOffset must be 0, got ${baseOffset}`)
    const count = batch.readInt32BE(BatchHeader.recordCount)
    if (count <= 0) return invalid('INVALID_RECORD', `batch at ${pos}: invalid record count ${count}`)
    const lastOffsetDelta = batch.readInt32BE(BatchHeader.lastOffsetDelta)
    if (lastOffsetDelta !== count - 1) {
      return invalid(
        'INVALID_RECORD',
        `batch at ${pos}: lastOffsetDelta ${lastOffsetDelta} is inconsistent with record count ${count}`,
      )
    }
    if (attributes & BatchAttributes.control) {
      return invalid('INVALID_RECORD', 'clients are not allowed to write control records')
    }
    if (readInt64(batch, BatchHeader.producerId) >= 0 && batch.readInt32BE(BatchHeader.baseSequence) < 0) {
      return invalid('INVALID_RECORD', `batch at ${pos}: idempotent batch with a negative base sequence`)
    }

    const batchMaxTimestamp = readInt64(batch, BatchHeader.maxTimestamp)
    if (batchMaxTimestamp > maxTimestamp) maxTimestamp = batchMaxTimestamp
    recordCount += count
    batches.push(batch)
    pos += size
  }
  return { ok: true, batches, recordCount, maxTimestamp }
}
