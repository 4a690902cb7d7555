// DeleteRecords (key 21), v0–2 (KIP-107). Moves each partition's log start offset up to the given
// offset (-1 = the high watermark) at once: fetches below it get OFFSET_OUT_OF_RANGE and
// ListOffsets earliest answers it; the new start is persisted before the answer, and the segments
// that now lie wholly below it go in the next retention pass, as in Kafka. An offset past the high
// watermark (or negative) is OFFSET_OUT_OF_RANGE; an offset below the current start changes
// nothing. lowWatermark is the log start offset after the call (-1 on error). As Kafka's
// Partition.deleteRecordsOnLeader: internal topics answer INVALID_TOPIC_EXCEPTION, and topics whose
// cleanup.policy lacks delete answer POLICY_VIOLATION. One replica: no waiting for followers.
import {
  type DeleteRecordsResponseDeleteRecordsPartitionResult,
  ErrorCode,
  defaultDeleteRecordsResponse,
} from '@fluxo/protocol'
import type { Topic } from '../cluster/cluster.js'
import { type RequestContext, defineHandler } from './handler.js'

const HIGH_WATERMARK = -1
const INVALID_LOW_WATERMARK = -1

export const deleteRecords = defineHandler({
  apiKey: 21,
  async handle(request, ctx) {
    const { cluster } = ctx.broker
    const topics = await Promise.all(
      request.topics.map(async (t) => {
        const topic = cluster.topic(t.name)
        const partitions = await Promise.all(
          t.partitions.map((p) => deleteBelow(topic, p.partitionIndex, p.offset, ctx)),
        )
        return { name: t.name, partitions }
      }),
    )
    return { ...defaultDeleteRecordsResponse(), topics }
  },
})

async function deleteBelow(
  topic: Topic | undefined,
  partitionIndex: number,
  offset: number,
  ctx: RequestContext,
): Promise<DeleteRecordsResponseDeleteRecordsPartitionResult> {
  const fail = (errorCode: number) => ({ partitionIndex, lowWatermark: INVALID_LOW_WATERMARK, errorCode })
  const partition = topic?.partitions[partitionIndex]
  if (!topic || !partition) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  if (topic.isInternal) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION)
  if (!topic.config.cleanupPolicy.includes('delete')) return fail(ErrorCode.POLICY_VIOLATION)
  const target = offset === HIGH_WATERMARK ? partition.highWatermark : offset
  if (target < 0 || target > partition.highWatermark) return fail(ErrorCode.OFFSET_OUT_OF_RANGE)
  try {
    await partition.log.advanceLogStartOffset(target)
  } catch (err) {
    ctx.broker.logger.error(
      { err, topic: topic.name, partition: partitionIndex, offset: target },
      'delete records failed',
    )
    return fail(ErrorCode.KAFKA_STORAGE_ERROR)
  }
  return { partitionIndex, lowWatermark: partition.logStartOffset, errorCode: ErrorCode.NONE }
}
