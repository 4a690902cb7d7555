import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ApiKey,
  ErrorCode,
  decodeRecordBatchesSync,
  defaultApiVersionsRequest,
  defaultFetchRequest,
  defaultMetadataRequest,
  defaultProduceRequest,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import { type Broker, startBroker } from '../src/index.js'
import { RawClient } from './raw-client.js'

const batch = (value: string, n = 1) =>
  encodeRecordBatchSync({
    records: Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`${value}-${i}`) })),
  })

function produceRequest(topic: string, records: Buffer | null, acks = 1) {
  return {
    ...defaultProduceRequest(),
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  }
}

async function produce(client: RawClient, topic: string, records: Buffer | null, version = 7) {
  const response = await client.request(ApiKey.Produce, version, produceRequest(topic, records))
  return response.responses[0].partitionResponses[0]
}

async function fetchAll(client: RawClient, topic: string, version = 11) {
  const response = await client.request(ApiKey.Fetch, version, {
    ...defaultFetchRequest(),
    replicaId: -1,
    maxWaitMs: 0,
    maxBytes: 1 << 20,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [{ ...partitionDefaults, partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
      },
    ],
  })
  const p = response.responses[0].partitions[0]
  return {
    ...p,
    values: p.records
      ? decodeRecordBatchesSync(p.records).flatMap((b) => b.records.map((r) => r.value?.toString()))
      : [],
  }
}

const partitionDefaults = {
  currentLeaderEpoch: -1,
  lastFetchedEpoch: -1,
  logStartOffset: -1,
  replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
}

async function withBroker(
  t: import('node:test').TestContext,
  config: Record<string, string> = {},
): Promise<Broker> {
  const broker = await startBroker({ port: 0, config: { 'auto.create.topics.enable': 'false', ...config } })
  t.after(() => broker.close())
  return broker
}

async function createTopic(client: RawClient, name: string) {
  const r = await client.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  })
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE)
}

test('a size prefix above socket.request.max.bytes closes that connection only', async (t) => {
  const broker = await withBroker(t, { 'socket.request.max.bytes': '1000' })
  const bad = await RawClient.connect(broker.bootstrap)
  const good = await RawClient.connect(broker.bootstrap)
  const header = Buffer.alloc(4)
  header.writeInt32BE(1001)
  bad.write(header)
  await bad.closed
  const versions = await good.request(ApiKey.ApiVersions, 3, defaultApiVersionsRequest())
  assert.equal(versions.errorCode, ErrorCode.NONE)
  good.close()
})

test('garbage, truncated frames and unknown api keys close the connection; the broker keeps serving', async (t) => {
  const broker = await withBroker(t)
  const frames = [
    Buffer.from('00000004deadbeef', 'hex'), // too small to be a request
    Buffer.concat([Buffer.from('00000010', 'hex'), Buffer.alloc(16, 0xff)]), // api key -1
    Buffer.concat([Buffer.from('0000000c', 'hex'), Buffer.from('03e7000000000001ffff0000', 'hex')]), // api key 999
    // Metadata v4 whose topic array claims 2^31-1 entries in a 14-byte frame.
    Buffer.concat([
      Buffer.from('00000014', 'hex'),
      Buffer.from('0003000400000001ffff7fffffff', 'hex'),
      Buffer.alloc(6, 1),
    ]),
  ]
  for (const frame of frames) {
    const client = await RawClient.connect(broker.bootstrap)
    client.write(frame)
    await client.closed
  }
  const client = await RawClient.connect(broker.bootstrap)
  const md = await client.request(ApiKey.Metadata, 4, { ...defaultMetadataRequest(), topics: null })
  assert.equal(md.brokers.length, 1)
  client.close()
})

test('ApiVersions newer than we know gets v0 UNSUPPORTED_VERSION with our list', async (t) => {
  const broker = await withBroker(t)
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  // ApiVersions v99 request: header v2 with an empty tag section, body with two compact strings.
  const body = Buffer.from('0012006300000007ffff00010100', 'hex')
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  const frame = await client.send(Buffer.concat([size, body]))
  assert.equal(frame.readInt32BE(0), 7)
  assert.equal(frame.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION)
  const count = frame.readInt32BE(6)
  assert.ok(count >= 7)
  const keys = Array.from({ length: count }, (_, i) => frame.readInt16BE(10 + i * 6))
  assert.ok(keys.includes(ApiKey.Produce) && keys.includes(ApiKey.Fetch))
})

test('produce errors: CRC mismatch, old magic, too large, bad name, unknown topic, old version', async (t) => {
  const broker = await withBroker(t, { 'message.max.bytes': '2000' })
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'events')

  const corrupt = batch('x')
  corrupt[corrupt.length - 1] ^= 0xff
  assert.equal((await produce(client, 'events', corrupt)).errorCode, ErrorCode.CORRUPT_MESSAGE)

  const oldMagic = batch('x')
  oldMagic[16] = 1
  assert.equal(
    (await produce(client, 'events', oldMagic)).errorCode,
    ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
  )

  const big = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(3000, 1) }] })
  assert.equal((await produce(client, 'events', big)).errorCode, ErrorCode.MESSAGE_TOO_LARGE)

  assert.equal(
    (await produce(client, 'no-such-topic', batch('x'))).errorCode,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  )
  assert.equal((await produce(client, 'events', batch('x'), 2)).errorCode, ErrorCode.UNSUPPORTED_VERSION)

  const created = await client.request(ApiKey.CreateTopics, 7, {
    topics: ['bad/name', '..', 'x'.repeat(250)].map((name) => ({
      name,
      numPartitions: 1,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    })),
    timeoutMs: 1000,
    validateOnly: false,
  })
  assert.deepEqual(
    created.topics.map((x) => x.errorCode),
    [ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION],
  )

  // Nothing above was appended: the log holds only what is produced next.
  const ok = await produce(client, 'events', batch('good', 3))
  assert.equal(ok.errorCode, ErrorCode.NONE)
  assert.equal(ok.baseOffset, 0)
  const fetched = await fetchAll(client, 'events')
  assert.deepEqual(fetched.values, ['good-0', 'good-1', 'good-2'])
  assert.equal(fetched.highWatermark, 3)
})

test('other connections keep producing and fetching while bad clients are cut off', async (t) => {
  const broker = await withBroker(t)
  const good = await RawClient.connect(broker.bootstrap)
  t.after(() => good.close())
  await createTopic(good, 'steady')
  let stop = false
  const attackers = (async () => {
    let n = 0
    while (!stop) {
      const bad = await RawClient.connect(broker.bootstrap)
      bad.write(Buffer.concat([Buffer.from('00000020', 'hex'), Buffer.alloc(32, 0x80 | (n++ & 0x7f))]))
      await bad.closed
    }
    return n
  })()
  for (let i = 0; i < 50; i++) {
    const r = await produce(good, 'steady', batch(`m${i}`))
    assert.equal(r.errorCode, ErrorCode.NONE)
    assert.equal(r.baseOffset, i)
  }
  stop = true
  assert.ok((await attackers) > 0)
  const fetched = await fetchAll(good, 'steady')
  assert.equal(fetched.values.length, 50)
  assert.equal(fetched.values[49], 'm49-0')
})

test('clients cannot write to or delete __consumer_offsets', async (t) => {
  const broker = await withBroker(t)
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'events')
  // A simple (group-less) commit makes the broker create its offsets topic.
  const commit = await client.request(ApiKey.OffsetCommit, 8, {
    groupId: 'g',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: 'events',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 0,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  })
  assert.equal(commit.topics[0].partitions[0].errorCode, ErrorCode.NONE)
  assert.equal(
    (await produce(client, '__consumer_offsets', batch('x'))).errorCode,
    ErrorCode.INVALID_TOPIC_EXCEPTION,
  )
  const deleted = await client.request(ApiKey.DeleteTopics, 5, {
    topics: [],
    topicNames: ['__consumer_offsets'],
    timeoutMs: 1000,
  })
  assert.equal(deleted.responses[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION)
  const md = await client.request(ApiKey.Metadata, 12, { ...defaultMetadataRequest(), topics: null })
  const internal = md.topics.find((x) => x.name === '__consumer_offsets')
  assert.equal(internal?.isInternal, true)
})
