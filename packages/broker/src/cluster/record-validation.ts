// Record-level checks of a produced batch, after Kafka's LogValidator: keys on compacted topics,
// CreateTime timestamps against message.timestamp.before/after.max.ms (KIP-937), and recompression
// into the topic's compression.type. The batch header says when none of that applies, and then the
// records are never decoded: the hot path stays header-only.
import {
  BatchAttributes,
  BatchHeader,
  Compression,
  type CompressionType,
  ErrorCode,
  type KafkaRecord,
  TimestampType,
  decodeRecordBatches,
  encodeRecordBatch,
  readInt64,
} from '@fluxo/protocol'
import type { CompressionType as CompressionConfig, TopicConfig } from '../config.js'

/** Produce v8+ per-record error (ProduceResponse's BatchIndexAndErrorMessage). */
export interface RecordError {
  batchIndex: number
  batchIndexErrorMessage: string | null
}

export type RecordValidation =
  | { ok: true; batch: Buffer }
  | { ok: false; errorCode: number; errorMessage: string; recordErrors: RecordError[] }

const NO_TIMESTAMP = -1

const CODECS: Record<Exclude<CompressionConfig, 'producer'>, CompressionType> = {
  uncompressed: Compression.none,
  gzip: Compression.gzip,
  snappy: Compression.snappy,
  lz4: Compression.lz4,
  zstd: Compression.zstd,
}

/** The codec a batch is stored with: the topic's, or the producer's when compression.type=producer. */
export function targetCompression(config: CompressionConfig, source: CompressionType): CompressionType {
  return config === 'producer' ? source : CODECS[config]
}

/**
 * Validates one client batch (already header-checked by validateBatches) and returns the batch to
 * store: the same buffer, or a recompressed copy. `topicPartition` ("topic-0") goes into messages
 * as Kafka words them.
 *
 * Timestamps: Kafka checks every record. Here the header's maxTimestamp bounds every record from
 * above, so the records are decoded for the upper bound only when that maximum is out of range;
 * the lower bound needs every record, so it decodes only when message.timestamp.before.max.ms is
 * small enough to reject a non-negative timestamp (Kafka's default is Long.MAX_VALUE: never).
 */
export async function validateRecords(
  batch: Buffer,
  config: TopicConfig,
  now: number,
  topicPartition: string,
): Promise<RecordValidation> {
  const attributes = batch.readInt16BE(BatchHeader.attributes)
  const source = (attributes & BatchAttributes.compressionMask) as CompressionType
  const target = targetCompression(config.compressionType, source)
  const compacted = config.cleanupPolicy.includes('compact')
  const createTime = config.messageTimestampType === 'CreateTime'
  const batchLogAppendTime = (attributes & BatchAttributes.timestampTypeLogAppend) !== 0
  const before = config.messageTimestampBeforeMaxMs
  const after = config.messageTimestampAfterMaxMs
  const maxTimestamp = readInt64(batch, BatchHeader.maxTimestamp)

  const checkLowerBound = createTime && before < now
  const upperBoundExceeded = createTime && maxTimestamp !== NO_TIMESTAMP && maxTimestamp - now > after
  const mustDecode =
    compacted || target !== source || checkLowerBound || upperBoundExceeded || batchLogAppendTime
  if (!mustDecode) return { ok: true, batch }

  let records: KafkaRecord[]
  let baseTimestamp: number
  try {
    const [decoded] = await decodeRecordBatches(batch)
    records = decoded.records
    baseTimestamp = decoded.baseTimestamp
  } catch (err) {
    return {
      ok: false,
      errorCode: ErrorCode.CORRUPT_MESSAGE,
      errorMessage: `cannot decode the records of the batch: ${(err as Error).message}`,
      recordErrors: [],
    }
  }
  const errors: { code: number; error: RecordError }[] = []
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (compacted && record.key === null) {
      errors.push({
        code: ErrorCode.INVALID_RECORD,
        error: {
          batchIndex: i,
          batchIndexErrorMessage: `Compacted topic cannot accept message without key in topic partition ${topicPartition}`,
        },
      })
    } else if (createTime && record.timestamp !== NO_TIMESTAMP) {
      const diff = now - record.timestamp
      if (diff > before || -diff > after) {
        errors.push({
          code: ErrorCode.INVALID_TIMESTAMP,
          error: {
            batchIndex: i,
            batchIndexErrorMessage: `Timestamp ${record.timestamp} of message with offset ${record.offset} is out of range. The timestamp should be within [${now - before}, ${now + after}]`,
          },
        })
      }
    } else if (batchLogAppendTime) {
      errors.push({
        code: ErrorCode.INVALID_TIMESTAMP,
        error: {
          batchIndex: i,
          batchIndexErrorMessage: `Invalid timestamp type in message with offset ${record.offset}. Producer should not set timestamp type to LogAppendTime.`,
        },
      })
    }
  }
  if (errors.length > 0) return recordErrors(errors)
  if (target === source) return { ok: true, batch }

  // Kafka rebuilds the batch with the producer's fields and consecutive offsets (MemoryRecordsBuilder).
  const recompressed = await encodeRecordBatch({
    records: records.map((r, i) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp,
      offsetDelta: i,
    })),
    compression: target,
    baseOffset: 0,
    partitionLeaderEpoch: batch.readInt32BE(BatchHeader.partitionLeaderEpoch),
    timestampType: batchLogAppendTime ? TimestampType.logAppendTime : TimestampType.createTime,
    isTransactional: (attributes & BatchAttributes.transactional) !== 0,
    baseTimestamp,
    producerId: readInt64(batch, BatchHeader.producerId),
    producerEpoch: batch.readInt16BE(BatchHeader.producerEpoch),
    baseSequence: batch.readInt32BE(BatchHeader.baseSequence),
  })
  // Kafka checks max.message.bytes again when the size may have changed (UnifiedLog.append).
  if (recompressed.length > config.maxMessageBytes) {
    return {
      ok: false,
      errorCode: ErrorCode.MESSAGE_TOO_LARGE,
      errorMessage: `Message batch size is ${recompressed.length} bytes in append to partition ${topicPartition} which exceeds the maximum configured size of ${config.maxMessageBytes}.`,
      recordErrors: [],
    }
  }
  return { ok: true, batch: recompressed }
}

/** Kafka's LogValidator.processRecordErrors: any timestamp error makes it INVALID_TIMESTAMP. */
function recordErrors(errors: { code: number; error: RecordError }[]): RecordValidation {
  const list = errors.map((e) => e.error)
  if (errors.some((e) => e.code === ErrorCode.INVALID_TIMESTAMP)) {
    return {
      ok: false,
      errorCode: ErrorCode.INVALID_TIMESTAMP,
      errorMessage: 'One or more records have been rejected due to invalid timestamp',
      recordErrors: list,
    }
  }
  const shown = list
    .slice(0, 3)
    .map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.batchIndexErrorMessage}')`)
  return {
    ok: false,
    errorCode: ErrorCode.INVALID_RECORD,
    errorMessage: `One or more records have been rejected due to ${list.length} record errors in total, and only showing the first three errors at most: [${shown.join(', ')}]`,
    recordErrors: list,
  }
}
