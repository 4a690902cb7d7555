import type { DataSpec } from './types.js'

// Facts from Apache Kafka's ConsumerProtocolAssignment.json (Apache License 2.0): what the group
// leader hands each consumer in SyncGroup. Not flexible; written after an int16 version.
export default {
  type: 'data',
  name: 'ConsumerProtocolAssignment',
  validVersions: '0-3',
  flexibleVersions: 'none',
  fields: [
    {
      name: 'assignedPartitions',
      type: '[]TopicPartition',
      versions: '0+',
      fields: [
        { name: 'topic', type: 'string', versions: '0+' },
        { name: 'partitions', type: '[]int32', versions: '0+' },
      ],
    },
    { name: 'userData', type: 'bytes', versions: '0+', nullableVersions: '0+', default: null },
  ],
} satisfies DataSpec
