import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's DeleteRecordsRequest.json / DeleteRecordsResponse.json (Apache License 2.0).
export default {
  apiKey: 21,
  name: 'DeleteRecords',
  validVersions: '0-2',
  supportedVersions: '0-2',
  flexibleVersions: '2+',
  request: {
    fields: [
      {
        name: 'topics',
        type: '[]DeleteRecordsTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]DeleteRecordsPartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'offset', type: 'int64', versions: '0+' },
            ],
          },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '0+' },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'topics',
        type: '[]DeleteRecordsTopicResult',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]DeleteRecordsPartitionResult',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'lowWatermark', type: 'int64', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
} satisfies ApiSpec
