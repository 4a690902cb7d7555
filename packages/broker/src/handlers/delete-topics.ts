// DeleteTopics (key 20), v1–6. Names up to v5; names or topic ids from v6. Unknown topics answer
// UNKNOWN_TOPIC_OR_PARTITION (by name) or UNKNOWN_TOPIC_ID (by id); delete.topic.enable=false
// answers TOPIC_DELETION_DISABLED. Internal topics cannot be deleted (INVALID_TOPIC_EXCEPTION).
import {
  type DeleteTopicsResponseDeletableTopicResult,
  ErrorCode,
  ZERO_UUID,
  defaultDeleteTopicsResponse,
} from '@fluxo/protocol'
import type { Topic } from '../cluster/cluster.js'
import { defineHandler } from './handler.js'

export const deleteTopics = defineHandler({
  apiKey: 20,
  async handle(request, ctx) {
    const { cluster, config, logger } = ctx.broker
    const wanted =
      ctx.version >= 6 ? request.topics : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }))
    const responses: DeleteTopicsResponseDeletableTopicResult[] = []
    for (const w of wanted) {
      const byId = w.name === null || (w.topicId !== ZERO_UUID && ctx.version >= 6)
      const topic: Topic | undefined = byId ? cluster.topicById(w.topicId) : cluster.topic(w.name ?? '')
      const entry = {
        name: topic?.name ?? w.name,
        topicId: topic?.topicId ?? w.topicId,
        errorCode: 0,
        errorMessage: null,
      }
      if (!topic) {
        responses.push({
          ...entry,
          errorCode: byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        })
      } else if (topic.isInternal) {
        // Deleting __consumer_offsets would drop every group's committed offsets.
        responses.push({
          ...entry,
          errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
          errorMessage: 'internal topics cannot be deleted',
        })
      } else if (!config.deleteTopicEnable) {
        responses.push({ ...entry, errorCode: ErrorCode.TOPIC_DELETION_DISABLED })
      } else {
        try {
          await cluster.deleteTopic(topic)
          responses.push(entry)
        } catch (err) {
          logger.error({ err, topic: topic.name }, 'delete topic failed')
          responses.push({ ...entry, errorCode: ErrorCode.KAFKA_STORAGE_ERROR })
        }
      }
    }
    return { ...defaultDeleteTopicsResponse(), responses }
  },
})
