// DescribeConfigs (key 32), v1–4 (v0 is below Kafka 4.0's floor). Per resource, as Kafka's
// ConfigHelper.describeConfigs:
// - TOPIC: every topic config with its value (the topic's override, else the broker's), source and
//   synonyms; internal topics too. A bad name is INVALID_TOPIC_EXCEPTION, a missing topic
//   UNKNOWN_TOPIC_OR_PARTITION.
// - BROKER: named by this broker's id, every broker property with the value in force; named "",
//   only the dynamic cluster defaults (KIP-226). Another id is INVALID_REQUEST.
// - BROKER_LOGGER (KIP-412): the root logger's level, for this broker's id only.
// - Any other type (CLIENT_METRICS, GROUP, unknown) is INVALID_REQUEST: Fluxo has no such configs.
// configurationKeys null or empty means all; names that do not exist are left out, not errors.
// Synonyms only when includeSynonyms (v1+), documentation only when includeDocumentation (v3+).
import {
  type DescribeConfigsRequestDescribeConfigsResource,
  type DescribeConfigsResponseDescribeConfigsResourceResult,
  type DescribeConfigsResponseDescribeConfigsResult,
  ErrorCode,
  defaultDescribeConfigsResponse,
} from '@fluxo/protocol'
import { TopicError, topicNameError } from '../cluster/cluster.js'
import {
  ConfigResourceType,
  ConfigSource,
  ConfigTypeId,
  type DescribeOptions,
  type DescribedConfig,
  describeBrokerConfigEntries,
  describeTopicConfigEntries,
} from '../config.js'
import { type RequestContext, defineHandler } from './handler.js'

export const describeConfigs = defineHandler({
  apiKey: 32,
  handle(request, ctx) {
    const options: DescribeOptions = {
      includeSynonyms: request.includeSynonyms,
      includeDocumentation: request.includeDocumentation,
    }
    const results = request.resources.map((resource) => describe(resource, options, ctx))
    return { ...defaultDescribeConfigsResponse(), results }
  },
})

function describe(
  resource: DescribeConfigsRequestDescribeConfigsResource,
  options: DescribeOptions,
  ctx: RequestContext,
): DescribeConfigsResponseDescribeConfigsResult {
  const result = (errorCode: number, errorMessage: string | null, configs: DescribedConfig[] = []) => ({
    errorCode,
    errorMessage,
    resourceType: resource.resourceType,
    resourceName: resource.resourceName,
    configs: select(configs, resource.configurationKeys).map(toWire),
  })
  try {
    return result(ErrorCode.NONE, null, entries(resource, options, ctx))
  } catch (err) {
    if (err instanceof TopicError) return result(err.errorCode, err.message)
    ctx.broker.logger.error({ err, resource }, 'describe configs failed')
    return result(ErrorCode.UNKNOWN_SERVER_ERROR, 'the broker could not describe the configs')
  }
}

function entries(
  resource: DescribeConfigsRequestDescribeConfigsResource,
  options: DescribeOptions,
  ctx: RequestContext,
): DescribedConfig[] {
  const { cluster, config, logger } = ctx.broker
  const name = resource.resourceName
  switch (resource.resourceType) {
    case ConfigResourceType.TOPIC: {
      const nameError = topicNameError(name)
      if (nameError) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError)
      const topic = cluster.topic(name)
      if (!topic)
        throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`)
      return describeTopicConfigEntries(topic.config, options)
    }
    case ConfigResourceType.BROKER:
      if (name === '') return describeBrokerConfigEntries(config, false, options)
      checkBrokerId(name, config.nodeId, 'Broker id', `${config.nodeId} or empty string,`)
      return describeBrokerConfigEntries(config, true, options)
    case ConfigResourceType.BROKER_LOGGER:
      if (name === '') throw new TopicError(ErrorCode.INVALID_REQUEST, 'Broker id must not be empty')
      checkBrokerId(name, config.nodeId, 'Broker id', `${config.nodeId}`)
      return [
        {
          name: 'root',
          value: log4jLevel(logger.level),
          readOnly: false,
          configSource: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG,
          isSensitive: false,
          synonyms: [],
          configType: ConfigTypeId.UNKNOWN,
          documentation: null,
        },
      ]
    default:
      throw new TopicError(
        ErrorCode.INVALID_REQUEST,
        `Unsupported resource type: ${resourceTypeName(resource.resourceType)}`,
      )
  }
}

/**
 * A broker resource must name this broker: INVALID_REQUEST otherwise, with Kafka's messages (which
 * word them slightly differently per API, hence `what` and `expected`).
 */
export function checkBrokerId(name: string, nodeId: number, what: string, expected: string): void {
  if (!/^[+-]?\d+$/.test(name))
    throw new TopicError(ErrorCode.INVALID_REQUEST, `${what} must be an integer, but it is: ${name}`)
  if (Number(name) !== nodeId)
    throw new TopicError(
      ErrorCode.INVALID_REQUEST,
      `Unexpected broker id, expected ${expected} but received ${name}`,
    )
}

export function resourceTypeName(type: number): string {
  const entry = Object.entries(ConfigResourceType).find(([, id]) => id === type)
  return entry ? entry[0] : String(type)
}

function select(configs: DescribedConfig[], keys: string[] | null): DescribedConfig[] {
  if (keys === null || keys.length === 0) return configs
  const wanted = new Set(keys)
  return configs.filter((c) => wanted.has(c.name))
}

function toWire(c: DescribedConfig): DescribeConfigsResponseDescribeConfigsResourceResult {
  return {
    name: c.name,
    value: c.value,
    readOnly: c.readOnly,
    // v0's field; the handler starts at v1, where configSource replaces it.
    isDefault: c.configSource === ConfigSource.DEFAULT_CONFIG,
    configSource: c.configSource,
    isSensitive: c.isSensitive,
    synonyms: c.synonyms.map((s) => ({ name: s.name, value: s.value, source: s.source })),
    configType: c.configType,
    documentation: c.documentation,
  }
}

/** pino's level as the log4j level Kafka's broker loggers report. */
function log4jLevel(level: string): string {
  return level === 'silent' ? 'OFF' : level.toUpperCase()
}
