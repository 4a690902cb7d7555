import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import zlib from 'node:zlib'
import { Admin, Consumer, Producer, stringSerializers } from '@platformatic/kafka'
import { startBroker } from '../../src/index.js'

/**
 * @platformatic/kafka speaks only flexible versions (Metadata v12, CreateTopics v7, Produce v9+,
 * Fetch v12+ by topic id from v13, ListOffsets v6+): every request and response here carries tagged
 * fields. Its Consumer's streams need consumer groups, which arrive with the group coordinator; its
 * group-less `fetch` and `listOffsets` read back what its Producer wrote.
 */

const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
/** zstd needs zlib.zstdCompressSync (Node 22.15+); the client refuses it elsewhere. */
const available = codecs.filter((c) => c !== 'zstd' || 'zstdCompressSync' in zlib)

async function setup(t: TestContext) {
  const broker = await startBroker({ port: 0, config: { 'auto.create.topics.enable': 'false' } })
  t.after(() => broker.close())
  const options = { clientId: 'platformatic-interop', bootstrapBrokers: [broker.bootstrap], retries: 0 }
  const admin = new Admin(options)
  const producer = new Producer({ ...options, serializers: stringSerializers })
  // A groupId is required by the constructor; no group API is used.
  const consumer = new Consumer({ ...options, groupId: 'unused', maxWaitTime: 100 })
  t.after(() => Promise.all([admin.close(), producer.close(), consumer.close()]))
  return { broker, admin, producer, consumer }
}

interface Received {
  offset: number
  key: string | null
  value: string | null
  headers: [string, string][]
  compression: number
}

/** Reads a partition from offset 0 to its high watermark with the client's own Fetch and decoding. */
async function readAll(consumer: Consumer, topicId: string, partition: number, highWatermark: number) {
  const received: Received[] = []
  let offset = 0
  while (offset < highWatermark) {
    const response = await consumer.fetch({
      node: 1,
      maxWaitTime: 100,
      topics: [
        {
          topicId,
          partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: BigInt(offset),
              lastFetchedEpoch: -1,
              partitionMaxBytes: 4096,
            },
          ],
        },
      ],
    })
    assert.equal(response.errorCode, 0)
    const p = response.responses[0].partitions[0]
    assert.equal(response.responses[0].topicId, topicId)
    assert.equal(p.errorCode, 0)
    assert.equal(p.highWatermark, BigInt(highWatermark))
    const before = received.length
    for (const batch of p.records ?? []) {
      for (const record of batch.records) {
        const at = Number(batch.firstOffset) + record.offsetDelta
        if (at < offset) continue
        received.push({
          offset: at,
          key: record.key?.toString() ?? null,
          value: record.value?.toString() ?? null,
          headers: record.headers.map(([k, v]) => [k!.toString(), v!.toString()]),
          compression: batch.attributes & 7,
        })
      }
    }
    assert.ok(received.length > before, `no progress at offset ${offset}`)
    offset = received[received.length - 1].offset + 1
  }
  return received
}

test('@platformatic/kafka admin: createTopics with partitions, listTopics, metadata, deleteTopics', async (t) => {
  const { admin } = await setup(t)
  const created = await admin.createTopics({ topics: ['pl-gone', 'pl-five'], partitions: 5, replicas: 1 })
  assert.deepEqual(created.map((c) => [c.name, c.partitions, c.replicas]).sort(), [
    ['pl-five', 5, 1],
    ['pl-gone', 5, 1],
  ])
  await admin.createTopics({ topics: ['pl-one'], partitions: 1, replicas: 1 })
  assert.deepEqual((await admin.listTopics()).sort(), ['pl-five', 'pl-gone', 'pl-one'])

  const metadata = await admin.metadata({ topics: ['pl-five', 'pl-one'] })
  assert.deepEqual([...metadata.brokers.keys()], [1])
  assert.equal(metadata.topics.get('pl-five')?.partitionsCount, 5)
  assert.equal(metadata.topics.get('pl-one')?.partitionsCount, 1)
  assert.equal(
    metadata.topics.get('pl-five')?.id,
    created.find((c) => c.name === 'pl-five')?.id,
    'Metadata and CreateTopics report the same topic id',
  )
  for (const partition of metadata.topics.get('pl-five')!.partitions) assert.equal(partition.leader, 1)

  await assert.rejects(
    admin.createTopics({ topics: ['pl-one'], partitions: 1, replicas: 1 }),
    (err: AggregateError) => err.errors?.[0]?.apiId === 'TOPIC_ALREADY_EXISTS',
  )
  await admin.deleteTopics({ topics: ['pl-gone'] })
  assert.deepEqual((await admin.listTopics()).sort(), ['pl-five', 'pl-one'])
})

test('@platformatic/kafka producer: keyed messages with headers in every codec read back in order', async (t) => {
  const { admin, producer, consumer } = await setup(t)
  await admin.createTopics({ topics: ['pl-events'], partitions: 2, replicas: 1 })
  const topicId = (await admin.metadata({ topics: ['pl-events'] })).topics.get('pl-events')!.id

  const expected: Omit<Received, 'offset'>[][] = [[], []]
  for (const compression of available) {
    for (let round = 0; round < 3; round++) {
      const messages = Array.from({ length: 20 }, (_, i) => {
        const partition = i % 2
        const key = `key-${i % 4}`
        const value = `${compression}-${round}-${i}-${'payload '.repeat(i)}`
        const headers = { codec: compression, n: String(i), empty: '' }
        expected[partition].push({
          key,
          value,
          headers: Object.entries(headers),
          compression: codecs.indexOf(compression),
        })
        return { topic: 'pl-events', partition, key, value, headers }
      })
      const result = await producer.send({ messages, compression, acks: -1 })
      assert.deepEqual(
        result.offsets?.map((o) => [o.partition, Number(o.offset)]).sort(),
        [
          [0, expected[0].length - 10],
          [1, expected[1].length - 10],
        ],
        `${compression} round ${round}: base offsets`,
      )
    }
  }

  const latest = await consumer.listOffsets({ topics: ['pl-events'] })
  assert.deepEqual(latest.get('pl-events'), [BigInt(expected[0].length), BigInt(expected[1].length)])
  const earliest = await consumer.listOffsets({ topics: ['pl-events'], timestamp: -2n })
  assert.deepEqual(earliest.get('pl-events'), [0n, 0n])

  for (const partition of [0, 1]) {
    const received = await readAll(consumer, topicId, partition, expected[partition].length)
    assert.deepEqual(
      received.map((r) => r.offset),
      expected[partition].map((_, i) => i),
    )
    assert.deepEqual(
      received.map(({ offset, ...rest }) => rest),
      expected[partition],
      `partition ${partition}: keys, values, headers and codec`,
    )
  }
})

test('@platformatic/kafka: a Fetch by an unknown topic id and a produce to a missing topic get Kafka errors', async (t) => {
  const { admin, producer, consumer } = await setup(t)
  await admin.createTopics({ topics: ['pl-real'], partitions: 1, replicas: 1 })
  await assert.rejects(
    producer.send({ messages: [{ topic: 'pl-missing', value: 'x' }], autocreateTopics: false }),
    // The client checks Metadata first: the broker answered UNKNOWN_TOPIC_OR_PARTITION, not auto-creation.
    /Unknown topic pl-missing/,
  )
  const answer = await consumer
    .fetch({
      node: 1,
      maxWaitTime: 100,
      topics: [
        {
          topicId: '00000000-0000-0000-0000-000000000001',
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              partitionMaxBytes: 1024,
            },
          ],
        },
      ],
    })
    .then(
      (r) => r.responses[0].partitions[0].errorCode,
      (err: AggregateError) => err.errors?.[0]?.apiId ?? err,
    )
  // UNKNOWN_TOPIC_ID (100): returned as the partition's code or raised by the client.
  assert.ok(answer === 100 || answer === 'UNKNOWN_TOPIC_ID', String(answer))
  assert.deepEqual(await admin.listTopics(), ['pl-real'], 'nothing was auto-created')
})
