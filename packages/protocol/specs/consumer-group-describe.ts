import type { ApiSpec } from './types.js'

// Facts from Apache Kafka's ConsumerGroupDescribeRequest.json / ConsumerGroupDescribeResponse.json (Apache License 2.0).
// Version 1 (Kafka 4.0, KIP-1099 / KAFKA-17750) adds Member.MemberType to the response; the request is unchanged.
// The reference JSON this spec was first taken from predates it and still says "0".
export default {
  apiKey: 69,
  name: 'ConsumerGroupDescribe',
  validVersions: '0-1',
  supportedVersions: '0-1',
  flexibleVersions: '0+',
  request: {
    fields: [
      { name: 'groupIds', type: '[]string', versions: '0+' },
      { name: 'includeAuthorizedOperations', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    commonStructs: [
      {
        name: 'TopicPartitions',
        versions: '0+',
        fields: [
          { name: 'topicId', type: 'uuid', versions: '0+' },
          { name: 'topicName', type: 'string', versions: '0+' },
          { name: 'partitions', type: '[]int32', versions: '0+' },
        ],
      },
      {
        name: 'Assignment',
        versions: '0+',
        fields: [{ name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+' }],
      },
    ],
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'groups',
        type: '[]DescribedGroup',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
          { name: 'groupId', type: 'string', versions: '0+' },
          { name: 'groupState', type: 'string', versions: '0+' },
          { name: 'groupEpoch', type: 'int32', versions: '0+' },
          { name: 'assignmentEpoch', type: 'int32', versions: '0+' },
          { name: 'assignorName', type: 'string', versions: '0+' },
          {
            name: 'members',
            type: '[]Member',
            versions: '0+',
            fields: [
              { name: 'memberId', type: 'string', versions: '0+' },
              { name: 'instanceId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
              { name: 'rackId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
              { name: 'memberEpoch', type: 'int32', versions: '0+' },
              { name: 'clientId', type: 'string', versions: '0+' },
              { name: 'clientHost', type: 'string', versions: '0+' },
              { name: 'subscribedTopicNames', type: '[]string', versions: '0+' },
              {
                name: 'subscribedTopicRegex',
                type: 'string',
                versions: '0+',
                nullableVersions: '0+',
                default: null,
              },
              { name: 'assignment', type: 'Assignment', versions: '0+' },
              { name: 'targetAssignment', type: 'Assignment', versions: '0+' },
              // -1 unknown, 0 classic member, 1 consumer member.
              { name: 'memberType', type: 'int8', versions: '1+', default: -1 },
            ],
          },
          { name: 'authorizedOperations', type: 'int32', versions: '0+', default: -2147483648 },
        ],
      },
    ],
  },
} satisfies ApiSpec
