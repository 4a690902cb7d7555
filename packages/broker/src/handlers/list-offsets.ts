// ListOffsets (key 2), v1–8. Special timestamps: -1 latest (the high watermark; the last stable
// offset is the same while Fluxo has no transactions), -2 earliest, -3 the record with the largest
// timestamp (KIP-734, v7+), -4 earliest local (KIP-1005, v8+). Any other timestamp finds the first
// offset whose timestamp is at or after it, or -1 when there is none.
import {
  ErrorCode,
  type ListOffsetsResponseListOffsetsPartitionResponse,
  defaultListOffsetsResponse,
} from '@fluxo/protocol'
import type { Partition } from '../cluster/partition.js'
import { defineHandler } from './handler.js'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const EARLIEST_LOCAL = -4

export const listOffsets = defineHandler({
  apiKey: 2,
  async handle(request, ctx) {
    const { cluster } = ctx.broker
    const topics = await Promise.all(
      request.topics.map(async (t) => {
        const topic = cluster.topic(t.name)
        const partitions = await Promise.all(
          t.partitions.map((p) =>
            lookup(topic?.partitions[p.partitionIndex], p.partitionIndex, p.timestamp, ctx.version),
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
  partitionIndex: number,
  timestamp: number,
  version: number,
): Promise<ListOffsetsResponseListOffsetsPartitionResponse> {
  const result = {
    partitionIndex,
    errorCode: 0,
    oldStyleOffsets: [],
    timestamp: -1,
    offset: -1,
    leaderEpoch: -1,
  }
  if (!partition) return { ...result, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
  switch (timestamp) {
    case LATEST:
      return { ...result, offset: partition.highWatermark, leaderEpoch: 0 }
    case EARLIEST:
      return { ...result, offset: partition.logStartOffset, leaderEpoch: 0 }
    case EARLIEST_LOCAL:
      if (version < 8) break
      return { ...result, offset: partition.logStartOffset, leaderEpoch: 0 }
    case MAX_TIMESTAMP: {
      if (version < 7) break
      const found = await partition.maxTimestamp()
      return found ? { ...result, ...found, leaderEpoch: 0 } : result
    }
  }
  if (timestamp < 0) return { ...result, errorCode: ErrorCode.INVALID_REQUEST }
  const found = await partition.offsetForTimestamp(timestamp)
  return found ? { ...result, ...found, leaderEpoch: 0 } : result
}
