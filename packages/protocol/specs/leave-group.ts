import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's LeaveGroupRequest.json / LeaveGroupResponse.json (Apache License 2.0).
export default {
  apiKey: 13,
  name: 'LeaveGroup',
  validVersions: '0-5',
  supportedVersions: '0-5',
  flexibleVersions: '4+',
  request: {
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'memberId', type: 'string', versions: '0-2' },
      {
        name: 'members',
        type: '[]MemberIdentity',
        versions: '3+',
        fields: [
          { name: 'memberId', type: 'string', versions: '3+' },
          { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
          { name: 'reason', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
        ],
      },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      {
        name: 'members',
        type: '[]MemberResponse',
        versions: '3+',
        fields: [
          { name: 'memberId', type: 'string', versions: '3+' },
          { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+' },
          { name: 'errorCode', type: 'int16', versions: '3+' },
        ],
      },
    ],
  },
} satisfies ApiSpec
