// ElectLeaders (key 43), v0–2 (KIP-183, KIP-460). One broker is the preferred (first) replica and
// the leader of every partition, so no election is ever needed: each named partition answers
// ELECTION_NOT_NEEDED, for preferred and unclean elections alike, as Kafka's
// ReplicationControlManager.electLeader answers when the preferred leader leads (preferred) or any
// leader exists (unclean). Unknown topics and partitions answer UNKNOWN_TOPIC_OR_PARTITION. A null
// topic list means every partition, and Kafka leaves out those that needed no election: every topic
// is listed with no partition results. An election type other than 0 (preferred) or 1 (unclean) is
// INVALID_REQUEST for the request (top-level from v1) and for each named partition. v0 carries no
// election type: it is a preferred election.
import {
  type ElectLeadersResponseReplicaElectionResult,
  ErrorCode,
  defaultElectLeadersResponse,
  errorInfo,
} from '@fluxo/protocol'
import { defineHandler } from './handler.js'

const PREFERRED = 0
const UNCLEAN = 1

export const electLeaders = defineHandler({
  apiKey: 43,
  handle(request, ctx) {
    const { cluster } = ctx.broker
    if (request.electionType !== PREFERRED && request.electionType !== UNCLEAN) {
      const errorMessage = `Unknown election type ${request.electionType}`
      return {
        ...defaultElectLeadersResponse(),
        errorCode: ErrorCode.INVALID_REQUEST,
        replicaElectionResults: (request.topicPartitions ?? []).map((t) => ({
          topic: t.topic,
          partitionResult: t.partitions.map((partitionId) => ({
            partitionId,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage,
          })),
        })),
      }
    }
    let replicaElectionResults: ElectLeadersResponseReplicaElectionResult[]
    if (request.topicPartitions === null) {
      replicaElectionResults = cluster.topics().map((topic) => ({ topic: topic.name, partitionResult: [] }))
    } else {
      replicaElectionResults = request.topicPartitions.map((t) => {
        const topic = cluster.topic(t.topic)
        return {
          topic: t.topic,
          partitionResult: t.partitions.map((partitionId) => {
            if (!topic) {
              return {
                partitionId,
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                errorMessage: `No such topic as ${t.topic}`,
              }
            }
            if (!topic.partitions[partitionId]) {
              return {
                partitionId,
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                errorMessage: `No such partition as ${t.topic}-${partitionId}`,
              }
            }
            return {
              partitionId,
              errorCode: ErrorCode.ELECTION_NOT_NEEDED,
              errorMessage: errorInfo(ErrorCode.ELECTION_NOT_NEEDED).message,
            }
          }),
        }
      })
    }
    return { ...defaultElectLeadersResponse(), errorCode: ErrorCode.NONE, replicaElectionResults }
  },
})
