// IncrementalAlterConfigs (key 44), v0–1 (KIP-339): per key SET (0), DELETE (1, back to the
// default), APPEND (2) and SUBTRACT (3); APPEND and SUBTRACT only on list configs
// (cleanup.policy, ...), starting from the current value or else the config's default, and
// INVALID_CONFIG on any other. The result goes through the same checks and effects as AlterConfigs
// (see alter-configs.ts), computed in the same queue as other topic changes so concurrent
// increments never lose one another. A null value is allowed for DELETE only; an unknown operation
// is INVALID_REQUEST.
// BROKER_LOGGER (KIP-412), named by this broker's id: SET or DELETE the level of the root logger
// (the only logger Fluxo has), with log4j's level names.
import {
  ErrorCode,
  type IncrementalAlterConfigsRequestAlterConfigsResource,
  defaultIncrementalAlterConfigsResponse,
} from '@fluxo/protocol'
import type { Level } from 'pino'
import { TopicError } from '../cluster/cluster.js'
import { AlterConfigOp, ConfigResourceType, applyConfigOps } from '../config.js'
import { alterResources } from './alter-configs.js'
import { checkBrokerId } from './describe-configs.js'
import { type RequestContext, defineHandler } from './handler.js'

const OPS = new Set<number>(Object.values(AlterConfigOp))

export const incrementalAlterConfigs = defineHandler({
  apiKey: 44,
  async handle(request, ctx) {
    const responses = await alterResources(
      request.resources,
      ctx,
      (resource) => {
        const unknown = resource.configs.find((c) => !OPS.has(c.configOperation))
        if (unknown)
          throw new TopicError(
            ErrorCode.INVALID_REQUEST,
            `Unknown operations type ${unknown.configOperation}`,
          )
        const ops = resource.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value }))
        const kind = resource.resourceType === ConfigResourceType.TOPIC ? 'topic' : 'broker'
        return {
          nullValues: ops.filter((o) => o.op !== AlterConfigOp.DELETE && o.value === null).map((o) => o.name),
          change: (current) => applyConfigOps(current, ops, kind),
        }
      },
      request.validateOnly,
      (resource) => alterLogLevels(resource, request.validateOnly, ctx),
    )
    return { ...defaultIncrementalAlterConfigsResponse(), responses }
  },
})

/** Kafka's LogLevelConfig.VALID_LOG_LEVELS, each with the pino level it sets. */
const LOG4J_LEVELS: Readonly<Record<string, Level>> = {
  FATAL: 'fatal',
  ERROR: 'error',
  WARN: 'warn',
  INFO: 'info',
  DEBUG: 'debug',
  TRACE: 'trace',
}

/** Kafka's RuntimeLoggerManager for the one logger Fluxo has. Checks everything before changing anything. */
function alterLogLevels(
  resource: IncrementalAlterConfigsRequestAlterConfigsResource,
  validateOnly: boolean,
  ctx: RequestContext,
): void {
  const { config, logger } = ctx.broker
  checkBrokerId(resource.resourceName, config.nodeId, 'Node id', `${config.nodeId},`)
  let level: Level | undefined
  for (const c of resource.configs) {
    if (c.configOperation === AlterConfigOp.APPEND || c.configOperation === AlterConfigOp.SUBTRACT) {
      const op = c.configOperation === AlterConfigOp.APPEND ? 'APPEND' : 'SUBTRACT'
      throw new TopicError(
        ErrorCode.INVALID_REQUEST,
        `${op} operation is not allowed for the BROKER_LOGGER resource`,
      )
    }
    if (c.name !== 'root') throw new TopicError(ErrorCode.INVALID_CONFIG, `Logger ${c.name} does not exist!`)
    if (c.configOperation === AlterConfigOp.DELETE)
      throw new TopicError(
        ErrorCode.INVALID_REQUEST,
        'Removing the log level of the root logger is not allowed',
      )
    level = LOG4J_LEVELS[c.value ?? '']
    if (level === undefined)
      throw new TopicError(
        ErrorCode.INVALID_CONFIG,
        `Cannot set the log level of root to ${c.value} as it is not a supported log level. Valid log4j levels are ${Object.keys(LOG4J_LEVELS).join(', ')}`,
      )
  }
  if (level !== undefined && !validateOnly) logger.level = level
}
