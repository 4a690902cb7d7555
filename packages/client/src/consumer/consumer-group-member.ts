/**
 * Membership in a KIP-848 consumer group (group.protocol=consumer): one ConsumerGroupHeartbeat
 * carries the subscription and the partitions the member owns; the coordinator computes the
 * assignment (server-side assignors) and answers with this member's target. The member reconciles
 * on its own: it revokes what it must give up (committing first), takes what is new, and reports
 * the result on the next heartbeat, sent at once. The coordinator withholds a partition until its
 * previous owner reported it gone, so no partition is ever consumed by two members.
 */
import { randomBytes } from 'node:crypto'
import { ApiKey, type ConsumerGroupHeartbeatResponse, ErrorCode } from '@fluxo/protocol'
import { type Cluster, CoordinatorType } from '../cluster/cluster.js'
import { KafkaError, isRetriable } from '../errors.js'
import type { TopicPartitionOffset } from '../producer/transaction.js'
import { type TopicPartition, tpKey } from './fetcher.js'
import {
  type GroupMemberOptions,
  type Membership,
  type RebalanceListeners,
  callRebalanceListener,
  losePartitions,
} from './group.js'
import {
  type CommittedOffset,
  checkCoordinatorError,
  commitOffsets,
  fetchCommittedOffsets,
} from './offsets.js'

const JOIN_EPOCH = 0
const LEAVE_EPOCH = -1
const STATIC_LEAVE_EPOCH = -2

/** Errors after which the member starts over with epoch 0, its partitions lost (KIP-848). */
const FENCED: ReadonlySet<number> = new Set([ErrorCode.FENCED_MEMBER_EPOCH, ErrorCode.UNKNOWN_MEMBER_ID])

export interface ConsumerGroupMemberOptions
  extends Omit<GroupMemberOptions, 'assignors' | 'sessionTimeoutMs' | 'heartbeatIntervalMs'> {
  /** group.remote.assignor: the coordinator's assignor ('uniform', 'range'); null for its default. */
  remoteAssignor: string | null
}

/**
 * The coordinator matches a regex against whole topic names (RE2/J); a JavaScript RegExp matches
 * anywhere unless anchored, as `RegExp.test` does for the classic protocol: wrap it accordingly.
 */
function toBrokerRegex(pattern: RegExp): string {
  return `${pattern.flags.includes('i') ? '(?i)' : ''}.*(?:${pattern.source}).*`
}

/** A Kafka Uuid as the Java client prints it (KIP-1082: the member id is chosen by the client). */
function newMemberId(): string {
  return randomBytes(16).toString('base64url')
}

export class ConsumerGroupMember implements Membership {
  memberId = ''
  memberEpoch = JOIN_EPOCH
  private subscription: string[] | RegExp | undefined
  private heartbeatIntervalMs = 3000
  private timer: NodeJS.Timeout | undefined
  private heartbeatInFlight: Promise<void> | undefined
  private heartbeatAgain = false
  private reconciling: Promise<void> | undefined
  private pendingTarget: Map<string, number[]> | undefined
  private joined = false
  private closing = false
  private error: Error | undefined
  private failures = 0
  /** Topic id → name, from metadata. */
  private readonly topicNames = new Map<string, string>()

  constructor(
    private readonly cluster: Cluster,
    private readonly options: ConsumerGroupMemberOptions,
  ) {}

  /** The member epoch plays the part of the classic generation (for commits and groupMetadata()). */
  get generationId(): number {
    return this.joined ? this.memberEpoch : -1
  }

  get isMember(): boolean {
    return this.joined && this.memberEpoch > 0
  }

  subscribe(topics: string[] | RegExp): void {
    this.subscription = topics
    this.heartbeatSoon(0)
  }

  throwIfError(): void {
    const err = this.error
    if (err) {
      this.error = undefined
      throw err
    }
  }

  private fail(err: Error): void {
    this.error = err
    this.options.notify()
  }

  private heartbeatSoon(delayMs: number): void {
    if (this.closing || !this.subscription) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.heartbeat()
    }, delayMs)
    this.timer.unref()
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight) {
      this.heartbeatAgain = true
      return
    }
    this.heartbeatInFlight = this.sendHeartbeat().finally(() => {
      this.heartbeatInFlight = undefined
    })
    await this.heartbeatInFlight
    if (this.heartbeatAgain) {
      this.heartbeatAgain = false
      this.heartbeatSoon(0)
    }
  }

  private async sendHeartbeat(): Promise<void> {
    const subscription = this.subscription
    if (!subscription || this.closing) return
    try {
      const conn = await this.cluster.coordinator(this.options.groupId, CoordinatorType.group)
      const version = conn.versionFor(ApiKey.ConsumerGroupHeartbeat)
      if (version < 0)
        throw new KafkaError(
          ErrorCode.UNSUPPORTED_VERSION,
          'the coordinator does not support KIP-848 consumer groups',
          {
            groupId: this.options.groupId,
          },
        )
      if (version >= 1 && this.memberId === '') this.memberId = newMemberId()
      const pattern = subscription instanceof RegExp
      const names = pattern && version < 1 ? await this.resolvePattern(subscription) : null
      const joining = this.memberEpoch === JOIN_EPOCH
      const res = await conn.request(ApiKey.ConsumerGroupHeartbeat, {
        groupId: this.options.groupId,
        memberId: this.memberId,
        memberEpoch: this.memberEpoch,
        instanceId: this.options.groupInstanceId,
        rackId: null,
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
        subscribedTopicNames: pattern ? names : [...subscription],
        subscribedTopicRegex: pattern && names === null ? toBrokerRegex(subscription) : null,
        serverAssignor: this.options.remoteAssignor,
        topicPartitions: joining ? [] : await this.ownedByTopicId(),
      })
      if (this.closing) return
      await this.onResponse(res)
    } catch (err) {
      checkCoordinatorError(this.cluster, this.options.groupId, err)
      if (!isRetriable(err) && !(err instanceof KafkaError && FENCED.has(err.errorCode))) {
        this.fail(err as Error)
        return
      }
      this.heartbeatSoon(Math.min(100 * 2 ** this.failures++, 2000))
    }
  }

  private async onResponse(res: ConsumerGroupHeartbeatResponse): Promise<void> {
    if (res.errorCode !== ErrorCode.NONE) {
      const err = new KafkaError(res.errorCode, res.errorMessage, { groupId: this.options.groupId })
      if (FENCED.has(res.errorCode)) {
        // The coordinator gave our partitions away: let them go uncommitted and join again.
        await this.lose()
        if (res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
        this.memberEpoch = JOIN_EPOCH
        this.heartbeatSoon(0)
        return
      }
      throw err
    }
    this.failures = 0
    if (res.memberId) this.memberId = res.memberId
    this.memberEpoch = res.memberEpoch
    this.joined = true
    if (res.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = res.heartbeatIntervalMs
    if (res.assignment) {
      const target = new Map<string, number[]>()
      for (const t of res.assignment.topicPartitions) target.set(t.topicId, t.partitions)
      this.reconcile(target)
    }
    this.heartbeatSoon(this.heartbeatIntervalMs)
  }

  /** One reconciliation at a time; a newer target waits for the running one. */
  private reconcile(target: Map<string, number[]>): void {
    if (this.reconciling) {
      this.pendingTarget = target
      return
    }
    this.reconciling = this.apply(target)
      .catch((err) => this.fail(err as Error))
      .finally(() => {
        this.reconciling = undefined
        const next = this.pendingTarget
        this.pendingTarget = undefined
        if (next) this.reconcile(next)
        else this.heartbeatSoon(0) // report the partitions we now own
      })
  }

  private async apply(target: Map<string, number[]>): Promise<void> {
    const assigned: TopicPartition[] = []
    for (const [topicId, partitions] of target) {
      const topic = await this.topicName(topicId)
      if (topic === undefined) continue // deleted meanwhile: the next target will not have it
      for (const partition of partitions) assigned.push({ topic, partition })
    }
    const assignedKeys = new Set(assigned.map((tp) => tpKey(tp.topic, tp.partition)))
    const owned = this.options.owned()
    const ownedKeys = new Set(owned.map((tp) => tpKey(tp.topic, tp.partition)))
    const revoked = owned.filter((tp) => !assignedKeys.has(tpKey(tp.topic, tp.partition)))
    const added = assigned.filter((tp) => !ownedKeys.has(tpKey(tp.topic, tp.partition)))
    if (revoked.length > 0) {
      this.options.pausePartitions(revoked)
      await this.options.commitBeforeRevoke(revoked).catch(() => {})
      await this.callListener('onPartitionsRevoked', revoked)
      this.options.removePartitions(revoked)
    }
    if (added.length > 0) {
      this.options.addPartitions(added)
      await this.callListener('onPartitionsAssigned', added)
      this.options.releasePartitions(added)
    }
    this.options.notify()
  }

  private async lose(): Promise<void> {
    this.joined = false
    await losePartitions(this.options, (err) => this.fail(err))
  }

  private callListener(name: keyof RebalanceListeners, tps: TopicPartition[]): Promise<void> {
    return callRebalanceListener(this.options.listeners, name, tps, (err) => this.fail(err))
  }

  private async topicName(topicId: string): Promise<string | undefined> {
    if (!this.topicNames.has(topicId)) await this.refreshTopicIds()
    return this.topicNames.get(topicId)
  }

  private async refreshTopicIds(): Promise<string[]> {
    const md = await this.cluster.refreshMetadata(null)
    const names: string[] = []
    for (const t of md.topics) {
      if (!t.name) continue
      this.topicNames.set(t.topicId, t.name)
      if (!t.isInternal) names.push(t.name)
    }
    return names
  }

  /** Before ConsumerGroupHeartbeat v1 the pattern is resolved here and sent as names. */
  private async resolvePattern(pattern: RegExp): Promise<string[]> {
    return (await this.refreshTopicIds()).filter((name) => pattern.test(name)).sort()
  }

  private async ownedByTopicId(): Promise<{ topicId: string; partitions: number[] }[]> {
    const byTopic = new Map<string, number[]>()
    for (const tp of this.options.owned()) {
      const list = byTopic.get(tp.topic)
      if (list) list.push(tp.partition)
      else byTopic.set(tp.topic, [tp.partition])
    }
    const out: { topicId: string; partitions: number[] }[] = []
    for (const [topic, partitions] of byTopic) {
      const topicId = (await this.cluster.topics([topic])).get(topic)?.topicId
      if (topicId) out.push({ topicId, partitions })
    }
    return out
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const member = this.isMember
    return commitOffsets(
      this.cluster,
      {
        groupId: this.options.groupId,
        generationIdOrMemberEpoch: member ? this.memberEpoch : -1,
        memberId: member ? this.memberId : '',
        groupInstanceId: member ? this.options.groupInstanceId : null,
      },
      offsets,
      (err) => {
        // A newer epoch is on its way in a heartbeat: ask for it now.
        if (err.errorCode === ErrorCode.STALE_MEMBER_EPOCH) this.heartbeatSoon(0)
      },
    )
  }

  fetchCommitted(tps: readonly TopicPartition[]): Promise<Map<string, CommittedOffset>> {
    return fetchCommittedOffsets(this.cluster, this.options.groupId, tps)
  }

  async unsubscribe(): Promise<void> {
    const owned = this.options.owned()
    if (owned.length > 0) {
      this.options.pausePartitions(owned)
      if (this.isMember) await this.options.commitBeforeRevoke(owned).catch(() => {})
      await this.callListener('onPartitionsRevoked', owned)
      this.options.removePartitions(owned)
    }
    await this.leave()
    this.subscription = undefined
    this.memberId = ''
    this.memberEpoch = JOIN_EPOCH
  }

  async close(): Promise<void> {
    if (this.closing) return
    const owned = this.options.owned()
    if (owned.length > 0 && this.isMember) await this.callListener('onPartitionsRevoked', owned)
    this.closing = true
    await this.leave()
  }

  /** Epoch -1 leaves; a static member sends -2 and keeps its assignment until its session ends (KIP-345). */
  private async leave(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.heartbeatInFlight?.catch(() => {})
    await this.reconciling?.catch(() => {})
    if (!this.joined || this.memberId === '') return
    const epoch = this.options.groupInstanceId === null ? LEAVE_EPOCH : STATIC_LEAVE_EPOCH
    try {
      const conn = await this.cluster.coordinator(this.options.groupId, CoordinatorType.group)
      await conn.request(
        ApiKey.ConsumerGroupHeartbeat,
        {
          groupId: this.options.groupId,
          memberId: this.memberId,
          memberEpoch: epoch,
          instanceId: this.options.groupInstanceId,
          rackId: null,
          rebalanceTimeoutMs: -1,
          subscribedTopicNames: null,
          subscribedTopicRegex: null,
          serverAssignor: null,
          topicPartitions: null,
        },
        { timeoutMs: 5000 },
      )
    } catch {
      // The session timeout removes the member anyway.
    }
    this.joined = false
  }
}
