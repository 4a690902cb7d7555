import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's DescribeTransactionsRequest.json / DescribeTransactionsResponse.json (Apache License 2.0).
export default {
  apiKey: 65,
  name: 'DescribeTransactions',
  validVersions: '0',
  supportedVersions: '0',
  flexibleVersions: '0+',
  request: { fields: [{ name: 'transactionalIds', type: '[]string', versions: '0+' }] },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'transactionStates',
        type: '[]TransactionState',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'transactionalId', type: 'string', versions: '0+' },
          { name: 'transactionState', type: 'string', versions: '0+' },
          { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
          { name: 'transactionStartTimeMs', type: 'int64', versions: '0+' },
          { name: 'producerId', type: 'int64', versions: '0+' },
          { name: 'producerEpoch', type: 'int16', versions: '0+' },
          {
            name: 'topics',
            type: '[]TopicData',
            versions: '0+',
            fields: [
              { name: 'topic', type: 'string', versions: '0+' },
              { name: 'partitions', type: '[]int32', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
} satisfies ApiSpec
