/**
 * Admin operations. Topic and config changes go to the controller (any broker forwards in KRaft
 * clusters), group operations to the group's coordinator, partition operations (ListOffsets,
 * DeleteRecords) to each partition's leader. Every result error is a KafkaError naming what failed.
 */
import { ApiKey, ErrorCode, type ListOffsetsResponse, Reader, ZERO_UUID } from '@fluxo/protocol'
import {
  type BrokerInfo,
  type Cluster,
  CoordinatorType,
  type TopicInfo,
  isStaleMetadataError,
} from '../cluster/cluster.js'
import type { Connection } from '../connection/connection.js'
import { KafkaError, UnsupportedVersionError, throwIfError } from '../errors.js'

export interface AdminOptions {
  /** Time the broker may take to complete topic operations, in ms (the requests' timeoutMs). Default 30000. */
  timeoutMs?: number
}

export interface NewTopic {
  name: string
  /** Default: the broker's num.partitions. */
  partitions?: number
  /** Default: the broker's default.replication.factor. */
  replicationFactor?: number
  /** Topic configs by Kafka name, e.g. `{ 'cleanup.policy': 'compact' }`. */
  configs?: Record<string, string>
}

export interface CreatedTopic {
  name: string
  topicId: string
  partitions: number
  replicationFactor: number
}

/** Config resource types (DescribeConfigs / AlterConfigs). */
export const ResourceType = { topic: 2, broker: 4, brokerLogger: 8 } as const
export type ResourceTypeName = keyof typeof ResourceType

export interface ConfigResource {
  type: ResourceTypeName
  /** Topic name, or broker id as a string. */
  name: string
  /** Only these keys; default all. */
  keys?: string[]
}

export interface ConfigEntry {
  name: string
  value: string | null
  readOnly: boolean
  isDefault: boolean
  isSensitive: boolean
  /** Kafka's ConfigSource: 1 dynamic topic, 4 static broker, 5 default... */
  source: number
}

export interface ResourceConfigs {
  type: ResourceTypeName
  name: string
  configs: ConfigEntry[]
}

/** IncrementalAlterConfigs operations (KIP-339). */
export const ConfigOperation = { set: 0, delete: 1, append: 2, subtract: 3 } as const
export type ConfigOperationName = keyof typeof ConfigOperation

export interface ConfigChange {
  name: string
  op?: ConfigOperationName
  value?: string | null
}

export interface GroupListing {
  groupId: string
  protocolType: string
  state: string
  type: string
}

export interface GroupMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  memberMetadata: Buffer
  memberAssignment: Buffer
  /**
   * The member's partitions, decoded from `memberAssignment` for groups of protocol type `consumer`
   * (the ConsumerProtocol Assignment); empty for other protocol types or before the group synced.
   */
  assignment: { topic: string; partitions: number[] }[]
}

export interface GroupDescription {
  groupId: string
  state: string
  protocolType: string
  protocol: string
  members: GroupMember[]
}

/** `earliest` (log start), `latest` (next offset to be written), or a timestamp in epoch ms. */
export type OffsetSpec = 'earliest' | 'latest' | 'maxTimestamp' | number

export interface PartitionOffset {
  partition: number
  offset: number
  /** For timestamp lookups: the found record's timestamp; -1 otherwise. */
  timestamp: number
  leaderEpoch: number
}

export interface TopicPartitionOffsets {
  topic: string
  partitions: { partition: number; offset: number }[]
}

export interface ClusterDescription {
  clusterId: string | null
  controllerId: number
  brokers: BrokerInfo[]
}

const specTimestamp = (spec: OffsetSpec): number =>
  spec === 'earliest' ? -2 : spec === 'latest' ? -1 : spec === 'maxTimestamp' ? -3 : spec

export class Admin {
  private readonly timeoutMs: number

  constructor(
    readonly cluster: Cluster,
    options: AdminOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  /** Creates topics; a topic that exists fails with TOPIC_ALREADY_EXISTS unless `ifNotExists`. */
  async createTopics(
    topics: readonly NewTopic[],
    options: { validateOnly?: boolean; ifNotExists?: boolean } = {},
  ): Promise<CreatedTopic[]> {
    const res = await this.cluster.retry(async () =>
      (await this.cluster.controllerConnection()).request(ApiKey.CreateTopics, {
        topics: topics.map((t) => ({
          name: t.name,
          numPartitions: t.partitions ?? -1,
          replicationFactor: t.replicationFactor ?? -1,
          assignments: [],
          configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
        timeoutMs: this.timeoutMs,
        validateOnly: options.validateOnly ?? false,
      }),
    )
    const out: CreatedTopic[] = []
    for (const t of res.topics) {
      this.cluster.invalidate(t.name)
      if (t.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && options.ifNotExists) continue
      throwIfError(t.errorCode, t.errorMessage, { topic: t.name })
      out.push({
        name: t.name,
        topicId: t.topicId,
        partitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
      })
    }
    return out
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const res = await this.cluster.retry(async () =>
      (await this.cluster.controllerConnection()).request(ApiKey.DeleteTopics, {
        topics: names.map((name) => ({ name, topicId: ZERO_UUID })),
        topicNames: [...names],
        timeoutMs: this.timeoutMs,
      }),
    )
    for (const t of res.responses) {
      if (t.name) this.cluster.invalidate(t.name)
      throwIfError(t.errorCode, t.errorMessage, { topic: t.name ?? undefined })
    }
  }

  /** Topic names, without internal topics unless asked. */
  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const md = await this.cluster.refreshMetadata(null)
    return md.topics
      .filter((t) => t.name && t.errorCode === ErrorCode.NONE && (options.includeInternal || !t.isInternal))
      .map((t) => t.name!)
      .sort()
  }

  /** Partitions, leaders and replicas of each topic; UNKNOWN_TOPIC_OR_PARTITION for a missing one. */
  async describeTopics(names: readonly string[]): Promise<TopicInfo[]> {
    for (const n of names) this.cluster.invalidate(n)
    const found = await this.cluster.topics(names)
    return names.map((n) => {
      const t = found.get(n)
      if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, { topic: n })
      return t
    })
  }

  /** Raises the partition count of topics (it can never go down). */
  async createPartitions(
    topics: readonly { topic: string; count: number }[],
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    const res = await this.cluster.retry(async () =>
      (await this.cluster.controllerConnection()).request(ApiKey.CreatePartitions, {
        topics: topics.map((t) => ({ name: t.topic, count: t.count, assignments: null })),
        timeoutMs: this.timeoutMs,
        validateOnly: options.validateOnly ?? false,
      }),
    )
    for (const r of res.results) {
      this.cluster.invalidate(r.name)
      throwIfError(r.errorCode, r.errorMessage, { topic: r.name })
    }
  }

  /** Broker resources are answered by that broker; topics by any. */
  private async resourceConnection(r: { type: ResourceTypeName; name: string }): Promise<Connection> {
    if (r.type === 'broker' || r.type === 'brokerLogger') {
      if (r.name !== '') {
        if (this.cluster.brokers().length === 0) await this.cluster.refreshMetadata([])
        return this.cluster.connection(Number(r.name))
      }
    }
    return this.cluster.controllerConnection()
  }

  async describeConfigs(resources: readonly ConfigResource[]): Promise<ResourceConfigs[]> {
    return Promise.all(
      resources.map(async (r) => {
        const res = await this.cluster.retry(async () =>
          (await this.resourceConnection(r)).request(ApiKey.DescribeConfigs, {
            resources: [
              { resourceType: ResourceType[r.type], resourceName: r.name, configurationKeys: r.keys ?? null },
            ],
            includeSynonyms: false,
            includeDocumentation: false,
          }),
        )
        const result = res.results[0]
        if (!result) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'empty DescribeConfigs response')
        throwIfError(result.errorCode, result.errorMessage, { resource: `${r.type}:${r.name}` })
        return {
          type: r.type,
          name: r.name,
          configs: result.configs.map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            isDefault: c.isDefault || c.configSource === 5,
            isSensitive: c.isSensitive,
            source: c.configSource,
          })),
        }
      }),
    )
  }

  /** Replaces a resource's whole dynamic config (AlterConfigs): keys not given return to their defaults. */
  async alterConfigs(
    resources: readonly { type: ResourceTypeName; name: string; configs: Record<string, string | null> }[],
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    for (const r of resources) {
      const res = await this.cluster.retry(async () =>
        (await this.resourceConnection(r)).request(ApiKey.AlterConfigs, {
          resources: [
            {
              resourceType: ResourceType[r.type],
              resourceName: r.name,
              configs: Object.entries(r.configs).map(([name, value]) => ({ name, value })),
            },
          ],
          validateOnly: options.validateOnly ?? false,
        }),
      )
      for (const x of res.responses)
        throwIfError(x.errorCode, x.errorMessage, { resource: `${r.type}:${r.name}` })
    }
  }

  /** Changes individual config keys (IncrementalAlterConfigs, KIP-339): set, delete, append, subtract. */
  async incrementalAlterConfigs(
    resources: readonly { type: ResourceTypeName; name: string; changes: readonly ConfigChange[] }[],
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    for (const r of resources) {
      const res = (await this.cluster.retry(async () =>
        (
          await this.resourceConnection(r)
        ).requestAny(44, {
          resources: [
            {
              resourceType: ResourceType[r.type],
              resourceName: r.name,
              configs: r.changes.map((c) => ({
                name: c.name,
                configOperation: ConfigOperation[c.op ?? 'set'],
                value: c.value ?? null,
              })),
            },
          ],
          validateOnly: options.validateOnly ?? false,
        }),
      )) as { responses: { errorCode: number; errorMessage: string | null }[] }
      for (const x of res.responses)
        throwIfError(x.errorCode, x.errorMessage, { resource: `${r.type}:${r.name}` })
    }
  }

  /** Groups of every broker (each lists the groups it coordinates). */
  async listGroups(): Promise<GroupListing[]> {
    await this.cluster.refreshMetadata([])
    const lists = await Promise.all(
      this.cluster.brokers().map(async (b) => {
        const res = await this.cluster.retry(() =>
          this.cluster.request(b.nodeId, ApiKey.ListGroups, { statesFilter: [], typesFilter: [] }),
        )
        throwIfError(res.errorCode, null)
        return res.groups.map((g) => ({
          groupId: g.groupId,
          protocolType: g.protocolType,
          state: g.groupState,
          type: g.groupType,
        }))
      }),
    )
    return lists.flat().sort((a, b) => a.groupId.localeCompare(b.groupId))
  }

  /** A request to a group's coordinator, retried when the coordinator moves or loads. */
  private groupRequest<T>(
    groupId: string,
    send: (conn: Connection) => Promise<T>,
    errorOf: (res: T) => number,
  ): Promise<T> {
    return this.cluster.retry(async () => {
      const conn = await this.cluster.coordinator(groupId, CoordinatorType.group)
      const res = await send(conn)
      const code = errorOf(res)
      if (code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE)
        this.cluster.invalidateCoordinator(groupId, CoordinatorType.group)
      throwIfError(code, null, { groupId })
      return res
    })
  }

  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const res = await this.groupRequest(
          groupId,
          (conn) =>
            conn.request(ApiKey.DescribeGroups, { groups: [groupId], includeAuthorizedOperations: false }),
          (r) => r.groups[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
        )
        const g = res.groups[0]
        return {
          groupId: g.groupId,
          state: g.groupState,
          protocolType: g.protocolType,
          protocol: g.protocolData,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.memberMetadata,
            memberAssignment: m.memberAssignment,
            assignment: g.protocolType === 'consumer' ? decodeConsumerAssignment(m.memberAssignment) : [],
          })),
        }
      }),
    )
  }

  /** Deletes empty groups and their committed offsets (NON_EMPTY_GROUP while members remain). */
  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    await Promise.all(
      groupIds.map((groupId) =>
        this.groupRequest(
          groupId,
          (conn) => conn.request(ApiKey.DeleteGroups, { groupsNames: [groupId] }),
          (r) => r.results[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
        ),
      ),
    )
  }

  /** A group's committed offsets (all topics, or those given). */
  async fetchOffsets(groupId: string, topics?: readonly string[]): Promise<TopicPartitionOffsets[]> {
    let requestTopics: { name: string; partitionIndexes: number[] }[] | null = null
    if (topics) {
      const infos = await this.cluster.topics(topics)
      requestTopics = topics.map((name) => ({
        name,
        partitionIndexes: (infos.get(name)?.partitions ?? []).map((p) => p.partition),
      }))
    }
    const res = await this.groupRequest(
      groupId,
      (conn) =>
        conn.request(ApiKey.OffsetFetch, {
          groupId,
          topics: requestTopics,
          groups: [{ groupId, memberId: null, memberEpoch: -1, topics: requestTopics }],
          requireStable: false,
        }),
      (r) => (r.groups.length > 0 ? r.groups[0].errorCode : r.errorCode),
    )
    const list = res.groups.length > 0 ? res.groups[0].topics : res.topics
    return list.map((t) => ({
      topic: t.name,
      partitions: t.partitions
        .filter((p) => p.committedOffset >= 0)
        .map((p) => ({ partition: p.partitionIndex, offset: p.committedOffset })),
    }))
  }

  /**
   * Moves an empty group's committed offsets for `topic` to `to` (earliest, latest, a timestamp,
   * or explicit offsets by partition), committing as a group with no members, as Kafka's
   * kafka-consumer-groups --reset-offsets does.
   */
  async resetOffsets(
    groupId: string,
    topic: string,
    to: OffsetSpec | Readonly<Record<number, number>>,
  ): Promise<{ partition: number; offset: number }[]> {
    let offsets: { partition: number; offset: number }[]
    if (typeof to === 'object') {
      offsets = Object.entries(to).map(([p, offset]) => ({ partition: Number(p), offset }))
    } else {
      const listed = await this.listOffsets(topic, to)
      offsets = listed.map((p) => ({ partition: p.partition, offset: p.offset }))
    }
    await this.groupRequest(
      groupId,
      (conn) =>
        conn.request(ApiKey.OffsetCommit, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [
            {
              name: topic,
              partitions: offsets.map((o) => ({
                partitionIndex: o.partition,
                committedOffset: o.offset,
                committedLeaderEpoch: -1,
                commitTimestamp: -1,
                committedMetadata: null,
              })),
            },
          ],
        }),
      (r) => {
        for (const t of r.topics)
          for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) return p.errorCode
        return ErrorCode.NONE
      },
    )
    return offsets
  }

  /** Groups a topic's partitions by leader; refreshes metadata when a leader is unknown. */
  private async byLeader(topic: string, partitions?: readonly number[]): Promise<Map<number, number[]>> {
    const info = await this.cluster.topicInfo(topic)
    const out = new Map<number, number[]>()
    for (const p of partitions ?? info.partitions.map((x) => x.partition)) {
      const leader = info.partitions[p]?.leader ?? -1
      if (leader < 0) {
        this.cluster.invalidate(topic)
        throw new KafkaError(
          info.partitions[p] ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          null,
          { topic, partition: p },
        )
      }
      const list = out.get(leader)
      if (list) list.push(p)
      else out.set(leader, [p])
    }
    return out
  }

  /** Offsets of every partition of `topic`: earliest, latest, or the first at/after a timestamp (-1 if none). */
  async listOffsets(
    topic: string,
    spec: OffsetSpec = 'latest',
    options: { isolationLevel?: 'read_uncommitted' | 'read_committed' } = {},
  ): Promise<PartitionOffset[]> {
    return this.cluster.retry(
      async () => {
        const groups = await this.byLeader(topic)
        const responses = await Promise.all(
          [...groups].map(([leader, partitions]) =>
            this.cluster.request(leader, ApiKey.ListOffsets, {
              replicaId: -1,
              isolationLevel: options.isolationLevel === 'read_committed' ? 1 : 0,
              topics: [
                {
                  name: topic,
                  partitions: partitions.map((p) => ({
                    partitionIndex: p,
                    currentLeaderEpoch: -1,
                    timestamp: specTimestamp(spec),
                    maxNumOffsets: 1,
                  })),
                },
              ],
              timeoutMs: this.timeoutMs,
            }),
          ),
        )
        return collectOffsets(topic, responses)
      },
      {
        onRetry: (err) => {
          if (isStaleMetadataError(err)) this.cluster.invalidate(topic)
        },
      },
    )
  }

  /**
   * Deletes records before `offset` in each partition (DeleteRecords): the log start offset moves up.
   * Resolves with each partition's new low watermark.
   */
  async deleteRecords(
    topic: string,
    offsets: Readonly<Record<number, number>>,
  ): Promise<{ partition: number; lowWatermark: number }[]> {
    const partitions = Object.keys(offsets).map(Number)
    return this.cluster.retry(
      async () => {
        const groups = await this.byLeader(topic, partitions)
        const results = await Promise.all(
          [...groups].map(async ([leader, ps]) => {
            const conn = await this.cluster.connection(leader)
            if (!conn.supports(21))
              throw new UnsupportedVersionError(`${conn} does not support DeleteRecords`)
            const res = (await conn.requestAny(21, {
              topics: [
                { name: topic, partitions: ps.map((p) => ({ partitionIndex: p, offset: offsets[p] })) },
              ],
              timeoutMs: this.timeoutMs,
            })) as {
              topics: {
                name: string
                partitions: { partitionIndex: number; lowWatermark: number; errorCode: number }[]
              }[]
            }
            const out: { partition: number; lowWatermark: number }[] = []
            for (const t of res.topics)
              for (const p of t.partitions) {
                throwIfError(p.errorCode, null, { topic, partition: p.partitionIndex })
                out.push({ partition: p.partitionIndex, lowWatermark: p.lowWatermark })
              }
            return out
          }),
        )
        return results.flat().sort((a, b) => a.partition - b.partition)
      },
      {
        onRetry: (err) => {
          if (isStaleMetadataError(err)) this.cluster.invalidate(topic)
        },
      },
    )
  }

  /** Cluster id, controller and brokers (DescribeCluster when the broker has it, else Metadata). */
  async describeCluster(): Promise<ClusterDescription> {
    const conn = await this.cluster.anyConnection()
    if (conn.supports(ApiKey.DescribeCluster)) {
      const res = await this.cluster.retry(async () =>
        (await this.cluster.anyConnection()).request(ApiKey.DescribeCluster, {
          includeClusterAuthorizedOperations: false,
          endpointType: 1,
        }),
      )
      throwIfError(res.errorCode, res.errorMessage)
      return {
        clusterId: res.clusterId,
        controllerId: res.controllerId,
        brokers: res.brokers
          .map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack }))
          .sort((a, b) => a.nodeId - b.nodeId),
      }
    }
    await this.cluster.refreshMetadata([])
    return {
      clusterId: this.cluster.clusterId,
      controllerId: this.cluster.controllerId,
      brokers: this.cluster.brokers().sort((a, b) => a.nodeId - b.nodeId),
    }
  }

  async close(): Promise<void> {
    await this.cluster.close()
  }
}

function collectOffsets(topic: string, responses: ListOffsetsResponse[]): PartitionOffset[] {
  const out: PartitionOffset[] = []
  for (const res of responses)
    for (const t of res.topics)
      for (const p of t.partitions) {
        throwIfError(p.errorCode, null, { topic, partition: p.partitionIndex })
        out.push({
          partition: p.partitionIndex,
          offset: p.offset,
          timestamp: p.timestamp,
          leaderEpoch: p.leaderEpoch,
        })
      }
  return out.sort((a, b) => a.partition - b.partition)
}

/**
 * The ConsumerProtocol Assignment (versions 0-3, never flexible): int16 version, then an array of
 * topics with their partitions, then user data. Undecodable bytes yield no partitions: the
 * assignment belongs to the member's client, and a describe must not fail on it.
 */
function decodeConsumerAssignment(buf: Buffer): { topic: string; partitions: number[] }[] {
  if (buf.length < 2) return []
  try {
    const r = new Reader(buf)
    r.int16()
    const out: { topic: string; partitions: number[] }[] = []
    const topics = r.int32()
    for (let i = 0; i < topics; i++) {
      const topic = r.string(false)
      const count = r.int32()
      const partitions: number[] = []
      for (let j = 0; j < count; j++) partitions.push(r.int32())
      out.push({ topic, partitions: partitions.sort((a, b) => a - b) })
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic))
  } catch {
    return []
  }
}
