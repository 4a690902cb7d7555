// OffsetForLeaderEpoch (key 23), v2–4 (KIP-101, KIP-320). A consumer (or follower) asks where a
// leader epoch ended, to detect log truncation after a leader change. One broker leads every
// partition in epoch 0 (what Metadata reports) and the epoch never changes, so Kafka's leader epoch
// cache holds one entry: epoch 0 starting at the log start. Its answers (LeaderEpochFileCache
// .endOffsetFor): epoch 0, the current one, ends at the log end offset; -1 (undefined) and any
// later epoch answer epoch -1 / offset -1 with no error; an epoch below every known one answers
// itself with the start offset of epoch 0. A currentLeaderEpoch other than -1 (none) is checked
// first: older than 0 is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH. replicaId (v3+) only
// decides in Kafka whether a follower may answer (-2, debugging); here the leader always answers.
import {
  ErrorCode,
  type OffsetForLeaderEpochRequestOffsetForLeaderPartition,
  type OffsetForLeaderEpochResponseEpochEndOffset,
  defaultOffsetForLeaderEpochResponse,
} from '@fluxo/protocol'
import type { Partition } from '../cluster/partition.js'
import { defineHandler } from './handler.js'

/** The leader epoch of every partition on this broker, as Metadata reports it. */
const LEADER_EPOCH = 0
/** RecordBatch.NO_PARTITION_LEADER_EPOCH / UNDEFINED_EPOCH. */
const NO_EPOCH = -1
const UNDEFINED_EPOCH_OFFSET = -1

export const offsetForLeaderEpoch = defineHandler({
  apiKey: 23,
  handle(request, ctx) {
    const { cluster } = ctx.broker
    const topics = request.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => endOffset(cluster.partition(t.topic, p.partition), p)),
    }))
    return { ...defaultOffsetForLeaderEpochResponse(), topics }
  },
})

function endOffset(
  partition: Partition | undefined,
  p: OffsetForLeaderEpochRequestOffsetForLeaderPartition,
): OffsetForLeaderEpochResponseEpochEndOffset {
  const answer = (errorCode: number, leaderEpoch = NO_EPOCH, endOffset = UNDEFINED_EPOCH_OFFSET) => ({
    errorCode,
    partition: p.partition,
    leaderEpoch,
    endOffset,
  })
  if (!partition) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  if (p.currentLeaderEpoch !== NO_EPOCH) {
    if (p.currentLeaderEpoch < LEADER_EPOCH) return answer(ErrorCode.FENCED_LEADER_EPOCH)
    if (p.currentLeaderEpoch > LEADER_EPOCH) return answer(ErrorCode.UNKNOWN_LEADER_EPOCH)
  }
  if (p.leaderEpoch === LEADER_EPOCH) return answer(ErrorCode.NONE, LEADER_EPOCH, partition.highWatermark)
  if (p.leaderEpoch < NO_EPOCH) return answer(ErrorCode.NONE, p.leaderEpoch, partition.logStartOffset)
  return answer(ErrorCode.NONE)
}
