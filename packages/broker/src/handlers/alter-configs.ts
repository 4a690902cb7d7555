// AlterConfigs (key 33), v0–2: each resource's configs replace its whole set (keys not given go
// back to their defaults), which is why Kafka deprecated it for IncrementalAlterConfigs (KIP-339).
// Per resource, as Kafka's ConfigAdminManager and controller:
// - a resource named twice fails both, duplicate keys and null values fail the resource
//   (INVALID_REQUEST);
// - TOPIC: the overrides are validated as at creation (INVALID_CONFIG naming the key, "Unknown topic
//   config name: x"), saved with the topic (they survive restart) and applied to its partitions at
//   once; internal topics too. Missing topic UNKNOWN_TOPIC_OR_PARTITION, bad name
//   INVALID_TOPIC_EXCEPTION, "" INVALID_REQUEST.
// - BROKER: this broker's id or "" (cluster default) sets KIP-226 dynamic configs, only the broker
//   defaults of topic configs (log.retention.ms, message.max.bytes, ...), which every topic without
//   an override follows at once; anything refused is INVALID_REQUEST (Kafka's KAFKA-13609 quirk).
//   Fluxo keeps them in memory: they are lost at restart.
// - BROKER_LOGGER is IncrementalAlterConfigs only; other types INVALID_REQUEST.
// validateOnly runs every check and changes nothing.
import { ErrorCode, defaultAlterConfigsResponse } from '@fluxo/protocol'
import { type ConfigChange, TopicError, topicNameError } from '../cluster/cluster.js'
import { ConfigResourceType } from '../config.js'
import { checkBrokerId, resourceTypeName } from './describe-configs.js'
import { type RequestContext, defineHandler } from './handler.js'

export const alterConfigs = defineHandler({
  apiKey: 33,
  async handle(request, ctx) {
    const responses = await alterResources(
      request.resources,
      ctx,
      (resource) => {
        const configs: Record<string, string> = {}
        for (const c of resource.configs) if (c.value !== null) configs[c.name] = c.value
        return {
          nullValues: resource.configs.filter((c) => c.value === null).map((c) => c.name),
          change: configs,
        }
      },
      request.validateOnly,
    )
    return { ...defaultAlterConfigsResponse(), responses }
  },
})

export interface AlterableResource {
  resourceType: number
  resourceName: string
  configs: readonly { name: string }[]
}

export interface ResourceChange {
  /** Keys whose value is null where the API does not allow it. */
  nullValues: string[]
  change: ConfigChange
}

export interface ResourceResult {
  errorCode: number
  errorMessage: string | null
  resourceType: number
  resourceName: string
}

/**
 * The checks both APIs share, then the change per resource type. `prepare` turns one resource's
 * request into its change; it may throw TopicError for request-level problems.
 * `loggerChange` handles BROKER_LOGGER (IncrementalAlterConfigs only).
 */
export async function alterResources<R extends AlterableResource>(
  resources: readonly R[],
  ctx: RequestContext,
  prepare: (resource: R) => ResourceChange,
  validateOnly = false,
  loggerChange?: (resource: R) => void,
): Promise<ResourceResult[]> {
  const seen = new Map<string, number>()
  for (const r of resources) {
    const key = `${r.resourceType}:${r.resourceName}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  const results: ResourceResult[] = []
  for (const resource of resources) {
    const result = (errorCode: number, errorMessage: string | null): ResourceResult => ({
      errorCode,
      errorMessage,
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
    })
    if ((seen.get(`${resource.resourceType}:${resource.resourceName}`) ?? 0) > 1) {
      results.push(result(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'))
      continue
    }
    try {
      await alterOne(resource, ctx, prepare, validateOnly, loggerChange)
      results.push(result(ErrorCode.NONE, null))
    } catch (err) {
      if (err instanceof TopicError) {
        results.push(result(err.errorCode, err.message))
        continue
      }
      ctx.broker.logger.error({ err, resource: resource.resourceName }, 'alter configs failed')
      results.push(result(ErrorCode.UNKNOWN_SERVER_ERROR, 'the broker could not alter the configs'))
    }
  }
  return results
}

async function alterOne<R extends AlterableResource>(
  resource: R,
  ctx: RequestContext,
  prepare: (resource: R) => ResourceChange,
  validateOnly: boolean,
  loggerChange: ((resource: R) => void) | undefined,
): Promise<void> {
  const names = resource.configs.map((c) => c.name)
  if (new Set(names).size !== names.length)
    throw new TopicError(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys')
  const { nullValues, change } = prepare(resource)
  if (nullValues.length > 0)
    throw new TopicError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nullValues.join(', ')}`)
  const { cluster, config } = ctx.broker
  const name = resource.resourceName
  switch (resource.resourceType) {
    case ConfigResourceType.TOPIC: {
      if (name === '')
        throw new TopicError(ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.')
      const nameError = topicNameError(name)
      if (nameError) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError)
      await cluster.alterTopicConfigs(name, change, validateOnly)
      return
    }
    case ConfigResourceType.BROKER:
      if (name !== '') checkBrokerId(name, config.nodeId, 'Node id', `${config.nodeId},`)
      await cluster.alterBrokerConfigs(name !== '', change, validateOnly)
      return
    case ConfigResourceType.BROKER_LOGGER:
      if (loggerChange) {
        loggerChange(resource)
        return
      }
      break
  }
  const known = resourceTypeName(resource.resourceType)
  throw new TopicError(
    ErrorCode.INVALID_REQUEST,
    known === String(resource.resourceType)
      ? `Unknown resource type ${resource.resourceType}`
      : `Unsupported resource type: ${known}`,
  )
}
