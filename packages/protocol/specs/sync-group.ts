import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's SyncGroupRequest.json / SyncGroupResponse.json (Apache License 2.0).
export default {
  apiKey: 14,
  name: 'SyncGroup',
  validVersions: '0-5',
  supportedVersions: '0-5',
  flexibleVersions: '4+',
  request: {
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'generationId', type: 'int32', versions: '0+' },
      { name: 'memberId', type: 'string', versions: '0+' },
      { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
      { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      {
        name: 'assignments',
        type: '[]SyncGroupRequestAssignment',
        versions: '0+',
        fields: [
          { name: 'memberId', type: 'string', versions: '0+' },
          { name: 'assignment', type: 'bytes', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      { name: 'assignment', type: 'bytes', versions: '0+' },
    ],
  },
} satisfies ApiSpec
