/**
 * A group's committed offsets, for either group protocol: OffsetCommit as a member (generation or
 * member epoch, member id) and OffsetFetch, both retried when the coordinator moves.
 */
import { ApiKey, ErrorCode } from '@fluxo/protocol'
import { type Cluster, CoordinatorType } from '../cluster/cluster.js'
import { ConnectionError, KafkaError, RequestTimeoutError, isRetriable } from '../errors.js'
import type { TopicPartitionOffset } from '../producer/transaction.js'
import { type TopicPartition, tpKey } from './fetcher.js'

export interface CommittedOffset {
  offset: number
  leaderEpoch: number
}

export const COORDINATOR_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
])

/** Drops the cached coordinator after errors that say it moved or is unreachable. */
export function checkCoordinatorError(cluster: Cluster, groupId: string, err: unknown): void {
  if (
    (err instanceof KafkaError && COORDINATOR_CODES.has(err.errorCode)) ||
    err instanceof ConnectionError ||
    err instanceof RequestTimeoutError
  )
    cluster.invalidateCoordinator(groupId, CoordinatorType.group)
}

export interface CommitIdentity {
  groupId: string
  /** The classic generation or the KIP-848 member epoch; -1 outside a group. */
  generationIdOrMemberEpoch: number
  memberId: string
  groupInstanceId: string | null
}

export async function commitOffsets(
  cluster: Cluster,
  who: CommitIdentity,
  offsets: readonly TopicPartitionOffset[],
  onMemberError: (err: KafkaError) => void,
): Promise<void> {
  const byTopic = new Map<string, TopicPartitionOffset[]>()
  for (const o of offsets) {
    const list = byTopic.get(o.topic)
    if (list) list.push(o)
    else byTopic.set(o.topic, [o])
  }
  await cluster.retry(
    async () => {
      try {
        const conn = await cluster.coordinator(who.groupId, CoordinatorType.group)
        const res = await conn.request(ApiKey.OffsetCommit, {
          ...who,
          retentionTimeMs: -1,
          topics: [...byTopic].map(([name, list]) => ({
            name,
            partitions: list.map((o) => ({
              partitionIndex: o.partition,
              committedOffset: o.offset,
              committedLeaderEpoch: o.leaderEpoch ?? -1,
              commitTimestamp: -1,
              committedMetadata: o.metadata ?? null,
            })),
          })),
        })
        for (const t of res.topics)
          for (const p of t.partitions)
            if (p.errorCode !== ErrorCode.NONE)
              throw new KafkaError(p.errorCode, 'OffsetCommit failed', {
                groupId: who.groupId,
                topic: t.name,
                partition: p.partitionIndex,
              })
      } catch (err) {
        checkCoordinatorError(cluster, who.groupId, err)
        if (err instanceof KafkaError) onMemberError(err)
        throw err
      }
    },
    {
      shouldRetry: (err) =>
        err instanceof KafkaError ? COORDINATOR_CODES.has(err.errorCode) : isRetriable(err),
    },
  )
}

/** Committed offsets of `tps` (-1 where none), waiting out unstable transactional offsets (KIP-447). */
export async function fetchCommittedOffsets(
  cluster: Cluster,
  groupId: string,
  tps: readonly TopicPartition[],
): Promise<Map<string, CommittedOffset>> {
  const byTopic = new Map<string, number[]>()
  for (const tp of tps) {
    const list = byTopic.get(tp.topic)
    if (list) list.push(tp.partition)
    else byTopic.set(tp.topic, [tp.partition])
  }
  const topics = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }))
  return cluster.retry(
    async () => {
      try {
        const conn = await cluster.coordinator(groupId, CoordinatorType.group)
        const res = await conn.request(ApiKey.OffsetFetch, {
          groupId,
          topics,
          groups: [{ groupId, memberId: null, memberEpoch: -1, topics }],
          requireStable: true,
        })
        const group = res.groups.length > 0 ? res.groups[0] : undefined
        const errorCode = group ? group.errorCode : res.errorCode
        if (errorCode !== ErrorCode.NONE) throw new KafkaError(errorCode, 'OffsetFetch failed', { groupId })
        const out = new Map<string, CommittedOffset>()
        for (const t of group ? group.topics : res.topics) {
          for (const p of t.partitions) {
            if (p.errorCode !== ErrorCode.NONE)
              throw new KafkaError(p.errorCode, 'OffsetFetch failed', {
                groupId,
                topic: t.name,
                partition: p.partitionIndex,
              })
            out.set(tpKey(t.name, p.partitionIndex), {
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch,
            })
          }
        }
        return out
      } catch (err) {
        checkCoordinatorError(cluster, groupId, err)
        throw err
      }
    },
    { retries: 10 },
  )
}
