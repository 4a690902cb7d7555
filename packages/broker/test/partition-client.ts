// Produce, Fetch, Metadata and CreateTopics over a RawClient, for tests that check the broker's answers.
import assert from 'node:assert/strict'
import {
  ApiKey,
  ErrorCode,
  type KafkaRecord,
  decodeRecordBatchesSync,
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultMetadataRequest,
  defaultProduceRequest,
} from '@fluxo/protocol'
import type { RawClient } from './raw-client.js'

export async function createTopic(
  client: RawClient,
  name: string,
  numPartitions = 1,
  configs: Record<string, string> = {},
): Promise<string> {
  const response = await client.request(ApiKey.CreateTopics, 7, {
    topics: [
      {
        name,
        numPartitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  })
  const created = response.topics[0]
  assert.equal(created.errorCode, ErrorCode.NONE, created.errorMessage ?? undefined)
  return created.topicId
}

/** Topic name → { topicId, partitions } from Metadata v12 (flexible, with topic ids). */
export async function describeTopics(
  client: RawClient,
): Promise<{ clusterId: string | null; topics: Map<string, { topicId: string; partitions: number }> }> {
  const md = await client.request(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null })
  const topics = new Map<string, { topicId: string; partitions: number }>()
  for (const t of md.topics) {
    assert.equal(t.errorCode, ErrorCode.NONE)
    topics.set(t.name!, { topicId: t.topicId, partitions: t.partitions.length })
  }
  return { clusterId: md.clusterId, topics }
}

export async function produce(
  client: RawClient,
  topic: string,
  records: Buffer,
  { partition = 0, acks = 1, version = 9 } = {},
) {
  const response = await client.request(ApiKey.Produce, version, {
    ...defaultProduceRequest(),
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  })
  return response.responses[0].partitionResponses[0]
}

export interface FetchOptions {
  partition?: number
  offset?: number
  maxWaitMs?: number
  minBytes?: number
  maxBytes?: number
  partitionMaxBytes?: number
  isolationLevel?: number
  version?: number
  /** For v13+: the topic id to send (the name is ignored there). */
  topicId?: string
}

/** One Fetch for one partition; returns the partition's response with its records decoded. */
export async function fetchPartition(client: RawClient, topic: string, options: FetchOptions = {}) {
  const response = await client.request(ApiKey.Fetch, options.version ?? 12, {
    ...defaultFetchRequest(),
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: options.maxBytes ?? 1 << 20,
    isolationLevel: options.isolationLevel ?? 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: options.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            ...defaultFetchRequestFetchPartition(),
            partition: options.partition ?? 0,
            fetchOffset: options.offset ?? 0,
            partitionMaxBytes: options.partitionMaxBytes ?? 1 << 20,
          },
        ],
      },
    ],
  })
  assert.equal(response.errorCode, ErrorCode.NONE)
  const topicResponse = response.responses[0]
  const p = topicResponse.partitions[0]
  const batches = p.records && p.records.length > 0 ? decodeRecordBatchesSync(p.records) : []
  return { ...p, topic: topicResponse, batches, records: batches.flatMap((b) => b.records) }
}

/** Every record of a partition from `from` to the high watermark, fetching until done. */
export async function readPartition(
  client: RawClient,
  topic: string,
  partition = 0,
  from = 0,
): Promise<{ records: KafkaRecord[]; highWatermark: number }> {
  const records: KafkaRecord[] = []
  let offset = from
  for (;;) {
    const p = await fetchPartition(client, topic, { partition, offset, partitionMaxBytes: 64 * 1024 })
    assert.equal(p.errorCode, ErrorCode.NONE, `fetch ${topic}-${partition}@${offset}`)
    // A fetch may start inside a batch: Kafka returns the whole batch, the consumer skips the rest.
    const fresh = p.records.filter((r) => r.offset >= offset)
    records.push(...fresh)
    if (fresh.length > 0) offset = fresh[fresh.length - 1].offset + 1
    if (offset >= p.highWatermark) return { records, highWatermark: p.highWatermark }
    assert.ok(fresh.length > 0, `no progress at ${topic}-${partition}@${offset} (hw ${p.highWatermark})`)
  }
}

export const text = (b: Buffer | null): string | null => (b === null ? null : b.toString())
