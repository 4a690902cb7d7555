import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's InitProducerIdRequest.json / InitProducerIdResponse.json (Apache License 2.0).
export default {
  apiKey: 22,
  name: 'InitProducerId',
  validVersions: '0-5',
  supportedVersions: '0-5',
  flexibleVersions: '2+',
  request: {
    fields: [
      { name: 'transactionalId', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '3+', default: -1 },
      { name: 'producerEpoch', type: 'int16', versions: '3+', default: -1 },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+', default: -1 },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
    ],
  },
} satisfies ApiSpec
