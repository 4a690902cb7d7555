// DescribeTopicPartitions (key 75), v0 (KIP-966): Metadata's topic description, paginated. Topics go
// in name order (all of them when the request names none, then without errors for missing ones);
// partitions from the cursor on, at most responsePartitionLimit in all, capped by Kafka's
// max.request.partition.size.limit (2000) and at least 1. When the limit cuts a topic, nextCursor
// names the first partition left out; when it runs out exactly at a topic's end and more topics
// follow, nextCursor names the next topic at partition 0. A cursor topic missing from a named list,
// or a negative cursor partition, is INVALID_REQUEST for the whole request: with no top-level error
// code, every named topic carries it (Kafka's DescribeTopicPartitionsRequest.getErrorResponse).
// Named topics that do not exist answer
// UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an illegal name). One broker: it leads
// every partition in epoch 0 and is the whole ISR; eligible leader replicas are empty lists.
import {
  type DescribeTopicPartitionsResponse,
  type DescribeTopicPartitionsResponsePartition,
  type DescribeTopicPartitionsResponseTopic,
  ErrorCode,
  ZERO_UUID,
  defaultDescribeTopicPartitionsResponse,
  defaultDescribeTopicPartitionsResponseTopic,
} from '@fluxo/protocol'
import { type Topic, topicNameError } from '../cluster/cluster.js'
import { defineHandler } from './handler.js'

/** Kafka's max.request.partition.size.limit default. */
const MAX_REQUEST_PARTITION_SIZE_LIMIT = 2000

/**
 * With no authorizer Kafka grants every operation the TOPIC resource supports (AclEntry
 * .supportedOperations): READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
 * DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, as a bit field (KIP-430).
 */
const TOPIC_OPERATIONS = [3, 4, 5, 6, 7, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0)

export const describeTopicPartitions = defineHandler({
  apiKey: 75,
  handle(request, ctx) {
    const { cluster } = ctx.broker
    const cursor = request.cursor
    const from = cursor?.topicName ?? ''
    const all = request.topics.length === 0
    const names = new Set<string>()
    if (all) {
      for (const topic of cluster.topics()) if (topic.name >= from) names.add(topic.name)
    } else {
      for (const t of request.topics) if (t.name >= from) names.add(t.name)
    }
    if (cursor && ((!all && !names.has(cursor.topicName)) || cursor.partitionIndex < 0)) {
      return {
        ...defaultDescribeTopicPartitionsResponse(),
        topics: request.topics.map((t) => ({
          ...defaultDescribeTopicPartitionsResponseTopic(),
          name: t.name,
          errorCode: ErrorCode.INVALID_REQUEST,
        })),
      }
    }

    const response: DescribeTopicPartitionsResponse = defaultDescribeTopicPartitionsResponse()
    let remaining = Math.max(Math.min(MAX_REQUEST_PARTITION_SIZE_LIMIT, request.responsePartitionLimit), 1)
    for (const name of [...names].sort(compareNames)) {
      if (remaining === 0) {
        response.nextCursor = { topicName: name, partitionIndex: 0 }
        break
      }
      const topic = cluster.topic(name)
      if (!topic) {
        if (!all) response.topics.push(missing(name))
        continue
      }
      const start = cursor && name === cursor.topicName ? cursor.partitionIndex : 0
      const end = Math.min(topic.partitions.length, start + remaining)
      response.topics.push(describe(topic, start, end, ctx.broker.cluster.self.nodeId))
      if (end < topic.partitions.length) {
        response.nextCursor = { topicName: name, partitionIndex: end }
        break
      }
      remaining -= Math.max(end - start, 0)
    }
    return response
  },
})

/** Kafka sorts by String.compareTo: UTF-16 code units, as JavaScript's < does. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function missing(name: string): DescribeTopicPartitionsResponseTopic {
  return {
    errorCode:
      topicNameError(name) === null
        ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        : ErrorCode.INVALID_TOPIC_EXCEPTION,
    name,
    topicId: ZERO_UUID,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: TOPIC_OPERATIONS,
  }
}

function describe(
  topic: Topic,
  start: number,
  end: number,
  nodeId: number,
): DescribeTopicPartitionsResponseTopic {
  const partitions: DescribeTopicPartitionsResponsePartition[] = []
  for (let index = start; index < end; index++) {
    partitions.push({
      errorCode: ErrorCode.NONE,
      partitionIndex: index,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: [],
    })
  }
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.isInternal,
    partitions,
    topicAuthorizedOperations: TOPIC_OPERATIONS,
  }
}
