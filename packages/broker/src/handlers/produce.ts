// Produce (key 0), v0–11 advertised; v0–2 answer UNSUPPORTED_VERSION per partition (Kafka 4.0 removed
// them, KIP-896, yet librdkafka needs v0+ advertised to enable compression). Batches are validated
// (header, CRC, size) and appended as received, except where a topic config needs the records:
// compacted topics reject keyless records, CreateTime topics out-of-range timestamps (KIP-937), and
// compression.type other than "producer" recompresses (Partition.append, record-validation.ts); v8+
// gets the failing records in recordErrors. Idempotent batches are deduplicated per partition (a
// retry answers with the original offset); transactional batches must belong to a partition the
// transaction coordinator added to the producer's open transaction (KIP-890 verification).
// acks=1 and -1 are answered after the write reached the operating system; with flush.on.acks.all,
// acks=-1 also waits for fsync. acks=0 gets no response. Internal topics (__consumer_offsets) are
// written by the broker only: clients get INVALID_TOPIC_EXCEPTION.
import {
  ErrorCode,
  type ProduceResponsePartitionProduceResponse,
  type ProduceResponseTopicProduceResponse,
  defaultProduceResponse,
  defaultProduceResponsePartitionProduceResponse,
} from '@fluxo/protocol'
import { INTERNAL_TOPICS } from '../cluster/cluster.js'
import type { PartitionAppendResult } from '../cluster/partition.js'
import { NO_RESPONSE, defineHandler } from './handler.js'

const MIN_SUPPORTED_VERSION = 3

export const produce = defineHandler({
  apiKey: 0,
  async handle(request, ctx) {
    const { cluster, config, transactions } = ctx.broker
    const transactionalId = request.transactionalId
    const acks = request.acks
    const badAcks = acks !== 0 && acks !== 1 && acks !== -1
    const responses: ProduceResponseTopicProduceResponse[] = []
    const pending: Promise<void>[] = []

    for (const topicData of request.topicData) {
      const partitionResponses: ProduceResponsePartitionProduceResponse[] = []
      responses.push({ name: topicData.name, partitionResponses })
      let topic = cluster.topic(topicData.name)
      let topicError: number = ErrorCode.NONE
      if (ctx.version < MIN_SUPPORTED_VERSION) topicError = ErrorCode.UNSUPPORTED_VERSION
      else if (badAcks) topicError = ErrorCode.INVALID_REQUIRED_ACKS
      // Only the broker writes its internal topics (Kafka: "Cannot append to internal topic").
      else if (INTERNAL_TOPICS.has(topicData.name)) topicError = ErrorCode.INVALID_TOPIC_EXCEPTION
      else if (!topic && config.autoCreateTopicsEnable) {
        try {
          topic = await cluster.autoCreate(topicData.name)
        } catch {
          topicError = ErrorCode.INVALID_TOPIC_EXCEPTION
        }
      }
      for (const data of topicData.partitionData) {
        const response = defaultProduceResponsePartitionProduceResponse()
        response.index = data.index
        partitionResponses.push(response)
        const partition = topic?.partitions[data.index]
        if (topicError !== ErrorCode.NONE || !partition) {
          response.errorCode =
            topicError !== ErrorCode.NONE ? topicError : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          continue
        }
        const verifyTransaction = (producerId: number, producerEpoch: number) =>
          transactions.verifyPartition(transactionalId, producerId, producerEpoch, topicData.name, data.index)
        pending.push(
          partition
            .append(data.records, acks === -1, { verifyTransaction })
            .then((result: PartitionAppendResult) => {
              response.errorCode = result.errorCode
              response.errorMessage = result.errorMessage
              response.baseOffset = result.baseOffset
              response.logAppendTimeMs = result.logAppendTime
              response.logStartOffset = partition.logStartOffset
              response.recordErrors = result.recordErrors
            }),
        )
      }
    }
    await Promise.all(pending)
    if (acks === 0) return NO_RESPONSE
    return { ...defaultProduceResponse(), responses }
  },
})
