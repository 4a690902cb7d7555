import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's ElectLeadersRequest.json / ElectLeadersResponse.json (Apache License 2.0).
export default {
  apiKey: 43,
  name: 'ElectLeaders',
  validVersions: '0-2',
  supportedVersions: '0-2',
  flexibleVersions: '2+',
  request: {
    fields: [
      { name: 'electionType', type: 'int8', versions: '1+' },
      {
        name: 'topicPartitions',
        type: '[]TopicPartitions',
        versions: '0+',
        nullableVersions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          { name: 'partitions', type: '[]int32', versions: '0+' },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '1+' },
      {
        name: 'replicaElectionResults',
        type: '[]ReplicaElectionResult',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          {
            name: 'partitionResult',
            type: '[]PartitionResult',
            versions: '0+',
            fields: [
              { name: 'partitionId', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
} satisfies ApiSpec
