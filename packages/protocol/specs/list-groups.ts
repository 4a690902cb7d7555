import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's ListGroupsRequest.json / ListGroupsResponse.json (Apache License 2.0).
export default {
  apiKey: 16,
  name: 'ListGroups',
  validVersions: '0-5',
  supportedVersions: '0-5',
  flexibleVersions: '3+',
  request: {
    fields: [
      { name: 'statesFilter', type: '[]string', versions: '4+' },
      { name: 'typesFilter', type: '[]string', versions: '5+' },
    ],
  },
  response: {
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      {
        name: 'groups',
        type: '[]ListedGroup',
        versions: '0+',
        fields: [
          { name: 'groupId', type: 'string', versions: '0+' },
          { name: 'protocolType', type: 'string', versions: '0+' },
          { name: 'groupState', type: 'string', versions: '4+' },
          { name: 'groupType', type: 'string', versions: '5+' },
        ],
      },
    ],
  },
} satisfies ApiSpec
