import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's HeartbeatRequest.json / HeartbeatResponse.json (Apache License 2.0).
export default {
  apiKey: 12,
  name: 'Heartbeat',
  validVersions: '0-4',
  supportedVersions: '0-4',
  flexibleVersions: '4+',
  request: {
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'generationId', type: 'int32', versions: '0+' },
      { name: 'memberId', type: 'string', versions: '0+' },
      { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
    ],
  },
} satisfies ApiSpec
