// DescribeCluster (key 60), v0–1. This broker is the whole cluster and answers as its controller
// too (Metadata's controllerId). v1 carries the KIP-919 endpoint type: this is a broker endpoint, so
// a request for controllers gets MISMATCHED_ENDPOINT_TYPE and an unknown type
// UNSUPPORTED_ENDPOINT_TYPE; v0 cannot carry those codes and gets INVALID_REQUEST, as Kafka's
// AuthHelper.computeDescribeClusterResponse answers. The refusals carry no cluster description.
import { ErrorCode, defaultDescribeClusterResponse } from '@fluxo/protocol'
import { defineHandler } from './handler.js'

const BROKER_ENDPOINT = 1
const ENDPOINT_NAMES: Record<number, string> = { 1: 'BROKER', 2: 'CONTROLLER' }

/**
 * With no authorizer Kafka grants every operation the CLUSTER resource supports (AclEntry
 * .supportedOperations): CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10,
 * ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12, as a bit field (KIP-430).
 */
const CLUSTER_OPERATIONS = [5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0)

export const describeCluster = defineHandler({
  apiKey: 60,
  handle(request, ctx) {
    const { cluster } = ctx.broker
    const wanted = request.endpointType
    if (wanted !== BROKER_ENDPOINT) {
      const known = ENDPOINT_NAMES[wanted] !== undefined
      return {
        ...defaultDescribeClusterResponse(),
        errorCode:
          ctx.version === 0
            ? ErrorCode.INVALID_REQUEST
            : known
              ? ErrorCode.MISMATCHED_ENDPOINT_TYPE
              : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: known
          ? `The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type ${ENDPOINT_NAMES[wanted]}`
          : `Unsupported endpoint type ${wanted}`,
      }
    }
    const self = cluster.self
    return {
      ...defaultDescribeClusterResponse(),
      endpointType: BROKER_ENDPOINT,
      clusterId: cluster.clusterId,
      controllerId: self.nodeId,
      brokers: [{ brokerId: self.nodeId, host: self.host, port: self.port, rack: self.rack }],
      clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
        ? CLUSTER_OPERATIONS
        : defaultDescribeClusterResponse().clusterAuthorizedOperations,
    }
  },
})
