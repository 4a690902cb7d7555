import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's CreatePartitionsRequest.json / CreatePartitionsResponse.json (Apache License 2.0).
export default {
  apiKey: 37,
  name: 'CreatePartitions',
  validVersions: '0-3',
  supportedVersions: '0-3',
  flexibleVersions: '2+',
  request: {
    fields: [
      {
        name: 'topics',
        type: '[]CreatePartitionsTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          { name: 'count', type: 'int32', versions: '0+' },
          {
            name: 'assignments',
            type: '[]CreatePartitionsAssignment',
            versions: '0+',
            nullableVersions: '0+',
            fields: [{ name: 'brokerIds', type: '[]int32', versions: '0+' }],
          },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '0+' },
      { name: 'validateOnly', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'results',
        type: '[]CreatePartitionsTopicResult',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
        ],
      },
    ],
  },
} satisfies ApiSpec
