import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's OffsetForLeaderEpochRequest.json / OffsetForLeaderEpochResponse.json (Apache License 2.0).
export default {
  apiKey: 23,
  name: 'OffsetForLeaderEpoch',
  validVersions: '0-4',
  supportedVersions: '2-4',
  flexibleVersions: '4+',
  request: {
    fields: [
      { name: 'replicaId', type: 'int32', versions: '3+', default: -2 },
      {
        name: 'topics',
        type: '[]OffsetForLeaderTopic',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]OffsetForLeaderPartition',
            versions: '0+',
            fields: [
              { name: 'partition', type: 'int32', versions: '0+' },
              { name: 'currentLeaderEpoch', type: 'int32', versions: '2+', default: -1 },
              { name: 'leaderEpoch', type: 'int32', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
      {
        name: 'topics',
        type: '[]OffsetForLeaderTopicResult',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]EpochEndOffset',
            versions: '0+',
            fields: [
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'partition', type: 'int32', versions: '0+' },
              { name: 'leaderEpoch', type: 'int32', versions: '1+', default: -1 },
              { name: 'endOffset', type: 'int64', versions: '0+', default: -1 },
            ],
          },
        ],
      },
    ],
  },
} satisfies ApiSpec
