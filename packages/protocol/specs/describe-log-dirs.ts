import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's DescribeLogDirsRequest.json / DescribeLogDirsResponse.json (Apache License 2.0).
// v0 is deprecated there and removed in Kafka 4.0 (KIP-896), so Fluxo starts at v1.
export default {
  apiKey: 35,
  name: 'DescribeLogDirs',
  validVersions: '0-4',
  supportedVersions: '1-4',
  flexibleVersions: '2+',
  request: {
    fields: [
      {
        name: 'topics',
        type: '[]DescribableLogDirTopic',
        versions: '0+',
        nullableVersions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          { name: 'partitions', type: '[]int32', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '3+' },
      {
        name: 'results',
        type: '[]DescribeLogDirsResult',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'logDir', type: 'string', versions: '0+' },
          {
            name: 'topics',
            type: '[]DescribeLogDirsTopic',
            versions: '0+',
            fields: [
              { name: 'name', type: 'string', versions: '0+' },
              {
                name: 'partitions',
                type: '[]DescribeLogDirsPartition',
                versions: '0+',
                fields: [
                  { name: 'partitionIndex', type: 'int32', versions: '0+' },
                  { name: 'partitionSize', type: 'int64', versions: '0+' },
                  { name: 'offsetLag', type: 'int64', versions: '0+' },
                  { name: 'isFutureKey', type: 'bool', versions: '0+' },
                ],
              },
            ],
          },
          { name: 'totalBytes', type: 'int64', versions: '4+', default: -1 },
          { name: 'usableBytes', type: 'int64', versions: '4+', default: -1 },
        ],
      },
    ],
  },
} satisfies ApiSpec
