import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's EndTxnRequest.json / EndTxnResponse.json (Apache License 2.0).
export default {
  apiKey: 26,
  name: 'EndTxn',
  validVersions: '0-5',
  supportedVersions: '0-5',
  flexibleVersions: '3+',
  request: {
    fields: [
      { name: 'transactionalId', type: 'string', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
      { name: 'committed', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '5+', default: -1 },
      { name: 'producerEpoch', type: 'int16', versions: '5+', default: -1 },
    ],
  },
} satisfies ApiSpec
