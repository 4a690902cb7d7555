/**
 * Where `fluxo consume` reads records from. `openFetchSource` reads assigned partitions with plain
 * Fetch requests on the client's Cluster (no group, no commits); the command only sees the
 * RecordSource interface, so a consumer-based source can take its place.
 */
import { Admin, KafkaError } from '@fluxo/client'
import { Cluster } from '@fluxo/client/internal'
import { ApiKey, ErrorCode, decodeRecordBatches } from '@fluxo/protocol'

export interface ConsumedRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: { key: string; value: Buffer | null }[]
}

/** Where reading starts in each partition. */
export type StartAt =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'time'; timestamp: number }

export interface RecordSource extends AsyncIterable<ConsumedRecord> {
  /** Ends the iteration (the pending fetch returns within its max wait) and closes connections. */
  close(): Promise<void>
}

export interface SourceOptions {
  bootstrap: string[]
  topic: string
  /** Default: every partition of the topic. */
  partitions?: number[]
  start: StartAt
}

const MAX_WAIT_MS = 500

export async function openFetchSource(options: SourceOptions): Promise<RecordSource> {
  const cluster = new Cluster({ bootstrap: options.bootstrap, clientId: 'fluxo-cli', connectTimeoutMs: 5000 })
  const admin = new Admin(cluster)
  try {
    return await new FetchSource(cluster, admin, options).init()
  } catch (err) {
    await cluster.close()
    throw err
  }
}

class FetchSource implements RecordSource {
  private readonly positions = new Map<number, number>()
  private closed = false
  private topicId = ''

  constructor(
    private readonly cluster: Cluster,
    private readonly admin: Admin,
    private readonly options: SourceOptions,
  ) {}

  async init(): Promise<this> {
    const { topic, start } = this.options
    const info = await this.cluster.topicInfo(topic)
    this.topicId = info.topicId
    const all = info.partitions.map((p) => p.partition)
    for (const p of this.options.partitions ?? all)
      if (!all.includes(p))
        throw new KafkaError(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `topic ${topic} has no partition ${p} (it has ${all.length})`,
          { topic, partition: p },
        )
    const wanted = this.options.partitions ?? all
    if (start.kind === 'offset') {
      for (const p of wanted) this.positions.set(p, start.offset)
      return this
    }
    const spec = start.kind === 'time' ? start.timestamp : start.kind
    const found = await this.admin.listOffsets(topic, spec)
    const latest = start.kind === 'time' ? await this.admin.listOffsets(topic, 'latest') : found
    for (const p of wanted) {
      const offset = found.find((x) => x.partition === p)?.offset ?? -1
      // No record at or after the time: start at the end, as Kafka's offsetsForTimes users do.
      this.positions.set(p, offset >= 0 ? offset : (latest.find((x) => x.partition === p)?.offset ?? 0))
    }
    return this
  }

  async close(): Promise<void> {
    this.closed = true
    await this.cluster.close()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    const { topic } = this.options
    while (!this.closed) {
      const byLeader = new Map<number, number[]>()
      for (const p of this.positions.keys()) {
        const leader = this.cluster.leader(topic, p)
        const list = byLeader.get(leader)
        if (list) list.push(p)
        else byLeader.set(leader, [p])
      }
      for (const [leader, partitions] of byLeader) {
        if (this.closed) return
        let res: Awaited<ReturnType<typeof this.fetch>>
        try {
          res = await this.fetch(leader, partitions)
        } catch (err) {
          if (this.closed) return
          throw err
        }
        for (const p of res.responses[0]?.partitions ?? []) {
          if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
            await this.resetOutOfRange(p.partitionIndex)
            continue
          }
          if (
            p.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
            p.errorCode === ErrorCode.LEADER_NOT_AVAILABLE
          ) {
            this.cluster.invalidate(topic)
            await this.cluster.topicInfo(topic)
            continue
          }
          if (p.errorCode !== ErrorCode.NONE)
            throw new KafkaError(p.errorCode, null, { topic, partition: p.partitionIndex })
          if (!p.records || p.records.length === 0) continue
          let position = this.positions.get(p.partitionIndex) ?? 0
          for (const batch of await decodeRecordBatches(p.records)) {
            const next = batch.baseOffset + batch.lastOffsetDelta + 1
            if (!batch.isControl)
              for (const r of batch.records) {
                if (r.offset < position) continue
                if (this.closed) return
                yield {
                  topic,
                  partition: p.partitionIndex,
                  offset: r.offset,
                  timestamp: r.timestamp,
                  key: r.key,
                  value: r.value,
                  headers: r.headers,
                }
              }
            position = Math.max(position, next)
            this.positions.set(p.partitionIndex, position)
          }
        }
      }
    }
  }

  private fetch(leader: number, partitions: number[]) {
    return this.cluster.request(leader, ApiKey.Fetch, {
      clusterId: null,
      replicaId: -1,
      replicaState: null,
      maxWaitMs: MAX_WAIT_MS,
      minBytes: 1,
      maxBytes: 32 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      forgottenTopicsData: [],
      rackId: '',
      topics: [
        {
          topic: this.options.topic,
          topicId: this.topicId,
          partitions: partitions.map((partition) => ({
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: this.positions.get(partition) ?? 0,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: 4 * 1024 * 1024,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          })),
        },
      ],
    })
  }

  /** Kafka's auto.offset.reset, resolved by where the position fell: below the log start or past the end. */
  private async resetOutOfRange(partition: number): Promise<void> {
    const [earliest, latest] = await Promise.all([
      this.admin.listOffsets(this.options.topic, 'earliest'),
      this.admin.listOffsets(this.options.topic, 'latest'),
    ])
    const low = earliest.find((x) => x.partition === partition)?.offset ?? 0
    const high = latest.find((x) => x.partition === partition)?.offset ?? 0
    const position = this.positions.get(partition) ?? 0
    this.positions.set(partition, position < low ? low : high)
  }
}
