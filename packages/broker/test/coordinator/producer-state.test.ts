import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode } from '@fluxo/protocol'
import {
  type ProducerBatch,
  ProducerStateManager,
  SnapshotError,
  incrementSequence,
} from '../../src/coordinator/producer-state.js'

const INT32_MAX = 2147483647

function manager(producerIdExpirationMs = 86_400_000) {
  return new ProducerStateManager({ topicPartition: 't-0', producerIdExpirationMs })
}

function batch(
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  records = 1,
  extra: Partial<ProducerBatch> = {},
): ProducerBatch {
  return {
    producerId,
    producerEpoch,
    baseSequence,
    lastOffsetDelta: records - 1,
    maxTimestamp: 1000,
    isTransactional: false,
    ...extra,
  }
}

/** Checks and applies like the partition does, assigning offsets from `next`. */
function appender(state: ProducerStateManager) {
  let next = 0
  return {
    append(b: ProducerBatch) {
      const check = state.checkAppend(b)
      if (check.kind !== 'append') return check
      const first = next
      next += b.lastOffsetDelta + 1
      state.appendData(b, first, next - 1)
      return { kind: 'appended' as const, first }
    },
    marker(producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch = 0) {
      const check = state.checkMarker(producerId, producerEpoch, coordinatorEpoch)
      if (check.kind !== 'append') return check
      const offset = next++
      state.appendMarker({ producerId, producerEpoch, coordinatorEpoch, commit }, offset, 2000, next)
      return { kind: 'appended' as const, first: offset }
    },
    get next() {
      return next
    },
  }
}

function errorCodeOf(result: { kind: string; errorCode?: number }) {
  assert.equal(result.kind, 'error')
  return result.errorCode
}

test('sequences: a producer continues its last sequence; a gap or a repeat of an old range is OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
  const state = manager()
  const log = appender(state)
  assert.deepEqual(log.append(batch(1, 0, 0, 5)), { kind: 'appended', first: 0 })
  assert.deepEqual(log.append(batch(1, 0, 5, 3)), { kind: 'appended', first: 5 })
  assert.equal(errorCodeOf(log.append(batch(1, 0, 9))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(errorCodeOf(log.append(batch(1, 0, 4))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.deepEqual(log.append(batch(1, 0, 8)), { kind: 'appended', first: 8 })
  // Another producer's sequences are its own.
  assert.deepEqual(log.append(batch(2, 0, 0)), { kind: 'appended', first: 9 })
})

test('a producer unknown to the partition may start at any sequence (KIP-360: no UNKNOWN_PRODUCER_ID)', () => {
  const log = appender(manager())
  assert.deepEqual(log.append(batch(9, 3, 42, 2)), { kind: 'appended', first: 0 })
  assert.deepEqual(log.append(batch(9, 3, 44)), { kind: 'appended', first: 2 })
})

test('duplicates: a retry of any of the last five batches answers with its original offsets; older ones do not', () => {
  const state = manager()
  const log = appender(state)
  for (let i = 0; i < 6; i++) log.append(batch(1, 0, i * 2, 2))
  for (let i = 1; i < 6; i++) {
    const check = state.checkAppend(batch(1, 0, i * 2, 2))
    assert.equal(check.kind, 'duplicate')
    if (check.kind === 'duplicate') {
      assert.equal(check.batch.firstOffset, i * 2)
      assert.equal(check.batch.lastOffset, i * 2 + 1)
    }
  }
  // The sixth-newest fell out of the window: now it is simply out of order.
  assert.equal(errorCodeOf(state.checkAppend(batch(1, 0, 0, 2))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  // A different range overlapping a stored batch is not a duplicate.
  assert.equal(errorCodeOf(state.checkAppend(batch(1, 0, 10, 1))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(log.next, 12)
})

test('epochs: an older epoch is INVALID_PRODUCER_EPOCH, a newer one must restart at sequence 0', () => {
  const state = manager()
  const log = appender(state)
  log.append(batch(1, 5, 0, 3))
  assert.equal(errorCodeOf(log.append(batch(1, 4, 3))), ErrorCode.INVALID_PRODUCER_EPOCH)
  // Even a replay of a stored range: duplicates only count within the same epoch.
  assert.equal(errorCodeOf(log.append(batch(1, 4, 0, 3))), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(errorCodeOf(log.append(batch(1, 6, 3))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.deepEqual(log.append(batch(1, 6, 0)), { kind: 'appended', first: 3 })
  assert.equal(state.entry(1)?.producerEpoch, 6)
  assert.equal(state.entry(1)?.batches.length, 1)
  assert.equal(errorCodeOf(log.append(batch(1, 5, 1))), ErrorCode.INVALID_PRODUCER_EPOCH)
})

test('sequence numbers wrap from int32 max to 0', () => {
  assert.equal(incrementSequence(INT32_MAX - 1, 2), 0)
  assert.equal(incrementSequence(INT32_MAX, 1), 0)
  assert.equal(incrementSequence(5, 3), 8)
  const state = manager()
  const log = appender(state)
  log.append(batch(1, 0, INT32_MAX - 2, 1))
  assert.deepEqual(log.append(batch(1, 0, INT32_MAX - 1, 3)), { kind: 'appended', first: 1 })
  // Sequences int32 max - 1, int32 max, 0.
  assert.equal(state.entry(1)?.batches.at(-1)?.lastSeq, 0)
  assert.equal(state.checkAppend(batch(1, 0, INT32_MAX - 1, 3)).kind, 'duplicate')
  assert.deepEqual(log.append(batch(1, 0, 1)), { kind: 'appended', first: 4 })
  // A batch ending exactly at int32 max is followed by sequence 0.
  const other = appender(manager())
  other.append(batch(2, 0, INT32_MAX - 1, 2))
  assert.deepEqual(other.append(batch(2, 0, 0)), { kind: 'appended', first: 2 })
})

test('coordinator appends (internal topics) are checked for the epoch only', () => {
  const state = manager()
  const log = appender(state)
  log.append(batch(1, 2, 0))
  assert.equal(state.checkAppend(batch(1, 2, 77), 'coordinator').kind, 'append')
  assert.equal(state.checkAppend(batch(1, 2, 0), 'coordinator').kind, 'append')
  assert.equal(
    errorCodeOf(state.checkAppend(batch(1, 1, 1), 'coordinator')),
    ErrorCode.INVALID_PRODUCER_EPOCH,
  )
})

test('transactions: a transactional batch opens one at its first offset; markers close it; aborts are listed', () => {
  const state = manager()
  const log = appender(state)
  const txn = { isTransactional: true }
  log.append(batch(1, 0, 0, 2)) // plain idempotent: offsets 0-1
  log.append(batch(10, 0, 0, 3, txn)) // offsets 2-4
  log.append(batch(11, 0, 0, 1, txn)) // offset 5
  log.append(batch(10, 0, 3, 2, txn)) // offsets 6-7, same transaction
  assert.equal(state.firstUndecidedOffset(), 2)
  assert.equal(state.entry(10)?.currentTxnFirstOffset, 2)
  assert.equal(errorCodeOf(log.append(batch(10, 0, 5))), ErrorCode.INVALID_TXN_STATE)

  assert.deepEqual(log.marker(10, 0, false), { kind: 'appended', first: 8 })
  assert.equal(state.firstUndecidedOffset(), 5)
  assert.deepEqual(log.marker(11, 0, true), { kind: 'appended', first: 9 })
  assert.equal(state.firstUndecidedOffset(), null)
  // After the marker the producer may write outside a transaction again.
  assert.deepEqual(log.append(batch(10, 0, 5)), { kind: 'appended', first: 10 })
  // A marker for a producer with nothing open completes nothing but is accepted.
  assert.deepEqual(log.marker(12, 0, false), { kind: 'appended', first: 11 })

  assert.deepEqual(state.abortedTransactions(0, 100), [
    { producerId: 10, firstOffset: 2, lastOffset: 8, lastStableOffset: 5 },
  ])
  assert.deepEqual(state.abortedTransactions(9, 100), [])
  assert.deepEqual(state.abortedTransactions(0, 2), [])
  assert.equal(state.abortedTransactions(8, 3).length, 1)
  state.truncateHead(9)
  assert.deepEqual(state.abortedTransactions(0, 100), [])
})

test('aborted transaction lookup stops once a later completion passed the upper bound', () => {
  const state = manager()
  const log = appender(state)
  const txn = { isTransactional: true }
  for (let round = 0; round < 50; round++) {
    log.append(batch(1, 0, round * 2, 2, txn))
    log.marker(1, 0, false)
  }
  // Each round: two records and a marker (3 offsets).
  const found = state.abortedTransactions(30, 36)
  assert.deepEqual(
    found.map((t) => t.firstOffset),
    [30, 33],
  )
})

test('markers: an older producer epoch is INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED', () => {
  const state = manager()
  const log = appender(state)
  log.append(batch(1, 3, 0, 1, { isTransactional: true }))
  assert.equal(errorCodeOf(log.marker(1, 2, true)), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.deepEqual(log.marker(1, 3, true, 5), { kind: 'appended', first: 1 })
  assert.equal(errorCodeOf(log.marker(1, 3, true, 4)), ErrorCode.TRANSACTION_COORDINATOR_FENCED)
  // A bumped epoch from the coordinator (fencing) is accepted and becomes the producer's epoch.
  assert.deepEqual(log.marker(1, 4, false, 5), { kind: 'appended', first: 2 })
  assert.equal(state.entry(1)?.producerEpoch, 4)
})

test('producer.id.expiration.ms drops idle producers, never one with an open transaction', () => {
  const state = manager(60_000)
  const log = appender(state)
  log.append(batch(1, 0, 0, 1, { maxTimestamp: 1_000 }))
  log.append(batch(2, 0, 0, 1, { maxTimestamp: 1_000, isTransactional: true }))
  log.append(batch(3, 0, 0, 1, { maxTimestamp: 50_000 }))
  assert.equal(state.removeExpiredProducers(60_999), 0)
  assert.equal(state.removeExpiredProducers(61_000), 1)
  assert.deepEqual(
    state
      .activeProducers()
      .map((p) => p.producerId)
      .sort(),
    [2, 3],
  )
  // An expired producer is unknown again: any sequence is accepted.
  assert.equal(state.checkAppend(batch(1, 0, 17)).kind, 'append')
})

test('snapshot and restore keep producers, batches, open transactions and the aborted list', () => {
  const state = manager()
  const log = appender(state)
  for (let i = 0; i < 7; i++) log.append(batch(1, 2, i * 3, 3))
  log.append(batch(5, 0, 0, 2, { isTransactional: true }))
  log.marker(5, 0, false, 3)
  log.append(batch(6, 1, 0, 1, { isTransactional: true }))

  const restored = manager()
  restored.restore(state.snapshot())
  assert.deepEqual(restored.activeProducers(), state.activeProducers())
  assert.equal(restored.firstUndecidedOffset(), state.firstUndecidedOffset())
  assert.deepEqual(restored.abortedTransactions(0, 1000), state.abortedTransactions(0, 1000))
  assert.equal(restored.checkAppend(batch(1, 2, 18, 3)).kind, 'duplicate')
  assert.equal(restored.entry(1)?.batches.length, 5)

  const corrupt = state.snapshot()
  corrupt[corrupt.length - 3] ^= 0xff
  assert.throws(() => manager().restore(corrupt), SnapshotError)
  assert.throws(() => manager().restore(corrupt.subarray(0, 5)), SnapshotError)
})
