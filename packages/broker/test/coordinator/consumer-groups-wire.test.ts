import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ErrorCode,
  defaultConsumerGroupHeartbeatRequest,
  defaultDescribeGroupsRequest,
  defaultJoinGroupRequest,
  defaultListGroupsRequest,
  defaultOffsetCommitRequest,
  defaultOffsetFetchRequest,
} from '@fluxo/protocol'
import { startBroker } from '../../src/index.js'
import { RawClient } from '../raw-client.js'

/** KIP-848 groups over the wire: one namespace with classic groups, member epochs on offsets, admin views. */
test('consumer groups: heartbeat, describe, list, namespace with classic groups, offsets by member epoch', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await client.request(19, 4, {
    topics: [{ name: 't', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  } as never)

  const join = await client.request(68, 1, {
    ...defaultConsumerGroupHeartbeatRequest(),
    groupId: 'cg',
    memberId: 'member-1',
    memberEpoch: 0,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ['t'],
    topicPartitions: [],
  })
  assert.equal(join.errorCode, ErrorCode.NONE)
  assert.equal(join.memberEpoch, 1)
  assert.equal(join.heartbeatIntervalMs, 5000)
  assert.deepEqual(join.assignment?.topicPartitions[0]?.partitions, [0, 1, 2])
  const topicId = join.assignment!.topicPartitions[0]!.topicId

  for (const version of [0, 1]) {
    const described = await client.request(69, version, {
      groupIds: ['cg', 'nope', ''],
      includeAuthorizedOperations: false,
    })
    const [cg, nope, empty] = described.groups
    assert.equal(cg!.errorCode, ErrorCode.NONE)
    assert.equal(cg!.groupState, 'Stable')
    assert.equal(cg!.groupEpoch, 1)
    assert.equal(cg!.assignorName, 'uniform')
    assert.equal(cg!.members[0]!.memberId, 'member-1')
    assert.equal(cg!.members[0]!.memberType, version >= 1 ? 1 : -1)
    assert.deepEqual(cg!.members[0]!.assignment.topicPartitions, [
      { topicId, topicName: 't', partitions: [0, 1, 2] },
    ])
    assert.equal(nope!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND)
    assert.equal(empty!.errorCode, ErrorCode.INVALID_GROUP_ID)
  }

  // ListGroups v5 reports the type; DescribeGroups shows the group the classic way.
  const listed = await client.request(16, 5, { ...defaultListGroupsRequest(), typesFilter: ['consumer'] })
  assert.deepEqual(
    listed.groups.map((g) => [g.groupId, g.groupType, g.groupState, g.protocolType]),
    [['cg', 'consumer', 'Stable', 'consumer']],
  )
  const classicOnly = await client.request(16, 5, { ...defaultListGroupsRequest(), typesFilter: ['classic'] })
  assert.equal(classicOnly.groups.length, 0)
  const dg = await client.request(15, 5, { ...defaultDescribeGroupsRequest(), groups: ['cg'] })
  assert.equal(dg.groups[0]!.groupState, 'Stable')
  assert.equal(dg.groups[0]!.protocolType, 'consumer')
  assert.equal(dg.groups[0]!.members[0]!.clientHost, '/127.0.0.1')

  // JoinGroup on a consumer group with members: INCONSISTENT_GROUP_PROTOCOL.
  const classicJoin = {
    ...defaultJoinGroupRequest(),
    groupId: 'cg',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('x') }],
  }
  assert.equal((await client.request(11, 9, classicJoin)).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

  // OffsetCommit v9 with the member epoch; a stale epoch is STALE_MEMBER_EPOCH, v8 ILLEGAL_GENERATION.
  const commit = (version: number, epoch: number, memberId = 'member-1') =>
    client.request(8, version, {
      ...defaultOffsetCommitRequest(),
      groupId: 'cg',
      generationIdOrMemberEpoch: epoch,
      memberId,
      topics: [
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: 'm' },
          ],
        },
      ],
    })
  const code = async (p: ReturnType<typeof commit>) => (await p).topics[0]!.partitions[0]!.errorCode
  assert.equal(await code(commit(9, 1)), ErrorCode.NONE)
  assert.equal(await code(commit(9, 0)), ErrorCode.STALE_MEMBER_EPOCH)
  assert.equal(await code(commit(8, 0)), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(await code(commit(9, 1, 'stranger')), ErrorCode.UNKNOWN_MEMBER_ID)
  const fetch = (epoch: number) =>
    client.request(9, 9, {
      ...defaultOffsetFetchRequest(),
      groups: [
        {
          groupId: 'cg',
          memberId: 'member-1',
          memberEpoch: epoch,
          topics: [{ name: 't', partitionIndexes: [0] }],
        },
      ],
    })
  assert.equal((await fetch(1)).groups[0]!.topics[0]!.partitions[0]!.committedOffset, 7)
  assert.equal((await fetch(5)).groups[0]!.errorCode, ErrorCode.STALE_MEMBER_EPOCH)
  assert.equal((await fetch(-1)).groups[0]!.errorCode, ErrorCode.NONE)

  // The member leaves; the empty group becomes a classic group on JoinGroup, and its offsets stay.
  const left = await client.request(68, 1, {
    ...defaultConsumerGroupHeartbeatRequest(),
    groupId: 'cg',
    memberId: 'member-1',
    memberEpoch: -1,
  })
  assert.equal(left.memberEpoch, -1)
  const joined = await client.request(11, 3, classicJoin)
  assert.equal(joined.errorCode, ErrorCode.NONE)
  assert.equal((await fetch(-1)).groups[0]!.topics[0]!.partitions[0]!.committedOffset, 7)
  // ...and ConsumerGroupHeartbeat on that (non-empty) classic group is GROUP_ID_NOT_FOUND.
  const refused = await client.request(68, 1, {
    ...defaultConsumerGroupHeartbeatRequest(),
    groupId: 'cg',
    memberId: 'member-2',
    memberEpoch: 0,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ['t'],
    topicPartitions: [],
  })
  assert.equal(refused.errorCode, ErrorCode.GROUP_ID_NOT_FOUND)
  // Heartbeats for an unknown consumer group, and an empty group id.
  const unknown = await client.request(68, 0, {
    ...defaultConsumerGroupHeartbeatRequest(),
    groupId: 'ghost',
    memberId: 'm',
    memberEpoch: 3,
  })
  // Kafka answers GROUP_ID_NOT_FOUND; Fluxo does not keep membership across restarts, so it fences.
  assert.equal(unknown.errorCode, ErrorCode.FENCED_MEMBER_EPOCH)
  const leaveUnknown = await client.request(68, 0, {
    ...defaultConsumerGroupHeartbeatRequest(),
    groupId: 'ghost',
    memberId: 'm',
    memberEpoch: -1,
  })
  assert.equal(leaveUnknown.errorCode, ErrorCode.GROUP_ID_NOT_FOUND)
  const noId = await client.request(68, 0, { ...defaultConsumerGroupHeartbeatRequest(), groupId: '' })
  assert.equal(noId.errorCode, ErrorCode.INVALID_REQUEST)
})
