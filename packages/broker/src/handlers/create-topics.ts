// CreateTopics (key 19), v2–7. numPartitions / replicationFactor -1 take the broker defaults
// (num.partitions, default.replication.factor). One broker: a replication factor above 1 is
// INVALID_REPLICATION_FACTOR. Manual assignments must name this broker only. validateOnly runs
// every check and creates nothing. A name given twice in one request fails both (INVALID_REQUEST).
import {
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponseCreatableTopicResult,
  ErrorCode,
  defaultCreateTopicsResponse,
} from '@fluxo/protocol'
import { TopicError } from '../cluster/cluster.js'
import { describeTopicConfigs } from '../config.js'
import { type RequestContext, defineHandler } from './handler.js'

export const createTopics = defineHandler({
  apiKey: 19,
  async handle(request, ctx) {
    const counts = new Map<string, number>()
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
    const topics: CreateTopicsResponseCreatableTopicResult[] = []
    for (const t of request.topics) {
      if ((counts.get(t.name) ?? 0) > 1) {
        topics.push(result(t.name, ErrorCode.INVALID_REQUEST, `topic '${t.name}' appears more than once`))
        continue
      }
      topics.push(await create(t, request.validateOnly, ctx))
    }
    return { ...defaultCreateTopicsResponse(), topics }
  },
})

function result(
  name: string,
  errorCode: number,
  errorMessage: string | null,
): CreateTopicsResponseCreatableTopicResult {
  return {
    name,
    topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
    errorCode,
    errorMessage,
    topicConfigErrorCode: 0,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  }
}

async function create(
  t: CreateTopicsRequestCreatableTopic,
  validateOnly: boolean,
  ctx: RequestContext,
): Promise<CreateTopicsResponseCreatableTopicResult> {
  const { cluster } = ctx.broker
  const configs: Record<string, string> = {}
  for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value
  let numPartitions = t.numPartitions
  let replicationFactor = t.replicationFactor
  try {
    if (t.assignments.length > 0) {
      if (numPartitions !== -1 || replicationFactor !== -1) {
        throw new TopicError(
          ErrorCode.INVALID_REQUEST,
          'give either assignments or numPartitions/replicationFactor',
        )
      }
      for (const a of t.assignments) {
        if (a.brokerIds.some((id) => id !== cluster.self.nodeId)) {
          throw new TopicError(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `assignment names a broker other than ${cluster.self.nodeId}`,
          )
        }
      }
      numPartitions = t.assignments.length
      replicationFactor = Math.max(...t.assignments.map((a) => a.brokerIds.length))
    }
    const checked = cluster.checkCreate(t.name, numPartitions, replicationFactor, configs)
    let topicId = 'AAAAAAAAAAAAAAAAAAAAAA'
    if (!validateOnly) {
      const topic = await cluster.createTopic(t.name, numPartitions, replicationFactor, configs)
      topicId = topic.topicId
    }
    return {
      ...result(t.name, ErrorCode.NONE, null),
      topicId,
      numPartitions: checked.partitions,
      replicationFactor: 1,
      configs: describeTopicConfigs(checked.config).map((c) => ({ ...c })),
    }
  } catch (err) {
    if (err instanceof TopicError) return result(t.name, err.errorCode, err.message)
    ctx.broker.logger.error({ err, topic: t.name }, 'create topic failed')
    return result(t.name, ErrorCode.UNKNOWN_SERVER_ERROR, 'the broker could not create the topic')
  }
}
