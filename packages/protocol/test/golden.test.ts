/**
 * Golden bytes from real clients. KafkaJS 2.2.4 (classic versions) and @platformatic/kafka 1.35.0
 * (flexible versions) encode requests live; kcat 1.7.1 / librdkafka 2.0.2 frames were captured once
 * (see fixtures/README.md). Each frame must decode to the message we expect, and our encoder must
 * produce the same bytes; the clients' decoders must read our responses. Fixtures pin the bytes so the
 * checks stay meaningful if a client changes; FLUXO_UPDATE_GOLDEN=1 rewrites the live-encoded ones.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { Reader, Writer } from '../src/codec.js'
import { type AnyApiDefinition, decodeRequestFrame, encodeRequestFrame } from '../src/framing.js'
import * as gen from '../src/generated/index.js'
import { batchCrcMatches, readBatchInfo } from '../src/records/batch-header.js'

const require = createRequire(import.meta.url)
const fixtures = new URL('./fixtures/', import.meta.url)
const UPDATE = process.env.FLUXO_UPDATE_GOLDEN === '1'

interface KafkaJsRequest {
  apiKey: number
  apiVersion: number
  encode(): Promise<unknown>
}
type KafkaJsFrame = (args: {
  correlationId: number
  clientId: string
  request: KafkaJsRequest
}) => Promise<{ buffer: Buffer }>

const kafkajsFrame = require('kafkajs/src/protocol/request.js') as KafkaJsFrame

/** The whole frame (size prefix included) KafkaJS writes for `requests/<path>/request.js` given `args`. */
async function kafkajs(
  path: string,
  args: unknown,
  correlationId = 7,
  clientId = 'fluxo-golden',
): Promise<Buffer> {
  const build = require(`kafkajs/src/protocol/requests/${path}/request.js`) as (a: unknown) => KafkaJsRequest
  const { buffer } = await kafkajsFrame({ correlationId, clientId, request: build(args) })
  return buffer
}

function readFixture(name: string): Buffer {
  return Buffer.from(readFileSync(new URL(name, fixtures), 'utf8').replace(/\s+/g, ''), 'hex')
}

/** The pinned bytes; a live client's bytes must still equal them (or replace them under FLUXO_UPDATE_GOLDEN). */
function pinned(name: string, live?: Buffer): Buffer {
  if (live && UPDATE) writeFileSync(new URL(name, fixtures), `${live.toString('hex')}\n`)
  const frame = readFixture(name)
  if (live) assert.equal(live.toString('hex'), frame.toString('hex'), `the client no longer writes ${name}`)
  return frame
}

/**
 * `frame` decodes to `expected` with this header, and our encoder writes `frame` byte for byte.
 * Returns the decoded body for extra checks.
 */
function checkFrame(
  frame: Buffer,
  def: AnyApiDefinition,
  version: number,
  expected: object,
  header: { correlationId: number; clientId: string | null },
): unknown {
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix')
  const decoded = decodeRequestFrame(frame.subarray(4))
  assert.deepStrictEqual(decoded.header, { apiKey: def.apiKey, apiVersion: version, ...header })
  assert.deepStrictEqual(decoded.body, expected, `${def.name} v${version} body`)
  const ours = Buffer.concat(
    encodeRequestFrame(def, version, header.correlationId, header.clientId, expected),
  )
  assert.equal(ours.toString('hex'), frame.toString('hex'), `${def.name} v${version}: our bytes differ`)
  return decoded.body
}

const KJS = { correlationId: 7, clientId: 'fluxo-golden' }
const api = gen.apiDefinitions

test('KafkaJS ApiVersions v0-v2', async () => {
  for (const v of [0, 1, 2]) {
    const live = await kafkajs(`apiVersions/v${v}`, {})
    const frame = v === 2 ? pinned('kafkajs-api-versions-v2.hex', live) : live
    checkFrame(frame, api[18], v, gen.defaultApiVersionsRequest(), KJS)
  }
})

test('KafkaJS Metadata v0-v6: topic lists, null for "all topics", allowAutoTopicCreation', async () => {
  const topics = (names: string[]) =>
    names.map((name) => ({ ...gen.defaultMetadataRequestTopic(), name }) as gen.MetadataRequestTopic)
  for (let v = 0; v <= 6; v++) {
    const live = await kafkajs(`metadata/v${v}`, {
      topics: ['orders', 'payments'],
      allowAutoTopicCreation: false,
    })
    const frame = v === 4 ? pinned('kafkajs-metadata-v4.hex', live) : live
    const expected = { ...gen.defaultMetadataRequest(), topics: topics(['orders', 'payments']) }
    if (v >= 4) expected.allowAutoTopicCreation = false
    checkFrame(frame, api[3], v, expected, KJS)
    // KafkaJS writes an empty topic list as null (all topics) from v1, where the field is nullable.
    const all = await kafkajs(`metadata/v${v}`, { topics: [] })
    checkFrame(all, api[3], v, { ...gen.defaultMetadataRequest(), topics: v === 0 ? [] : null }, KJS)
  }
})

test('KafkaJS Produce v3: one uncompressed record batch, decoded as opaque records', async () => {
  const messages = [
    { key: 'k1', value: 'v1', timestamp: '1700000000000' },
    { key: null, value: 'hello', timestamp: '1700000000005', headers: { trace: 'abc' } },
  ]
  const live = await kafkajs('produce/v3', {
    acks: -1,
    timeout: 30000,
    topicData: [{ topic: 'orders', partitions: [{ partition: 2, messages }] }],
  })
  const frame = pinned('kafkajs-produce-v3.hex', live)
  const body = decodeRequestFrame(frame.subarray(4)).body as gen.ProduceRequest
  const records = body.topicData[0].partitionData[0].records!
  const info = readBatchInfo(records)
  assert.equal(info.size, records.length)
  assert.equal(info.magic, 2)
  assert.equal(info.recordCount, 2)
  assert.equal(info.lastOffsetDelta, 1)
  assert.equal(info.baseTimestamp, 1700000000000)
  assert.equal(info.maxTimestamp, 1700000000005)
  assert.equal(info.producerId, -1)
  assert.ok(batchCrcMatches(records), 'batch CRC-32C')
  const expected: gen.ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 'orders', partitionData: [{ index: 2, records }] }],
  }
  checkFrame(frame, api[0], 3, expected, KJS)
})

test('KafkaJS Fetch v4 and v11', async () => {
  const fetchPartition = (p: Partial<gen.FetchRequestFetchPartition>): gen.FetchRequestFetchPartition => ({
    ...gen.defaultFetchRequestFetchPartition(),
    ...p,
  })
  const v4 = await kafkajs('fetch/v4', {
    replicaId: -1,
    maxWaitTime: 500,
    minBytes: 1,
    maxBytes: 10485760,
    isolationLevel: 1,
    topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: '42', maxBytes: 1048576 }] }],
  })
  checkFrame(
    v4,
    api[1],
    4,
    {
      ...gen.defaultFetchRequest(),
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      topics: [
        {
          ...gen.defaultFetchRequestFetchTopic(),
          topic: 'orders',
          partitions: [fetchPartition({ partition: 0, fetchOffset: 42, partitionMaxBytes: 1048576 })],
        },
      ],
    },
    KJS,
  )

  const v11 = await kafkajs('fetch/v11', {
    replicaId: -1,
    maxWaitTime: 100,
    minBytes: 1,
    maxBytes: 52428800,
    isolationLevel: 0,
    sessionId: 12,
    sessionEpoch: 3,
    rackId: 'rack-a',
    topics: [
      {
        topic: 'payments',
        partitions: [
          {
            partition: 1,
            currentLeaderEpoch: 5,
            fetchOffset: '9007199254740991',
            logStartOffset: 7,
            maxBytes: 1024,
          },
          { partition: 4, fetchOffset: '0', maxBytes: 2048 },
        ],
      },
    ],
    forgottenTopics: [{ topic: 'old', partitions: [0, 3] }],
  })
  checkFrame(
    pinned('kafkajs-fetch-v11.hex', v11),
    api[1],
    11,
    {
      ...gen.defaultFetchRequest(),
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 52428800,
      isolationLevel: 0,
      sessionId: 12,
      sessionEpoch: 3,
      topics: [
        {
          ...gen.defaultFetchRequestFetchTopic(),
          topic: 'payments',
          partitions: [
            fetchPartition({
              partition: 1,
              currentLeaderEpoch: 5,
              fetchOffset: Number.MAX_SAFE_INTEGER,
              logStartOffset: 7,
              partitionMaxBytes: 1024,
            }),
            fetchPartition({ partition: 4, fetchOffset: 0, partitionMaxBytes: 2048 }),
          ],
        },
      ],
      forgottenTopicsData: [{ ...gen.defaultFetchRequestForgottenTopic(), topic: 'old', partitions: [0, 3] }],
      rackId: 'rack-a',
    },
    KJS,
  )
})

test('KafkaJS ListOffsets v1-v3', async () => {
  for (const v of [1, 2, 3]) {
    const live = await kafkajs(`listOffsets/v${v}`, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, timestamp: '-2' }, { partition: 1 }] }],
    })
    const partition = (partitionIndex: number, timestamp: number) => ({
      ...gen.defaultListOffsetsRequestListOffsetsPartition(),
      partitionIndex,
      timestamp,
    })
    checkFrame(
      v === 2 ? pinned('kafkajs-list-offsets-v2.hex', live) : live,
      api[2],
      v,
      {
        ...gen.defaultListOffsetsRequest(),
        replicaId: -1,
        isolationLevel: v >= 2 ? 1 : 0,
        topics: [{ name: 'orders', partitions: [partition(0, -2), partition(1, -1)] }],
      },
      KJS,
    )
  }
})

test('KafkaJS CreateTopics v2-v3 and DeleteTopics v1', async () => {
  for (const v of [2, 3]) {
    const live = await kafkajs(`createTopics/v${v}`, {
      topics: [
        {
          topic: 'orders',
          numPartitions: 3,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
        { topic: 'manual', replicaAssignment: [{ partition: 0, replicas: [1, 2] }] },
      ],
      validateOnly: true,
      timeout: 15000,
    })
    checkFrame(
      v === 3 ? pinned('kafkajs-create-topics-v3.hex', live) : live,
      api[19],
      v,
      {
        topics: [
          {
            name: 'orders',
            numPartitions: 3,
            replicationFactor: 1,
            assignments: [],
            configs: [{ name: 'cleanup.policy', value: 'compact' }],
          },
          {
            name: 'manual',
            numPartitions: -1,
            replicationFactor: -1,
            assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
            configs: [],
          },
        ],
        timeoutMs: 15000,
        validateOnly: true,
      },
      KJS,
    )
  }
  const del = await kafkajs('deleteTopics/v1', { topics: ['orders', 'manual'], timeout: 5000 })
  checkFrame(
    pinned('kafkajs-delete-topics-v1.hex', del),
    api[20],
    1,
    { ...gen.defaultDeleteTopicsRequest(), topicNames: ['orders', 'manual'], timeoutMs: 5000 },
    KJS,
  )
})

test('KafkaJS group requests: FindCoordinator v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, OffsetCommit v5', async () => {
  checkFrame(
    await kafkajs('findCoordinator/v2', { coordinatorKey: 'group-1', coordinatorType: 0 }),
    api[10],
    2,
    { ...gen.defaultFindCoordinatorRequest(), key: 'group-1', keyType: 0 },
    KJS,
  )
  const metadata = Buffer.from([
    0, 1, 0, 0, 0, 1, 0, 6, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0xff, 0xff, 0xff, 0xff,
  ])
  checkFrame(
    pinned(
      'kafkajs-join-group-v5.hex',
      await kafkajs('joinGroup/v5', {
        groupId: 'group-1',
        sessionTimeout: 30000,
        rebalanceTimeout: 60000,
        memberId: '',
        groupInstanceId: 'instance-1',
        protocolType: 'consumer',
        groupProtocols: [{ name: 'RoundRobinAssigner', metadata }],
      }),
    ),
    api[11],
    5,
    {
      ...gen.defaultJoinGroupRequest(),
      groupId: 'group-1',
      sessionTimeoutMs: 30000,
      rebalanceTimeoutMs: 60000,
      memberId: '',
      groupInstanceId: 'instance-1',
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata }],
    },
    KJS,
  )
  checkFrame(
    await kafkajs('syncGroup/v3', {
      groupId: 'group-1',
      generationId: 4,
      memberId: 'm-1',
      groupAssignment: [{ memberId: 'm-1', memberAssignment: Buffer.from([1, 2, 3]) }],
    }),
    api[14],
    3,
    {
      ...gen.defaultSyncGroupRequest(),
      groupId: 'group-1',
      generationId: 4,
      memberId: 'm-1',
      assignments: [{ memberId: 'm-1', assignment: Buffer.from([1, 2, 3]) }],
    },
    KJS,
  )
  checkFrame(
    await kafkajs('heartbeat/v3', { groupId: 'group-1', groupGenerationId: 4, memberId: 'm-1' }),
    api[12],
    3,
    { groupId: 'group-1', generationId: 4, memberId: 'm-1', groupInstanceId: null },
    KJS,
  )
  checkFrame(
    await kafkajs('offsetCommit/v5', {
      groupId: 'group-1',
      groupGenerationId: 4,
      memberId: 'm-1',
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, offset: '100' },
            { partition: 1, offset: '7', metadata: 'x' },
          ],
        },
      ],
    }),
    api[8],
    5,
    {
      ...gen.defaultOffsetCommitRequest(),
      groupId: 'group-1',
      generationIdOrMemberEpoch: 4,
      memberId: 'm-1',
      topics: [
        {
          name: 'orders',
          partitions: [
            {
              ...gen.defaultOffsetCommitRequestPartition(),
              partitionIndex: 0,
              committedOffset: 100,
              // KafkaJS sends null metadata; Kafka's default for the field is ''.
              committedMetadata: null,
            },
            {
              ...gen.defaultOffsetCommitRequestPartition(),
              partitionIndex: 1,
              committedOffset: 7,
              committedMetadata: 'x',
            },
          ],
        },
      ],
    },
    KJS,
  )
})

/** Our response body (after the correlation id) decoded by KafkaJS's `requests/<path>/response.js`. */
async function kafkajsDecodes(path: string, encode: (w: Writer) => void): Promise<unknown> {
  const { decode } = require(`kafkajs/src/protocol/requests/${path}/response.js`) as {
    decode(raw: Buffer): Promise<unknown>
  }
  const w = new Writer()
  encode(w)
  return decode(w.toBuffer())
}

test('KafkaJS decodes our ApiVersions v2 and Metadata v4 responses', async () => {
  const versions = {
    ...gen.defaultApiVersionsResponse(),
    apiKeys: [
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
      { apiKey: 3, minVersion: 0, maxVersion: 12 },
    ],
    throttleTimeMs: 5,
  }
  assert.deepEqual(
    await kafkajsDecodes('apiVersions/v2', (w) => gen.encodeApiVersionsResponse(w, 2, versions)),
    { errorCode: 0, apiVersions: versions.apiKeys, throttleTime: 0, clientSideThrottleTime: 5 },
  )

  const metadata: gen.MetadataResponse = {
    ...gen.defaultMetadataResponse(),
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
    clusterId: 'fluxo',
    controllerId: 1,
    topics: [
      {
        ...gen.defaultMetadataResponseTopic(),
        name: 'orders',
        partitions: [
          {
            ...gen.defaultMetadataResponsePartition(),
            partitionIndex: 0,
            leaderId: 1,
            replicaNodes: [1],
            isrNodes: [1],
          },
        ],
      },
    ],
  }
  assert.deepEqual(await kafkajsDecodes('metadata/v4', (w) => gen.encodeMetadataResponse(w, 4, metadata)), {
    throttleTime: 0,
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
    clusterId: 'fluxo',
    controllerId: 1,
    topicMetadata: [
      {
        topicErrorCode: 0,
        topic: 'orders',
        isInternal: false,
        partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1], isr: [1] }],
      },
    ],
  })
})

// @platformatic/kafka 1.35.0 encodes the flexible versions KafkaJS never reached (bodies only).
interface PlatformaticWriter {
  buffer: Buffer
}
interface PlatformaticApi {
  createRequest(...args: unknown[]): PlatformaticWriter
  parseResponse(correlationId: number, apiKey: number, apiVersion: number, reader: unknown): unknown
}
type Platformatic = Record<string, PlatformaticApi> & { Reader: { from(b: Buffer): unknown } }
const platformatic = (): Promise<Platformatic> =>
  import('@platformatic/kafka') as unknown as Promise<Platformatic>

const hexUuid = (id: string) =>
  Buffer.from(id, 'base64url')
    .toString('hex')
    .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5')
const TOPIC_ID = Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64url')

/** `body` decodes to `expected` (every byte read) and our encoder writes `body` byte for byte. */
function checkBody(body: Buffer, def: AnyApiDefinition, version: number, expected: object): void {
  const r = new Reader(body)
  assert.deepStrictEqual(def.decodeRequest(r, version), expected, `${def.name} v${version} body`)
  assert.equal(r.remaining, 0, `${def.name} v${version}: bytes left`)
  const w = new Writer()
  def.encodeRequest(w, version, expected)
  assert.equal(
    w.toBuffer().toString('hex'),
    body.toString('hex'),
    `${def.name} v${version}: our bytes differ`,
  )
}

test('@platformatic/kafka flexible requests: Metadata v12, CreateTopics v7, Fetch v16, ConsumerGroupHeartbeat v1', async () => {
  const k = await platformatic()
  checkBody(k.metadataV12.createRequest(['orders', 'payments'], true, false).buffer, api[3], 12, {
    ...gen.defaultMetadataRequest(),
    topics: ['orders', 'payments'].map((name) => ({ ...gen.defaultMetadataRequestTopic(), name })),
    allowAutoTopicCreation: true,
  })

  const createTopics = k.createTopicsV7.createRequest(
    [
      {
        name: 'orders',
        numPartitions: 3,
        replicationFactor: 2,
        assignments: [],
        configs: [
          { name: 'retention.ms', value: '1000' },
          { name: 'compression.type', value: null },
        ],
      },
      {
        name: 'manual',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [3] }],
        configs: [],
      },
    ],
    30000,
    false,
  ).buffer
  checkBody(pinned('platformatic-create-topics-v7-body.hex', createTopics), api[19], 7, {
    topics: [
      {
        name: 'orders',
        numPartitions: 3,
        replicationFactor: 2,
        assignments: [],
        configs: [
          { name: 'retention.ms', value: '1000' },
          { name: 'compression.type', value: null },
        ],
      },
      {
        name: 'manual',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [3] }],
        configs: [],
      },
    ],
    timeoutMs: 30000,
    validateOnly: false,
  })

  const fetch = k.fetchV16.createRequest(
    500,
    1,
    52428800,
    1,
    7,
    2,
    [
      {
        topicId: hexUuid(TOPIC_ID),
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: 4,
            fetchOffset: 100n,
            lastFetchedEpoch: 3,
            partitionMaxBytes: 1048576,
          },
        ],
      },
    ],
    [{ topic: hexUuid(TOPIC_ID), partitions: [5, 6] }],
    'rack-b',
  ).buffer
  checkBody(pinned('platformatic-fetch-v16-body.hex', fetch), api[1], 16, {
    ...gen.defaultFetchRequest(),
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 52428800,
    isolationLevel: 1,
    sessionId: 7,
    sessionEpoch: 2,
    topics: [
      {
        ...gen.defaultFetchRequestFetchTopic(),
        topicId: TOPIC_ID,
        partitions: [
          {
            ...gen.defaultFetchRequestFetchPartition(),
            partition: 0,
            currentLeaderEpoch: 4,
            fetchOffset: 100,
            lastFetchedEpoch: 3,
            partitionMaxBytes: 1048576,
          },
        ],
      },
    ],
    forgottenTopicsData: [
      { ...gen.defaultFetchRequestForgottenTopic(), topicId: TOPIC_ID, partitions: [5, 6] },
    ],
    rackId: 'rack-b',
  })

  const heartbeat = k.consumerGroupHeartbeatV1.createRequest(
    'group-1',
    'member-1',
    0,
    null,
    'rack-a',
    45000,
    ['orders'],
    null,
    'uniform',
    [{ topicId: hexUuid(TOPIC_ID), partitions: [0, 1] }],
  ).buffer
  checkBody(heartbeat, api[68], 1, {
    groupId: 'group-1',
    memberId: 'member-1',
    memberEpoch: 0,
    instanceId: null,
    rackId: 'rack-a',
    rebalanceTimeoutMs: 45000,
    subscribedTopicNames: ['orders'],
    subscribedTopicRegex: null,
    serverAssignor: 'uniform',
    topicPartitions: [{ topicId: TOPIC_ID, partitions: [0, 1] }],
  })
})

// @platformatic/kafka 1.35.0 skips a tagged section by reading its field count as a zigzag varint byte
// length (protocol/reader.js readTaggedFields), so only empty tagged sections are interoperable with it.
test('@platformatic/kafka parses our flexible Metadata v12 and Produce v11 responses', async () => {
  const k = await platformatic()
  const metadata: gen.MetadataResponse = {
    ...gen.defaultMetadataResponse(),
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: 'r1' }],
    clusterId: 'fluxo',
    controllerId: 1,
    topics: [
      {
        ...gen.defaultMetadataResponseTopic(),
        name: 'orders',
        topicId: TOPIC_ID,
        partitions: [
          {
            ...gen.defaultMetadataResponsePartition(),
            leaderId: 1,
            leaderEpoch: 3,
            replicaNodes: [1],
            isrNodes: [1],
          },
        ],
      },
    ],
  }
  const w = new Writer()
  gen.encodeMetadataResponse(w, 12, metadata)
  assert.deepEqual(k.metadataV12.parseResponse(1, 3, 12, k.Reader.from(w.toBuffer())), {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: 'r1' }],
    clusterId: 'fluxo',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 'orders',
        topicId: hexUuid(TOPIC_ID),
        isInternal: false,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: 1,
            leaderEpoch: 3,
            replicaNodes: [1],
            isrNodes: [1],
            offlineReplicas: [],
          },
        ],
        topicAuthorizedOperations: -2147483648,
      },
    ],
  })

  const produce: gen.ProduceResponse = {
    responses: [
      {
        name: 'orders',
        partitionResponses: [
          {
            ...gen.defaultProduceResponsePartitionProduceResponse(),
            index: 2,
            baseOffset: 2 ** 40,
            logAppendTimeMs: 1700000000000,
            logStartOffset: 0,
          },
        ],
      },
    ],
    throttleTimeMs: 0,
    nodeEndpoints: [],
  }
  const pw = new Writer()
  gen.encodeProduceResponse(pw, 11, produce)
  assert.deepEqual(k.produceV11.parseResponse(1, 0, 11, k.Reader.from(pw.toBuffer())), {
    responses: [
      {
        name: 'orders',
        partitionResponses: [
          {
            index: 2,
            errorCode: 0,
            baseOffset: 2n ** 40n,
            logAppendTimeMs: 1700000000000n,
            logStartOffset: 0n,
            recordErrors: [],
            errorMessage: null,
          },
        ],
      },
    ],
    throttleTimeMs: 0,
  })
})

// Captured from `kcat -b 127.0.0.1:<port> -L [-t fluxo-golden]` (kcat 1.7.1, librdkafka 2.0.2).
const KCAT = { clientId: 'rdkafka' }

test('kcat ApiVersions v3: flexible request, header v2, client software name and version', () => {
  checkFrame(
    readFixture('kcat-api-versions-v3.hex'),
    api[18],
    3,
    { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' },
    { ...KCAT, correlationId: 1 },
  )
})

test('kcat Metadata v4: brokers only, all topics, one topic', () => {
  const topic = { ...gen.defaultMetadataRequestTopic(), name: 'fluxo-golden' }
  const base = gen.defaultMetadataRequest()
  checkFrame(
    readFixture('kcat-metadata-v4-brokers.hex'),
    api[3],
    4,
    { ...base, topics: [], allowAutoTopicCreation: false },
    { ...KCAT, correlationId: 2 },
  )
  checkFrame(
    readFixture('kcat-metadata-v4-all-topics.hex'),
    api[3],
    4,
    { ...base, topics: null, allowAutoTopicCreation: true },
    { ...KCAT, correlationId: 3 },
  )
  checkFrame(
    readFixture('kcat-metadata-v4-topic.hex'),
    api[3],
    4,
    { ...base, topics: [topic], allowAutoTopicCreation: true },
    { ...KCAT, correlationId: 2 },
  )
})
