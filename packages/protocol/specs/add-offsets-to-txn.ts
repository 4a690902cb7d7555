import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json (Apache License 2.0).
export default {
  apiKey: 25,
  name: 'AddOffsetsToTxn',
  validVersions: '0-4',
  supportedVersions: '0-4',
  flexibleVersions: '3+',
  request: {
    fields: [
      { name: 'transactionalId', type: 'string', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
      { name: 'groupId', type: 'string', versions: '0+' },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
    ],
  },
} satisfies ApiSpec
