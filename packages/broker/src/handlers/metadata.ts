// Metadata (key 3), v0–12. One broker: it leads every partition and is the whole replica set and
// ISR. A null topic list (v1+) or an empty one at v0 means every topic. Unknown topics are created
// when auto.create.topics.enable is on and the request allows it (v4+ flag; always before v4),
// otherwise answered UNKNOWN_TOPIC_OR_PARTITION. v10+ may name topics by id (UNKNOWN_TOPIC_ID).
import {
  ErrorCode,
  type MetadataResponseTopic,
  ZERO_UUID,
  defaultMetadataResponse,
  defaultMetadataResponseTopic,
} from '@fluxo/protocol'
import { INTERNAL_TOPICS, type Topic, TopicError, topicNameError } from '../cluster/cluster.js'
import { type RequestContext, defineHandler } from './handler.js'

export const metadata = defineHandler({
  apiKey: 3,
  async handle(request, ctx) {
    const { cluster, config } = ctx.broker
    const all = request.topics === null || (ctx.version === 0 && request.topics.length === 0)
    const topics: MetadataResponseTopic[] = []
    if (all) {
      for (const topic of cluster.topics()) topics.push(describe(topic, ctx))
    } else {
      for (const wanted of request.topics ?? []) {
        if (wanted.name === null || wanted.name === '') {
          const topic = cluster.topicById(wanted.topicId)
          topics.push(
            topic
              ? describe(topic, ctx)
              : {
                  ...defaultMetadataResponseTopic(),
                  errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
                  topicId: wanted.topicId,
                  name: null,
                },
          )
          continue
        }
        const name = wanted.name
        let topic = cluster.topic(name)
        const mayCreate = config.autoCreateTopicsEnable && !INTERNAL_TOPICS.has(name)
        if (!topic && mayCreate && (request.allowAutoTopicCreation || ctx.version < 4)) {
          topic = await autoCreate(name, ctx)
          if (!topic) {
            const invalid = topicNameError(name) !== null
            topics.push(
              errorTopic(
                name,
                invalid ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              ),
            )
            continue
          }
        }
        topics.push(topic ? describe(topic, ctx) : errorTopic(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
      }
    }
    const self = cluster.self
    return {
      ...defaultMetadataResponse(),
      brokers: [{ nodeId: self.nodeId, host: self.host, port: self.port, rack: self.rack }],
      clusterId: cluster.clusterId,
      controllerId: self.nodeId,
      topics,
    }
  },
})

async function autoCreate(name: string, ctx: RequestContext): Promise<Topic | undefined> {
  try {
    return await ctx.broker.cluster.autoCreate(name)
  } catch (err) {
    if (!(err instanceof TopicError)) ctx.broker.logger.error({ err, topic: name }, 'auto-create failed')
    return undefined
  }
}

function errorTopic(name: string, errorCode: number): MetadataResponseTopic {
  return { ...defaultMetadataResponseTopic(), errorCode, name, topicId: ZERO_UUID }
}

function describe(topic: Topic, ctx: RequestContext): MetadataResponseTopic {
  const nodeId = ctx.broker.cluster.self.nodeId
  return {
    ...defaultMetadataResponseTopic(),
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.isInternal,
    partitions: topic.partitions.map((p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.index,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
  }
}
