// ListOffsets (key 2), v1–10. Special timestamps: -1 latest (the high watermark, or the last stable
// offset for read_committed), -2 earliest (the log start offset), -3 the record with the largest
// timestamp (KIP-734, v7+), -4 earliest local (KIP-405, v8+: the log start
// offset, as all data is local), -5 latest tiered (KIP-1005, v9+: with no tiered storage Kafka
// answers offset -1, timestamp -1, leader epoch -1, and no error). Any other timestamp finds the
// first record at or after it and at or above the log start offset, or -1 when there is none. v10
// adds timeoutMs for tiered-storage reads (KIP-1075), which local lookups never wait for. A
// currentLeaderEpoch (v4+) other than -1 is checked against epoch 0, which every partition here is
// in: older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
// isolationLevel 1 (read_committed, v2+) answers latest with the last stable offset, and -3 and
// timestamp lookups only with offsets below it (Kafka's Partition.fetchOffsetForTimestamp).
import {
  BatchHeader,
  ErrorCode,
  type ListOffsetsRequestListOffsetsPartition,
  type ListOffsetsResponseListOffsetsPartitionResponse,
  decodeRecordBatchesSync,
  defaultListOffsetsResponse,
  readInt64,
} from '@fluxo/protocol'
import { IsolationLevel, type Partition } from '../cluster/partition.js'
import type { TimestampLookup } from '../storage/types.js'
import { defineHandler } from './handler.js'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const EARLIEST_LOCAL = -4
const LATEST_TIERED = -5

const LEADER_EPOCH = 0
const NO_EPOCH = -1
/** Bytes read per step when a lookup must skip records below the log start offset. */
const SCAN_BYTES = 1 << 20

export const listOffsets = defineHandler({
  apiKey: 2,
  async handle(request, ctx) {
    const { cluster } = ctx.broker
    const topics = await Promise.all(
      request.topics.map(async (t) => {
        const topic = cluster.topic(t.name)
        const partitions = await Promise.all(
          t.partitions.map((p) =>
            lookup(topic?.partitions[p.partitionIndex], p, ctx.version, request.isolationLevel),
          ),
        )
        return { name: t.name, partitions }
      }),
    )
    return { ...defaultListOffsetsResponse(), topics }
  },
})

async function lookup(
  partition: Partition | undefined,
  p: ListOffsetsRequestListOffsetsPartition,
  version: number,
  isolationLevel: number,
): Promise<ListOffsetsResponseListOffsetsPartitionResponse> {
  const result = {
    partitionIndex: p.partitionIndex,
    errorCode: 0,
    oldStyleOffsets: [],
    timestamp: -1,
    offset: -1,
    leaderEpoch: -1,
  }
  if (!partition) return { ...result, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
  if (p.currentLeaderEpoch !== NO_EPOCH && p.currentLeaderEpoch !== LEADER_EPOCH) {
    const errorCode =
      p.currentLeaderEpoch < LEADER_EPOCH ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH
    return { ...result, errorCode }
  }
  const committed = isolationLevel === IsolationLevel.readCommitted
  if (committed) await partition.whenLoaded()
  /** Offsets a consumer of this isolation level can fetch lie below this one. */
  const visible = (found: TimestampLookup | null) =>
    found !== null && (!committed || found.offset < partition.lastStableOffset) ? found : null
  const timestamp = p.timestamp
  switch (timestamp) {
    case LATEST: {
      const offset = committed ? partition.lastStableOffset : partition.highWatermark
      return { ...result, offset, leaderEpoch: LEADER_EPOCH }
    }
    case EARLIEST:
      return { ...result, offset: partition.logStartOffset, leaderEpoch: LEADER_EPOCH }
    case EARLIEST_LOCAL:
      if (version < 8) break
      return { ...result, offset: partition.logStartOffset, leaderEpoch: LEADER_EPOCH }
    case LATEST_TIERED:
      if (version < 9) break
      return result
    case MAX_TIMESTAMP: {
      if (version < 7) break
      const found = visible(await partition.maxTimestamp())
      return found ? { ...result, ...found, leaderEpoch: LEADER_EPOCH } : result
    }
  }
  if (timestamp < 0) return { ...result, errorCode: ErrorCode.INVALID_REQUEST }
  const found = visible(await atOrAfter(partition, timestamp))
  return found ? { ...result, ...found, leaderEpoch: LEADER_EPOCH } : result
}

/**
 * The first record at or after `timestamp` whose offset is at least the log start offset (Kafka's
 * LogSegment.findOffsetByTimestamp takes the start as a lower bound). The backend's answer only
 * falls below the start after DeleteRecords moved it and before retention removed the segments
 * below; then the records from the start on are scanned, batch headers first.
 */
async function atOrAfter(partition: Partition, timestamp: number): Promise<TimestampLookup | null> {
  const found = await partition.offsetForTimestamp(timestamp)
  const start = partition.logStartOffset
  if (!found || found.offset >= start) return found
  let offset = start
  while (offset < partition.highWatermark) {
    const { batches } = await partition.log.read(offset, SCAN_BYTES)
    if (batches.length === 0) return null
    for (const batch of batches) {
      const lastOffset =
        readInt64(batch, BatchHeader.baseOffset) + batch.readInt32BE(BatchHeader.lastOffsetDelta)
      if (lastOffset >= start && readInt64(batch, BatchHeader.maxTimestamp) >= timestamp) {
        for (const b of decodeRecordBatchesSync(batch)) {
          for (const record of b.records) {
            if (record.offset >= start && record.timestamp >= timestamp) {
              return { offset: record.offset, timestamp: record.timestamp }
            }
          }
        }
      }
      offset = Math.max(offset, lastOffset + 1)
    }
  }
  return null
}
