import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ErrorCode,
  decodeRecordBatchesSync,
  defaultJoinGroupRequest,
  defaultLeaveGroupRequest,
  defaultOffsetCommitRequest,
  defaultOffsetFetchRequest,
  defaultSyncGroupRequest,
} from '@fluxo/protocol'
import { ManualClock } from '../../src/coordinator/clock.js'
import { GroupCoordinator } from '../../src/coordinator/group-coordinator.js'
import {
  OffsetStore,
  type OffsetsLog,
  decodeOffsetRecord,
  encodeOffsetKey,
  encodeOffsetValue,
  offsetsPartitionFor,
} from '../../src/coordinator/offsets.js'

class MemoryOffsetsLog implements OffsetsLog {
  readonly stored: Buffer[] = []
  failing = false
  async append(_groupId: string, batch: Buffer): Promise<void> {
    if (this.failing) throw new Error('disk full')
    this.stored.push(batch)
  }
  async *batches(): AsyncIterable<Buffer> {
    yield* this.stored
  }
}

const value = (offset: number, metadata = '') => ({ offset, leaderEpoch: 3, metadata, commitTimestamp: 1000 })

test("offset records use Kafka's schemas: key type 1, value version 3", () => {
  assert.equal(encodeOffsetKey('g', 't', 2).toString('hex'), '0001' + '000167' + '000174' + '00000002')
  assert.equal(
    encodeOffsetValue({ offset: 5, leaderEpoch: -1, metadata: 'm', commitTimestamp: 7 }).toString('hex'),
    '0003' + '0000000000000005' + 'ffffffff' + '00016d' + '0000000000000007',
  )
  assert.deepEqual(decodeOffsetRecord(encodeOffsetKey('g', 't', 2), encodeOffsetValue(value(9, 'meta'))), {
    groupId: 'g',
    topic: 't',
    partition: 2,
    value: value(9, 'meta'),
  })
  assert.equal(
    decodeOffsetRecord(Buffer.from([0, 2, 0, 1, 0x67]), null),
    null,
    'group metadata records are skipped',
  )
  // Java's String.hashCode, as Kafka maps groups to __consumer_offsets partitions.
  // "my-group".hashCode() is -1906497762 in Java.
  assert.equal(offsetsPartitionFor('my-group', 50), 1906497762 % 50)
})

test('replay rebuilds the offsets: later records win, tombstones delete', async () => {
  const log = new MemoryOffsetsLog()
  const store = new OffsetStore(log)
  await store.commit('g', [{ topic: 't', partition: 0, value: value(1) }], 1)
  await store.commit(
    'g',
    [
      { topic: 't', partition: 0, value: value(2, 'second') },
      { topic: 't', partition: 1, value: value(7) },
    ],
    2,
  )
  await store.commit('h', [{ topic: 'u', partition: 0, value: value(3) }], 3)
  await store.delete('g', [{ topic: 't', partition: 1 }], 4)
  await store.deleteGroup('h', 5)
  assert.equal(decodeRecordBatchesSync(log.stored[3])[0].records[0].value, null, 'a tombstone')

  const replayed = new OffsetStore(log)
  assert.equal(await replayed.load(), 6)
  assert.deepEqual(replayed.get('g', 't', 0), value(2, 'second'))
  assert.equal(replayed.get('g', 't', 1), undefined)
  assert.deepEqual(replayed.groupIds(), ['g'])
})

function coordinator(clock: ManualClock, log = new MemoryOffsetsLog()) {
  const groups = new GroupCoordinator({
    offsetsLog: log,
    clock,
    topics: {
      partitionCount: (t) => (t === 't' ? 2 : undefined),
      logEndOffset: (t, p) => (t === 't' ? 100 + p : undefined),
    },
    group: { initialRebalanceDelayMs: 0 },
    offsetsRetentionMs: 60_000,
    offsetsRetentionCheckIntervalMs: 1000,
  })
  return { groups, log }
}

const commit = (groupId: string, generation: number, memberId: string, offset: number) => ({
  ...defaultOffsetCommitRequest(),
  groupId,
  generationIdOrMemberEpoch: generation,
  memberId,
  topics: [
    {
      name: 't',
      partitions: [
        {
          partitionIndex: 0,
          committedOffset: offset,
          committedLeaderEpoch: 0,
          commitTimestamp: -1,
          committedMetadata: null,
        },
      ],
    },
  ],
})

test('commits are acknowledged after the append; a failed append is COORDINATOR_NOT_AVAILABLE and not visible', async () => {
  const clock = new ManualClock()
  const { groups, log } = coordinator(clock)
  await groups.start()
  const ok = await groups.offsetCommit(commit('simple', -1, '', 10), 8)
  assert.equal(ok.topics[0].partitions[0].errorCode, ErrorCode.NONE)
  log.failing = true
  const failed = await groups.offsetCommit(commit('simple', -1, '', 20), 8)
  assert.equal(failed.topics[0].partitions[0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  const fetched = groups.offsetFetch({ ...defaultOffsetFetchRequest(), groupId: 'simple', topics: null }, 7)
  assert.equal(fetched.topics[0].partitions[0].committedOffset, 10)
  assert.deepEqual(
    groups
      .committedOffsets('simple')
      .map((o) => [o.topic, o.partition, o.committedOffset, o.logEndOffset, o.lag]),
    [['t', 0, 10, 100, 90]],
  )
  groups.close()
})

/** Moves the clock a second at a time, letting the async retention check finish each time. */
async function tick(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    clock.advance(1000)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

test('offsets.retention: a simple group expires from its commits, a consumer group from when it became empty', async () => {
  const clock = new ManualClock()
  const { groups, log } = coordinator(clock)
  await groups.start()
  await groups.offsetCommit(commit('simple', -1, '', 1), 8)

  // A consumer group: one member joins, syncs, commits, leaves.
  const join = {
    ...defaultJoinGroupRequest(),
    groupId: 'cg',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  }
  const joining = groups.joinGroup(join, 3, { clientId: 'c', clientHost: '/127.0.0.1' })
  clock.advance(0)
  const joined = await joining
  await groups.syncGroup(
    {
      ...defaultSyncGroupRequest(),
      groupId: 'cg',
      generationId: 1,
      memberId: joined.memberId,
      assignments: [],
    },
    3,
  )
  const c = await groups.offsetCommit(commit('cg', 1, joined.memberId, 5), 8)
  assert.equal(c.topics[0].partitions[0].errorCode, ErrorCode.NONE)
  await tick(clock, 50_000)
  groups.leaveGroup({ ...defaultLeaveGroupRequest(), groupId: 'cg', memberId: joined.memberId }, 1)
  assert.equal(groups.group('cg')?.state, 'Empty')

  await tick(clock, 10_000) // 60 s after the commits: the simple group's offsets expire
  assert.deepEqual(groups.committedOffsets('simple'), [])
  assert.equal(groups.group('simple'), undefined, 'an empty group without offsets is removed')
  assert.equal(groups.committedOffsets('cg').length, 1, 'empty for only 10 s')
  await tick(clock, 50_000)
  assert.deepEqual(groups.committedOffsets('cg'), [])
  assert.equal(groups.group('cg'), undefined)

  // The tombstones were written: a replay finds nothing.
  const replay = coordinator(new ManualClock(), log).groups
  await replay.start()
  assert.deepEqual(replay.listGroups({ statesFilter: [], typesFilter: [] }, 5).groups, [])
  replay.close()
  groups.close()
})
