// DescribeProducers (key 61), v0 (KIP-664): the idempotent and transactional producers each
// partition holds state for, as `kafka-transactions.sh describe-producers` shows them: epoch, last
// sequence and timestamp, coordinator epoch, and the first offset of an open transaction (-1 when
// none), which is how an operator finds a transaction holding back the last stable offset.
// An unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION for that partition.
import {
  type DescribeProducersResponsePartitionResponse,
  type DescribeProducersResponseTopicResponse,
  ErrorCode,
  defaultDescribeProducersResponse,
} from '@fluxo/protocol'
import { defineHandler } from './handler.js'

export const describeProducers = defineHandler({
  apiKey: 61,
  async handle(request, ctx) {
    const { cluster } = ctx.broker
    const topics: DescribeProducersResponseTopicResponse[] = await Promise.all(
      request.topics.map(async (t) => {
        const topic = cluster.topic(t.name)
        const partitions = await Promise.all(
          t.partitionIndexes.map(async (index): Promise<DescribeProducersResponsePartitionResponse> => {
            const partition = topic?.partitions[index]
            if (!partition) {
              return {
                partitionIndex: index,
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                errorMessage: null,
                activeProducers: [],
              }
            }
            const producers = await partition.activeProducers()
            return {
              partitionIndex: index,
              errorCode: ErrorCode.NONE,
              errorMessage: null,
              activeProducers: producers.map((p) => ({
                producerId: p.producerId,
                producerEpoch: p.producerEpoch,
                lastSequence: p.batches.at(-1)?.lastSeq ?? -1,
                lastTimestamp: p.lastTimestamp,
                coordinatorEpoch: p.coordinatorEpoch,
                currentTxnStartOffset: p.currentTxnFirstOffset,
              })),
            }
          }),
        )
        return { name: t.name, partitions }
      }),
    )
    return { ...defaultDescribeProducersResponse(), topics }
  },
})
