// The transaction APIs over the wire, every version: InitProducerId 0–5, AddPartitionsToTxn 0–5,
// AddOffsetsToTxn 0–4, EndTxn 0–4, TxnOffsetCommit 0–4, DescribeTransactions 0, ListTransactions 0–1,
// FindCoordinator for transactional ids; what read_committed readers and group offsets see after
// commit and abort; errors for wrong producers, epochs and states; state across a restart.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  ApiKey,
  ControlRecordType,
  ErrorCode,
  controlRecordType,
  defaultAddPartitionsToTxnRequest,
  defaultApiVersionsRequest,
  defaultFindCoordinatorRequest,
  defaultOffsetFetchRequest,
  defaultProduceRequest,
  defaultTxnOffsetCommitRequest,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import { type Broker, startBroker } from '../src/index.js'
import { createTopic, fetchPartition, text } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

const READ_COMMITTED = 1

async function setup(t: TestContext, config: Record<string, string> = {}) {
  const broker = await startBroker({ port: 0, config })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 't', 2)
  return { broker, client }
}

function init(
  client: RawClient,
  transactionalId: string | null,
  version = 4,
  timeoutMs = 60_000,
  expected = { producerId: -1, producerEpoch: -1 },
) {
  return client.request(ApiKey.InitProducerId, version, {
    transactionalId,
    transactionTimeoutMs: timeoutMs,
    ...expected,
  })
}

function addPartitions(
  client: RawClient,
  version: number,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  topics: { name: string; partitions: number[] }[],
) {
  return client.request(ApiKey.AddPartitionsToTxn, version, {
    ...defaultAddPartitionsToTxnRequest(),
    v3AndBelowTransactionalId: transactionalId,
    v3AndBelowProducerId: producerId,
    v3AndBelowProducerEpoch: producerEpoch,
    v3AndBelowTopics: topics,
  })
}

/** Per-partition error codes of a v0–3 AddPartitionsToTxn response, "topic-partition" → code. */
function codes(response: {
  resultsByTopicV3AndBelow: {
    name: string
    resultsByPartition: { partitionIndex: number; partitionErrorCode: number }[]
  }[]
}) {
  const out: Record<string, number> = {}
  for (const t of response.resultsByTopicV3AndBelow)
    for (const p of t.resultsByPartition) out[`${t.name}-${p.partitionIndex}`] = p.partitionErrorCode
  return out
}

let sequence = 0
function txnBatch(producerId: number, producerEpoch: number, values: string[], baseSequence = sequence) {
  sequence = baseSequence + values.length
  return encodeRecordBatchSync({
    records: values.map((v) => ({ value: Buffer.from(v) })),
    producerId,
    producerEpoch,
    baseSequence,
    isTransactional: true,
  })
}

async function produceTxn(client: RawClient, transactionalId: string, records: Buffer, partition = 0) {
  const r = await client.request(ApiKey.Produce, 9, {
    ...defaultProduceRequest(),
    transactionalId,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: 't', partitionData: [{ index: partition, records }] }],
  })
  return r.responses[0].partitionResponses[0]
}

function endTxn(
  client: RawClient,
  version: number,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  committed: boolean,
) {
  return client.request(ApiKey.EndTxn, version, { transactionalId, producerId, producerEpoch, committed })
}

function txnOffsetCommit(
  client: RawClient,
  version: number,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  groupId: string,
  offset: number,
) {
  return client.request(ApiKey.TxnOffsetCommit, version, {
    ...defaultTxnOffsetCommitRequest(),
    transactionalId,
    groupId,
    producerId,
    producerEpoch,
    topics: [
      {
        name: 't',
        partitions: [
          { partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null },
        ],
      },
    ],
  })
}

async function committedOffset(client: RawClient, groupId: string): Promise<number> {
  const r = await client.request(ApiKey.OffsetFetch, 5, {
    ...defaultOffsetFetchRequest(),
    groupId,
    topics: [{ name: 't', partitionIndexes: [0] }],
  })
  return r.topics[0].partitions[0].committedOffset
}

/**
 * A read_committed Fetch as a consumer applies it: the broker returns data up to the LSO plus the
 * aborted transactions in that range, and the consumer drops an aborted producer's batches from the
 * transaction's first offset to its ABORT marker (Kafka's CompletedFetch).
 */
async function readCommitted(client: RawClient, partition = 0) {
  const p = await fetchPartition(client, 't', { partition, isolationLevel: READ_COMMITTED, version: 12 })
  const pending = [...(p.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset)
  const aborting = new Set<number>()
  const values: (string | null)[] = []
  for (const b of p.batches) {
    const lastOffset = b.baseOffset + b.lastOffsetDelta
    while (pending.length > 0 && pending[0].firstOffset <= lastOffset)
      aborting.add(pending.shift()!.producerId)
    if (b.isControl) {
      if (controlRecordType(b.records[0]) === ControlRecordType.abort) aborting.delete(b.producerId)
      continue
    }
    if (b.isTransactional && aborting.has(b.producerId)) continue
    values.push(...b.records.map((r) => text(r.value)))
  }
  return {
    values,
    lastStableOffset: p.lastStableOffset,
    highWatermark: p.highWatermark,
    aborted: p.abortedTransactions,
  }
}

test('ApiVersions advertises the transaction APIs; FindCoordinator answers transactional ids with this broker', async (t) => {
  const { broker, client } = await setup(t)
  const versions = await client.request(ApiKey.ApiVersions, 3, {
    ...defaultApiVersionsRequest(),
    clientSoftwareName: 'test',
    clientSoftwareVersion: '1',
  })
  const range = (key: number) => {
    const api = versions.apiKeys.find((a) => a.apiKey === key)
    return api && `${api.minVersion}-${api.maxVersion}`
  }
  assert.equal(range(ApiKey.InitProducerId), '0-5')
  assert.equal(range(ApiKey.AddPartitionsToTxn), '0-5')
  assert.equal(range(ApiKey.AddOffsetsToTxn), '0-4')
  assert.equal(range(ApiKey.EndTxn), '0-4', 'v5 (KIP-890 part 2) is not served')
  assert.equal(range(ApiKey.TxnOffsetCommit), '0-4')
  assert.equal(range(ApiKey.DescribeTransactions), '0-0')
  assert.equal(range(ApiKey.ListTransactions), '0-1')
  for (const version of [1, 3]) {
    const r = await client.request(ApiKey.FindCoordinator, version, {
      ...defaultFindCoordinatorRequest(),
      key: 'my-txn',
      keyType: 1,
    })
    assert.equal(r.errorCode, ErrorCode.NONE)
    assert.equal(r.port, broker.port)
  }
  const batched = await client.request(ApiKey.FindCoordinator, 4, {
    ...defaultFindCoordinatorRequest(),
    keyType: 1,
    coordinatorKeys: ['a', 'b'],
  })
  assert.deepEqual(
    batched.coordinators.map((c) => [c.key, c.errorCode, c.port]),
    [
      ['a', 0, broker.port],
      ['b', 0, broker.port],
    ],
  )
})

test('InitProducerId v0–5: idempotent and transactional producers, fencing, KIP-360 and KIP-588 errors', async (t) => {
  const { client } = await setup(t, { 'transaction.max.timeout.ms': '100000' })
  const ids = new Set<number>()
  for (let version = 0; version <= 5; version++) {
    const idempotent = await init(client, null, version)
    assert.equal(idempotent.errorCode, ErrorCode.NONE, `v${version}`)
    assert.equal(idempotent.producerEpoch, 0)
    assert.ok(!ids.has(idempotent.producerId))
    ids.add(idempotent.producerId)

    const id = `init-v${version}`
    const first = await init(client, id, version)
    assert.deepEqual([first.errorCode, first.producerEpoch], [ErrorCode.NONE, 0], `v${version}`)
    const second = await init(client, id, version)
    assert.deepEqual([second.producerId, second.producerEpoch], [first.producerId, 1], 'fences the first')
    assert.equal((await init(client, id, version, 100_001)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    assert.equal((await init(client, '', version)).errorCode, ErrorCode.INVALID_REQUEST)
    if (version >= 3) {
      // The first producer tries to resume with its old epoch: fenced. PRODUCER_FENCED exists from v4 (KIP-588).
      const stale = await init(client, id, version, 60_000, {
        producerId: first.producerId,
        producerEpoch: 0,
      })
      assert.equal(
        stale.errorCode,
        version >= 4 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH,
      )
      assert.equal(stale.producerId, -1)
      const resumed = await init(client, id, version, 60_000, {
        producerId: first.producerId,
        producerEpoch: 1,
      })
      assert.deepEqual([resumed.errorCode, resumed.producerEpoch], [ErrorCode.NONE, 2], 'KIP-360 resume')
    }
  }
})

test('commit and abort over every version: markers, read_committed data and transactional offsets', async (t) => {
  const { client } = await setup(t)
  const expected: string[] = []
  for (let version = 0; version <= 4; version++) {
    for (const commit of [true, false]) {
      const id = `flow-v${version}-${commit}`
      const { producerId, producerEpoch } = await init(client, id, Math.min(version + 1, 5))
      const added = await addPartitions(client, Math.min(version, 3), id, producerId, producerEpoch, [
        { name: 't', partitions: [0] },
      ])
      assert.deepEqual(codes(added), { 't-0': ErrorCode.NONE })
      const written = await produceTxn(
        client,
        id,
        txnBatch(producerId, producerEpoch, [`${id}-a`, `${id}-b`], 0),
      )
      assert.equal(written.errorCode, ErrorCode.NONE)
      const before = await readCommitted(client)
      assert.equal(before.lastStableOffset, written.baseOffset, 'the open transaction holds the LSO')
      assert.ok(!before.values.includes(`${id}-a`))

      const offsets = await client.request(ApiKey.AddOffsetsToTxn, version, {
        transactionalId: id,
        producerId,
        producerEpoch,
        groupId: `group-${id}`,
      })
      assert.equal(offsets.errorCode, ErrorCode.NONE)
      const committed = await txnOffsetCommit(
        client,
        version,
        id,
        producerId,
        producerEpoch,
        `group-${id}`,
        42,
      )
      assert.equal(committed.topics[0].partitions[0].errorCode, ErrorCode.NONE)
      assert.equal(await committedOffset(client, `group-${id}`), -1, 'not before the commit')

      const ended = await endTxn(client, version, id, producerId, producerEpoch, commit)
      assert.equal(ended.errorCode, ErrorCode.NONE, `EndTxn v${version}`)
      if (commit) expected.push(`${id}-a`, `${id}-b`)
      const after = await readCommitted(client)
      assert.deepEqual(after.values, expected, `v${version} ${commit ? 'commit' : 'abort'}`)
      assert.equal(after.lastStableOffset, after.highWatermark)
      assert.equal(await committedOffset(client, `group-${id}`), commit ? 42 : -1)
      // A retried EndTxn is answered NONE; the opposite outcome INVALID_TXN_STATE.
      assert.equal(
        (await endTxn(client, version, id, producerId, producerEpoch, commit)).errorCode,
        ErrorCode.NONE,
      )
      assert.equal(
        (await endTxn(client, version, id, producerId, producerEpoch, !commit)).errorCode,
        ErrorCode.INVALID_TXN_STATE,
      )
    }
  }
  // Every aborted transaction is listed for read_committed readers.
  const all = await readCommitted(client)
  assert.equal(all.aborted?.length, 5)
})

test('AddPartitionsToTxn v4–5: batched transactions and verifyOnly (KIP-890)', async (t) => {
  const { client } = await setup(t)
  const a = await init(client, 'a')
  const b = await init(client, 'b')
  await addPartitions(client, 3, 'a', a.producerId, a.producerEpoch, [{ name: 't', partitions: [0] }])
  for (const version of [4, 5]) {
    const r = await client.request(ApiKey.AddPartitionsToTxn, version, {
      ...defaultAddPartitionsToTxnRequest(),
      transactions: [
        {
          transactionalId: 'a',
          producerId: a.producerId,
          producerEpoch: a.producerEpoch,
          verifyOnly: true,
          topics: [{ name: 't', partitions: [0, 1] }],
        },
        {
          transactionalId: 'b',
          producerId: b.producerId,
          producerEpoch: b.producerEpoch + 1,
          verifyOnly: false,
          topics: [{ name: 't', partitions: [1] }],
        },
      ],
    })
    assert.equal(r.errorCode, ErrorCode.NONE)
    const flat = r.resultsByTransaction.map((x) => [
      x.transactionalId,
      x.topicResults.flatMap((tr) =>
        tr.resultsByPartition.map((p) => `${tr.name}-${p.partitionIndex}:${p.partitionErrorCode}`),
      ),
    ])
    const notInTxn = version >= 5 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE
    assert.deepEqual(flat, [
      ['a', [`t-0:${ErrorCode.NONE}`, `t-1:${notInTxn}`]],
      ['b', [`t-1:${ErrorCode.PRODUCER_FENCED}`]],
    ])
  }
  // verifyOnly added nothing.
  const described = await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['a'] })
  assert.deepEqual(described.transactionStates[0].topics, [{ topic: 't', partitions: [0] }])
})

test('errors: wrong producer, stale epochs per version, unknown partitions, offsets without AddOffsetsToTxn, produce without AddPartitionsToTxn', async (t) => {
  const { client } = await setup(t)
  const { producerId, producerEpoch } = await init(client, 'tx')
  await init(client, 'tx') // another producer: the first one's epoch is stale now
  for (let version = 0; version <= 3; version++) {
    const stale = await addPartitions(client, version, 'tx', producerId, producerEpoch, [
      { name: 't', partitions: [0] },
    ])
    assert.deepEqual(codes(stale), {
      't-0': version >= 2 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH,
    })
  }
  for (let version = 0; version <= 4; version++) {
    const ended = await endTxn(client, version, 'tx', producerId, producerEpoch, true)
    assert.equal(ended.errorCode, version >= 2 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH)
    const offsets = await client.request(ApiKey.AddOffsetsToTxn, version, {
      transactionalId: 'tx',
      producerId,
      producerEpoch,
      groupId: 'g',
    })
    assert.equal(
      offsets.errorCode,
      version >= 2 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH,
    )
    const txnOffsets = await txnOffsetCommit(client, version, 'tx', producerId, producerEpoch, 'g', 1)
    assert.equal(txnOffsets.topics[0].partitions[0].errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)
  }
  const current = await init(client, 'tx')
  const unknown = await addPartitions(client, 3, 'tx', current.producerId, current.producerEpoch, [
    { name: 't', partitions: [0, 7] },
    { name: 'missing', partitions: [0] },
  ])
  assert.deepEqual(codes(unknown), {
    't-0': ErrorCode.OPERATION_NOT_ATTEMPTED,
    't-7': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    'missing-0': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  })
  const mapping = await addPartitions(client, 3, 'nobody', current.producerId, current.producerEpoch, [
    { name: 't', partitions: [0] },
  ])
  assert.deepEqual(codes(mapping), { 't-0': ErrorCode.INVALID_PRODUCER_ID_MAPPING })

  // A transactional batch to a partition the transaction did not add is refused: no hanging transaction.
  const refused = await produceTxn(
    client,
    'tx',
    txnBatch(current.producerId, current.producerEpoch, ['x'], 0),
  )
  assert.equal(refused.errorCode, ErrorCode.INVALID_TXN_STATE)
  const wrongId = await produceTxn(
    client,
    'other',
    txnBatch(current.producerId, current.producerEpoch, ['x'], 0),
  )
  assert.equal(wrongId.errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal((await readCommitted(client)).highWatermark, 0, 'nothing was written')

  // TxnOffsetCommit before AddOffsetsToTxn, and for an empty group id.
  await addPartitions(client, 3, 'tx', current.producerId, current.producerEpoch, [
    { name: 't', partitions: [0] },
  ])
  const early = await txnOffsetCommit(client, 3, 'tx', current.producerId, current.producerEpoch, 'g', 1)
  assert.equal(early.topics[0].partitions[0].errorCode, ErrorCode.INVALID_TXN_STATE)
  const noGroup = await txnOffsetCommit(client, 3, 'tx', current.producerId, current.producerEpoch, '', 1)
  assert.equal(noGroup.topics[0].partitions[0].errorCode, ErrorCode.INVALID_GROUP_ID)
  const endEmpty = await endTxn(client, 4, 'fresh', (await init(client, 'fresh')).producerId, 0, true)
  assert.equal(endEmpty.errorCode, ErrorCode.INVALID_TXN_STATE, 'EndTxn with no transaction open')
})

test('DescribeTransactions v0 and ListTransactions v0–1', async (t) => {
  const { client } = await setup(t)
  const a = await init(client, 'a', 4, 30_000)
  await init(client, 'b')
  await addPartitions(client, 3, 'a', a.producerId, a.producerEpoch, [{ name: 't', partitions: [1, 0] }])
  const described = await client.request(ApiKey.DescribeTransactions, 0, {
    transactionalIds: ['a', 'b', 'zzz', ''],
  })
  const [da, db, dz, de] = described.transactionStates
  assert.equal(da.errorCode, ErrorCode.NONE)
  assert.equal(da.transactionState, 'Ongoing')
  assert.equal(da.transactionTimeoutMs, 30_000)
  assert.equal(da.producerId, a.producerId)
  assert.ok(Math.abs(da.transactionStartTimeMs - Date.now()) < 60_000)
  assert.deepEqual(da.topics, [{ topic: 't', partitions: [0, 1] }])
  assert.deepEqual([db.transactionState, db.transactionStartTimeMs, db.topics], ['Empty', -1, []])
  assert.equal(dz.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
  assert.equal(de.errorCode, ErrorCode.INVALID_REQUEST)

  const list = async (
    version: number,
    stateFilters: string[],
    producerIdFilters: number[] = [],
    durationFilter = -1,
  ) => {
    const r = await client.request(ApiKey.ListTransactions, version, {
      stateFilters,
      producerIdFilters,
      durationFilter,
    })
    assert.equal(r.errorCode, ErrorCode.NONE)
    return {
      ids: r.transactionStates.map((s) => `${s.transactionalId}:${s.transactionState}`).sort(),
      unknown: r.unknownStateFilters,
    }
  }
  assert.deepEqual(await list(0, []), { ids: ['a:Ongoing', 'b:Empty'], unknown: [] })
  assert.deepEqual(await list(0, ['Ongoing', 'Nope']), { ids: ['a:Ongoing'], unknown: ['Nope'] })
  assert.deepEqual(await list(0, [], [a.producerId]), { ids: ['a:Ongoing'], unknown: [] })
  assert.deepEqual((await list(1, ['Ongoing'], [], 0)).ids, ['a:Ongoing'])
  assert.deepEqual((await list(1, ['Ongoing'], [], 3_600_000)).ids, [], 'not open for an hour')
})

test('restart (file storage): an open transaction is aborted after its timeout, a committed one stays, ids are not reused', async (t) => {
  const dataDir = await tempDir(t)
  const config = { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '100' }
  let broker: Broker = await startBroker({ port: 0, storage: 'file', dataDir, config })
  t.after(() => broker.close())
  let client = await RawClient.connect(broker.bootstrap)
  await createTopic(client, 't', 1)
  const done = await init(client, 'done')
  await addPartitions(client, 3, 'done', done.producerId, done.producerEpoch, [
    { name: 't', partitions: [0] },
  ])
  await produceTxn(client, 'done', txnBatch(done.producerId, done.producerEpoch, ['kept'], 0))
  await endTxn(client, 3, 'done', done.producerId, done.producerEpoch, true)

  const open = await init(client, 'open', 4, 1_500)
  await addPartitions(client, 3, 'open', open.producerId, open.producerEpoch, [
    { name: 't', partitions: [0] },
  ])
  const stuck = await produceTxn(client, 'open', txnBatch(open.producerId, open.producerEpoch, ['lost'], 0))
  await client.request(ApiKey.AddOffsetsToTxn, 3, {
    transactionalId: 'open',
    producerId: open.producerId,
    producerEpoch: open.producerEpoch,
    groupId: 'g',
  })
  await txnOffsetCommit(client, 3, 'open', open.producerId, open.producerEpoch, 'g', 7)
  const idempotent = await init(client, null)
  client.close()
  await broker.close()

  broker = await startBroker({ port: 0, storage: 'file', dataDir, config })
  client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  const right = await readCommitted(client)
  assert.deepEqual(right.values, ['kept'])
  assert.equal(
    right.lastStableOffset,
    stuck.baseOffset,
    'the open transaction still holds the LSO after the restart',
  )
  const described = await client.request(ApiKey.DescribeTransactions, 0, {
    transactionalIds: ['open', 'done'],
  })
  assert.deepEqual(
    described.transactionStates.map((s) => s.transactionState),
    ['Ongoing', 'CompleteCommit'],
  )

  // After its timeout it is aborted: read_committed readers are not blocked forever.
  const deadline = Date.now() + 10_000
  let later = await readCommitted(client)
  while (later.lastStableOffset < later.highWatermark && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    later = await readCommitted(client)
  }
  assert.equal(later.lastStableOffset, later.highWatermark)
  assert.deepEqual(later.values, ['kept'])
  assert.equal(later.aborted?.[0]?.producerId, open.producerId)
  assert.equal(await committedOffset(client, 'g'), -1, 'its offsets were dropped')
  // The producer that left it is fenced; a new one of the id gets a higher epoch.
  const zombie = await endTxn(client, 3, 'open', open.producerId, open.producerEpoch, true)
  assert.equal(zombie.errorCode, ErrorCode.PRODUCER_FENCED)
  const again = await init(client, 'open')
  assert.equal(again.producerId, open.producerId)
  assert.equal(again.producerEpoch, open.producerEpoch + 2)
  // Producer ids are never handed out twice across restarts.
  const fresh = await init(client, null)
  assert.ok(fresh.producerId > idempotent.producerId)
})
