import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ErrorCode,
  defaultDeleteGroupsRequest,
  defaultDescribeGroupsRequest,
  defaultFindCoordinatorRequest,
  defaultHeartbeatRequest,
  defaultJoinGroupRequest,
  defaultLeaveGroupRequest,
  defaultOffsetCommitRequest,
  defaultOffsetDeleteRequest,
  defaultOffsetFetchRequest,
  defaultSyncGroupRequest,
} from '@fluxo/protocol'
import { startBroker } from '../../src/index.js'
import { RawClient } from '../raw-client.js'

const join = (groupId: string, memberId = '', metadata = Buffer.from('sub')) => ({
  ...defaultJoinGroupRequest(),
  groupId,
  memberId,
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 10_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata }],
})

test('bad group input gets Kafka errors and never disturbs a healthy member', async (t) => {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const member = await RawClient.connect(broker.bootstrap)
  const other = await RawClient.connect(broker.bootstrap)
  t.after(() => {
    member.close()
    other.close()
  })
  await other.request(19, 4, {
    topics: [{ name: 't', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  } as never)

  // A healthy member: JoinGroup v9 twice (KIP-394), SyncGroup v5 as leader.
  const first = await member.request(11, 9, join('healthy'))
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
  const joined = await member.request(11, 9, join('healthy', first.memberId))
  assert.equal(joined.errorCode, ErrorCode.NONE)
  assert.equal(joined.leader, first.memberId)
  const memberId = joined.memberId
  const synced = await member.request(14, 5, {
    ...defaultSyncGroupRequest(),
    groupId: 'healthy',
    generationId: joined.generationId,
    memberId,
    protocolType: 'consumer',
    protocolName: 'range',
    // An assignment for a member the group does not know is ignored.
    assignments: [
      { memberId, assignment: Buffer.from('mine') },
      { memberId: 'ghost', assignment: Buffer.from('nobody') },
    ],
  })
  assert.equal(synced.errorCode, ErrorCode.NONE)
  assert.equal(synced.assignment.toString(), 'mine')
  assert.equal(synced.protocolName, 'range')
  const healthy = async () => {
    const hb = await member.request(12, 4, {
      ...defaultHeartbeatRequest(),
      groupId: 'healthy',
      generationId: joined.generationId,
      memberId,
    })
    assert.equal(hb.errorCode, ErrorCode.NONE)
  }

  // Unknown group, API by API.
  const hbUnknown = { ...defaultHeartbeatRequest(), groupId: 'nope', generationId: 1, memberId: 'm' }
  assert.equal((await other.request(12, 4, hbUnknown)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal((await other.request(11, 9, join('nope', 'm'))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  const syncUnknown = {
    ...defaultSyncGroupRequest(),
    groupId: 'nope',
    generationId: 1,
    memberId: 'm',
    protocolType: 'consumer',
    protocolName: 'range',
  }
  assert.equal((await other.request(14, 5, syncUnknown)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  const leaveV5 = await other.request(13, 5, {
    ...defaultLeaveGroupRequest(),
    groupId: 'nope',
    members: [{ memberId: 'm', groupInstanceId: null, reason: null }],
  })
  assert.equal(leaveV5.errorCode, ErrorCode.NONE)
  assert.equal(leaveV5.members[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  const leaveV1 = await other.request(13, 1, {
    ...defaultLeaveGroupRequest(),
    groupId: 'nope',
    memberId: 'm',
  })
  assert.equal(leaveV1.errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  const commit = (groupId: string, generation: number, memberId = '') => ({
    ...defaultOffsetCommitRequest(),
    groupId,
    generationIdOrMemberEpoch: generation,
    memberId,
    topics: [
      {
        name: 't',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 5,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: 'x',
          },
        ],
      },
    ],
  })
  const errorOf = (r: { topics: { partitions: { errorCode: number }[] }[] }) =>
    r.topics[0].partitions[0].errorCode
  assert.equal(errorOf(await other.request(8, 8, commit('nope', 3, 'm'))), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(errorOf(await other.request(8, 9, commit('nope', 3, 'm'))), ErrorCode.GROUP_ID_NOT_FOUND)
  const fetched = await other.request(9, 7, {
    ...defaultOffsetFetchRequest(),
    groupId: 'nope',
    topics: [{ name: 't', partitionIndexes: [0] }],
  })
  assert.equal(fetched.errorCode, ErrorCode.NONE)
  assert.equal(fetched.topics[0].partitions[0].committedOffset, -1)
  const described = await other.request(15, 5, { ...defaultDescribeGroupsRequest(), groups: ['nope'] })
  assert.equal(described.groups[0].groupState, 'Dead')
  assert.equal(described.groups[0].errorCode, ErrorCode.NONE)
  const deleted = await other.request(42, 2, {
    ...defaultDeleteGroupsRequest(),
    groupsNames: ['nope', 'healthy'],
  })
  assert.deepEqual(
    deleted.results.map((r) => r.errorCode),
    [ErrorCode.GROUP_ID_NOT_FOUND, ErrorCode.NON_EMPTY_GROUP],
  )
  const offsetDelete = await other.request(47, 0, {
    ...defaultOffsetDeleteRequest(),
    groupId: 'nope',
    topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }],
  })
  assert.equal(offsetDelete.errorCode, ErrorCode.GROUP_ID_NOT_FOUND)
  await healthy()

  // Unknown members of the healthy group.
  const hbStranger = {
    ...defaultHeartbeatRequest(),
    groupId: 'healthy',
    generationId: joined.generationId,
    memberId: 'stranger',
  }
  assert.equal((await other.request(12, 4, hbStranger)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  const syncStranger = {
    ...syncUnknown,
    groupId: 'healthy',
    generationId: joined.generationId,
    memberId: 'stranger',
  }
  assert.equal((await other.request(14, 5, syncStranger)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(
    errorOf(await other.request(8, 8, commit('healthy', joined.generationId, 'stranger'))),
    ErrorCode.UNKNOWN_MEMBER_ID,
  )
  assert.equal(
    errorOf(await other.request(8, 8, commit('healthy', -1))),
    ErrorCode.UNKNOWN_MEMBER_ID,
    'simple commit to a live group',
  )
  const leaveStranger = await other.request(13, 3, {
    ...defaultLeaveGroupRequest(),
    groupId: 'healthy',
    members: [{ memberId: 'stranger', groupInstanceId: null, reason: null }],
  })
  assert.equal(leaveStranger.members[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  // A join with another protocol type, and one with oversized metadata.
  const connect = { ...join('healthy'), protocolType: 'connect' }
  assert.equal((await other.request(11, 5, connect)).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  const huge = await other.request(11, 5, join('healthy', '', Buffer.alloc(1024 * 1024 + 1)))
  assert.equal(huge.errorCode, ErrorCode.INVALID_REQUEST)
  const badSession = { ...join('healthy'), sessionTimeoutMs: 1 }
  assert.equal((await other.request(11, 5, badSession)).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT)
  await healthy()

  // Empty group id: INVALID_GROUP_ID for the APIs that change a group; FindCoordinator answers (as Kafka).
  assert.equal((await other.request(11, 9, join(''))).errorCode, ErrorCode.INVALID_GROUP_ID)
  assert.equal(
    (await other.request(12, 4, { ...hbUnknown, groupId: '' })).errorCode,
    ErrorCode.INVALID_GROUP_ID,
  )
  assert.equal(
    (await other.request(14, 5, { ...syncUnknown, groupId: '' })).errorCode,
    ErrorCode.INVALID_GROUP_ID,
  )
  assert.equal(
    (await other.request(13, 1, { ...defaultLeaveGroupRequest(), groupId: '', memberId: 'm' })).errorCode,
    ErrorCode.INVALID_GROUP_ID,
  )
  assert.equal(errorOf(await other.request(8, 8, commit('', -1))), ErrorCode.INVALID_GROUP_ID)
  const od = await other.request(47, 0, { ...defaultOffsetDeleteRequest(), groupId: '', topics: [] })
  assert.equal(od.errorCode, ErrorCode.INVALID_GROUP_ID)
  const fc = await other.request(10, 3, { ...defaultFindCoordinatorRequest(), key: '', keyType: 0 })
  assert.equal(fc.errorCode, ErrorCode.NONE)
  assert.equal(fc.port, broker.port)
  const fcBatched = await other.request(10, 4, {
    ...defaultFindCoordinatorRequest(),
    keyType: 0,
    coordinatorKeys: ['a', 'b'],
  })
  assert.deepEqual(
    fcBatched.coordinators.map((c) => [c.key, c.errorCode, c.nodeId]),
    [
      ['a', 0, 1],
      ['b', 0, 1],
    ],
  )
  const fcShare = await other.request(10, 6, {
    ...defaultFindCoordinatorRequest(),
    keyType: 2,
    coordinatorKeys: ['x'],
  })
  assert.equal(fcShare.coordinators[0].errorCode, ErrorCode.INVALID_REQUEST)

  // Nothing above disturbed the member: same generation, still Stable, still alone.
  await healthy()
  const after = await other.request(15, 5, { ...defaultDescribeGroupsRequest(), groups: ['healthy'] })
  assert.equal(after.groups[0].groupState, 'Stable')
  assert.deepEqual(
    after.groups[0].members.map((m) => [m.memberId, m.memberAssignment.toString()]),
    [[memberId, 'mine']],
  )

  // Metadata strings round-trip, too long ones are refused; the internal topic is listed as internal.
  const okCommit = await member.request(8, 8, commit('healthy', joined.generationId, memberId))
  assert.equal(errorOf(okCommit), ErrorCode.NONE)
  const tooLong = commit('healthy', joined.generationId, memberId)
  tooLong.topics[0].partitions[0].committedMetadata = 'x'.repeat(4097)
  assert.equal(errorOf(await member.request(8, 8, tooLong)), ErrorCode.OFFSET_METADATA_TOO_LARGE)
  const unknownTopic = commit('healthy', joined.generationId, memberId)
  unknownTopic.topics[0].name = 'missing'
  assert.equal(errorOf(await member.request(8, 8, unknownTopic)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const back = await other.request(9, 8, {
    ...defaultOffsetFetchRequest(),
    groups: [
      { groupId: 'healthy', memberId: null, memberEpoch: -1, topics: null },
      { groupId: 'nope', memberId: null, memberEpoch: -1, topics: null },
    ],
  })
  assert.deepEqual(
    back.groups.map((g) => [
      g.groupId,
      g.topics.map((t) => [
        t.name,
        t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata]),
      ]),
    ]),
    [
      ['healthy', [['t', [[0, 5, 'x']]]]],
      ['nope', []],
    ],
  )
  const meta = await other.request(3, 12, {
    topics: null,
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  } as never)
  const internal = (meta as { topics: { name: string; isInternal: boolean }[] }).topics.find(
    (x) => x.name === '__consumer_offsets',
  )
  assert.equal(internal?.isInternal, true)
})
