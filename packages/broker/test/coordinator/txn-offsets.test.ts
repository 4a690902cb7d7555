import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ControlRecordType,
  ErrorCode,
  decodeRecordBatchesSync,
  defaultOffsetFetchRequest,
  defaultTxnOffsetCommitRequest,
  encodeRecordBatchSync,
  endTxnMarker,
} from '@fluxo/protocol'
import { ManualClock } from '../../src/coordinator/clock.js'
import { GroupCoordinator } from '../../src/coordinator/group-coordinator.js'
import { OffsetStore, type OffsetsLog } from '../../src/coordinator/offsets.js'

/** __consumer_offsets as a list; each append resolves with its base offset, as the cluster's log does. */
class MemoryOffsetsLog implements OffsetsLog {
  readonly stored: Buffer[] = []
  private next = 0
  async append(_groupId: string, batch: Buffer): Promise<number> {
    const base = this.next
    const b = Buffer.from(batch)
    b.writeBigInt64BE(BigInt(base), 0)
    this.stored.push(b)
    this.next += decodeRecordBatchesSync(batch)[0].records.length
    return base
  }
  /** What the transaction coordinator writes: a control batch of the producer. */
  marker(producerId: number, producerEpoch: number, commit: boolean): void {
    const batch = encodeRecordBatchSync({
      records: [endTxnMarker(commit ? ControlRecordType.commit : ControlRecordType.abort, 0)],
      isControl: true,
      isTransactional: true,
      producerId,
      producerEpoch,
    })
    void this.append('', batch)
  }
  async *batches(): AsyncIterable<Buffer> {
    yield* this.stored
  }
}

const value = (offset: number) => ({ offset, leaderEpoch: -1, metadata: '', commitTimestamp: 1 })
const entry = (topic: string, partition: number, offset: number) => ({
  topic,
  partition,
  value: value(offset),
})

test('transactional offsets stay pending until the commit marker; an abort drops them', async () => {
  const log = new MemoryOffsetsLog()
  const store = new OffsetStore(log)
  await store.commit('g', [entry('t', 0, 1)], 1)
  await store.commitTransactional('g', 7, 0, [entry('t', 0, 5), entry('t', 1, 6)], 2)
  const batch = decodeRecordBatchesSync(log.stored[1])[0]
  assert.equal(batch.isTransactional, true)
  assert.equal(batch.producerId, 7)
  assert.equal(store.get('g', 't', 0)?.offset, 1, 'not visible before the commit')
  assert.equal(store.hasPendingOffset('g', 't', 1), true)
  assert.equal(store.hasPending('g'), true)

  assert.deepEqual(store.completeTransaction(7, true), ['g'])
  assert.equal(store.get('g', 't', 0)?.offset, 5)
  assert.equal(store.get('g', 't', 1)?.offset, 6)
  assert.equal(store.hasPending('g'), false)

  await store.commitTransactional('g', 7, 0, [entry('t', 0, 9)], 3)
  assert.deepEqual(store.completeTransaction(7, false), [])
  assert.equal(store.get('g', 't', 0)?.offset, 5, 'aborted offsets never show')
  assert.deepEqual(store.completeTransaction(8, true), [], 'a producer with nothing pending')
})

test('a plain commit written after a transactional offset wins over it when the transaction commits', async () => {
  const log = new MemoryOffsetsLog()
  const store = new OffsetStore(log)
  await store.commitTransactional('g', 7, 0, [entry('t', 0, 5), entry('t', 1, 5)], 1)
  await store.commit('g', [entry('t', 0, 8)], 2)
  store.completeTransaction(7, true)
  assert.equal(store.get('g', 't', 0)?.offset, 8, 'the later record stays')
  assert.equal(store.get('g', 't', 1)?.offset, 5)
})

test('replay: markers in __consumer_offsets complete or drop the pending offsets; open ones stay pending', async () => {
  const log = new MemoryOffsetsLog()
  const store = new OffsetStore(log)
  await store.commit('g', [entry('t', 0, 1)], 1)
  await store.commitTransactional('g', 7, 0, [entry('t', 0, 5)], 2)
  log.marker(7, 0, true)
  await store.commitTransactional('h', 8, 0, [entry('t', 0, 50)], 3)
  log.marker(8, 0, false)
  await store.commitTransactional('g', 7, 0, [entry('t', 0, 6)], 4)
  await store.commit('g', [entry('t', 1, 3)], 5)
  // The broker stopped here: producer 7's second transaction is still open.

  const replayed = new OffsetStore(log)
  await replayed.load()
  assert.equal(replayed.get('g', 't', 0)?.offset, 5)
  assert.equal(replayed.get('g', 't', 1)?.offset, 3)
  assert.equal(replayed.get('h', 't', 0), undefined)
  assert.equal(replayed.hasPendingOffset('g', 't', 0), true)
  // The transaction coordinator's recovery then writes its marker.
  replayed.completeTransaction(7, true)
  assert.equal(replayed.get('g', 't', 0)?.offset, 6)
})

function groups(log = new MemoryOffsetsLog()) {
  return new GroupCoordinator({
    offsetsLog: log,
    topics: { partitionCount: (t) => (t === 't' ? 2 : undefined), logEndOffset: () => 100 },
    clock: new ManualClock(),
  })
}

test('TxnOffsetCommit in the group coordinator: per-partition errors, then visible on completion', async () => {
  const g = groups()
  const request = {
    ...defaultTxnOffsetCommitRequest(),
    transactionalId: 'tx',
    groupId: 'g',
    producerId: 7,
    producerEpoch: 0,
    topics: [
      {
        name: 't',
        partitions: [
          { partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: 2, committedMetadata: 'm' },
          { partitionIndex: 5, committedOffset: 10, committedLeaderEpoch: -1, committedMetadata: null },
        ],
      },
      {
        name: 'missing',
        partitions: [
          { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
        ],
      },
      {
        name: 't',
        partitions: [
          {
            partitionIndex: 1,
            committedOffset: 3,
            committedLeaderEpoch: -1,
            committedMetadata: 'x'.repeat(5000),
          },
        ],
      },
    ],
  }
  const response = await g.txnOffsetCommit(request, 3)
  assert.deepEqual(
    response.topics.map((t) => t.partitions.map((p) => p.errorCode)),
    [
      [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [ErrorCode.OFFSET_METADATA_TOO_LARGE],
    ],
  )
  const fetch = (requireStable: boolean) =>
    g.offsetFetch(
      {
        ...defaultOffsetFetchRequest(),
        groupId: 'g',
        topics: [{ name: 't', partitionIndexes: [0] }],
        requireStable,
      },
      7,
    ).topics[0].partitions[0]
  assert.equal(fetch(false).committedOffset, -1)
  assert.equal(fetch(true).errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT, 'KIP-447 requireStable')
  g.completeTransaction(7, true)
  assert.deepEqual(fetch(true), {
    partitionIndex: 0,
    committedOffset: 10,
    committedLeaderEpoch: 2,
    metadata: 'm',
    errorCode: ErrorCode.NONE,
  })
  // v0–1 have no leader epoch.
  await g.txnOffsetCommit({ ...request, topics: [request.topics[0]] }, 1)
  g.completeTransaction(7, true)
  assert.equal(fetch(false).committedLeaderEpoch, -1)
})

test('TxnOffsetCommit checks the member only when v3+ names one', async () => {
  const g = groups()
  const base = { ...defaultTxnOffsetCommitRequest(), transactionalId: 'tx', producerId: 7, producerEpoch: 0 }
  const topics = [
    {
      name: 't',
      partitions: [
        { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
      ],
    },
  ]
  const code = async (r: Partial<typeof base>, version: number) =>
    (await g.txnOffsetCommit({ ...base, topics, ...r }, version)).topics[0].partitions[0].errorCode
  assert.equal(await code({ groupId: '' }, 0), ErrorCode.INVALID_GROUP_ID)
  assert.equal(await code({ groupId: 'g' }, 0), ErrorCode.NONE, 'no member fields: accepted')
  assert.equal(await code({ groupId: 'g', memberId: 'm', generationId: 1 }, 3), ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(await code({ groupId: 'nogroup', generationId: 4 }, 3), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(
    await code({ groupId: 'g', memberId: 'm', generationId: 1 }, 2),
    ErrorCode.NONE,
    'v2 ignores them',
  )
})
