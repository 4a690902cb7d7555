/**
 * Membership in a classic-protocol consumer group: FindCoordinator, JoinGroup (with
 * MEMBER_ID_REQUIRED, KIP-394), the leader's assignment, SyncGroup, heartbeats on their own timer,
 * LeaveGroup, and the group's OffsetCommit/OffsetFetch with generation and member id.
 *
 * Eager assignors (range, roundrobin) give up every partition before rejoining. When every offered
 * assignor is cooperative (KIP-429), the member keeps consuming during the rebalance, rejoins with
 * the partitions it owns, revokes only what the leader took away and rejoins once more so that the
 * revoked partitions can be handed to their new owner.
 */
import {
  ApiKey,
  CONSUMER_PROTOCOL_TYPE,
  ErrorCode,
  type JoinGroupResponse,
  readConsumerAssignment,
  readConsumerSubscription,
  writeConsumerAssignment,
  writeConsumerSubscription,
} from '@fluxo/protocol'
import { type Cluster, CoordinatorType } from '../cluster/cluster.js'
import { backoffMs, sleep } from '../cluster/retry.js'
import type { Connection } from '../connection/connection.js'
import { ConnectionError, IllegalStateError, KafkaError, isRetriable } from '../errors.js'
import type { TopicPartitionOffset } from '../producer/transaction.js'
import { type Assignor, type AssignorName, type MemberSubscription, assignorFor } from './assignors.js'
import { type TopicPartition, tpKey } from './fetcher.js'
import {
  type CommittedOffset,
  checkCoordinatorError,
  commitOffsets,
  fetchCommittedOffsets,
} from './offsets.js'

export interface RebalanceListeners {
  /**
   * Partitions this member was given. Called after every rebalance (with the cooperative protocol,
   * only the partitions that are new). They are assigned when it runs, so `seek` works here; their
   * records are handed out once it returns (or its promise resolves).
   */
  onPartitionsAssigned?: (partitions: TopicPartition[]) => void | Promise<void>
  /**
   * Partitions this member gives up in a rebalance, while it still owns them: offsets of what was
   * consumed are already committed (with autoCommit) when it runs.
   */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => void | Promise<void>
  /**
   * Partitions that already belong to someone else (the member was fenced or its session expired):
   * nothing can be committed for them any more. Defaults to onPartitionsRevoked, as in Kafka.
   */
  onPartitionsLost?: (partitions: TopicPartition[]) => void | Promise<void>
}

export interface GroupMemberOptions {
  groupId: string
  groupInstanceId: string | null
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  heartbeatIntervalMs: number
  assignors: AssignorName[]
  listeners: RebalanceListeners
  /** The partitions the consumer holds now. */
  owned(): TopicPartition[]
  /** Adds partitions whose records wait until `releasePartitions` (after onPartitionsAssigned). */
  addPartitions(tps: TopicPartition[]): void
  releasePartitions(tps: TopicPartition[]): void
  removePartitions(tps: TopicPartition[]): void
  /** Stops handing out records of these partitions (before revocation). */
  pausePartitions(tps: TopicPartition[]): void
  /** Commits what was consumed of partitions about to be revoked. */
  commitBeforeRevoke(tps: TopicPartition[]): Promise<void>
  /** Wakes the consumer's loop (an error is waiting, or the assignment changed). */
  notify(): void
}

/**
 * Calls a rebalance listener. Kafka's consumer rethrows a listener's failure from poll(); here it
 * goes to `fail`, and the iterator or run() throws it.
 */
export async function callRebalanceListener(
  listeners: RebalanceListeners,
  name: keyof RebalanceListeners,
  tps: TopicPartition[],
  fail: (err: Error) => void,
): Promise<void> {
  const listener = listeners[name]
  if (!listener) return
  try {
    await listener(tps)
  } catch (err) {
    fail(err as Error)
  }
}

/**
 * The member's partitions already belong to others (fenced, expired): they go without a commit,
 * and the application hears onPartitionsLost (onPartitionsRevoked without one, as in Kafka).
 */
export async function losePartitions(
  options: Pick<GroupMemberOptions, 'owned' | 'removePartitions' | 'listeners'>,
  fail: (err: Error) => void,
): Promise<void> {
  const owned = options.owned()
  if (owned.length === 0) return
  options.removePartitions(owned)
  const name = options.listeners.onPartitionsLost ? 'onPartitionsLost' : 'onPartitionsRevoked'
  await callRebalanceListener(options.listeners, name, owned, fail)
}

/** Errors after which the member must join again with a new member id or generation. */
const REJOIN_CODES: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.MEMBER_ID_REQUIRED,
])

/** 'revoking': an eager member gives up its partitions before JoinGroup; it still heartbeats meanwhile. */
type MemberState = 'unjoined' | 'revoking' | 'joining' | 'stable'

/** What the consumer needs from its group membership, whichever the protocol. */
export interface Membership {
  readonly memberId: string
  /** The classic generation or the KIP-848 member epoch; -1 outside the group. */
  readonly generationId: number
  /** Joined and accepted by the coordinator (commits carry the member's identity). */
  readonly isMember: boolean
  subscribe(topics: string[] | RegExp): void
  unsubscribe(): Promise<void>
  throwIfError(): void
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>
  fetchCommitted(tps: readonly TopicPartition[]): Promise<Map<string, CommittedOffset>>
  close(): Promise<void>
}

export class GroupMember implements Membership {
  memberId = ''
  generationId = -1
  protocolName: string | null = null
  /** Times this member completed a rebalance (JoinGroup + SyncGroup). */
  rebalances = 0
  private readonly assignors: Assignor[]
  private readonly cooperative: boolean
  private subscription: string[] | RegExp | undefined
  private state: MemberState = 'unjoined'
  private rejoinNeeded = false
  private loop: Promise<void> | undefined
  private wakeLoop: (() => void) | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private heartbeatInFlight = false
  private error: Error | undefined
  private closing = false
  private failures = 0
  /** Topics of the last JoinGroup, to notice new topics matching a pattern. */
  private joinedTopics: string[] = []
  private metadataCheckAt = 0
  /** The connection of a JoinGroup or SyncGroup waiting for the other members, if any. */
  private parkedOn: Connection | undefined

  constructor(
    private readonly cluster: Cluster,
    private readonly options: GroupMemberOptions,
  ) {
    this.assignors = options.assignors.map((name) => assignorFor(name))
    if (this.assignors.length === 0) throw new IllegalStateError('at least one assignor is needed')
    this.cooperative = this.assignors.every((a) => a.cooperative)
  }

  get groupId(): string {
    return this.options.groupId
  }

  /** Joined, with a member id and generation the coordinator accepts. */
  get isMember(): boolean {
    return this.state === 'stable' && this.generationId >= 0
  }

  get rebalanceProtocol(): 'eager' | 'cooperative' {
    return this.cooperative ? 'cooperative' : 'eager'
  }

  subscribe(topics: string[] | RegExp): void {
    this.subscription = topics
    this.requestRejoin()
    this.loop ??= this.runLoop()
    if (!this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs)
      this.heartbeatTimer.unref() // a forgotten consumer does not keep the process alive
    }
  }

  throwIfError(): void {
    const err = this.error
    if (err) {
      this.error = undefined
      throw err
    }
  }

  private requestRejoin(): void {
    this.rejoinNeeded = true
    this.wakeLoop?.()
  }

  private fail(err: Error): void {
    this.error = err
    this.options.notify()
  }

  private async runLoop(): Promise<void> {
    while (!this.closing) {
      if (!this.rejoinNeeded) {
        await new Promise<void>((resolve) => {
          this.wakeLoop = resolve
          // New topics matching a pattern, or more partitions, need a rebalance (the leader checks in Java).
          setTimeout(resolve, Math.min(1000, this.cluster.options.metadataMaxAgeMs ?? 1000)).unref()
        })
        this.wakeLoop = undefined
        if (!this.rejoinNeeded && !this.closing) await this.checkMetadata().catch(() => {})
        continue
      }
      try {
        await this.rebalance()
        this.failures = 0
      } catch (err) {
        if (this.closing) return
        const e = err as Error
        if (e instanceof KafkaError && REJOIN_CODES.has(e.errorCode)) {
          this.rejoinNeeded = true
          continue
        }
        if (!isRetriable(e)) {
          // Fatal for this member (FENCED_INSTANCE_ID, GROUP_AUTHORIZATION_FAILED, ...): reported to the application.
          this.state = 'unjoined'
          this.fail(e)
          this.rejoinNeeded = false
          continue
        }
        this.rejoinNeeded = true
        await sleep(
          backoffMs(
            this.failures++,
            this.cluster.retryOptions.initialRetryTimeMs,
            this.cluster.retryOptions.maxRetryTimeMs,
          ),
        )
      }
    }
  }

  /** Rejoins when the subscribed topics changed (a pattern) or their partition counts did. */
  private async checkMetadata(): Promise<void> {
    if (this.metadataCheckAt === 0) {
      this.metadataCheckAt = Date.now() + (this.cluster.options.metadataMaxAgeMs ?? 300_000)
      return
    }
    if (this.state !== 'stable' || Date.now() < this.metadataCheckAt) return
    // As Java's consumer: checked at each metadata refresh (metadata.max.age.ms, default 5 minutes).
    this.metadataCheckAt = Date.now() + (this.cluster.options.metadataMaxAgeMs ?? 300_000)
    const topics = await this.resolveTopics(true)
    const counts = await this.cluster.topics(topics)
    const now = topics
      .map((t) => `${t}:${counts.get(t)?.partitions.length ?? 0}`)
      .sort()
      .join(',')
    if (now !== this.joinedTopics.join(',')) this.requestRejoin()
  }

  private async resolveTopics(refresh = false): Promise<string[]> {
    const sub = this.subscription
    if (!sub) return []
    if (!(sub instanceof RegExp)) {
      if (refresh) for (const t of sub) this.cluster.invalidate(t)
      return [...sub].sort()
    }
    const md = await this.cluster.refreshMetadata(null)
    return md.topics
      .filter((t) => t.name && !t.isInternal && sub.test(t.name))
      .map((t) => t.name!)
      .sort()
  }

  private async coordinator(): Promise<Connection> {
    return this.cluster.coordinator(this.options.groupId, CoordinatorType.group)
  }

  private checkCoordinatorError(err: unknown): void {
    checkCoordinatorError(this.cluster, this.options.groupId, err)
  }

  private groupError(code: number, message?: string | null): KafkaError {
    return new KafkaError(code, message, { groupId: this.options.groupId })
  }

  private async rebalance(): Promise<void> {
    this.rejoinNeeded = false
    if (!this.subscription) return
    this.state = 'joining'
    const topics = await this.resolveTopics()
    const counts = await this.cluster.topics(topics)
    this.joinedTopics = topics.map((t) => `${t}:${counts.get(t)?.partitions.length ?? 0}`).sort()
    if (!this.cooperative) {
      const owned = this.options.owned()
      if (owned.length > 0) {
        this.state = this.generationId >= 0 ? 'revoking' : 'joining'
        await this.revoke(owned)
        this.state = 'joining'
      }
    }
    let join: JoinGroupResponse
    try {
      join = await this.joinGroup(topics)
    } catch (err) {
      this.checkCoordinatorError(err)
      throw err
    }
    const assignments =
      join.leader === this.memberId && !join.skipAssignment ? await this.leaderAssign(join) : []
    let assignment: Buffer
    try {
      assignment = await this.syncGroup(join.generationId, join.protocolName, assignments)
    } catch (err) {
      this.checkCoordinatorError(err)
      throw err
    }
    if (!this.subscription || this.closing) return // unsubscribed or closed meanwhile
    this.generationId = join.generationId
    this.protocolName = join.protocolName
    this.state = 'stable'
    this.rebalances++
    const assigned = readConsumerAssignment(assignment).assignedPartitions.flatMap((t) =>
      t.partitions.map((partition) => ({ topic: t.topic, partition })),
    )
    await this.applyAssignment(assigned)
  }

  private subscriptionFor(assignor: Assignor, topics: string[]): Buffer {
    const owned = this.cooperative ? this.options.owned() : []
    const byTopic = new Map<string, number[]>()
    for (const tp of owned) {
      const list = byTopic.get(tp.topic)
      if (list) list.push(tp.partition)
      else byTopic.set(tp.topic, [tp.partition])
    }
    let userData: Buffer | null = null
    if (assignor.name === 'cooperative-sticky') {
      // As Java's CooperativeStickyAssignor: the generation also in the user data, for leaders
      // that read subscription versions below 2.
      userData = Buffer.alloc(4)
      userData.writeInt32BE(this.generationId)
    }
    return writeConsumerSubscription({
      topics,
      userData,
      ownedPartitions: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      generationId: this.generationId,
      rackId: null,
    })
  }

  private async joinGroup(topics: string[]): Promise<JoinGroupResponse> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.coordinator()
      this.parkedOn = conn
      const res = await conn.request(
        ApiKey.JoinGroup,
        {
          groupId: this.options.groupId,
          sessionTimeoutMs: this.options.sessionTimeoutMs,
          rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId: this.options.groupInstanceId,
          protocolType: CONSUMER_PROTOCOL_TYPE,
          protocols: this.assignors.map((a) => ({ name: a.name, metadata: this.subscriptionFor(a, topics) })),
          reason: null,
        },
        { timeoutMs: this.options.rebalanceTimeoutMs + 5000 },
      )
      this.parkedOn = undefined
      switch (res.errorCode) {
        case ErrorCode.NONE:
          this.memberId = res.memberId
          return res
        case ErrorCode.MEMBER_ID_REQUIRED:
          // KIP-394: the coordinator assigned us an id; join again with it at once.
          this.memberId = res.memberId
          if (attempt < 3) continue
          break
        case ErrorCode.UNKNOWN_MEMBER_ID:
          await this.lose()
          this.memberId = ''
          break
        case ErrorCode.ILLEGAL_GENERATION:
          await this.lose()
          break
      }
      throw this.groupError(res.errorCode, 'JoinGroup failed')
    }
  }

  /** The leader decodes every member's subscription and runs the chosen assignor. */
  private async leaderAssign(join: JoinGroupResponse): Promise<{ memberId: string; assignment: Buffer }[]> {
    const assignor =
      this.assignors.find((a) => a.name === join.protocolName) ?? assignorFor(join.protocolName ?? '')
    const members: MemberSubscription[] = join.members.map((m) => {
      const sub = readConsumerSubscription(m.metadata)
      let generationId = sub.generationId
      if (
        generationId < 0 &&
        sub.userData &&
        sub.userData.length >= 4 &&
        assignor.name === 'cooperative-sticky'
      )
        generationId = sub.userData.readInt32BE(0)
      return {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        topics: sub.topics,
        ownedPartitions: sub.ownedPartitions.flatMap((t) =>
          t.partitions.map((partition) => ({ topic: t.topic, partition })),
        ),
        generationId,
      }
    })
    const all = [...new Set(members.flatMap((m) => m.topics))]
    const infos = await this.cluster.topics(all)
    const counts = new Map<string, number>()
    for (const [name, info] of infos) counts.set(name, info.partitions.length)
    const result = assignor.assign(members, counts)
    return members.map((m) => {
      const byTopic = new Map<string, number[]>()
      for (const tp of result.get(m.memberId) ?? []) {
        const list = byTopic.get(tp.topic)
        if (list) list.push(tp.partition)
        else byTopic.set(tp.topic, [tp.partition])
      }
      return {
        memberId: m.memberId,
        assignment: writeConsumerAssignment({
          assignedPartitions: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
          userData: null,
        }),
      }
    })
  }

  private async syncGroup(
    generationId: number,
    protocolName: string | null,
    assignments: { memberId: string; assignment: Buffer }[],
  ): Promise<Buffer> {
    const conn = await this.coordinator()
    this.parkedOn = conn
    const res = await conn.request(
      ApiKey.SyncGroup,
      {
        groupId: this.options.groupId,
        generationId,
        memberId: this.memberId,
        groupInstanceId: this.options.groupInstanceId,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocolName,
        assignments,
      },
      { timeoutMs: this.options.rebalanceTimeoutMs + 5000 },
    )
    this.parkedOn = undefined
    if (res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID || res.errorCode === ErrorCode.ILLEGAL_GENERATION) {
      await this.lose()
      if (res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
    }
    if (res.errorCode !== ErrorCode.NONE) throw this.groupError(res.errorCode, 'SyncGroup failed')
    return res.assignment
  }

  private async applyAssignment(assigned: TopicPartition[]): Promise<void> {
    const assignedKeys = new Set(assigned.map((tp) => tpKey(tp.topic, tp.partition)))
    const owned = this.options.owned()
    const ownedKeys = new Set(owned.map((tp) => tpKey(tp.topic, tp.partition)))
    if (this.cooperative) {
      const revoked = owned.filter((tp) => !assignedKeys.has(tpKey(tp.topic, tp.partition)))
      const added = assigned.filter((tp) => !ownedKeys.has(tpKey(tp.topic, tp.partition)))
      if (revoked.length > 0) {
        await this.revoke(revoked)
        // KIP-429: the revoked partitions are handed to their new owner in a follow-up rebalance.
        this.requestRejoin()
      }
      this.options.addPartitions(added)
      await this.callListener('onPartitionsAssigned', added)
      this.options.releasePartitions(added)
    } else {
      this.options.addPartitions(assigned)
      await this.callListener('onPartitionsAssigned', assigned)
      this.options.releasePartitions(assigned)
    }
    this.options.notify()
  }

  /** Commits the consumed offsets of `tps`, tells the application and lets the partitions go. */
  private async revoke(tps: TopicPartition[]): Promise<void> {
    this.options.pausePartitions(tps)
    if (this.generationId >= 0) await this.options.commitBeforeRevoke(tps).catch(() => {})
    await this.callListener('onPartitionsRevoked', tps)
    this.options.removePartitions(tps)
  }

  private async lose(): Promise<void> {
    this.generationId = -1
    this.state = 'unjoined'
    await losePartitions(this.options, (err) => this.fail(err))
  }

  private callListener(name: keyof RebalanceListeners, tps: TopicPartition[]): Promise<void> {
    return callRebalanceListener(this.options.listeners, name, tps, (err) => this.fail(err))
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.closing || this.generationId < 0) return
    if (this.state !== 'stable' && this.state !== 'revoking') return
    this.heartbeatInFlight = true
    const generationId = this.generationId
    try {
      const conn = await this.coordinator()
      const res = await conn.request(ApiKey.Heartbeat, {
        groupId: this.options.groupId,
        generationId,
        memberId: this.memberId,
        groupInstanceId: this.options.groupInstanceId,
      })
      if (generationId !== this.generationId || this.closing) return
      switch (res.errorCode) {
        case ErrorCode.NONE:
          return
        case ErrorCode.REBALANCE_IN_PROGRESS:
          if (this.state === 'stable') this.requestRejoin()
          return
        case ErrorCode.UNKNOWN_MEMBER_ID:
        case ErrorCode.ILLEGAL_GENERATION:
          if (res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
          await this.lose()
          this.requestRejoin()
          return
        case ErrorCode.FENCED_INSTANCE_ID:
          await this.lose()
          this.fail(this.groupError(res.errorCode, 'another consumer with this groupInstanceId joined'))
          return
        default:
          throw this.groupError(res.errorCode, 'Heartbeat failed')
      }
    } catch (err) {
      this.checkCoordinatorError(err)
    } finally {
      this.heartbeatInFlight = false
    }
  }

  /** Commits offsets as this member (generation and member id), retrying coordinator moves. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    // The generation stays valid while revoking before a rejoin: Kafka accepts those commits (KIP-429 relies on it).
    const member = this.generationId >= 0 && this.memberId !== ''
    return commitOffsets(
      this.cluster,
      {
        groupId: this.options.groupId,
        generationIdOrMemberEpoch: member ? this.generationId : -1,
        memberId: member ? this.memberId : '',
        groupInstanceId: member ? this.options.groupInstanceId : null,
      },
      offsets,
      (err) => {
        const stale =
          err.errorCode === ErrorCode.UNKNOWN_MEMBER_ID || err.errorCode === ErrorCode.ILLEGAL_GENERATION
        if (stale && this.state === 'stable') this.requestRejoin()
      },
    )
  }

  fetchCommitted(tps: readonly TopicPartition[]): Promise<Map<string, CommittedOffset>> {
    return fetchCommittedOffsets(this.cluster, this.options.groupId, tps)
  }

  /** Stops heartbeats and leaves the group (a static member stays until its session times out, KIP-345). */
  async close(): Promise<void> {
    if (this.closing) return
    if (this.state === 'stable' && this.generationId >= 0) {
      const owned = this.options.owned()
      if (owned.length > 0) await this.callListener('onPartitionsRevoked', owned)
    }
    this.closing = true
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    this.wakeLoop?.()
    await this.leave('the consumer is closing')
  }

  /** Gives up the partitions (committing first) and leaves the group; subscribe() joins again. */
  async unsubscribe(): Promise<void> {
    this.subscription = undefined
    this.rejoinNeeded = false
    const owned = this.options.owned()
    if (owned.length > 0) {
      if (this.state === 'stable' && this.generationId >= 0) await this.revoke(owned)
      else this.options.removePartitions(owned)
    }
    await this.leave('the consumer unsubscribed')
    this.memberId = ''
  }

  /** LeaveGroup, except for static members (KIP-345: they keep their place until the session times out). */
  private async leave(reason: string): Promise<void> {
    // A JoinGroup parked until the other members rejoin would hold the LeaveGroup behind it (a
    // connection answers in order): drop that connection; LeaveGroup goes on a new one.
    this.parkedOn?.destroy(new ConnectionError(reason))
    this.parkedOn = undefined
    if (this.memberId !== '' && this.options.groupInstanceId === null) {
      try {
        const conn = await this.coordinator()
        await conn.request(
          ApiKey.LeaveGroup,
          {
            groupId: this.options.groupId,
            memberId: this.memberId,
            members: [{ memberId: this.memberId, groupInstanceId: null, reason }],
          },
          { timeoutMs: 5000 },
        )
      } catch {
        // The session timeout removes the member anyway.
      }
    }
    this.state = 'unjoined'
    this.generationId = -1
  }
}
