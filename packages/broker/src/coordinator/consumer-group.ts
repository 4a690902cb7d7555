/**
 * A KIP-848 consumer group: the server-side assignment protocol driven by ConsumerGroupHeartbeat.
 * I/O-free; time comes from a Clock, topic metadata from the caller on every heartbeat.
 *
 * Epochs (KIP-848):
 * - the group epoch is bumped whenever the inputs of the assignment change: a member joins or leaves,
 *   a member's subscription (names, regex, server assignor) changes, or the metadata of a subscribed
 *   topic changes (created, deleted, partitions added);
 * - the target assignment is recomputed by the server assignor when the group epoch is ahead of the
 *   assignment epoch, and then carries the group epoch;
 * - each member converges to its target on its own heartbeats: partitions it must give up are revoked
 *   first (the member keeps its epoch until it reports them gone), partitions still owned by another
 *   member are withheld until released, and the member takes the assignment epoch as its member epoch.
 *   So a partition is never assigned to two members at once.
 *
 * Group states are reported with Kafka's names: Empty (no members), Assigning (group epoch ahead of the
 * assignment epoch: a member left and nobody has heartbeated since), Reconciling (some member is not yet
 * at the assignment epoch or still waits for partitions), Stable, Dead (deleted).
 *
 * Member epochs on the request: 0 joins (or rejoins after being fenced), -1 leaves, -2 leaves as a
 * static member (KIP-345 semantics: the member keeps its assignment until the session times out, and a
 * rejoin with the same instance id takes it over without a rebalance).
 *
 * Regex subscriptions (v1) use Kafka's RE2/J syntax, matched against whole topic names. They are run as
 * JavaScript RegExps after translating the common RE2-only forms (\A, \z, \Q...\E, leading (?i)/(?s)/(?m)
 * flags); constructs RE2 rejects (backreferences, lookaround) are INVALID_REGULAR_EXPRESSION as in Kafka.
 * Kafka resolves regexes asynchronously; here they are resolved on the heartbeat against the topics
 * the caller lists, which excludes internal topics.
 */
import { randomBytes } from 'node:crypto'
import {
  type ConsumerGroupDescribeResponseAssignment,
  type ConsumerGroupDescribeResponseDescribedGroup,
  type ConsumerGroupDescribeResponseMember,
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  type ConsumerGroupHeartbeatResponseTopicPartitions,
  ErrorCode,
  defaultConsumerGroupDescribeResponseDescribedGroup,
  defaultConsumerGroupHeartbeatResponse,
} from '@fluxo/protocol'
import { type AssignorMember, type AssignorName, assignPartitions, isAssignorName } from './assignors.js'
import type { Clock } from './clock.js'

export const ConsumerGroupState = {
  Empty: 'Empty',
  Assigning: 'Assigning',
  Reconciling: 'Reconciling',
  Stable: 'Stable',
  Dead: 'Dead',
} as const
export type ConsumerGroupState = (typeof ConsumerGroupState)[keyof typeof ConsumerGroupState]

/** A topic as the group sees it: KIP-848 assigns by topic id. */
export interface ConsumerTopicMetadata {
  topicId: string
  name: string
  numPartitions: number
}

export interface ConsumerTopicLookup {
  byName(name: string): ConsumerTopicMetadata | undefined
  byId(topicId: string): ConsumerTopicMetadata | undefined
  /** Every topic a regex subscription may match (internal topics left out). */
  names(): Iterable<string>
}

export interface HeartbeatContext {
  clientId: string
  clientHost: string
  topics: ConsumerTopicLookup
}

export interface ConsumerGroupConfig {
  /** group.consumer.session.timeout.ms */
  sessionTimeoutMs: number
  /** group.consumer.heartbeat.interval.ms */
  heartbeatIntervalMs: number
  /** group.consumer.assignors: the first is the default. */
  assignors: readonly string[]
  /** group.consumer.max.size */
  maxSize: number
}

export const defaultConsumerGroupConfig: ConsumerGroupConfig = {
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 5_000,
  assignors: ['uniform', 'range'],
  maxSize: 2147483647,
}

export interface ConsumerGroupOptions {
  clock: Clock
  config?: Partial<ConsumerGroupConfig>
  /** Member ids for v0 joins (the server generates them before KIP-1082); random by default. */
  newMemberId?: () => string
  /** Called after members were added or removed, e.g. to start offset retention once the group is empty. */
  onMembershipChange?: (group: ConsumerGroup) => void
}

/** Kafka's CurrentAssignmentBuilder member states. */
type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions'

type Partitions = Map<string, Set<number>>

interface Member {
  memberId: string
  instanceId: string | null
  rackId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs: number
  subscribedTopicNames: string[]
  subscribedTopicRegex: string | null
  serverAssignor: string | null
  memberEpoch: number
  previousMemberEpoch: number
  state: MemberState
  assigned: Partitions
  pendingRevocation: Partitions
  sessionTimer: unknown
  rebalanceTimer: unknown
}

/** A heartbeat or commit rejected with a Kafka error; the message goes into errorMessage. */
class GroupError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message)
  }
}

/** Member epochs with a meaning of their own on ConsumerGroupHeartbeat. */
const JOIN_EPOCH = 0
const LEAVE_EPOCH = -1
const STATIC_LEAVE_EPOCH = -2

export class ConsumerGroup {
  readonly groupId: string
  private readonly clock: Clock
  private readonly config: ConsumerGroupConfig
  private readonly newMemberId: () => string
  private readonly onMembershipChange: ((group: ConsumerGroup) => void) | undefined
  private readonly members = new Map<string, Member>()
  private readonly staticMembers = new Map<string, string>()
  private target = new Map<string, Partitions>()
  private _groupEpoch = 0
  private _assignmentEpoch = 0
  private _assignor: AssignorName
  /** Topic ids and partition counts the current group epoch was computed from. */
  private subscriptionMetadata = ''
  private dead = false
  private _emptySince: number

  constructor(groupId: string, options: ConsumerGroupOptions) {
    this.groupId = groupId
    this.clock = options.clock
    this.config = { ...defaultConsumerGroupConfig, ...options.config }
    this.newMemberId = options.newMemberId ?? (() => randomBytes(16).toString('base64url'))
    this.onMembershipChange = options.onMembershipChange
    this._assignor = this.defaultAssignor()
    this._emptySince = this.clock.now()
  }

  get groupEpoch(): number {
    return this._groupEpoch
  }

  get assignmentEpoch(): number {
    return this._assignmentEpoch
  }

  get assignorName(): AssignorName {
    return this._assignor
  }

  /** When the last member left (or the group was created): offsets.retention.minutes counts from it. */
  get emptySince(): number {
    return this._emptySince
  }

  get size(): number {
    return this.members.size
  }

  get state(): ConsumerGroupState {
    if (this.dead) return ConsumerGroupState.Dead
    if (this.members.size === 0) return ConsumerGroupState.Empty
    if (this._groupEpoch > this._assignmentEpoch) return ConsumerGroupState.Assigning
    for (const m of this.members.values()) {
      if (m.memberEpoch === STATIC_LEAVE_EPOCH) continue
      if (m.memberEpoch !== this._assignmentEpoch || m.state !== 'stable')
        return ConsumerGroupState.Reconciling
    }
    return ConsumerGroupState.Stable
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId)
  }

  /** Member ids, client ids and hosts, for ListGroups/DescribeGroups. */
  memberSummaries(): { memberId: string; instanceId: string | null; clientId: string; clientHost: string }[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
    }))
  }

  heartbeat(
    request: ConsumerGroupHeartbeatRequest,
    version: number,
    ctx: HeartbeatContext,
  ): ConsumerGroupHeartbeatResponse {
    try {
      this.validate(request, version)
      if (request.memberEpoch === LEAVE_EPOCH || request.memberEpoch === STATIC_LEAVE_EPOCH)
        return this.leave(request)
      return this.joinOrHeartbeat(request, ctx)
    } catch (err) {
      if (!(err instanceof GroupError)) throw err
      return {
        ...defaultConsumerGroupHeartbeatResponse(),
        errorCode: err.errorCode,
        errorMessage: err.message,
      }
    }
  }

  /**
   * OffsetCommit from a member of this group (KIP-848): a commit with a negative epoch is a simple
   * commit and only accepted while the group is empty; otherwise the member must exist and commit with
   * its current epoch. Clients before OffsetCommit v9 do not know STALE_MEMBER_EPOCH and get
   * ILLEGAL_GENERATION, as in Kafka.
   */
  validateOffsetCommit(memberId: string, memberEpoch: number, apiVersion: number): number {
    if (memberEpoch < 0 && this.members.size === 0) return ErrorCode.NONE
    const member = this.members.get(memberId)
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID
    if (memberEpoch !== member.memberEpoch)
      return apiVersion >= 9 ? ErrorCode.STALE_MEMBER_EPOCH : ErrorCode.ILLEGAL_GENERATION
    return ErrorCode.NONE
  }

  /** OffsetFetch v9+ with a member epoch: -1 means no member (admin tools); otherwise as a commit. */
  validateOffsetFetch(memberId: string, memberEpoch: number): number {
    if (memberEpoch < 0) return ErrorCode.NONE
    const member = this.members.get(memberId)
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH
  }

  /** DeleteGroups: only an empty group can be deleted; its timers are cleared. */
  markDead(): void {
    for (const m of this.members.values()) this.cancelTimers(m)
    this.members.clear()
    this.staticMembers.clear()
    this.target.clear()
    this.dead = true
  }

  describe(
    topics: Pick<ConsumerTopicLookup, 'byId'>,
    version = 1,
  ): ConsumerGroupDescribeResponseDescribedGroup {
    const group = defaultConsumerGroupDescribeResponseDescribedGroup()
    group.groupId = this.groupId
    group.groupState = this.state
    group.groupEpoch = this._groupEpoch
    group.assignmentEpoch = this._assignmentEpoch
    group.assignorName = this._assignor
    group.members = [...this.members.values()].map(
      (m): ConsumerGroupDescribeResponseMember => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: [...m.subscribedTopicNames],
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: describeAssignment(m.assigned, topics),
        targetAssignment: describeAssignment(this.target.get(m.memberId) ?? new Map(), topics),
        memberType: version >= 1 ? 1 : -1,
      }),
    )
    return group
  }

  /** The partitions each member owns now (assigned or still being revoked), by topic id. */
  currentAssignment(): Map<string, Map<string, number[]>> {
    const result = new Map<string, Map<string, number[]>>()
    for (const m of this.members.values()) {
      const owned = new Map<string, number[]>()
      for (const source of [m.assigned, m.pendingRevocation])
        for (const [topicId, ps] of source)
          owned.set(
            topicId,
            [...(owned.get(topicId) ?? []), ...ps].sort((a, b) => a - b),
          )
      result.set(m.memberId, owned)
    }
    return result
  }

  /** Topic names the members subscribe to, by name or regex: OffsetDelete and offset retention spare them. */
  subscribedTopicNames(topics: ConsumerTopicLookup): Set<string> {
    const names = new Set<string>()
    for (const m of this.members.values()) for (const n of m.subscribedTopicNames) names.add(n)
    for (const t of this.subscribedTopics(topics)) names.add(t.name)
    return names
  }

  /**
   * The group as DescribeGroups (the classic API) shows it, for tools that only know that one: the
   * assignor as protocol, each member's assignment in the classic ConsumerProtocol Assignment v0 layout
   * and its subscription as ConsumerProtocol Subscription v0, so existing decoders read them.
   */
  classicSummary(topics: Pick<ConsumerTopicLookup, 'byId'>): {
    state: ConsumerGroupState
    protocolType: string
    protocolData: string
    members: {
      memberId: string
      groupInstanceId: string | null
      clientId: string
      clientHost: string
      metadata: Buffer
      assignment: Buffer
    }[]
  } {
    return {
      state: this.state,
      protocolType: 'consumer',
      protocolData: this._assignor,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: encodeSubscription(m.subscribedTopicNames),
        assignment: encodeAssignment(
          toTopicPartitions(m.assigned).map((tp) => ({
            topic: topics.byId(tp.topicId)?.name ?? '',
            partitions: tp.partitions,
          })),
        ),
      })),
    }
  }

  private defaultAssignor(): AssignorName {
    const first = this.config.assignors.find(isAssignorName)
    return first ?? 'uniform'
  }

  // Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid, for the rules this broker enforces.
  private validate(req: ConsumerGroupHeartbeatRequest, version: number): void {
    const invalid = (message: string) => new GroupError(ErrorCode.INVALID_REQUEST, message)
    if (this.dead) throw new GroupError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${this.groupId} was deleted.`)
    // KIP-1082: from v1 the client generates its member id.
    if (version >= 1 && req.memberId === '') throw invalid("MemberId can't be empty.")
    if (req.instanceId !== null && req.instanceId === '') throw invalid("InstanceId can't be empty.")
    if (req.rackId !== null && req.rackId === '') throw invalid("RackId can't be empty.")
    if (req.memberEpoch === JOIN_EPOCH) {
      if (req.rebalanceTimeoutMs === -1)
        throw invalid('RebalanceTimeoutMs must be provided in first request.')
      if (req.topicPartitions === null || req.topicPartitions.length > 0)
        throw invalid('TopicPartitions must be empty when (re-)joining.')
      if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null)
        throw invalid(
          version >= 1
            ? 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request.'
            : 'SubscribedTopicNames must be set in first request.',
        )
    } else if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      if (req.instanceId === null) throw invalid("InstanceId can't be null.")
    } else if (req.memberEpoch < STATIC_LEAVE_EPOCH) {
      throw invalid(`MemberEpoch is invalid: ${req.memberEpoch}.`)
    }
    if (req.memberEpoch !== JOIN_EPOCH && req.memberId === '') throw invalid("MemberId can't be empty.")
    if (req.serverAssignor !== null && !this.config.assignors.includes(req.serverAssignor))
      throw new GroupError(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${this.config.assignors.join(', ')}.`,
      )
    if (req.subscribedTopicRegex) {
      try {
        compileTopicRegex(req.subscribedTopicRegex)
      } catch (err) {
        throw new GroupError(ErrorCode.INVALID_REGULAR_EXPRESSION, (err as Error).message)
      }
    }
  }

  private leave(req: ConsumerGroupHeartbeatRequest): ConsumerGroupHeartbeatResponse {
    const member = this.findMember(req)
    if (req.memberEpoch === STATIC_LEAVE_EPOCH && member.instanceId !== null) {
      // KIP-345 under KIP-848: the static member keeps its place and assignment until its session
      // expires; a rejoin with its instance id takes them over without a rebalance.
      member.memberEpoch = STATIC_LEAVE_EPOCH
      member.pendingRevocation = new Map()
      member.state = 'stable'
      this.clearRebalanceTimer(member)
      this.scheduleSession(member)
    } else {
      this.removeMember(member)
    }
    return {
      ...defaultConsumerGroupHeartbeatResponse(),
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: 0,
    }
  }

  private findMember(req: ConsumerGroupHeartbeatRequest): Member {
    const member = this.members.get(req.memberId)
    if (!member) {
      throw new GroupError(
        ErrorCode.UNKNOWN_MEMBER_ID,
        `Member ${req.memberId} is not a member of group ${this.groupId}.`,
      )
    }
    if (req.instanceId !== null && member.instanceId !== null && member.instanceId !== req.instanceId)
      throw new GroupError(ErrorCode.FENCED_INSTANCE_ID, `Member ${req.memberId} has another instance id.`)
    return member
  }

  private joinOrHeartbeat(
    req: ConsumerGroupHeartbeatRequest,
    ctx: HeartbeatContext,
  ): ConsumerGroupHeartbeatResponse {
    let member: Member
    let bump = false
    if (req.memberEpoch === JOIN_EPOCH) {
      const joined = this.join(req)
      member = joined.member
      bump = joined.isNew
    } else {
      member = this.findMember(req)
      const owned = req.topicPartitions
      if (req.memberEpoch > member.memberEpoch) {
        throw new GroupError(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The member epoch ${req.memberEpoch} is greater than the coordinator's (${member.memberEpoch}); the member must abandon its partitions and rejoin.`,
        )
      }
      if (req.memberEpoch < member.memberEpoch) {
        // The response that moved the member to its current epoch may have been lost: the previous
        // epoch is accepted while the member owns nothing it is not assigned (Kafka does the same).
        const subset =
          owned === null ||
          owned.every((tp) => tp.partitions.every((p) => member.assigned.get(tp.topicId)?.has(p)))
        if (req.memberEpoch !== member.previousMemberEpoch || !subset) {
          throw new GroupError(
            ErrorCode.FENCED_MEMBER_EPOCH,
            `The member epoch ${req.memberEpoch} is older than the coordinator's (${member.memberEpoch}); the member must abandon its partitions and rejoin.`,
          )
        }
      }
    }

    member.clientId = ctx.clientId
    member.clientHost = ctx.clientHost
    if (req.rackId !== null) member.rackId = req.rackId
    if (req.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    if (req.subscribedTopicNames !== null) {
      const names = [...new Set(req.subscribedTopicNames)].sort()
      if (names.join('\u0000') !== member.subscribedTopicNames.join('\u0000')) bump = true
      member.subscribedTopicNames = names
    }
    if (req.subscribedTopicRegex !== null) {
      const regex = req.subscribedTopicRegex === '' ? null : req.subscribedTopicRegex
      if (regex !== member.subscribedTopicRegex) bump = true
      member.subscribedTopicRegex = regex
    }
    if (req.serverAssignor !== null && req.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = req.serverAssignor
      bump = true
    }
    this.scheduleSession(member)

    const metadata = this.subscribedTopics(ctx.topics)
    const signature = metadata.map((t) => `${t.topicId}:${t.numPartitions}`).join(',')
    if (signature !== this.subscriptionMetadata) {
      this.subscriptionMetadata = signature
      bump = true
    }
    if (bump) this._groupEpoch++
    if (this._groupEpoch > this._assignmentEpoch) this.computeTargetAssignment(ctx.topics)

    const before = this.assignedKey(member)
    const owned = req.topicPartitions === null ? null : toPartitions(req.topicPartitions)
    this.reconcile(member, owned)
    const changed = this.assignedKey(member) !== before

    const response = defaultConsumerGroupHeartbeatResponse()
    response.memberId = member.memberId
    response.memberEpoch = member.memberEpoch
    response.heartbeatIntervalMs = this.config.heartbeatIntervalMs
    // Kafka sends the assignment on a full request (joining, or every field set) or when it changed.
    const full =
      req.memberEpoch === JOIN_EPOCH ||
      (req.rebalanceTimeoutMs !== -1 && req.subscribedTopicNames !== null && req.topicPartitions !== null)
    if (full || changed) response.assignment = { topicPartitions: toTopicPartitions(member.assigned) }
    return response
  }

  private join(req: ConsumerGroupHeartbeatRequest): { member: Member; isNew: boolean } {
    if (req.instanceId !== null) {
      const existingId = this.staticMembers.get(req.instanceId)
      const existing = existingId === undefined ? undefined : this.members.get(existingId)
      if (existing) {
        if (existing.memberEpoch !== STATIC_LEAVE_EPOCH && existing.memberId !== req.memberId) {
          throw new GroupError(
            ErrorCode.UNRELEASED_INSTANCE_ID,
            `Static member ${existing.memberId} with instance id ${req.instanceId} is not released yet.`,
          )
        }
        // A static member coming back (or rejoining with its own id): it takes over the old member's
        // epoch and assignment, so nothing moves and the group epoch stays.
        const memberId = req.memberId === '' ? this.newMemberId() : req.memberId
        this.cancelTimers(existing)
        this.members.delete(existing.memberId)
        const target = this.target.get(existing.memberId)
        this.target.delete(existing.memberId)
        existing.memberId = memberId
        if (existing.memberEpoch === STATIC_LEAVE_EPOCH) existing.memberEpoch = existing.previousMemberEpoch
        existing.pendingRevocation = new Map()
        existing.state = 'stable'
        this.members.set(memberId, existing)
        if (target) this.target.set(memberId, target)
        this.staticMembers.set(req.instanceId, memberId)
        return { member: existing, isNew: false }
      }
    }
    const existing = req.memberId === '' ? undefined : this.members.get(req.memberId)
    if (existing) {
      // A member rejoining with epoch 0 (after being fenced, or a lost join response) owns nothing.
      existing.assigned = new Map()
      existing.pendingRevocation = new Map()
      existing.memberEpoch = 0
      existing.previousMemberEpoch = 0
      existing.state = 'stable'
      this.clearRebalanceTimer(existing)
      return { member: existing, isNew: false }
    }
    if (this.members.size >= this.config.maxSize) {
      throw new GroupError(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${this.config.maxSize} members.`,
      )
    }
    const member: Member = {
      memberId: req.memberId === '' ? this.newMemberId() : req.memberId,
      instanceId: req.instanceId,
      rackId: null,
      clientId: '',
      clientHost: '',
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      subscribedTopicNames: [],
      subscribedTopicRegex: null,
      serverAssignor: null,
      memberEpoch: 0,
      previousMemberEpoch: 0,
      state: 'stable',
      assigned: new Map(),
      pendingRevocation: new Map(),
      sessionTimer: undefined,
      rebalanceTimer: undefined,
    }
    this.members.set(member.memberId, member)
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId)
    this.onMembershipChange?.(this)
    return { member, isNew: true }
  }

  private removeMember(member: Member): void {
    this.cancelTimers(member)
    this.members.delete(member.memberId)
    this.target.delete(member.memberId)
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === member.memberId)
      this.staticMembers.delete(member.instanceId)
    // The departed member's partitions are free now; the others get them once the target is recomputed
    // on the next heartbeat (the group is Assigning until then).
    this._groupEpoch++
    if (this.members.size === 0) {
      this._assignmentEpoch = this._groupEpoch
      this.target.clear()
      this._emptySince = this.clock.now()
    }
    this.onMembershipChange?.(this)
  }

  private scheduleSession(member: Member): void {
    if (member.sessionTimer !== undefined) this.clock.clearTimeout(member.sessionTimer)
    member.sessionTimer = this.clock.setTimeout(() => {
      member.sessionTimer = undefined
      if (this.members.get(member.memberId) === member) this.removeMember(member)
    }, this.config.sessionTimeoutMs)
  }

  private clearRebalanceTimer(member: Member): void {
    if (member.rebalanceTimer !== undefined) this.clock.clearTimeout(member.rebalanceTimer)
    member.rebalanceTimer = undefined
  }

  private cancelTimers(member: Member): void {
    if (member.sessionTimer !== undefined) this.clock.clearTimeout(member.sessionTimer)
    member.sessionTimer = undefined
    this.clearRebalanceTimer(member)
  }

  /** The topics some member subscribes to, by name or regex, that exist now; sorted by name. */
  private subscribedTopics(topics: ConsumerTopicLookup): ConsumerTopicMetadata[] {
    const names = new Set<string>()
    const regexes = new Set<string>()
    for (const m of this.members.values()) {
      for (const n of m.subscribedTopicNames) names.add(n)
      if (m.subscribedTopicRegex) regexes.add(m.subscribedTopicRegex)
    }
    if (regexes.size > 0) {
      const compiled = [...regexes].map(compileTopicRegex)
      for (const name of topics.names()) if (compiled.some((r) => r.test(name))) names.add(name)
    }
    const result: ConsumerTopicMetadata[] = []
    for (const name of [...names].sort()) {
      const t = topics.byName(name)
      if (t) result.push(t)
    }
    return result
  }

  private memberTopicIds(member: Member, topics: ConsumerTopicLookup): Set<string> {
    const ids = new Set<string>()
    for (const n of member.subscribedTopicNames) {
      const t = topics.byName(n)
      if (t) ids.add(t.topicId)
    }
    if (member.subscribedTopicRegex) {
      const regex = compileTopicRegex(member.subscribedTopicRegex)
      for (const n of topics.names()) {
        if (!regex.test(n)) continue
        const t = topics.byName(n)
        if (t) ids.add(t.topicId)
      }
    }
    return ids
  }

  private computeTargetAssignment(topics: ConsumerTopicLookup): void {
    this._assignor = this.preferredAssignor()
    const members: AssignorMember[] = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      subscribedTopicIds: this.memberTopicIds(m, topics),
      currentAssignment: new Map(
        [...(this.target.get(m.memberId) ?? new Map<string, Set<number>>())].map(([t, ps]) => [t, [...ps]]),
      ),
    }))
    const subscribed = this.subscribedTopics(topics).map((t) => ({
      topicId: t.topicId,
      numPartitions: t.numPartitions,
    }))
    const result = assignPartitions(this._assignor, members, subscribed)
    this.target = new Map(
      [...result].map(([memberId, a]) => [
        memberId,
        toPartitions([...a].map(([topicId, partitions]) => ({ topicId, partitions }))),
      ]),
    )
    this._assignmentEpoch = this._groupEpoch
  }

  /** Kafka picks the server assignor most members ask for, else the first configured one. */
  private preferredAssignor(): AssignorName {
    const counts = new Map<string, number>()
    for (const m of this.members.values()) {
      if (m.serverAssignor !== null) counts.set(m.serverAssignor, (counts.get(m.serverAssignor) ?? 0) + 1)
    }
    let best: string | undefined
    for (const [name, n] of counts) if (best === undefined || n > counts.get(best)!) best = name
    return best !== undefined && isAssignorName(best) ? best : this.defaultAssignor()
  }

  /** Partitions of other members, assigned or still being revoked: not free to hand out. */
  private ownedByOthers(self: Member): Set<string> {
    const owned = new Set<string>()
    for (const m of this.members.values()) {
      if (m === self) continue
      for (const source of [m.assigned, m.pendingRevocation])
        for (const [topicId, ps] of source) for (const p of ps) owned.add(`${topicId}:${p}`)
    }
    return owned
  }

  // Kafka's CurrentAssignmentBuilder: move the member one step towards its target assignment.
  private reconcile(member: Member, owned: Partitions | null): void {
    if (member.memberEpoch === STATIC_LEAVE_EPOCH) return
    switch (member.state) {
      case 'unrevoked_partitions': {
        // The member must report (through its owned partitions) that it let the revoked ones go.
        if (owned === null || intersects(owned, member.pendingRevocation)) return
        member.pendingRevocation = new Map()
        this.clearRebalanceTimer(member)
        this.computeNext(member)
        return
      }
      case 'unreleased_partitions':
      case 'stable':
        if (member.state === 'stable' && member.memberEpoch === this._assignmentEpoch) return
        this.computeNext(member)
    }
  }

  private computeNext(member: Member): void {
    const target = this.target.get(member.memberId) ?? new Map<string, Set<number>>()
    const taken = this.ownedByOthers(member)
    const keep: Partitions = new Map()
    const revoke: Partitions = new Map()
    const gain: Partitions = new Map()
    let unreleased = false
    for (const [topicId, ps] of member.assigned) {
      const t = target.get(topicId)
      for (const p of ps) add(t?.has(p) ? keep : revoke, topicId, p)
    }
    for (const [topicId, ps] of target) {
      for (const p of ps) {
        if (member.assigned.get(topicId)?.has(p)) continue
        if (taken.has(`${topicId}:${p}`)) unreleased = true
        else add(gain, topicId, p)
      }
    }
    if (revoke.size > 0) {
      // Revocation first: the member keeps its epoch and only what it may keep, and gets nothing new
      // until it reports the revoked partitions gone.
      member.assigned = keep
      member.pendingRevocation = revoke
      member.state = 'unrevoked_partitions'
      this.startRebalanceTimer(member)
      return
    }
    for (const [topicId, ps] of gain) for (const p of ps) add(keep, topicId, p)
    member.assigned = keep
    member.pendingRevocation = new Map()
    if (member.memberEpoch !== this._assignmentEpoch) {
      member.previousMemberEpoch = member.memberEpoch
      member.memberEpoch = this._assignmentEpoch
    }
    member.state = unreleased ? 'unreleased_partitions' : 'stable'
  }

  /** A member that does not revoke within its rebalance timeout is fenced, as in Kafka. */
  private startRebalanceTimer(member: Member): void {
    this.clearRebalanceTimer(member)
    if (member.rebalanceTimeoutMs <= 0) return
    const epoch = member.memberEpoch
    member.rebalanceTimer = this.clock.setTimeout(() => {
      member.rebalanceTimer = undefined
      if (
        this.members.get(member.memberId) === member &&
        member.state === 'unrevoked_partitions' &&
        member.memberEpoch === epoch
      )
        this.removeMember(member)
    }, member.rebalanceTimeoutMs)
  }

  private assignedKey(member: Member): string {
    return toTopicPartitions(member.assigned)
      .map((tp) => `${tp.topicId}:${tp.partitions.join(',')}`)
      .join(';')
  }
}

function encodeString(s: string): Buffer {
  const bytes = Buffer.from(s)
  const out = Buffer.alloc(2 + bytes.length)
  out.writeInt16BE(bytes.length)
  bytes.copy(out, 2)
  return out
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

/** ConsumerProtocolSubscription v0: version, topics, null user data. */
function encodeSubscription(topics: readonly string[]): Buffer {
  return Buffer.concat([int16(0), int32(topics.length), ...topics.map(encodeString), int32(-1)])
}

/** ConsumerProtocolAssignment v0: version, (topic, partitions) pairs, null user data. */
function encodeAssignment(assignment: readonly { topic: string; partitions: readonly number[] }[]): Buffer {
  const parts = [int16(0), int32(assignment.length)]
  for (const a of assignment)
    parts.push(encodeString(a.topic), int32(a.partitions.length), ...a.partitions.map(int32))
  parts.push(int32(-1))
  return Buffer.concat(parts)
}

function add(map: Partitions, topicId: string, p: number): void {
  const set = map.get(topicId)
  if (set) set.add(p)
  else map.set(topicId, new Set([p]))
}

function intersects(a: Partitions, b: Partitions): boolean {
  for (const [topicId, ps] of b) {
    const other = a.get(topicId)
    if (other) for (const p of ps) if (other.has(p)) return true
  }
  return false
}

function toPartitions(list: readonly { topicId: string; partitions: readonly number[] }[]): Partitions {
  const map: Partitions = new Map()
  for (const tp of list) for (const p of tp.partitions) add(map, tp.topicId, p)
  return map
}

function toTopicPartitions(map: Partitions): ConsumerGroupHeartbeatResponseTopicPartitions[] {
  return [...map]
    .filter(([, ps]) => ps.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((x, y) => x - y) }))
}

function describeAssignment(
  map: Partitions,
  topics: Pick<ConsumerTopicLookup, 'byId'>,
): ConsumerGroupDescribeResponseAssignment {
  return {
    topicPartitions: toTopicPartitions(map).map((tp) => ({
      topicId: tp.topicId,
      topicName: topics.byId(tp.topicId)?.name ?? '',
      partitions: tp.partitions,
    })),
  }
}

/**
 * An RE2/J subscription regex as a JavaScript RegExp that must match the whole topic name (Kafka uses
 * `Pattern.matcher(topic).matches()`). Throws with a message on syntax JavaScript rejects or RE2 lacks.
 */
export function compileTopicRegex(source: string): RegExp {
  let flags = ''
  let body = source
  const inline = /^\(\?([ims]+)\)/.exec(body)
  if (inline) {
    flags = [...new Set(inline[1])].join('')
    body = body.slice(inline[0].length)
  }
  if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(body))
    throw new Error(`Invalid regular expression ${source}: backreferences and lookaround are not RE2 syntax.`)
  body = body
    .replace(/\\Q([\s\S]*?)(?:\\E|$)/g, (_, lit: string) => lit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$')
  try {
    return new RegExp(`^(?:${body})$`, flags)
  } catch (err) {
    throw new Error(`Invalid regular expression ${source}: ${(err as Error).message}`)
  }
}
