import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's ListTransactionsRequest.json / ListTransactionsResponse.json (Apache License 2.0).
export default {
  apiKey: 66,
  name: 'ListTransactions',
  validVersions: '0-1',
  supportedVersions: '0-1',
  flexibleVersions: '0+',
  request: {
    fields: [
      { name: 'stateFilters', type: '[]string', versions: '0+' },
      { name: 'producerIdFilters', type: '[]int64', versions: '0+' },
      { name: 'durationFilter', type: 'int64', versions: '1+', default: -1 },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'unknownStateFilters', type: '[]string', versions: '0+' },
      {
        name: 'transactionStates',
        type: '[]TransactionState',
        versions: '0+',
        fields: [
          { name: 'transactionalId', type: 'string', versions: '0+' },
          { name: 'producerId', type: 'int64', versions: '0+' },
          { name: 'transactionState', type: 'string', versions: '0+' },
        ],
      },
    ],
  },
} satisfies ApiSpec
