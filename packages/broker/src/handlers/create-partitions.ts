// CreatePartitions (key 37), v0–3. Grows a topic to `count` partitions, never shrinks it: an equal or
// smaller count is INVALID_PARTITIONS. Manual assignments must give one replica list per new
// partition, each naming only this broker once (INVALID_REPLICA_ASSIGNMENT otherwise, as Kafka's
// ReplicationControlManager answers). A name given twice gets one INVALID_REQUEST result and
// nothing is done for it. validateOnly runs every check and changes nothing.
import {
  type CreatePartitionsRequestCreatePartitionsTopic,
  type CreatePartitionsResponseCreatePartitionsTopicResult,
  ErrorCode,
  defaultCreatePartitionsResponse,
} from '@fluxo/protocol'
import { TopicError } from '../cluster/cluster.js'
import { type RequestContext, defineHandler } from './handler.js'

export const createPartitions = defineHandler({
  apiKey: 37,
  async handle(request, ctx) {
    const counts = new Map<string, number>()
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
    const results: CreatePartitionsResponseCreatePartitionsTopicResult[] = []
    const answered = new Set<string>()
    for (const t of request.topics) {
      if (answered.has(t.name)) continue
      answered.add(t.name)
      if ((counts.get(t.name) ?? 0) > 1) {
        results.push(result(t.name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'))
        continue
      }
      results.push(await grow(t, request.validateOnly, ctx))
    }
    return { ...defaultCreatePartitionsResponse(), results }
  },
})

function result(
  name: string,
  errorCode: number,
  errorMessage: string | null,
): CreatePartitionsResponseCreatePartitionsTopicResult {
  return { name, errorCode, errorMessage }
}

async function grow(
  t: CreatePartitionsRequestCreatePartitionsTopic,
  validateOnly: boolean,
  ctx: RequestContext,
): Promise<CreatePartitionsResponseCreatePartitionsTopicResult> {
  const { cluster, logger } = ctx.broker
  try {
    const topic = cluster.checkCreatePartitions(t.name, t.count)
    if (t.assignments !== null) checkAssignments(t.assignments, t.count - topic.partitions.length, ctx)
    if (!validateOnly) await cluster.createPartitions(t.name, t.count)
    return result(t.name, ErrorCode.NONE, null)
  } catch (err) {
    if (err instanceof TopicError) return result(t.name, err.errorCode, err.message)
    logger.error({ err, topic: t.name }, 'create partitions failed')
    return result(t.name, ErrorCode.UNKNOWN_SERVER_ERROR, 'the broker could not create the partitions')
  }
}

/** Kafka's validateManualPartitionAssignment, with this broker the only one registered. */
function checkAssignments(
  assignments: readonly { brokerIds: number[] }[],
  additional: number,
  ctx: RequestContext,
): void {
  const invalid = (message: string) => new TopicError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, message)
  if (assignments.length !== additional) {
    throw invalid(
      `Attempted to add ${additional} additional partition(s), but only ${assignments.length} assignment(s) were specified.`,
    )
  }
  const self = ctx.broker.cluster.self.nodeId
  for (const { brokerIds } of assignments) {
    if (brokerIds.length === 0)
      throw invalid('The manual partition assignment includes an empty replica list.')
    const seen = new Set<number>()
    for (const id of brokerIds) {
      if (seen.has(id)) {
        throw invalid(`The manual partition assignment includes the broker ${id} more than once.`)
      }
      seen.add(id)
      if (id !== self) {
        throw invalid(
          `The manual partition assignment includes broker ${id}, but no such broker is registered.`,
        )
      }
    }
  }
}
