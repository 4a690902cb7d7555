/**
 * One consumer group on the classic protocol (JoinGroup/SyncGroup/Heartbeat/LeaveGroup): the state
 * machine of Kafka's ClassicGroup and the classic half of its GroupMetadataManager, free of I/O.
 * Time comes from a Clock; JoinGroup and SyncGroup answers that must wait for other members are
 * promises resolved by later calls or by timers.
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance ──leader sync──▶ Stable
 *     ▲                    ▲                                            │                         │
 *     └── last member gone ┴──────── join with new metadata, leave, session expiry ◀──────────────┘
 *
 * The coordinator never looks inside assignments: the leader's JoinGroup response carries every
 * member's metadata, the leader computes the assignment and the coordinator relays it in SyncGroup.
 */
import { randomUUID } from 'node:crypto'
import { ErrorCode } from '@fluxo/protocol'
import type { Clock } from './clock.js'

export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const
export type GroupState = (typeof GroupState)[keyof typeof GroupState]

/** States a group may enter PreparingRebalance from (Kafka's canRebalance). */
const CAN_REBALANCE: ReadonlySet<GroupState> = new Set([
  GroupState.Empty,
  GroupState.Stable,
  GroupState.CompletingRebalance,
])

const EMPTY = Buffer.alloc(0)

export interface ClassicGroupConfig {
  /** group.initial.rebalance.delay.ms: how long a new group waits for more members before its first rebalance. */
  initialRebalanceDelayMs: number
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: allowed session timeouts. */
  minSessionTimeoutMs: number
  maxSessionTimeoutMs: number
  /**
   * Kafka's group.classic.new.member.join.timeout.ms (5 min): a new member whose JoinGroup is still
   * waiting after this long is dropped (the client has probably given up and will retry).
   */
  newMemberJoinTimeoutMs: number
  /**
   * Largest protocol metadata accepted per member and protocol. Kafka has no such limit (only the
   * request size); Fluxo answers INVALID_REQUEST above it, so a runaway subscription cannot make every
   * leader's JoinGroup response huge.
   */
  maxMemberMetadataBytes: number
}

export const defaultClassicGroupConfig: ClassicGroupConfig = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  newMemberJoinTimeoutMs: 300_000,
  maxMemberMetadataBytes: 1024 * 1024,
}

export interface GroupProtocol {
  name: string
  metadata: Buffer
}

export interface JoinRequest {
  /** '' for a member joining for the first time. */
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  /** JoinGroup v0 has none: pass the session timeout, as Kafka does. */
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: readonly GroupProtocol[]
  /** JoinGroup v4+ without a group.instance.id (KIP-394): an unknown member first gets MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean
}

export interface JoinMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Buffer
}

export interface JoinResult {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  /** KIP-814 (JoinGroup v9): a static leader that rejoined a stable group must not reassign. */
  skipAssignment: boolean
  memberId: string
  members: JoinMember[]
}

export interface SyncRequest {
  memberId: string
  groupInstanceId: string | null
  generationId: number
  /** SyncGroup v5+ (KIP-559): checked against the group when not null. */
  protocolType: string | null
  protocolName: string | null
  assignments: readonly { memberId: string; assignment: Buffer }[]
}

export interface SyncResult {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  assignment: Buffer
}

export interface MemberIdentity {
  memberId: string
  groupInstanceId: string | null
}

export interface LeaveResult extends MemberIdentity {
  errorCode: number
}

export interface MemberSummary {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  /** Metadata for the selected protocol, and the assignment: empty unless the group is Stable (as Kafka). */
  metadata: Buffer
  assignment: Buffer
}

export interface GroupSummary {
  groupId: string
  state: GroupState
  protocolType: string
  /** The selected protocol when Stable, '' otherwise (Kafka's GroupSummary). */
  protocolData: string
  members: MemberSummary[]
}

/** Something pino-like; the group logs rebalances at info. */
export interface GroupLogger {
  info(fields: object, message: string): void
}

class Member {
  assignment: Buffer = EMPTY
  joinWaiter: ((result: JoinResult) => void) | undefined
  syncWaiter: ((result: SyncResult) => void) | undefined
  /** True until the member's first JoinGroup completes: it has no heartbeats to be judged by yet. */
  isNew = true
  timer: unknown

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public protocolType: string,
    public protocols: readonly GroupProtocol[],
  ) {}

  metadataFor(protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY
  }

  /** Same protocols, in the same order, with the same metadata (Kafka's ClassicGroupMember.matches). */
  matches(protocols: readonly GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false
    return protocols.every(
      (p, i) => p.name === this.protocols[i].name && p.metadata.equals(this.protocols[i].metadata),
    )
  }
}

export class ClassicGroup {
  private _state: GroupState = GroupState.Empty
  private previousState: GroupState = GroupState.Empty
  private _generationId = 0
  private _protocolType: string | null = null
  private _protocolName: string | null = null
  private leaderId: string | null = null
  private readonly members = new Map<string, Member>()
  /** group.instance.id → member id (KIP-345). */
  private readonly staticMembers = new Map<string, string>()
  /** Member ids handed out with MEMBER_ID_REQUIRED, awaiting the second JoinGroup (KIP-394), with their expiry timers. */
  private readonly pendingMembers = new Map<string, unknown>()
  /** Members that got a JoinGroup response this generation and have not sent SyncGroup yet. */
  private readonly pendingSync = new Set<string>()
  private joinTimer: unknown
  private syncTimer: unknown
  private newMemberAdded = false
  /** When the group entered its current state (offsets of an Empty group expire from here). */
  stateTimestamp: number

  constructor(
    readonly groupId: string,
    private readonly clock: Clock,
    private readonly config: ClassicGroupConfig = defaultClassicGroupConfig,
    private readonly logger?: GroupLogger,
  ) {
    this.stateTimestamp = clock.now()
  }

  get state(): GroupState {
    return this._state
  }
  get generationId(): number {
    return this._generationId
  }
  get protocolType(): string | null {
    return this._protocolType
  }
  get protocolName(): string | null {
    return this._protocolName
  }
  get leader(): string | null {
    return this.leaderId
  }
  get size(): number {
    return this.members.size
  }
  /** Members plus ids handed out with MEMBER_ID_REQUIRED and not yet used. */
  get hasMembersOrPending(): boolean {
    return this.members.size > 0 || this.pendingMembers.size > 0
  }
  memberIds(): string[] {
    return [...this.members.keys()]
  }
  hasMember(memberId: string): boolean {
    return this.members.has(memberId)
  }

  // ---- JoinGroup ----

  join(req: JoinRequest): Promise<JoinResult> {
    if (
      req.sessionTimeoutMs < this.config.minSessionTimeoutMs ||
      req.sessionTimeoutMs > this.config.maxSessionTimeoutMs
    )
      return Promise.resolve(this.joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId))
    if (req.protocols.some((p) => p.metadata.length > this.config.maxMemberMetadataBytes))
      return Promise.resolve(this.joinError(ErrorCode.INVALID_REQUEST, req.memberId))
    if (this._state === GroupState.Dead)
      return Promise.resolve(this.joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId))
    if (!this.supportsProtocols(req.protocolType, req.protocols))
      return Promise.resolve(this.joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId))
    return req.memberId === '' ? this.joinNewMember(req) : this.joinExistingMember(req)
  }

  private joinNewMember(req: JoinRequest): Promise<JoinResult> {
    // Kafka's ClassicGroup.generateMemberId: the instance id (static) or client id, then a UUID.
    const memberId = `${req.groupInstanceId ?? req.clientId}-${randomUUID()}`
    if (req.groupInstanceId !== null) {
      const existing = this.staticMembers.get(req.groupInstanceId)
      if (existing !== undefined) return this.replaceStaticMember(existing, memberId, req)
      return this.addMemberAndRebalance(memberId, req)
    }
    if (req.requireKnownMemberId) {
      // KIP-394: remember the id; the member must come back with it within its session timeout.
      this.pendingMembers.set(
        memberId,
        this.clock.setTimeout(() => this.expirePendingMember(memberId), req.sessionTimeoutMs),
      )
      return Promise.resolve(this.joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId))
    }
    return this.addMemberAndRebalance(memberId, req)
  }

  private joinExistingMember(req: JoinRequest): Promise<JoinResult> {
    if (this.pendingMembers.has(req.memberId)) {
      this.clock.clearTimeout(this.pendingMembers.get(req.memberId))
      this.pendingMembers.delete(req.memberId)
      return this.addMemberAndRebalance(req.memberId, req)
    }
    const error = this.validateMember(req.memberId, req.groupInstanceId)
    if (error !== ErrorCode.NONE) return Promise.resolve(this.joinError(error, req.memberId))
    const member = this.members.get(req.memberId)!
    switch (this._state) {
      case GroupState.PreparingRebalance:
        return this.updateMemberAndRebalance(member, req, 'member joined during rebalance')
      case GroupState.CompletingRebalance:
        // Same metadata: the member probably missed its JoinGroup response; answer with this generation.
        if (member.matches(req.protocols)) return Promise.resolve(this.currentJoinResult(member, false))
        return this.updateMemberAndRebalance(
          member,
          req,
          'member changed its metadata while completing rebalance',
        )
      case GroupState.Stable:
        // The leader rejoining forces a rebalance: it lets the leader react to changes only it sees
        // (topic metadata for consumers). A follower with unchanged metadata just gets this generation.
        if (member.memberId === this.leaderId)
          return this.updateMemberAndRebalance(member, req, 'leader rejoined a stable group')
        if (!member.matches(req.protocols))
          return this.updateMemberAndRebalance(member, req, 'member changed its metadata')
        return Promise.resolve(this.currentJoinResult(member, false))
      default:
        return Promise.resolve(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId))
    }
  }

  private addMemberAndRebalance(memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member = new Member(
      memberId,
      req.groupInstanceId,
      req.clientId,
      req.clientHost,
      req.sessionTimeoutMs,
      req.rebalanceTimeoutMs,
      req.protocolType,
      req.protocols,
    )
    // During the initial delay, every new member extends it (up to the rebalance timeout).
    if (this._state === GroupState.PreparingRebalance && this.previousState === GroupState.Empty)
      this.newMemberAdded = true
    if (this.members.size === 0) this._protocolType = req.protocolType
    this.members.set(memberId, member)
    this.leaderId ??= memberId
    if (req.groupInstanceId !== null) this.staticMembers.set(req.groupInstanceId, memberId)
    const result = this.awaitJoin(member)
    // A new member has no heartbeats yet; if its JoinGroup waits this long the client has given up.
    this.scheduleExpiry(member, this.config.newMemberJoinTimeoutMs)
    this.maybePrepareRebalanceOrCompleteJoin(`new member ${memberId} joined`)
    return result
  }

  private updateMemberAndRebalance(member: Member, req: JoinRequest, reason: string): Promise<JoinResult> {
    this.updateMember(member, req)
    const result = this.awaitJoin(member)
    this.maybePrepareRebalanceOrCompleteJoin(reason)
    return result
  }

  private updateMember(member: Member, req: JoinRequest): void {
    member.protocols = req.protocols
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    member.sessionTimeoutMs = req.sessionTimeoutMs
    member.clientId = req.clientId
    member.clientHost = req.clientHost
  }

  /**
   * KIP-345: a known group.instance.id joins with an unknown member id (the instance restarted). It
   * takes over the old member under a new id, keeping its assignment; the old id is fenced. A Stable
   * group does not rebalance unless the selected protocol would change.
   */
  private replaceStaticMember(oldId: string, newId: string, req: JoinRequest): Promise<JoinResult> {
    const member = this.members.get(oldId)!
    member.joinWaiter?.(this.joinError(ErrorCode.FENCED_INSTANCE_ID, oldId))
    member.joinWaiter = undefined
    member.syncWaiter?.(syncError(ErrorCode.FENCED_INSTANCE_ID))
    member.syncWaiter = undefined
    this.members.delete(oldId)
    member.memberId = newId
    this.members.set(newId, member)
    this.staticMembers.set(req.groupInstanceId!, newId)
    if (this.leaderId === oldId) this.leaderId = newId
    if (this.pendingSync.delete(oldId)) this.pendingSync.add(newId)
    this.scheduleExpiry(member, member.sessionTimeoutMs)
    this.updateMember(member, req)
    const result = this.awaitJoin(member)

    if (this._state === GroupState.Stable) {
      if (this._protocolName === this.selectProtocol()) {
        this.logger?.info(
          { group: this.groupId, memberId: newId, groupInstanceId: req.groupInstanceId },
          'static member rejoined a stable group: same assignment, no rebalance',
        )
        const isLeader = newId === this.leaderId
        this.completeJoin(member, { ...this.currentJoinResult(member, isLeader), skipAssignment: isLeader })
        return result
      }
      this.prepareRebalance(`static member ${newId} rejoined with a different protocol`)
      return result
    }
    // CompletingRebalance: the leader may be assigning to the old id, so rebalance again.
    this.maybePrepareRebalanceOrCompleteJoin(`static member ${newId} rejoined`)
    return result
  }

  private awaitJoin(member: Member): Promise<JoinResult> {
    // A second JoinGroup for the same member (another connection): the first gets an error.
    member.joinWaiter?.(this.joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId))
    return new Promise((resolve) => {
      member.joinWaiter = resolve
    })
  }

  private completeJoin(member: Member, result: JoinResult): void {
    const waiter = member.joinWaiter
    member.joinWaiter = undefined
    waiter?.(result)
  }

  private currentJoinResult(member: Member, includeMembers: boolean): JoinResult {
    const isLeader = member.memberId === this.leaderId
    return {
      errorCode: ErrorCode.NONE,
      generationId: this._generationId,
      protocolType: this._protocolType,
      protocolName: this._protocolName,
      leader: this.leaderId ?? '',
      skipAssignment: false,
      memberId: member.memberId,
      members: isLeader || includeMembers ? this.joinMembers() : [],
    }
  }

  private joinMembers(): JoinMember[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadataFor(this._protocolName),
    }))
  }

  private joinError(errorCode: number, memberId: string): JoinResult {
    return {
      errorCode,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      skipAssignment: false,
      memberId,
      members: [],
    }
  }

  // ---- rebalancing ----

  private maybePrepareRebalanceOrCompleteJoin(reason: string): void {
    if (CAN_REBALANCE.has(this._state)) this.prepareRebalance(reason)
    else this.maybeCompleteJoinPhase()
  }

  private prepareRebalance(reason: string): void {
    // Members waiting in SyncGroup must rejoin.
    if (this._state === GroupState.CompletingRebalance)
      this.propagateAssignment(ErrorCode.REBALANCE_IN_PROGRESS)
    this.clock.clearTimeout(this.syncTimer)
    this.pendingSync.clear()
    this.clock.clearTimeout(this.joinTimer)
    const initial = this._state === GroupState.Empty
    this.transition(GroupState.PreparingRebalance)
    this.logger?.info(
      { group: this.groupId, generationId: this._generationId, members: this.members.size, reason },
      'preparing to rebalance group',
    )
    if (initial) {
      // group.initial.rebalance.delay.ms: a new group waits for more members; each one that joins
      // extends the wait by the delay again, never beyond the rebalance timeout.
      const delay = this.config.initialRebalanceDelayMs
      const remaining = Math.max(this.rebalanceTimeoutMs() - delay, 0)
      this.joinTimer = this.clock.setTimeout(() => this.tryCompleteInitialRebalance(delay, remaining), delay)
    } else {
      this.joinTimer = this.clock.setTimeout(() => this.completeJoinPhase(), this.rebalanceTimeoutMs())
      this.maybeCompleteJoinPhase()
    }
  }

  private tryCompleteInitialRebalance(delay: number, remaining: number): void {
    if (this.newMemberAdded && remaining !== 0) {
      this.newMemberAdded = false
      const nextDelay = Math.min(this.config.initialRebalanceDelayMs, remaining)
      const nextRemaining = Math.max(remaining - delay, 0)
      this.joinTimer = this.clock.setTimeout(
        () => this.tryCompleteInitialRebalance(nextDelay, nextRemaining),
        nextDelay,
      )
      return
    }
    this.completeJoinPhase()
  }

  private maybeCompleteJoinPhase(): void {
    if (
      this._state === GroupState.PreparingRebalance &&
      this.allMembersJoined() &&
      this.previousState !== GroupState.Empty
    ) {
      this.completeJoinPhase()
    }
  }

  private allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false
    for (const m of this.members.values()) if (!m.joinWaiter) return false
    return true
  }

  /** The largest rebalance timeout of the members: how long a rebalance waits for everyone to rejoin. */
  private rebalanceTimeoutMs(): number {
    let max = 0
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs)
    return max
  }

  private completeJoinPhase(): void {
    this.clock.clearTimeout(this.joinTimer)
    this.joinTimer = undefined
    if (this._state !== GroupState.PreparingRebalance) return
    // Dynamic members that did not rejoin in time are gone. Static members stay (KIP-345): their
    // partitions wait for them until their session times out.
    for (const m of [...this.members.values()]) {
      if (!m.joinWaiter && m.groupInstanceId === null) this.removeMember(m)
    }
    if (!this.electJoinedLeader() && this.members.size > 0) {
      // Only static members that have not rejoined are left: wait for them (or their session timeouts).
      this.joinTimer = this.clock.setTimeout(() => this.completeJoinPhase(), this.rebalanceTimeoutMs())
      return
    }
    this._generationId++
    if (this.members.size === 0) {
      this._protocolName = null
      this.transition(GroupState.Empty)
      this.logger?.info({ group: this.groupId, generationId: this._generationId }, 'group is empty')
      return
    }
    this._protocolName = this.selectProtocol()
    this.transition(GroupState.CompletingRebalance)
    this.logger?.info(
      {
        group: this.groupId,
        generationId: this._generationId,
        protocol: this._protocolName,
        leader: this.leaderId,
        members: this.members.size,
      },
      'rebalance: join phase complete, waiting for the leader to sync',
    )
    for (const m of this.members.values()) {
      if (!m.joinWaiter) continue
      this.completeJoin(m, this.currentJoinResult(m, false))
      m.isNew = false
      this.scheduleExpiry(m, m.sessionTimeoutMs)
      this.pendingSync.add(m.memberId)
    }
    const generation = this._generationId
    this.syncTimer = this.clock.setTimeout(
      () => this.expirePendingSync(generation),
      this.rebalanceTimeoutMs(),
    )
  }

  /** The leader must have rejoined: when it has not, the first member that has takes over. */
  private electJoinedLeader(): boolean {
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId)
    if (leader?.joinWaiter) return true
    for (const m of this.members.values()) {
      if (m.joinWaiter) {
        this.leaderId = m.memberId
        return true
      }
    }
    return false
  }

  /**
   * The protocol every member supports that most members list first among those (Kafka's vote; a tie
   * goes to the protocol that got its first vote earliest, in join order).
   */
  selectProtocol(): string | null {
    const all = [...this.members.values()]
    if (all.length === 0) return null
    const candidates = all[0].protocols
      .map((p) => p.name)
      .filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)))
    const votes = new Map<string, number>()
    for (const m of all) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1)
    }
    let best: string | null = null
    let bestVotes = 0
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name
        bestVotes = count
      }
    }
    return best
  }

  private supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0
    if (protocolType !== this._protocolType) return false
    const all = [...this.members.values()]
    return protocols.some((p) => all.every((m) => m.protocols.some((q) => q.name === p.name)))
  }

  // ---- SyncGroup ----

  sync(req: SyncRequest): Promise<SyncResult> {
    if (this._state === GroupState.Dead)
      return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE))
    const error = this.validateMember(req.memberId, req.groupInstanceId)
    if (error !== ErrorCode.NONE) return Promise.resolve(syncError(error))
    if (req.generationId !== this._generationId)
      return Promise.resolve(syncError(ErrorCode.ILLEGAL_GENERATION))
    if (
      (req.protocolType !== null && req.protocolType !== this._protocolType) ||
      (req.protocolName !== null && req.protocolName !== this._protocolName)
    )
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
    const member = this.members.get(req.memberId)!
    switch (this._state) {
      case GroupState.PreparingRebalance:
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
      case GroupState.CompletingRebalance: {
        member.syncWaiter?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
        const result = new Promise<SyncResult>((resolve) => {
          member.syncWaiter = resolve
        })
        this.markSynced(member.memberId)
        if (member.memberId === this.leaderId) {
          // Assignments for members the group does not know are ignored; members the leader left
          // out get an empty assignment (as Kafka).
          const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]))
          for (const m of this.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY
          this.propagateAssignment(ErrorCode.NONE)
          this.transition(GroupState.Stable)
          this.logger?.info(
            { group: this.groupId, generationId: this._generationId, members: this.members.size },
            'group is stable',
          )
        }
        return result
      }
      case GroupState.Stable:
        this.markSynced(member.memberId)
        this.scheduleExpiry(member, member.sessionTimeoutMs)
        return Promise.resolve({
          errorCode: ErrorCode.NONE,
          protocolType: this._protocolType,
          protocolName: this._protocolName,
          assignment: member.assignment,
        })
      default:
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    }
  }

  private markSynced(memberId: string): void {
    this.pendingSync.delete(memberId)
    if (this.pendingSync.size === 0) this.clock.clearTimeout(this.syncTimer)
  }

  /** Answers every waiting SyncGroup: the assignment on success, an empty one with the error otherwise. */
  private propagateAssignment(errorCode: number): void {
    for (const m of this.members.values()) {
      if (errorCode !== ErrorCode.NONE) m.assignment = EMPTY
      const waiter = m.syncWaiter
      if (!waiter) continue
      m.syncWaiter = undefined
      waiter({
        errorCode,
        protocolType: errorCode === ErrorCode.NONE ? this._protocolType : null,
        protocolName: errorCode === ErrorCode.NONE ? this._protocolName : null,
        assignment: m.assignment,
      })
      if (errorCode === ErrorCode.NONE) this.scheduleExpiry(m, m.sessionTimeoutMs)
    }
  }

  /** Members that got a JoinGroup response but never synced within the rebalance timeout are removed. */
  private expirePendingSync(generation: number): void {
    if (generation !== this._generationId || this.pendingSync.size === 0) return
    if (this._state !== GroupState.CompletingRebalance && this._state !== GroupState.Stable) return
    const missing = [...this.pendingSync]
    this.logger?.info(
      { group: this.groupId, members: missing },
      'members did not sync in time: removing them',
    )
    for (const id of missing) {
      const m = this.members.get(id)
      if (m) this.removeMember(m)
    }
    this.pendingSync.clear()
    this.maybePrepareRebalanceOrCompleteJoin('members did not sync in time')
  }

  // ---- Heartbeat, LeaveGroup ----

  heartbeat(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this._state === GroupState.Dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    const error = this.validateMember(memberId, groupInstanceId)
    if (error !== ErrorCode.NONE) return error
    if (generationId !== this._generationId) return ErrorCode.ILLEGAL_GENERATION
    const member = this.members.get(memberId)!
    switch (this._state) {
      case GroupState.PreparingRebalance:
        // Keep the member alive while it rejoins.
        this.scheduleExpiry(member, member.sessionTimeoutMs)
        return ErrorCode.REBALANCE_IN_PROGRESS
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        this.scheduleExpiry(member, member.sessionTimeoutMs)
        return ErrorCode.NONE
      default:
        return ErrorCode.UNKNOWN_MEMBER_ID
    }
  }

  /** A commit by a member counts as a heartbeat (as Kafka's). */
  touch(memberId: string): void {
    const member = this.members.get(memberId)
    if (member && !member.isNew) this.scheduleExpiry(member, member.sessionTimeoutMs)
  }

  /** LeaveGroup: by member id, or by group.instance.id (v3+ batches; an empty member id leaves by instance id). */
  leave(identities: readonly MemberIdentity[], reason = 'member left the group'): LeaveResult[] {
    return identities.map((who) => ({ ...who, errorCode: this.leaveOne(who, reason) }))
  }

  private leaveOne(who: MemberIdentity, reason: string): number {
    if (who.groupInstanceId !== null) {
      const existing = this.staticMembers.get(who.groupInstanceId)
      if (existing === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
      if (who.memberId !== '' && who.memberId !== existing) return ErrorCode.FENCED_INSTANCE_ID
      this.removeMemberAndRebalance(this.members.get(existing)!, reason)
      return ErrorCode.NONE
    }
    if (this.pendingMembers.has(who.memberId)) {
      this.clock.clearTimeout(this.pendingMembers.get(who.memberId))
      this.pendingMembers.delete(who.memberId)
      this.maybeCompleteJoinPhase()
      return ErrorCode.NONE
    }
    const member = this.members.get(who.memberId)
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID
    this.removeMemberAndRebalance(member, reason)
    return ErrorCode.NONE
  }

  // ---- offsets ----

  /**
   * Whether a member may commit offsets now (Kafka's ClassicGroup.validateOffsetCommit). Generation
   * -1 with no member id is a simple commit, accepted while the group is Empty. A member commits with
   * its generation, also while the group prepares a rebalance (so it can commit before rejoining),
   * never while it completes one.
   */
  validateOffsetCommit(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this._state === GroupState.Dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (generationId < 0 && this._state === GroupState.Empty) return ErrorCode.NONE
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      const error = this.validateMember(memberId, groupInstanceId)
      if (error !== ErrorCode.NONE) return error
      if (generationId !== this._generationId) return ErrorCode.ILLEGAL_GENERATION
    } else if (this._state !== GroupState.Empty) {
      return ErrorCode.UNKNOWN_MEMBER_ID
    }
    if (this._state === GroupState.CompletingRebalance) return ErrorCode.REBALANCE_IN_PROGRESS
    return ErrorCode.NONE
  }

  /**
   * Topics the members subscribe to, from the consumer protocol's subscriptions (protocol type
   * "consumer"); null when unknown (another protocol type, or metadata that does not parse).
   */
  subscribedTopics(): Set<string> | null {
    if (this._protocolType !== 'consumer' || this._protocolName === null) return null
    const topics = new Set<string>()
    for (const m of this.members.values()) {
      const parsed = parseSubscriptionTopics(m.metadataFor(this._protocolName))
      if (parsed === null) return null
      for (const t of parsed) topics.add(t)
    }
    return topics
  }

  // ---- describe, lifecycle ----

  summary(): GroupSummary {
    const stable = this._state === GroupState.Stable
    return {
      groupId: this.groupId,
      state: this._state,
      protocolType: this._protocolType ?? '',
      protocolData: stable ? (this._protocolName ?? '') : '',
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(this._protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    }
  }

  /** Marks the group Dead (deleted or the broker is closing): waiting requests get `errorCode`, timers stop. */
  shutdown(errorCode: number = ErrorCode.COORDINATOR_NOT_AVAILABLE): void {
    this.transition(GroupState.Dead)
    this.clock.clearTimeout(this.joinTimer)
    this.clock.clearTimeout(this.syncTimer)
    for (const timer of this.pendingMembers.values()) this.clock.clearTimeout(timer)
    this.pendingMembers.clear()
    for (const m of this.members.values()) {
      this.clock.clearTimeout(m.timer)
      this.completeJoin(m, this.joinError(errorCode, m.memberId))
      const sync = m.syncWaiter
      m.syncWaiter = undefined
      sync?.(syncError(errorCode))
    }
  }

  private validateMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const existing = this.staticMembers.get(groupInstanceId)
      if (existing === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
      if (existing !== memberId) return ErrorCode.FENCED_INSTANCE_ID
      return ErrorCode.NONE
    }
    return this.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID
  }

  private transition(state: GroupState): void {
    this.previousState = this._state
    this._state = state
    this.stateTimestamp = this.clock.now()
  }

  /** (Re)arms the member's session timer: a new member gets the new-member join timeout instead. */
  private scheduleExpiry(member: Member, ms: number): void {
    this.clock.clearTimeout(member.timer)
    member.timer = this.clock.setTimeout(() => this.onExpiry(member), ms)
  }

  private onExpiry(member: Member): void {
    if (this.members.get(member.memberId) !== member) return
    // Members waiting in JoinGroup or SyncGroup cannot heartbeat: their wait counts as one. New
    // members have no such excuse: their join timeout is up.
    if (!member.isNew && (member.joinWaiter || member.syncWaiter)) {
      this.scheduleExpiry(member, member.sessionTimeoutMs)
      return
    }
    this.logger?.info({ group: this.groupId, memberId: member.memberId }, 'member session expired')
    this.removeMemberAndRebalance(member, `session of member ${member.memberId} expired`)
  }

  private expirePendingMember(memberId: string): void {
    if (!this.pendingMembers.delete(memberId)) return
    this.maybeCompleteJoinPhase()
  }

  private removeMemberAndRebalance(member: Member, reason: string): void {
    // A member removed while its JoinGroup waits gets UNKNOWN_MEMBER_ID, so a live client rejoins.
    this.completeJoin(member, this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId))
    const sync = member.syncWaiter
    member.syncWaiter = undefined
    sync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    this.removeMember(member)
    switch (this._state) {
      case GroupState.Stable:
      case GroupState.CompletingRebalance:
        this.prepareRebalance(reason)
        break
      case GroupState.PreparingRebalance:
        this.maybeCompleteJoinPhase()
        break
    }
  }

  private removeMember(member: Member): void {
    this.clock.clearTimeout(member.timer)
    this.members.delete(member.memberId)
    this.pendingSync.delete(member.memberId)
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId)
      this.staticMembers.delete(member.groupInstanceId)
    if (this.leaderId === member.memberId) this.leaderId = this.members.keys().next().value ?? null
  }
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY }
}

/**
 * Topics of a ConsumerProtocolSubscription (any version: version int16, then the topics as an int32
 * count of int16-length strings, which every version starts with); null when it does not parse.
 */
export function parseSubscriptionTopics(metadata: Buffer): string[] | null {
  try {
    if (metadata.length < 6) return null
    const count = metadata.readInt32BE(2)
    if (count < 0 || count > metadata.length) return null
    const topics: string[] = []
    let pos = 6
    for (let i = 0; i < count; i++) {
      const len = metadata.readInt16BE(pos)
      pos += 2
      if (len < 0 || pos + len > metadata.length) return null
      topics.push(metadata.toString('utf8', pos, pos + len))
      pos += len
    }
    return topics
  } catch {
    return null
  }
}
