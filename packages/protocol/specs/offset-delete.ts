import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's OffsetDeleteRequest.json / OffsetDeleteResponse.json (Apache License 2.0).
export default {
  apiKey: 47,
  name: 'OffsetDelete',
  validVersions: '0',
  supportedVersions: '0-0',
  flexibleVersions: 'none',
  request: {
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      {
        name: 'topics',
        type: '[]OffsetDeleteRequestTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]OffsetDeleteRequestPartition',
            versions: '0+',
            fields: [{ name: 'partitionIndex', type: 'int32', versions: '0+' }],
          },
        ],
      },
    ],
  },
  response: {
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'topics',
        type: '[]OffsetDeleteResponseTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]OffsetDeleteResponsePartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
} satisfies ApiSpec
