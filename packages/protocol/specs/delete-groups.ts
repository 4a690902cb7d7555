import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's DeleteGroupsRequest.json / DeleteGroupsResponse.json (Apache License 2.0).
export default {
  apiKey: 42,
  name: 'DeleteGroups',
  validVersions: '0-2',
  supportedVersions: '0-2',
  flexibleVersions: '2+',
  request: { fields: [{ name: 'groupsNames', type: '[]string', versions: '0+' }] },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'results',
        type: '[]DeletableGroupResult',
        versions: '0+',
        fields: [
          { name: 'groupId', type: 'string', versions: '0+' },
          { name: 'errorCode', type: 'int16', versions: '0+' },
        ],
      },
    ],
  },
} satisfies ApiSpec
