import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ApiKey,
  BatchAttributes,
  Compression,
  ErrorCode,
  apiDefinitions,
  decodeRecordBatchesSync,
  defaultFetchRequest,
  defaultListOffsetsRequest,
  defaultProduceRequest,
  encodeRecordBatchSync,
  encodeRequestFrame,
  readBatchInfo,
} from '@fluxo/protocol'
import { startBroker } from '../src/index.js'
import { RawClient } from './raw-client.js'

const ZERO = 'AAAAAAAAAAAAAAAAAAAAAA'

async function setup(t: import('node:test').TestContext, configs: { name: string; value: string }[] = []) {
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  const created = await client.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs }],
    timeoutMs: 1000,
    validateOnly: false,
  })
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE)
  return client
}

function produce(client: RawClient, records: Buffer, acks: number, version = 9) {
  return client.request(ApiKey.Produce, version, {
    ...defaultProduceRequest(),
    acks,
    timeoutMs: 1000,
    topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
  })
}

async function fetchRecords(client: RawClient) {
  const r = await client.request(ApiKey.Fetch, 12, {
    ...defaultFetchRequest(),
    replicaId: -1,
    maxBytes: 1 << 20,
    topics: [
      {
        topic: 't',
        topicId: ZERO,
        partitions: [
          {
            partition: 0,
            fetchOffset: 0,
            partitionMaxBytes: 1 << 20,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            replicaDirectoryId: ZERO,
          },
        ],
      },
    ],
  })
  return r.responses[0].partitions[0]
}

test('acks=0 gets no response but the data is appended; acks=2 is INVALID_REQUIRED_ACKS', async (t) => {
  const client = await setup(t)
  const records = encodeRecordBatchSync({ records: [{ value: Buffer.from('fire and forget') }] })
  // acks=0: the broker sends nothing back, so the next request's response is the next frame.
  const def = apiDefinitions[ApiKey.Produce]
  client.write(
    Buffer.concat(
      encodeRequestFrame(def, 9, 999, 'x', {
        ...defaultProduceRequest(),
        acks: 0,
        timeoutMs: 1000,
        topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
      }),
    ),
  )
  const bad = await produce(client, records, 2)
  assert.equal(bad.responses[0].partitionResponses[0].errorCode, ErrorCode.INVALID_REQUIRED_ACKS)
  const fetched = await fetchRecords(client)
  assert.equal(fetched.highWatermark, 1)
  const values = decodeRecordBatchesSync(fetched.records!).flatMap((b) =>
    b.records.map((r) => r.value?.toString()),
  )
  assert.deepEqual(values, ['fire and forget'])
})

test('message.timestamp.type=LogAppendTime stamps the batch and answers logAppendTimeMs', async (t) => {
  const client = await setup(t, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }])
  const before = Date.now()
  const records = encodeRecordBatchSync({
    compression: Compression.gzip,
    records: [
      { value: Buffer.from('a'), timestamp: 1000 },
      { value: Buffer.from('b'), timestamp: 2000 },
    ],
  })
  const response = (await produce(client, records, -1)).responses[0].partitionResponses[0]
  assert.equal(response.errorCode, ErrorCode.NONE)
  assert.ok(response.logAppendTimeMs >= before && response.logAppendTimeMs <= Date.now())

  const fetched = await fetchRecords(client)
  const info = readBatchInfo(fetched.records!)
  assert.ok(info.attributes & BatchAttributes.timestampTypeLogAppend)
  assert.equal(info.maxTimestamp, response.logAppendTimeMs)
  const [batch] = decodeRecordBatchesSync(fetched.records!) // CRC still checks after the patch
  assert.deepEqual(
    batch.records.map((r) => r.timestamp),
    [response.logAppendTimeMs, response.logAppendTimeMs],
  )

  const listed = await client.request(ApiKey.ListOffsets, 8, {
    ...defaultListOffsetsRequest(),
    replicaId: -1,
    topics: [
      {
        name: 't',
        partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: before, maxNumOffsets: 1 }],
      },
    ],
  })
  assert.equal(listed.topics[0].partitions[0].offset, 0)
})

test('CreateTime keeps the producer timestamps; offsets are assigned in order across requests', async (t) => {
  const client = await setup(t)
  for (let i = 0; i < 5; i++) {
    const records = encodeRecordBatchSync({
      records: [0, 1, 2].map((j) => ({ value: Buffer.from(`${i}-${j}`), timestamp: 1_000_000 + i * 10 + j })),
    })
    const r = (await produce(client, records, 1)).responses[0].partitionResponses[0]
    assert.equal(r.baseOffset, i * 3)
    assert.equal(r.logAppendTimeMs, -1)
  }
  const fetched = await fetchRecords(client)
  const records = decodeRecordBatchesSync(fetched.records!).flatMap((b) => b.records)
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp]),
    Array.from({ length: 15 }, (_, n) => [n, 1_000_000 + Math.floor(n / 3) * 10 + (n % 3)]),
  )
})
