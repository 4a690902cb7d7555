import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's ListOffsetsRequest.json / ListOffsetsResponse.json (Apache License 2.0).
export default {
  apiKey: 2,
  name: 'ListOffsets',
  validVersions: '0-10',
  supportedVersions: '1-10',
  flexibleVersions: '6+',
  request: {
    fields: [
      { name: 'replicaId', type: 'int32', versions: '0+' },
      { name: 'isolationLevel', type: 'int8', versions: '2+' },
      {
        name: 'topics',
        type: '[]ListOffsetsTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]ListOffsetsPartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'currentLeaderEpoch', type: 'int32', versions: '4+', default: -1 },
              { name: 'timestamp', type: 'int64', versions: '0+' },
              { name: 'maxNumOffsets', type: 'int32', versions: '0', default: 1 },
            ],
          },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '10+' },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
      {
        name: 'topics',
        type: '[]ListOffsetsTopicResponse',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]ListOffsetsPartitionResponse',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'oldStyleOffsets', type: '[]int64', versions: '0' },
              { name: 'timestamp', type: 'int64', versions: '1+', default: -1 },
              { name: 'offset', type: 'int64', versions: '1+', default: -1 },
              { name: 'leaderEpoch', type: 'int32', versions: '4+', default: -1 },
            ],
          },
        ],
      },
    ],
  },
} satisfies ApiSpec
