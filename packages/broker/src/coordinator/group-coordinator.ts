/**
 * The group coordinator: every classic group and every committed offset on this broker. Handlers
 * pass the decoded request and its version and get the response body back; the per-group state
 * machine lives in classic-group.ts, persistence in offsets.ts. One broker is the coordinator of
 * every group (FindCoordinator always answers with it).
 *
 * Unknown groups get the error each API has in Kafka: JoinGroup with a member id, SyncGroup,
 * Heartbeat and LeaveGroup answer UNKNOWN_MEMBER_ID; OffsetCommit with a generation ILLEGAL_GENERATION
 * (GROUP_ID_NOT_FOUND from v9); OffsetFetch answers -1 offsets; DescribeGroups the Dead state;
 * DeleteGroups and OffsetDelete GROUP_ID_NOT_FOUND. An empty group id is INVALID_GROUP_ID for the APIs
 * that change a group; OffsetFetch, DescribeGroups and DeleteGroups accept it, as Kafka does.
 *
 * KIP-848 consumer groups (consumer-group.ts) share the group namespace: a group id is either classic
 * or consumer. An empty group of one kind turns into the other when a member of the other protocol
 * arrives (its offsets stay); otherwise ConsumerGroupHeartbeat on a classic group is GROUP_ID_NOT_FOUND
 * and JoinGroup on a consumer group INCONSISTENT_GROUP_PROTOCOL (Kafka's answer when classic members
 * may not join a consumer group; Fluxo has no online migration between the protocols). OffsetCommit
 * and OffsetFetch take the member epoch of a consumer group member (STALE_MEMBER_EPOCH); ListGroups,
 * DescribeGroups, DeleteGroups, OffsetDelete and offset retention cover both kinds.
 */
import {
  type ConsumerGroupDescribeRequest,
  type ConsumerGroupDescribeResponse,
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  type DeleteGroupsRequest,
  type DeleteGroupsResponse,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type DescribeGroupsResponseDescribedGroup,
  ErrorCode,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type ListGroupsRequest,
  type ListGroupsResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetCommitResponsePartition,
  type OffsetDeleteRequest,
  type OffsetDeleteResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type OffsetFetchResponseGroup,
  type OffsetFetchResponsePartitions,
  type SyncGroupRequest,
  type SyncGroupResponse,
  type TxnOffsetCommitRequest,
  type TxnOffsetCommitResponse,
  defaultConsumerGroupDescribeResponse,
  defaultConsumerGroupDescribeResponseDescribedGroup,
  defaultConsumerGroupHeartbeatResponse,
  defaultDeleteGroupsResponse,
  defaultDescribeGroupsResponse,
  defaultDescribeGroupsResponseDescribedGroup,
  defaultHeartbeatResponse,
  defaultJoinGroupResponse,
  defaultLeaveGroupResponse,
  defaultListGroupsResponse,
  defaultOffsetCommitResponse,
  defaultOffsetDeleteResponse,
  defaultOffsetFetchResponse,
  defaultSyncGroupResponse,
  defaultTxnOffsetCommitResponse,
} from '@fluxo/protocol'
import type { Logger } from 'pino'
import {
  ClassicGroup,
  type ClassicGroupConfig,
  GroupState,
  defaultClassicGroupConfig,
} from './classic-group.js'
import { type Clock, systemClock } from './clock.js'
import {
  ConsumerGroup,
  type ConsumerGroupConfig,
  ConsumerGroupState,
  type ConsumerTopicLookup,
} from './consumer-group.js'
import {
  OFFSET_METADATA_MAX_BYTES,
  type OffsetAndMetadata,
  type OffsetCommitEntry,
  OffsetStore,
  type OffsetsLog,
  type TopicPartitionRef,
} from './offsets.js'

/** What the coordinator needs to know about topics: which partitions exist, and their log end offsets. */
export interface TopicLookup {
  /** Partition count, or undefined when the topic does not exist. */
  partitionCount(topic: string): number | undefined
  /** The partition's log end offset (high watermark), or undefined when it does not exist. */
  logEndOffset(topic: string, partition: number): number | undefined
}

export interface GroupCoordinatorOptions {
  offsetsLog: OffsetsLog
  topics: TopicLookup
  clock?: Clock
  logger?: Logger
  /** group.initial.rebalance.delay.ms, group.min/max.session.timeout.ms and friends. */
  group?: Partial<ClassicGroupConfig>
  /** offsets.retention.minutes in ms: offsets of an empty group are deleted this long after it emptied. */
  offsetsRetentionMs?: number
  /** Kafka's offsets.retention.check.interval.ms (10 min). */
  offsetsRetentionCheckIntervalMs?: number
  /** group.consumer.* settings of KIP-848 groups. */
  consumerGroup?: Partial<ConsumerGroupConfig>
  /** Topic ids, partition counts and names for KIP-848 groups (which assign by topic id). */
  topicMetadata?: ConsumerTopicLookup
}

const NO_TOPICS: ConsumerTopicLookup = {
  byName: () => undefined,
  byId: () => undefined,
  names: () => [],
}

/** One partition's committed offset and lag, for operators (`fluxo group describe`). */
export interface CommittedOffsetLag {
  topic: string
  partition: number
  committedOffset: number
  leaderEpoch: number
  metadata: string
  commitTimestamp: number
  /** -1 when the partition no longer exists. */
  logEndOffset: number
  /** logEndOffset - committedOffset (never negative), or -1 when unknown. */
  lag: number
}

export interface ClientInfo {
  clientId: string
  /** Kafka shows the address as InetAddress prints it: "/127.0.0.1". */
  clientHost: string
}

const LOG_APPEND_FAILED = ErrorCode.COORDINATOR_NOT_AVAILABLE

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>()
  private readonly consumerGroups = new Map<string, ConsumerGroup>()
  private readonly offsets: OffsetStore
  private readonly clock: Clock
  private readonly groupConfig: ClassicGroupConfig
  private readonly retentionMs: number
  private readonly retentionCheckMs: number
  private retentionTimer: unknown
  private closed = false

  constructor(private readonly options: GroupCoordinatorOptions) {
    this.clock = options.clock ?? systemClock
    this.groupConfig = { ...defaultClassicGroupConfig, ...options.group }
    this.offsets = new OffsetStore(options.offsetsLog, options.logger)
    this.retentionMs = options.offsetsRetentionMs ?? 7 * 24 * 3_600_000
    this.retentionCheckMs = options.offsetsRetentionCheckIntervalMs ?? 600_000
  }

  /** Replays the offsets log; every group with offsets comes back Empty (as Kafka loads it). */
  async start(): Promise<void> {
    const records = await this.offsets.load()
    for (const groupId of this.offsets.groupIds()) this.getOrCreate(groupId)
    if (records > 0)
      this.options.logger?.info(
        { groups: this.offsets.groupIds().length, records },
        'loaded committed offsets from __consumer_offsets',
      )
    this.scheduleRetention()
  }

  /** Creates the offsets log when missing; FindCoordinator for a group calls it, as Kafka creates __consumer_offsets then. */
  async ready(): Promise<void> {
    await this.options.offsetsLog.ensure?.()
  }

  /** Stops timers; requests waiting in JoinGroup/SyncGroup are answered NOT_COORDINATOR. */
  close(): void {
    this.closed = true
    this.clock.clearTimeout(this.retentionTimer)
    for (const group of this.groups.values()) group.shutdown(ErrorCode.NOT_COORDINATOR)
    this.groups.clear()
    for (const group of this.consumerGroups.values()) group.markDead()
    this.consumerGroups.clear()
  }

  /** The state machine of one group, for tests and operators. */
  group(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId)
  }

  /** A KIP-848 consumer group, for tests and operators. */
  consumerGroup(groupId: string): ConsumerGroup | undefined {
    return this.consumerGroups.get(groupId)
  }

  // ---- KIP-848 ----

  consumerGroupHeartbeat(
    request: ConsumerGroupHeartbeatRequest,
    version: number,
    client: ClientInfo,
  ): ConsumerGroupHeartbeatResponse {
    const fail = (errorCode: number, errorMessage: string | null = null): ConsumerGroupHeartbeatResponse => ({
      ...defaultConsumerGroupHeartbeatResponse(),
      errorCode,
      errorMessage,
    })
    if (request.groupId === '') return fail(ErrorCode.INVALID_REQUEST, "GroupId can't be empty.")
    if (this.closed) return fail(ErrorCode.NOT_COORDINATOR)
    let group = this.consumerGroups.get(request.groupId)
    if (!group) {
      const classic = this.groups.get(request.groupId)
      if (classic && (classic.state !== GroupState.Empty || classic.hasMembersOrPending))
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${request.groupId} is not a consumer group.`)
      if (request.memberEpoch < 0)
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${request.groupId} not found.`)
      // Kafka keeps a consumer group's membership in __consumer_offsets and answers GROUP_ID_NOT_FOUND
      // here; Fluxo keeps only offsets, so after a restart members come back with their old epochs.
      // FENCED_MEMBER_EPOCH makes every client (Java, librdkafka, @platformatic/kafka) rejoin at once.
      if (request.memberEpoch > 0)
        return fail(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `Consumer group ${request.groupId} has no member ${request.memberId}; rejoin with epoch 0.`,
        )
      group = new ConsumerGroup(request.groupId, { clock: this.clock, config: this.options.consumerGroup })
      this.consumerGroups.set(request.groupId, group)
    }
    const response = group.heartbeat(request, version, {
      clientId: client.clientId,
      clientHost: client.clientHost,
      topics: this.options.topicMetadata ?? NO_TOPICS,
    })
    if (group.size > 0) {
      // The group is a consumer group now: an empty classic group of that id (offsets only) gives way.
      const classic = this.groups.get(request.groupId)
      if (classic) {
        classic.shutdown(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        this.groups.delete(request.groupId)
      }
    } else if (group.groupEpoch === 0) {
      // A first heartbeat that was rejected leaves no group behind.
      this.consumerGroups.delete(request.groupId)
    }
    return response
  }

  consumerGroupDescribe(
    request: ConsumerGroupDescribeRequest,
    version: number,
  ): ConsumerGroupDescribeResponse {
    const topics = this.options.topicMetadata ?? NO_TOPICS
    const groups = request.groupIds.map((groupId) => {
      const group = this.consumerGroups.get(groupId)
      if (group) return group.describe(topics, version)
      const described = { ...defaultConsumerGroupDescribeResponseDescribedGroup(), groupId }
      if (groupId === '') return { ...described, errorCode: ErrorCode.INVALID_GROUP_ID }
      const classic = this.groups.get(groupId)
      return {
        ...described,
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: classic ? `Group ${groupId} is not a consumer group.` : `Group ${groupId} not found.`,
      }
    })
    return { ...defaultConsumerGroupDescribeResponse(), groups }
  }

  // ---- membership ----

  async joinGroup(
    request: JoinGroupRequest,
    version: number,
    client: ClientInfo,
  ): Promise<JoinGroupResponse> {
    const respond = (r: Partial<JoinGroupResponse>): JoinGroupResponse => {
      const body = { ...defaultJoinGroupResponse(), memberId: request.memberId, ...r }
      // Before v7 the protocol name is not nullable: Kafka sends "" when there is none.
      if (version < 7) body.protocolName ??= ''
      return body
    }
    if (request.groupId === '') return respond({ errorCode: ErrorCode.INVALID_GROUP_ID })
    if (this.closed) return respond({ errorCode: ErrorCode.NOT_COORDINATOR })
    const consumerGroup = this.consumerGroups.get(request.groupId)
    if (consumerGroup) {
      if (consumerGroup.size > 0) return respond({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL })
      consumerGroup.markDead()
      this.consumerGroups.delete(request.groupId)
    }
    let group = this.groups.get(request.groupId)
    if (!group) {
      if (request.memberId !== '') return respond({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID })
      group = this.getOrCreate(request.groupId)
    }
    const result = await group.join({
      memberId: request.memberId,
      groupInstanceId: version >= 5 ? request.groupInstanceId : null,
      clientId: client.clientId,
      clientHost: client.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs:
        version >= 1 && request.rebalanceTimeoutMs > 0
          ? request.rebalanceTimeoutMs
          : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      requireKnownMemberId: version >= 4 && request.groupInstanceId === null,
    })
    this.dropIfUnused(group)
    return respond({
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      leader: result.leader,
      skipAssignment: result.skipAssignment,
      memberId: result.memberId,
      members: result.members,
    })
  }

  async syncGroup(request: SyncGroupRequest, version: number): Promise<SyncGroupResponse> {
    const respond = (errorCode: number): SyncGroupResponse => ({ ...defaultSyncGroupResponse(), errorCode })
    if (request.groupId === '') return respond(ErrorCode.INVALID_GROUP_ID)
    // v5+ (KIP-559): the client must name the protocol type and name it expects.
    if (version >= 5 && (request.protocolType === null || request.protocolName === null))
      return respond(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    if (this.closed) return respond(ErrorCode.NOT_COORDINATOR)
    const group = this.groups.get(request.groupId)
    if (!group) return respond(ErrorCode.UNKNOWN_MEMBER_ID)
    const result = await group.sync({
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      generationId: request.generationId,
      protocolType: request.protocolType,
      protocolName: request.protocolName,
      assignments: request.assignments,
    })
    return { ...defaultSyncGroupResponse(), ...result }
  }

  heartbeat(request: HeartbeatRequest): HeartbeatResponse {
    const respond = (errorCode: number): HeartbeatResponse => ({ ...defaultHeartbeatResponse(), errorCode })
    if (request.groupId === '') return respond(ErrorCode.INVALID_GROUP_ID)
    const group = this.groups.get(request.groupId)
    if (!group) return respond(ErrorCode.UNKNOWN_MEMBER_ID)
    return respond(group.heartbeat(request.memberId, request.groupInstanceId, request.generationId))
  }

  leaveGroup(request: LeaveGroupRequest, version: number): LeaveGroupResponse {
    const batched = version >= 3
    const identities = batched
      ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
      : [{ memberId: request.memberId, groupInstanceId: null }]
    const respond = (
      errorCode: number,
      results: { memberId: string; groupInstanceId: string | null; errorCode: number }[],
    ) => {
      // v0–2 carry one member and report its error at the top level.
      if (!batched)
        return { ...defaultLeaveGroupResponse(), errorCode: errorCode || results[0]?.errorCode || 0 }
      return { ...defaultLeaveGroupResponse(), errorCode, members: results }
    }
    if (request.groupId === '') return respond(ErrorCode.INVALID_GROUP_ID, [])
    const group = this.groups.get(request.groupId)
    if (!group)
      return respond(
        ErrorCode.NONE,
        identities.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      )
    if (group.state === GroupState.Dead) return respond(ErrorCode.COORDINATOR_NOT_AVAILABLE, [])
    return respond(ErrorCode.NONE, group.leave(identities))
  }

  // ---- offsets ----

  async offsetCommit(request: OffsetCommitRequest, version: number): Promise<OffsetCommitResponse> {
    const respondAll = (errorCode: number): OffsetCommitResponse => ({
      ...defaultOffsetCommitResponse(),
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      })),
    })
    if (request.groupId === '') return respondAll(ErrorCode.INVALID_GROUP_ID)
    if (this.closed) return respondAll(ErrorCode.NOT_COORDINATOR)
    const generationId = request.generationIdOrMemberEpoch
    const consumerGroup = this.consumerGroups.get(request.groupId)
    let group: ClassicGroup | undefined
    if (consumerGroup) {
      // KIP-848: generationIdOrMemberEpoch carries the member epoch.
      const error = consumerGroup.validateOffsetCommit(request.memberId, generationId, version)
      if (error !== ErrorCode.NONE) return respondAll(error)
    } else {
      group = this.groups.get(request.groupId)
      if (!group) {
        // No group: generation -1 is a simple commit (admin client, or a consumer that assigns its own
        // partitions) and creates an empty group; a generation means the member's group is gone.
        if (generationId >= 0)
          return respondAll(version >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION)
        group = this.getOrCreate(request.groupId)
      }
      const groupInstanceId = version >= 7 ? request.groupInstanceId : null
      const error = group.validateOffsetCommit(request.memberId, groupInstanceId, generationId)
      if (error !== ErrorCode.NONE) {
        this.dropIfUnused(group)
        return respondAll(error)
      }
      group.touch(request.memberId)
    }

    const now = this.clock.now()
    const entries: OffsetCommitEntry[] = []
    const topics = request.topics.map((t) => {
      const count = this.options.topics.partitionCount(t.name)
      const partitions = t.partitions.map((p) => {
        const out: OffsetCommitResponsePartition = {
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
        }
        if (count === undefined || p.partitionIndex < 0 || p.partitionIndex >= count)
          out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        else if (
          p.committedMetadata !== null &&
          Buffer.byteLength(p.committedMetadata) > OFFSET_METADATA_MAX_BYTES
        )
          out.errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE
        else
          entries.push({
            topic: t.name,
            partition: p.partitionIndex,
            value: {
              offset: p.committedOffset,
              leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
              metadata: p.committedMetadata ?? '',
              commitTimestamp: now,
            },
          })
        return out
      })
      return { name: t.name, partitions }
    })
    try {
      await this.offsets.commit(request.groupId, entries, now)
    } catch (err) {
      this.options.logger?.error({ err, group: request.groupId }, 'offset commit could not be written')
      for (const t of topics)
        for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = LOG_APPEND_FAILED
    }
    if (group) this.dropIfUnused(group)
    return { ...defaultOffsetCommitResponse(), topics }
  }

  offsetFetch(request: OffsetFetchRequest, version: number): OffsetFetchResponse {
    if (version >= 8) {
      return {
        ...defaultOffsetFetchResponse(),
        groups: request.groups.map((g) => {
          // v9+ (KIP-848): a consumer group member fetches with its member id and epoch.
          const error =
            version >= 9
              ? this.consumerGroups.get(g.groupId)?.validateOffsetFetch(g.memberId ?? '', g.memberEpoch)
              : 0
          if (error) return { groupId: g.groupId, errorCode: error, topics: [] }
          return this.fetchGroup(g.groupId, g.topics, request.requireStable)
        }),
      }
    }
    const fetched = this.fetchGroup(request.groupId, request.topics, version >= 7 && request.requireStable)
    return {
      ...defaultOffsetFetchResponse(),
      errorCode: fetched.errorCode,
      topics: fetched.topics,
    }
  }

  /**
   * One group's offsets: the partitions asked for (-1 where nothing is committed), or every committed
   * one when `topics` is null. requireStable (v7+, KIP-447): a partition with a transactional offset
   * still waiting for its marker answers UNSTABLE_OFFSET_COMMIT (retriable) instead of an offset that
   * may be about to change.
   */
  private fetchGroup(
    groupId: string,
    topics: readonly { name: string; partitionIndexes: number[] }[] | null,
    requireStable = false,
  ): OffsetFetchResponseGroup {
    const partition = (
      topic: string,
      index: number,
      value: OffsetAndMetadata | undefined,
    ): OffsetFetchResponsePartitions => {
      if (requireStable && this.offsets.hasPendingOffset(groupId, topic, index))
        return {
          partitionIndex: index,
          committedOffset: -1,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
        }
      return {
        partitionIndex: index,
        committedOffset: value?.offset ?? -1,
        committedLeaderEpoch: value?.leaderEpoch ?? -1,
        metadata: value?.metadata ?? '',
        errorCode: ErrorCode.NONE,
      }
    }
    if (topics === null) {
      return {
        groupId,
        errorCode: ErrorCode.NONE,
        topics: [...this.offsets.offsets(groupId)].map(([name, partitions]) => ({
          name,
          partitions: [...partitions].sort((a, b) => a[0] - b[0]).map(([i, v]) => partition(name, i, v)),
        })),
      }
    }
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((i) => partition(t.name, i, this.offsets.get(groupId, t.name, i))),
      })),
    }
  }

  async offsetDelete(request: OffsetDeleteRequest): Promise<OffsetDeleteResponse> {
    const fail = (errorCode: number): OffsetDeleteResponse => ({
      ...defaultOffsetDeleteResponse(),
      errorCode,
    })
    if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID)
    const consumerGroup = this.consumerGroups.get(request.groupId)
    const group = this.groups.get(request.groupId)
    let subscribed = new Set<string>()
    if (consumerGroup) {
      subscribed = consumerGroup.subscribedTopicNames(this.options.topicMetadata ?? NO_TOPICS)
    } else {
      if (!group || group.state === GroupState.Dead) return fail(ErrorCode.GROUP_ID_NOT_FOUND)
      // A group with members may delete offsets only when it is a consumer group, and only of topics
      // its members do not subscribe to (read from their subscriptions).
      const active = group.state !== GroupState.Empty
      if (active && group.protocolType !== 'consumer') return fail(ErrorCode.NON_EMPTY_GROUP)
      if (active) subscribed = group.subscribedTopics() ?? new Set<string>()
    }
    const refs: TopicPartitionRef[] = []
    const topics = request.topics.map((t) => {
      const count = this.options.topics.partitionCount(t.name)
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          let errorCode: number = ErrorCode.NONE
          if (count === undefined || p.partitionIndex < 0 || p.partitionIndex >= count)
            errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          else if (subscribed.has(t.name)) errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC
          else refs.push({ topic: t.name, partition: p.partitionIndex })
          return { partitionIndex: p.partitionIndex, errorCode }
        }),
      }
    })
    try {
      await this.offsets.delete(request.groupId, refs, this.clock.now())
    } catch (err) {
      this.options.logger?.error({ err, group: request.groupId }, 'offset delete could not be written')
      return fail(LOG_APPEND_FAILED)
    }
    if (group) this.dropIfUnused(group)
    return { ...defaultOffsetDeleteResponse(), topics }
  }

  // ---- transactional offsets (KIP-98) ----

  /**
   * TxnOffsetCommit, once the transaction coordinator accepted the producer: the offsets are written
   * to __consumer_offsets in the producer's transactional batch and wait for its marker. The member
   * fields (v3+, KIP-447) are checked only when given, as Kafka does for transactional commits; a
   * commit during a rebalance is allowed (the transaction fences zombies instead).
   */
  async txnOffsetCommit(request: TxnOffsetCommitRequest, version: number): Promise<TxnOffsetCommitResponse> {
    const respondAll = (errorCode: number): TxnOffsetCommitResponse => ({
      ...defaultTxnOffsetCommitResponse(),
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      })),
    })
    if (request.groupId === '') return respondAll(ErrorCode.INVALID_GROUP_ID)
    if (this.closed) return respondAll(ErrorCode.NOT_COORDINATOR)
    const generationId = version >= 3 ? request.generationId : -1
    const memberId = version >= 3 ? request.memberId : ''
    const groupInstanceId = version >= 3 ? request.groupInstanceId : null
    const anonymous = generationId < 0 && memberId === '' && groupInstanceId === null
    const consumerGroup = this.consumerGroups.get(request.groupId)
    let group: ClassicGroup | undefined
    if (consumerGroup) {
      if (!anonymous) {
        const error = consumerGroup.validateOffsetCommit(memberId, generationId, 0)
        if (error !== ErrorCode.NONE) return respondAll(error)
      }
    } else {
      group = this.groups.get(request.groupId)
      if (!group) {
        if (generationId >= 0) return respondAll(ErrorCode.ILLEGAL_GENERATION)
        group = this.getOrCreate(request.groupId)
      }
      let error: number =
        group.state === GroupState.Dead ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NONE
      if (!anonymous) error = group.validateOffsetCommit(memberId, groupInstanceId, generationId)
      if (error === ErrorCode.REBALANCE_IN_PROGRESS) error = ErrorCode.NONE
      if (error !== ErrorCode.NONE) {
        this.dropIfUnused(group)
        return respondAll(error)
      }
    }
    const now = this.clock.now()
    const entries: OffsetCommitEntry[] = []
    const topics = request.topics.map((t) => {
      const count = this.options.topics.partitionCount(t.name)
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          let errorCode: number = ErrorCode.NONE
          if (count === undefined || p.partitionIndex < 0 || p.partitionIndex >= count)
            errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          else if (
            p.committedMetadata !== null &&
            Buffer.byteLength(p.committedMetadata) > OFFSET_METADATA_MAX_BYTES
          )
            errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE
          else
            entries.push({
              topic: t.name,
              partition: p.partitionIndex,
              value: {
                offset: p.committedOffset,
                leaderEpoch: version >= 2 ? p.committedLeaderEpoch : -1,
                metadata: p.committedMetadata ?? '',
                commitTimestamp: now,
              },
            })
          return { partitionIndex: p.partitionIndex, errorCode }
        }),
      }
    })
    try {
      await this.offsets.commitTransactional(
        request.groupId,
        request.producerId,
        request.producerEpoch,
        entries,
        now,
      )
    } catch (err) {
      this.options.logger?.error(
        { err, group: request.groupId },
        'transactional offset commit could not be written',
      )
      for (const t of topics)
        for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = LOG_APPEND_FAILED
    }
    return { ...defaultTxnOffsetCommitResponse(), topics }
  }

  /**
   * A marker for `producerId` was written to __consumer_offsets: its pending transactional offsets
   * become committed offsets (commit) or are dropped (abort).
   */
  completeTransaction(producerId: number, commit: boolean): void {
    for (const groupId of this.offsets.completeTransaction(producerId, commit)) this.getOrCreate(groupId)
  }

  // ---- admin ----

  listGroups(request: ListGroupsRequest, version: number): ListGroupsResponse {
    const states = new Set((version >= 4 ? request.statesFilter : []).map((s) => s.toLowerCase()))
    const types = new Set((version >= 5 ? request.typesFilter : []).map((s) => s.toLowerCase()))
    const groups: ListGroupsResponse['groups'] = [...this.groups.values()]
      .filter((g) => g.state !== GroupState.Dead)
      .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
      .filter(() => types.size === 0 || types.has('classic'))
      .map((g) => ({
        groupId: g.groupId,
        protocolType: g.protocolType ?? '',
        groupState: g.state,
        groupType: 'classic',
      }))
    for (const g of this.consumerGroups.values()) {
      if (g.state === ConsumerGroupState.Dead) continue
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue
      if (types.size > 0 && !types.has('consumer')) continue
      groups.push({
        groupId: g.groupId,
        protocolType: 'consumer',
        groupState: g.state,
        groupType: 'consumer',
      })
    }
    return { ...defaultListGroupsResponse(), groups }
  }

  describeGroups(request: DescribeGroupsRequest): DescribeGroupsResponse {
    const groups = request.groups.map((groupId): DescribeGroupsResponseDescribedGroup => {
      const group = this.groups.get(groupId)
      const consumerGroup = this.consumerGroups.get(groupId)
      if (!group && !consumerGroup)
        return { ...defaultDescribeGroupsResponseDescribedGroup(), groupId, groupState: GroupState.Dead }
      // A KIP-848 group is shown the classic way (Kafka 4.0 answers these with GROUP_ID_NOT_FOUND from
      // DescribeGroups v6, which Fluxo does not serve; older versions see it as Dead there).
      const s = consumerGroup
        ? consumerGroup.classicSummary(this.options.topicMetadata ?? NO_TOPICS)
        : group!.summary()
      return {
        ...defaultDescribeGroupsResponseDescribedGroup(),
        groupId,
        groupState: s.state,
        protocolType: s.protocolType,
        protocolData: s.protocolData,
        members: s.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
      }
    })
    return { ...defaultDescribeGroupsResponse(), groups }
  }

  async deleteGroups(request: DeleteGroupsRequest): Promise<DeleteGroupsResponse> {
    const results = []
    for (const groupId of new Set(request.groupsNames)) {
      results.push({ groupId, errorCode: await this.deleteGroup(groupId) })
    }
    return { ...defaultDeleteGroupsResponse(), results }
  }

  private async deleteGroup(groupId: string): Promise<number> {
    const consumerGroup = this.consumerGroups.get(groupId)
    if (consumerGroup) {
      if (consumerGroup.size > 0) return ErrorCode.NON_EMPTY_GROUP
      try {
        await this.offsets.deleteGroup(groupId, this.clock.now())
      } catch (err) {
        this.options.logger?.error({ err, group: groupId }, 'group deletion could not be written')
        return LOG_APPEND_FAILED
      }
      if (consumerGroup.size > 0) return ErrorCode.NON_EMPTY_GROUP
      consumerGroup.markDead()
      this.consumerGroups.delete(groupId)
      this.options.logger?.info({ group: groupId }, 'group deleted')
      return ErrorCode.NONE
    }
    const group = this.groups.get(groupId)
    if (!group || group.state === GroupState.Dead) return ErrorCode.GROUP_ID_NOT_FOUND
    if (group.state !== GroupState.Empty || group.hasMembersOrPending) return ErrorCode.NON_EMPTY_GROUP
    try {
      await this.offsets.deleteGroup(groupId, this.clock.now())
    } catch (err) {
      this.options.logger?.error({ err, group: groupId }, 'group deletion could not be written')
      return LOG_APPEND_FAILED
    }
    // Members may have joined while the tombstones were written.
    if (group.state !== GroupState.Empty || group.hasMembersOrPending) return ErrorCode.NON_EMPTY_GROUP
    group.shutdown(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    this.groups.delete(groupId)
    this.options.logger?.info({ group: groupId }, 'group deleted')
    return ErrorCode.NONE
  }

  /** Every committed offset of a group with its lag (log end offset minus committed), sorted. */
  committedOffsets(groupId: string): CommittedOffsetLag[] {
    const out: CommittedOffsetLag[] = []
    for (const [topic, partitions] of this.offsets.offsets(groupId)) {
      for (const [partition, v] of partitions) {
        const logEndOffset = this.options.topics.logEndOffset(topic, partition) ?? -1
        out.push({
          topic,
          partition,
          committedOffset: v.offset,
          leaderEpoch: v.leaderEpoch,
          metadata: v.metadata,
          commitTimestamp: v.commitTimestamp,
          logEndOffset,
          lag: logEndOffset < 0 || v.offset < 0 ? -1 : Math.max(0, logEndOffset - v.offset),
        })
      }
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
  }

  // ---- retention ----

  /**
   * offsets.retention.minutes (KIP-211): offsets of a group that is Empty expire once the group has
   * been empty that long (a simple group, which never had members, counts from each commit). A
   * stable consumer group loses the offsets of topics it no longer subscribes to, counted from the
   * commit. Empty groups left without offsets are removed.
   */
  async expireOffsets(): Promise<void> {
    const now = this.clock.now()
    for (const group of [...this.groups.values()]) {
      const expired: TopicPartitionRef[] = []
      const empty = group.state === GroupState.Empty
      const subscribed = group.state === GroupState.Stable ? group.subscribedTopics() : null
      if (empty || subscribed) {
        for (const [topic, partitions] of this.offsets.offsets(group.groupId)) {
          if (subscribed?.has(topic)) continue
          for (const [partition, v] of partitions) {
            const base = empty && group.protocolType !== null ? group.stateTimestamp : v.commitTimestamp
            if (now - base >= this.retentionMs) expired.push({ topic, partition })
          }
        }
      }
      if (expired.length > 0) {
        try {
          await this.offsets.delete(group.groupId, expired, now)
          this.options.logger?.info(
            { group: group.groupId, partitions: expired.length },
            'expired committed offsets',
          )
        } catch (err) {
          this.options.logger?.error({ err, group: group.groupId }, 'could not write expired offsets')
        }
      }
      this.dropIfUnused(group, true)
    }
    // KIP-848 groups: offsets of an empty group expire counted from when it emptied; a group with
    // members loses those of topics it no longer subscribes to, counted from the commit.
    for (const group of [...this.consumerGroups.values()]) {
      const expired: TopicPartitionRef[] = []
      const empty = group.size === 0
      const subscribed = empty ? null : group.subscribedTopicNames(this.options.topicMetadata ?? NO_TOPICS)
      for (const [topic, partitions] of this.offsets.offsets(group.groupId)) {
        if (subscribed?.has(topic)) continue
        for (const [partition, v] of partitions) {
          const base = empty ? Math.max(group.emptySince, v.commitTimestamp) : v.commitTimestamp
          if (now - base >= this.retentionMs) expired.push({ topic, partition })
        }
      }
      if (expired.length > 0) {
        try {
          await this.offsets.delete(group.groupId, expired, now)
        } catch (err) {
          this.options.logger?.error({ err, group: group.groupId }, 'could not write expired offsets')
        }
      }
      if (
        group.size === 0 &&
        !this.offsets.has(group.groupId) &&
        this.consumerGroups.get(group.groupId) === group
      ) {
        group.markDead()
        this.consumerGroups.delete(group.groupId)
      }
    }
  }

  private scheduleRetention(): void {
    if (this.closed) return
    this.retentionTimer = this.clock.setTimeout(() => {
      this.expireOffsets().finally(() => this.scheduleRetention())
    }, this.retentionCheckMs)
  }

  private getOrCreate(groupId: string): ClassicGroup {
    let group = this.groups.get(groupId)
    if (!group) {
      group = new ClassicGroup(groupId, this.clock, this.groupConfig, this.options.logger)
      this.groups.set(groupId, group)
    }
    return group
  }

  /**
   * A group that is empty, has no member ids handed out and no offsets is forgotten, as Kafka's
   * periodic cleanup does. Outside that check (`sweep`), only groups that never had a member go at
   * once: one whose members just left stays listed until the next check, as in Kafka.
   */
  private dropIfUnused(group: ClassicGroup, sweep = false): void {
    if (group.state !== GroupState.Empty || group.hasMembersOrPending || this.offsets.has(group.groupId))
      return
    if (!sweep && group.protocolType !== null) return
    if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId)
  }
}
