import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode, decodeRecordBatchesSync } from '@fluxo/protocol'
import { ManualClock } from '../../src/coordinator/clock.js'
import {
  TransactionCoordinator,
  type TransactionCoordinatorConfig,
  type TxnMarker,
  TxnState,
} from '../../src/coordinator/transaction-coordinator.js'
import {
  type TransactionLog,
  decodeTxnLogRecord,
  encodeTxnKey,
  encodeTxnLogBatch,
  encodeTxnValue,
} from '../../src/coordinator/transaction-log.js'

const OFFSETS = '__consumer_offsets'

/** __transaction_state as a list of batches; `failing` makes appends throw (a full disk). */
class MemoryTxnLog implements TransactionLog {
  stored: Buffer[] = []
  failing = false
  async append(batch: Buffer): Promise<void> {
    if (this.failing) throw new Error('disk full')
    this.stored.push(batch)
  }
  async *batches(): AsyncIterable<Buffer> {
    yield* this.stored
  }
  copy(): MemoryTxnLog {
    const log = new MemoryTxnLog()
    log.stored = [...this.stored]
    return log
  }
  /** Every decoded record, in order. */
  records() {
    return this.stored.flatMap((b) =>
      decodeRecordBatchesSync(b).flatMap((batch) =>
        batch.records.map((r) => decodeTxnLogRecord(r.key!, r.value)),
      ),
    )
  }
}

/** Partitions that record the markers written to them; `refuse` makes one answer an error. */
class FakePartitions {
  readonly markers = new Map<string, TxnMarker[]>()
  readonly refuse = new Map<string, number>()
  /** When set, marker writes wait for it (a slow partition). */
  gate: Promise<void> | null = null
  constructor(readonly existing: string[]) {}
  exists = (topic: string, partition: number) => this.existing.includes(`${topic}-${partition}`)
  writeTxnMarker = async (topic: string, partition: number, marker: TxnMarker) => {
    const key = `${topic}-${partition}`
    if (this.gate) await this.gate
    if (!this.exists(topic, partition)) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
    const refused = this.refuse.get(key)
    if (refused !== undefined) return { errorCode: refused }
    const list = this.markers.get(key) ?? []
    list.push(marker)
    this.markers.set(key, list)
    return { errorCode: ErrorCode.NONE }
  }
  written(key: string): string[] {
    return (this.markers.get(key) ?? []).map(
      (m) => `${m.commit ? 'COMMIT' : 'ABORT'}:${m.producerId}/${m.producerEpoch}`,
    )
  }
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

interface Setup {
  clock: ManualClock
  log: MemoryTxnLog
  partitions: FakePartitions
  coordinator: TransactionCoordinator
}

async function setup(
  options: {
    log?: MemoryTxnLog
    partitions?: FakePartitions
    clock?: ManualClock
    config?: Partial<TransactionCoordinatorConfig>
  } = {},
): Promise<Setup> {
  const clock = options.clock ?? new ManualClock()
  const log = options.log ?? new MemoryTxnLog()
  const partitions = options.partitions ?? new FakePartitions(['t-0', 't-1', 'u-0', `${OFFSETS}-0`])
  const coordinator = new TransactionCoordinator({
    log,
    partitions,
    offsetsPartitionFor: async () => ({ topic: OFFSETS, partition: 0 }),
    clock,
    config: {
      abortTimedOutTransactionCleanupIntervalMs: 1_000,
      removeExpiredTransactionalIdCleanupIntervalMs: 60_000,
      transactionalIdExpirationMs: 3_600_000,
      ...options.config,
    },
  })
  await coordinator.start()
  return { clock, log, partitions, coordinator }
}

const tp = (topic: string, partition: number) => ({ topic, partition })

async function begin(s: Setup, transactionalId: string, timeoutMs = 60_000) {
  const init = await s.coordinator.initProducerId(transactionalId, timeoutMs)
  assert.equal(init.errorCode, ErrorCode.NONE)
  return init
}

test('producer ids are unique and never reused after a restart', async () => {
  const s = await setup()
  const ids = new Set<number>()
  for (let i = 0; i < 5; i++) {
    const r = await s.coordinator.initProducerId(null, 0)
    assert.equal(r.errorCode, ErrorCode.NONE)
    assert.equal(r.producerEpoch, 0, 'an idempotent producer starts at epoch 0')
    ids.add(r.producerId)
  }
  assert.equal(ids.size, 5)
  // v3+ idempotent producers pass their old id: Kafka ignores it and hands out a new one.
  const again = await s.coordinator.initProducerId(null, 0, { producerId: 0, producerEpoch: 3 })
  assert.ok(!ids.has(again.producerId))
  ids.add(again.producerId)

  const restarted = await setup({ log: s.log.copy() })
  for (let i = 0; i < 3; i++) {
    const r = await restarted.coordinator.initProducerId(null, 0)
    assert.ok(!ids.has(r.producerId), `id ${r.producerId} handed out twice`)
    assert.ok(r.producerId >= 1000, 'a restart starts at the next reserved block')
  }
  // One block record per 1000 ids, not one record per id.
  assert.equal(s.log.records().filter((r) => r?.type === 'producerIdBlock').length, 1)
})

test('InitProducerId validates the transactional id and the timeout', async () => {
  const s = await setup({ config: { transactionMaxTimeoutMs: 60_000 } })
  assert.equal((await s.coordinator.initProducerId('', 1000)).errorCode, ErrorCode.INVALID_REQUEST)
  for (const timeout of [0, -1, 60_001])
    assert.equal(
      (await s.coordinator.initProducerId('tx', timeout)).errorCode,
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
    )
  const ok = await s.coordinator.initProducerId('tx', 60_000)
  assert.deepEqual(ok, { errorCode: ErrorCode.NONE, producerId: ok.producerId, producerEpoch: 0 })
  const bumped = await s.coordinator.initProducerId('tx', 60_000)
  assert.equal(bumped.producerId, ok.producerId, 'the id stays with the transactional id')
  assert.equal(bumped.producerEpoch, 1, 'a new producer of the id bumps the epoch')
})

test('KIP-360: InitProducerId with the current id and epoch bumps, a retry keeps, a stale epoch is fenced', async () => {
  const s = await setup()
  const first = await begin(s, 'tx')
  const resumed = await s.coordinator.initProducerId('tx', 60_000, {
    producerId: first.producerId,
    producerEpoch: first.producerEpoch,
  })
  assert.equal(resumed.errorCode, ErrorCode.NONE)
  assert.equal(resumed.producerEpoch, first.producerEpoch + 1)
  // The answer was lost; the producer retries with the epoch it had: the same epoch comes back.
  const retried = await s.coordinator.initProducerId('tx', 60_000, {
    producerId: first.producerId,
    producerEpoch: first.producerEpoch,
  })
  assert.deepEqual(retried, resumed)
  // Another producer took over (no expected epoch): the last one's epoch is now stale.
  const other = await s.coordinator.initProducerId('tx', 60_000)
  assert.equal(other.producerEpoch, resumed.producerEpoch + 1)
  const stale = await s.coordinator.initProducerId('tx', 60_000, {
    producerId: first.producerId,
    producerEpoch: resumed.producerEpoch,
  })
  assert.equal(stale.errorCode, ErrorCode.PRODUCER_FENCED)
  const foreign = await s.coordinator.initProducerId('tx', 60_000, { producerId: 999_999, producerEpoch: 0 })
  assert.equal(foreign.errorCode, ErrorCode.PRODUCER_FENCED)
})

test('an exhausted epoch rotates the producer id; the old id and its last epoch are accepted once', async () => {
  const log = new MemoryTxnLog()
  const value = {
    producerId: 7,
    previousProducerId: -1,
    nextProducerId: -1,
    producerEpoch: 32766,
    txnTimeoutMs: 60_000,
    state: TxnState.CompleteCommit,
    partitions: new Map(),
    txnLastUpdateTimestamp: 1,
    txnStartTimestamp: 1,
  }
  await log.append(encodeTxnLogBatch([{ key: encodeTxnKey('old'), value: encodeTxnValue(value) }], 1))
  const s = await setup({ log })
  const rotated = await s.coordinator.initProducerId('old', 60_000, { producerId: 7, producerEpoch: 32766 })
  assert.equal(rotated.errorCode, ErrorCode.NONE)
  assert.notEqual(rotated.producerId, 7)
  assert.ok(rotated.producerId > 7, 'ids found in the log are never handed out again')
  assert.equal(rotated.producerEpoch, 0)
  // A retry of the rotation (old id, exhausted epoch) is still recognised as this producer.
  const retry = await s.coordinator.initProducerId('old', 60_000, { producerId: 7, producerEpoch: 32766 })
  assert.equal(retry.errorCode, ErrorCode.NONE)
  assert.equal(retry.producerId, rotated.producerId)
})

test('commit: partitions join, markers go to each of them, the state ends CompleteCommit', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx')
  const added = await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0), tp('t', 1)])
  assert.deepEqual(
    added.map((r) => r.errorCode),
    [ErrorCode.NONE, ErrorCode.NONE],
  )
  assert.equal(await s.coordinator.addOffsets('tx', producerId, producerEpoch, 'group'), ErrorCode.NONE)
  const ongoing = s.coordinator.describe('tx')!
  assert.equal(ongoing.state, TxnState.Ongoing)
  assert.deepEqual(ongoing.partitions, [tp('t', 0), tp('t', 1), tp(OFFSETS, 0)])
  assert.equal(ongoing.txnStartTimestamp, s.clock.now())
  assert.equal(s.coordinator.verifyPartition('tx', producerId, producerEpoch, 't', 1), ErrorCode.NONE)

  assert.equal(await s.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE)
  for (const key of ['t-0', 't-1', `${OFFSETS}-0`])
    assert.deepEqual(s.partitions.written(key), [`COMMIT:${producerId}/${producerEpoch}`])
  assert.deepEqual(s.partitions.written('u-0'), [])
  const done = s.coordinator.describe('tx')!
  assert.equal(done.state, TxnState.CompleteCommit)
  assert.deepEqual(done.partitions, [])
  // Every transition went to the log first: Empty, Ongoing (twice), PrepareCommit, CompleteCommit.
  const states = s.log
    .records()
    .filter((r) => r?.type === 'transaction')
    .map((r) => (r?.type === 'transaction' ? r.value?.state : null))
  assert.deepEqual(states, ['Empty', 'Ongoing', 'Ongoing', 'PrepareCommit', 'CompleteCommit'])

  // A retried EndTxn(commit) is answered NONE; abort after commit is INVALID_TXN_STATE.
  assert.equal(await s.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE)
  assert.equal(
    await s.coordinator.endTransaction('tx', producerId, producerEpoch, false),
    ErrorCode.INVALID_TXN_STATE,
  )
  assert.equal(
    s.coordinator.verifyPartition('tx', producerId, producerEpoch, 't', 0),
    ErrorCode.INVALID_TXN_STATE,
    'no transaction is open any more',
  )
  // The next transaction starts fresh with only the partitions it adds.
  await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('u', 0)])
  assert.deepEqual(s.coordinator.describe('tx')!.partitions, [tp('u', 0)])
})

test('abort: ABORT markers, CompleteAbort, and the producer carries on with the same epoch', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx')
  await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  assert.equal(await s.coordinator.endTransaction('tx', producerId, producerEpoch, false), ErrorCode.NONE)
  assert.deepEqual(s.partitions.written('t-0'), [`ABORT:${producerId}/${producerEpoch}`])
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.CompleteAbort)
  assert.equal(await s.coordinator.endTransaction('tx', producerId, producerEpoch, false), ErrorCode.NONE)
  assert.equal(
    await s.coordinator.endTransaction('tx', producerId, producerEpoch, true),
    ErrorCode.INVALID_TXN_STATE,
  )
  const next = await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  assert.equal(next[0].errorCode, ErrorCode.NONE)
})

test('requests from the wrong producer, epoch or state get Kafka errors', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx')
  const add = (id: string, pid: number, epoch: number, parts = [tp('t', 0)]) =>
    s.coordinator.addPartitions(id, pid, epoch, parts).then((r) => r.map((p) => p.errorCode))
  assert.deepEqual(await add('unknown', producerId, producerEpoch), [ErrorCode.INVALID_PRODUCER_ID_MAPPING])
  assert.deepEqual(await add('tx', producerId + 1, producerEpoch), [ErrorCode.INVALID_PRODUCER_ID_MAPPING])
  assert.deepEqual(await add('tx', producerId, producerEpoch + 1), [ErrorCode.PRODUCER_FENCED])
  assert.deepEqual(await add('', producerId, producerEpoch), [ErrorCode.INVALID_REQUEST])
  assert.deepEqual(await add('tx', producerId, producerEpoch, [tp('t', 0), tp('nope', 0), tp('t', 9)]), [
    ErrorCode.OPERATION_NOT_ATTEMPTED,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ])
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.Empty, 'nothing was added')
  assert.equal(
    await s.coordinator.endTransaction('tx', producerId, producerEpoch, true),
    ErrorCode.INVALID_TXN_STATE,
    'EndTxn with no transaction open',
  )
  assert.equal(
    await s.coordinator.endTransaction('nope', producerId, producerEpoch, true),
    ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  )
  assert.equal(
    await s.coordinator.endTransaction('', producerId, producerEpoch, true),
    ErrorCode.INVALID_REQUEST,
  )
  assert.equal(
    await s.coordinator.addOffsets('tx', producerId, producerEpoch, ''),
    ErrorCode.INVALID_GROUP_ID,
  )
  assert.equal(
    await s.coordinator.addOffsets('tx', producerId, producerEpoch - 1, 'g'),
    ErrorCode.PRODUCER_FENCED,
  )
  // Produce verification (KIP-890): only added partitions of the open transaction, current epoch.
  await add('tx', producerId, producerEpoch)
  const verify = (id: string | null, pid: number, epoch: number, topic: string, p: number) =>
    s.coordinator.verifyPartition(id, pid, epoch, topic, p)
  assert.equal(verify('tx', producerId, producerEpoch, 't', 0), ErrorCode.NONE)
  assert.equal(verify('tx', producerId, producerEpoch, 't', 1), ErrorCode.INVALID_TXN_STATE)
  assert.equal(verify('tx', producerId, producerEpoch - 1, 't', 0), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(verify('tx', producerId + 1, producerEpoch, 't', 0), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(verify('other', producerId, producerEpoch, 't', 0), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(verify(null, producerId, producerEpoch, 't', 0), ErrorCode.INVALID_REQUEST)
  assert.deepEqual(
    s.coordinator
      .verifyPartitions(
        'tx',
        producerId,
        producerEpoch,
        [tp('t', 0), tp('t', 1)],
        ErrorCode.TRANSACTION_ABORTABLE,
      )
      .map((r) => r.errorCode),
    [ErrorCode.NONE, ErrorCode.TRANSACTION_ABORTABLE],
  )
})

test('transaction.timeout.ms: a stuck transaction is aborted with a bumped epoch, fencing its producer', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx', 5_000)
  await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  s.clock.advance(4_000)
  await flush()
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.Ongoing, 'not yet timed out')
  s.clock.advance(2_000)
  await flush()
  const aborted = s.coordinator.describe('tx')!
  assert.equal(aborted.state, TxnState.CompleteAbort)
  assert.equal(aborted.producerEpoch, producerEpoch + 1)
  assert.deepEqual(s.partitions.written('t-0'), [`ABORT:${producerId}/${producerEpoch + 1}`])
  // The producer that left it is fenced.
  assert.equal(
    await s.coordinator.endTransaction('tx', producerId, producerEpoch, true),
    ErrorCode.PRODUCER_FENCED,
  )
  const add = await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  assert.equal(add[0].errorCode, ErrorCode.PRODUCER_FENCED)
  assert.equal(
    s.coordinator.verifyPartition('tx', producerId, producerEpoch, 't', 0),
    ErrorCode.INVALID_PRODUCER_EPOCH,
  )
  // A new producer of the id gets the next epoch.
  const next = await s.coordinator.initProducerId('tx', 5_000)
  assert.deepEqual(next, { errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 2 })
})

test('a new producer of the id aborts the open transaction first (CONCURRENT_TRANSACTIONS), then gets its epoch', async () => {
  const s = await setup()
  const old = await begin(s, 'tx')
  await s.coordinator.addPartitions('tx', old.producerId, old.producerEpoch, [tp('t', 0), tp('u', 0)])
  const first = await s.coordinator.initProducerId('tx', 60_000)
  assert.equal(first.errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.deepEqual(s.partitions.written('t-0'), [`ABORT:${old.producerId}/${old.producerEpoch + 1}`])
  assert.deepEqual(s.partitions.written('u-0'), [`ABORT:${old.producerId}/${old.producerEpoch + 1}`])
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.CompleteAbort)
  const retried = await s.coordinator.initProducerId('tx', 60_000)
  assert.deepEqual(retried, {
    errorCode: ErrorCode.NONE,
    producerId: old.producerId,
    producerEpoch: old.producerEpoch + 2,
  })
  // The zombie can neither add partitions nor commit.
  const zombie = await s.coordinator.addPartitions('tx', old.producerId, old.producerEpoch, [tp('t', 1)])
  assert.equal(zombie[0].errorCode, ErrorCode.PRODUCER_FENCED)
  assert.equal(
    await s.coordinator.endTransaction('tx', old.producerId, old.producerEpoch, true),
    ErrorCode.PRODUCER_FENCED,
  )
})

test('transactions of different ids run side by side; calls on one id run in order', async () => {
  const s = await setup()
  const a = await begin(s, 'a')
  const b = await begin(s, 'b')
  assert.notEqual(a.producerId, b.producerId)
  // Concurrent AddPartitionsToTxn of one producer (a client sending to two partitions at once) both
  // succeed: the calls queue instead of failing with CONCURRENT_TRANSACTIONS.
  const [r1, r2, r3] = await Promise.all([
    s.coordinator.addPartitions('a', a.producerId, a.producerEpoch, [tp('t', 0)]),
    s.coordinator.addPartitions('a', a.producerId, a.producerEpoch, [tp('t', 1)]),
    s.coordinator.addPartitions('b', b.producerId, b.producerEpoch, [tp('t', 0)]),
  ])
  assert.deepEqual([r1[0].errorCode, r2[0].errorCode, r3[0].errorCode], [0, 0, 0])
  assert.deepEqual(s.coordinator.describe('a')!.partitions, [tp('t', 0), tp('t', 1)])
  const [ea, eb] = await Promise.all([
    s.coordinator.endTransaction('a', a.producerId, a.producerEpoch, true),
    s.coordinator.endTransaction('b', b.producerId, b.producerEpoch, false),
  ])
  assert.deepEqual([ea, eb], [ErrorCode.NONE, ErrorCode.NONE])
  assert.deepEqual(s.partitions.written('t-0').sort(), [
    `ABORT:${b.producerId}/${b.producerEpoch}`,
    `COMMIT:${a.producerId}/${a.producerEpoch}`,
  ])
  const list = s.coordinator.list([], [])
  assert.deepEqual(list.transactions.map((t) => `${t.transactionalId}:${t.state}`).sort(), [
    'a:CompleteCommit',
    'b:CompleteAbort',
  ])
})

test('a partition that refuses its marker keeps the transaction in PrepareCommit until a retry succeeds', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx')
  await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0), tp('t', 1)])
  s.partitions.refuse.set('t-1', ErrorCode.KAFKA_STORAGE_ERROR)
  // The decision is durable: EndTxn succeeds.
  assert.equal(await s.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE)
  const pending = s.coordinator.describe('tx')!
  assert.equal(pending.state, TxnState.PrepareCommit)
  assert.deepEqual(pending.partitions, [tp('t', 1)], 'only the partition without its marker is left')
  assert.equal(
    s.coordinator.verifyPartition('tx', producerId, producerEpoch, 't', 1),
    ErrorCode.NOT_ENOUGH_REPLICAS,
    'a produce while completing is retriable',
  )
  const add = await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  assert.equal(add[0].errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal(
    (await s.coordinator.initProducerId('tx', 60_000)).errorCode,
    ErrorCode.CONCURRENT_TRANSACTIONS,
  )
  assert.equal(
    await s.coordinator.endTransaction('tx', producerId, producerEpoch, true),
    ErrorCode.CONCURRENT_TRANSACTIONS,
  )
  s.partitions.refuse.delete('t-1')
  s.clock.advance(1_000)
  await flush()
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.CompleteCommit)
  assert.deepEqual(s.partitions.written('t-0'), [`COMMIT:${producerId}/${producerEpoch}`])
  assert.deepEqual(s.partitions.written('t-1'), [`COMMIT:${producerId}/${producerEpoch}`])
})

test('a transaction log that cannot be written answers COORDINATOR_NOT_AVAILABLE and changes nothing', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx')
  s.log.failing = true
  const add = await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  assert.equal(add[0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.Empty)
  assert.equal(
    (await s.coordinator.initProducerId('new', 1000)).errorCode,
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
  )
  assert.equal(s.coordinator.describe('new'), undefined)
  s.log.failing = false
  assert.equal(
    (await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)]))[0].errorCode,
    0,
  )
  s.log.failing = true
  assert.equal(
    await s.coordinator.endTransaction('tx', producerId, producerEpoch, true),
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
  )
  assert.equal(s.coordinator.describe('tx')!.state, TxnState.Ongoing, 'no decision without the log')
  assert.deepEqual(s.partitions.written('t-0'), [])
})

test('recovery: every persisted state comes back; decided transactions get their markers on start', async () => {
  const partitions = new FakePartitions(['t-0', 't-1', 'u-0'])
  const s = await setup({ partitions })
  const ids: Record<string, { producerId: number; producerEpoch: number }> = {}
  for (const id of ['empty', 'ongoing', 'prepare-commit', 'prepare-abort', 'commit', 'abort'])
    ids[id] = await begin(s, id, 30_000)
  const add = (id: string, key: string) =>
    s.coordinator.addPartitions(id, ids[id].producerId, ids[id].producerEpoch, [tp(key, 0)])
  for (const id of ['ongoing', 'prepare-commit', 'prepare-abort', 'commit', 'abort']) await add(id, 't')
  await add('prepare-commit', 'u')
  await s.coordinator.endTransaction('commit', ids.commit.producerId, ids.commit.producerEpoch, true)
  await s.coordinator.endTransaction('abort', ids.abort.producerId, ids.abort.producerEpoch, false)
  // The broker stops after writing PrepareCommit / PrepareAbort but before (some) markers.
  partitions.refuse.set('t-0', ErrorCode.KAFKA_STORAGE_ERROR)
  await s.coordinator.endTransaction(
    'prepare-commit',
    ids['prepare-commit'].producerId,
    ids['prepare-commit'].producerEpoch,
    true,
  )
  await s.coordinator.endTransaction(
    'prepare-abort',
    ids['prepare-abort'].producerId,
    ids['prepare-abort'].producerEpoch,
    false,
  )
  s.coordinator.close()
  assert.equal(s.coordinator.describe('prepare-commit')!.state, TxnState.PrepareCommit)

  const restartedPartitions = new FakePartitions(['t-0', 't-1', 'u-0'])
  const clock = new ManualClock(s.clock.now())
  const r = await setup({ log: s.log.copy(), partitions: restartedPartitions, clock })
  const state = (id: string) => r.coordinator.describe(id)!.state
  assert.equal(state('empty'), TxnState.Empty)
  assert.equal(state('ongoing'), TxnState.Ongoing)
  assert.equal(state('commit'), TxnState.CompleteCommit)
  assert.equal(state('abort'), TxnState.CompleteAbort)
  assert.equal(state('prepare-commit'), TxnState.CompleteCommit, 'completed on start')
  assert.equal(state('prepare-abort'), TxnState.CompleteAbort, 'completed on start')
  const pc = ids['prepare-commit']
  const pa = ids['prepare-abort']
  assert.deepEqual(restartedPartitions.written('t-0').sort(), [
    `ABORT:${pa.producerId}/${pa.producerEpoch}`,
    `COMMIT:${pc.producerId}/${pc.producerEpoch}`,
  ])
  // All partitions of the decided transaction get the marker again (a repeat is harmless).
  assert.deepEqual(restartedPartitions.written('u-0'), [`COMMIT:${pc.producerId}/${pc.producerEpoch}`])
  assert.deepEqual(restartedPartitions.written('t-1'), [])
  // The producers carry on where they were.
  assert.equal(
    r.coordinator.verifyPartition('ongoing', ids.ongoing.producerId, ids.ongoing.producerEpoch, 't', 0),
    ErrorCode.NONE,
  )
  const describe = r.coordinator.describe('ongoing')!
  assert.equal(describe.txnTimeoutMs, 30_000)
  // The open transaction still times out, counted from when it started before the restart.
  clock.advance(31_000)
  await flush()
  assert.equal(state('ongoing'), TxnState.CompleteAbort)
  assert.deepEqual(
    restartedPartitions.written('t-0').at(-1),
    `ABORT:${ids.ongoing.producerId}/${ids.ongoing.producerEpoch + 1}`,
  )
  // No producer id is handed out twice across the restart.
  const fresh = await r.coordinator.initProducerId('fresh', 1000)
  assert.ok(!Object.values(ids).some((i) => i.producerId === fresh.producerId))
})

test('transactional.id.expiration.ms removes idle ids with a tombstone; open transactions stay', async () => {
  const s = await setup({
    config: { transactionalIdExpirationMs: 100_000, removeExpiredTransactionalIdCleanupIntervalMs: 10_000 },
  })
  const idle = await begin(s, 'idle')
  const busy = await begin(s, 'busy', 900_000)
  await s.coordinator.addPartitions('busy', busy.producerId, busy.producerEpoch, [tp('t', 0)])
  s.clock.advance(110_000)
  await flush()
  assert.equal(s.coordinator.describe('idle'), undefined)
  assert.equal(s.coordinator.describe('busy')!.state, TxnState.Ongoing)
  const tombstones = s.log.records().filter((r) => r?.type === 'transaction' && r.value === null)
  assert.deepEqual(
    tombstones.map((r) => (r?.type === 'transaction' ? r.transactionalId : '')),
    ['idle'],
  )
  // The old producer of the id is unknown now.
  const add = await s.coordinator.addPartitions('idle', idle.producerId, idle.producerEpoch, [tp('t', 0)])
  assert.equal(add[0].errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  const restarted = await setup({ log: s.log.copy() })
  assert.equal(restarted.coordinator.describe('idle'), undefined)
  assert.equal(restarted.coordinator.describe('busy')!.state, TxnState.Ongoing)
  // A new producer of the expired id gets a new producer id.
  const again = await restarted.coordinator.initProducerId('idle', 1000)
  assert.notEqual(again.producerId, idle.producerId)
  assert.equal(again.producerEpoch, 0)
})

test('TxnOffsetCommit runs only for the open transaction holding the group offsets partition', async () => {
  const s = await setup()
  const { producerId, producerEpoch } = await begin(s, 'tx')
  const write = async () => 'written'
  const commit = (pid: number, epoch: number) => s.coordinator.txnOffsetCommit('tx', pid, epoch, 'g', write)
  assert.deepEqual(await commit(producerId, producerEpoch), { errorCode: ErrorCode.INVALID_TXN_STATE })
  await s.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('t', 0)])
  assert.deepEqual(await commit(producerId, producerEpoch), { errorCode: ErrorCode.INVALID_TXN_STATE })
  await s.coordinator.addOffsets('tx', producerId, producerEpoch, 'g')
  assert.deepEqual(await commit(producerId, producerEpoch), { errorCode: ErrorCode.NONE, result: 'written' })
  assert.deepEqual(await commit(producerId, producerEpoch - 1), {
    errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
  })
  assert.deepEqual(await commit(producerId + 1, producerEpoch), {
    errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  })
})

test('DescribeTransactions and ListTransactions filters (state, producer id, duration)', async () => {
  const s = await setup()
  const a = await begin(s, 'a')
  const b = await begin(s, 'b')
  await s.coordinator.addPartitions('a', a.producerId, a.producerEpoch, [tp('t', 1), tp('t', 0)])
  s.clock.advance(500)
  await s.coordinator.addPartitions('b', b.producerId, b.producerEpoch, [tp('u', 0)])
  await begin(s, 'c')
  const names = (r: ReturnType<TransactionCoordinator['list']>) =>
    r.transactions.map((t) => t.transactionalId).sort()
  assert.deepEqual(names(s.coordinator.list([], [])), ['a', 'b', 'c'])
  assert.deepEqual(names(s.coordinator.list(['Ongoing'], [])), ['a', 'b'])
  assert.deepEqual(names(s.coordinator.list(['Empty', 'Bogus'], [])), ['c'])
  assert.deepEqual(s.coordinator.list(['Empty', 'Bogus'], []).unknownStates, ['Bogus'])
  assert.deepEqual(names(s.coordinator.list([], [b.producerId])), ['b'])
  assert.deepEqual(names(s.coordinator.list(['Ongoing'], [], 100)), ['a'], 'open longer than 100 ms')
  const described = s.coordinator.describe('a')!
  assert.deepEqual(described, {
    transactionalId: 'a',
    state: TxnState.Ongoing,
    producerId: a.producerId,
    producerEpoch: a.producerEpoch,
    txnTimeoutMs: 60_000,
    txnStartTimestamp: s.clock.now() - 500,
    txnLastUpdateTimestamp: s.clock.now() - 500,
    partitions: [tp('t', 0), tp('t', 1)],
  })
  assert.equal(s.coordinator.describe('c')!.txnStartTimestamp, -1)
})

test("__transaction_state records use Kafka's TransactionLogKey/Value schemas", () => {
  assert.equal(encodeTxnKey('tx').toString('hex'), '0000' + '0002' + '7478')
  const value = {
    producerId: 5,
    previousProducerId: -1,
    nextProducerId: -1,
    producerEpoch: 2,
    txnTimeoutMs: 60_000,
    state: TxnState.Ongoing,
    partitions: new Map([['t', new Set([1, 0])]]),
    txnLastUpdateTimestamp: 1000,
    txnStartTimestamp: 900,
  }
  const bytes = encodeTxnValue(value)
  assert.equal(
    bytes.toString('hex'),
    '0001' + // version 1 (flexible)
      '0000000000000005' + // producerId
      '0002' + // producerEpoch
      '0000ea60' + // transactionTimeoutMs
      '01' + // status: Ongoing
      '02' + // one topic (compact array: n + 1)
      '0274' + // "t"
      '03' +
      '00000000' +
      '00000001' +
      '00' + // partitions 0, 1; no tags
      '00000000000003e8' + // lastUpdate
      '0000000000000384' + // start
      '00', // no tagged fields
  )
  const decoded = decodeTxnLogRecord(encodeTxnKey('tx'), bytes)
  assert.deepEqual(decoded, {
    type: 'transaction',
    transactionalId: 'tx',
    value: { ...value, partitions: new Map([['t', new Set([0, 1])]]) },
  })
  const rotated = decodeTxnLogRecord(encodeTxnKey('tx'), encodeTxnValue({ ...value, previousProducerId: 4 }))
  assert.equal(rotated?.type === 'transaction' && rotated.value?.previousProducerId, 4)
  assert.deepEqual(decodeTxnLogRecord(encodeTxnKey('tx'), null), {
    type: 'transaction',
    transactionalId: 'tx',
    value: null,
  })
  assert.equal(decodeTxnLogRecord(Buffer.from([0, 9, 0, 0]), null), null, 'unknown record types are skipped')
})
