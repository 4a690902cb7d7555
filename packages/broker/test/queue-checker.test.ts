// The queue checker must catch every anomaly it names, and pass a clean history.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type History, type Send, checkQueue } from './support/queue-checker.js'

function send(value: string, seq: number, extra: Partial<Send> = {}): Send {
  return { producer: 'p', seq, partition: 't-0', value, outcome: 'ok', txn: null, ...extra }
}

function history(
  sends: Send[],
  reads: [number, string][][],
  txns: [string, 'committed' | 'aborted' | 'unknown'][] = [],
): History {
  return {
    sends,
    txns: new Map(txns),
    polls: reads.map((records) => ({
      consumer: 'c',
      partition: 't-0',
      records: records.map(([offset, value]) => ({ offset, value })),
    })),
  }
}

test('a clean history: committed and acknowledged values read once, in order; aborted ones never', () => {
  const h = history(
    [
      send('a', 0, { offset: 0 }),
      send('b', 1, { offset: 1, txn: 'T1' }),
      send('c', 2, { offset: 2, txn: 'T2' }),
      send('d', 3, { offset: 4, txn: 'T3' }),
      send('e', 4, { outcome: 'unknown' }),
      send('f', 5, { outcome: 'fail' }),
    ],
    // Offsets 3 and 5 are markers; a second consumer reads it all again.
    [
      [
        [0, 'a'],
        [1, 'b'],
      ],
      [[4, 'd']],
      [
        [0, 'a'],
        [1, 'b'],
        [4, 'd'],
      ],
    ],
    [
      ['T1', 'committed'],
      ['T2', 'aborted'],
      ['T3', 'committed'],
    ],
  )
  const r = checkQueue(h)
  assert.equal(r.valid, true)
  assert.deepEqual(
    [r.lost, r.unseen, r.duplicate, r.outOfOrder, r.abortedRead, r.inconsistent],
    [[], [], [], [], [], []],
  )
  assert.deepEqual(r.stats, { sends: 6, mustBeVisible: 3, readValues: 3, polls: 3 })
})

test('lost: an acknowledged value missing although reads went past it', () => {
  const r = checkQueue(history([send('a', 0, { offset: 0 }), send('b', 1, { offset: 1 })], [[[1, 'b']]]))
  assert.equal(r.valid, false)
  assert.deepEqual(
    r.lost.map((a) => a.value),
    ['a'],
  )
  // Without offsets, a later value of the same producer being read proves the loss too.
  const noOffsets = checkQueue(
    history([send('a', 0, { txn: 'T' }), send('b', 1, { txn: 'T' })], [[[7, 'b']]], [['T', 'committed']]),
  )
  assert.deepEqual(
    noOffsets.lost.map((a) => a.value),
    ['a'],
  )
})

test('unseen: a committed value the reads never reached is listed, but does not fail the check', () => {
  const r = checkQueue(history([send('a', 0, { offset: 0 }), send('b', 1, { offset: 1 })], [[[0, 'a']]]))
  assert.equal(r.valid, true)
  assert.deepEqual(
    r.unseen.map((a) => a.value),
    ['b'],
  )
  assert.deepEqual(r.lost, [])
})

test('duplicate: one value stored at two offsets', () => {
  const r = checkQueue(
    history(
      [send('a', 0), send('b', 1)],
      [
        [
          [0, 'a'],
          [1, 'a'],
          [2, 'b'],
        ],
      ],
    ),
  )
  assert.equal(r.valid, false)
  assert.deepEqual(
    r.duplicate.map((a) => [a.value, a.offsets]),
    [['a', [0, 1]]],
  )
})

test('reading one offset twice (a re-delivery) is not a duplicate', () => {
  const r = checkQueue(history([send('a', 0)], [[[0, 'a']], [[0, 'a']]]))
  assert.equal(r.valid, true)
})

test("out of order: a producer's values stored in another order, or a poll going backwards", () => {
  const reordered = checkQueue(
    history(
      [send('a', 0), send('b', 1)],
      [
        [
          [0, 'b'],
          [1, 'a'],
        ],
      ],
    ),
  )
  assert.equal(reordered.valid, false)
  assert.equal(reordered.outOfOrder.length, 1)
  assert.match(reordered.outOfOrder[0].detail, /sent "a" before "b"/)
  const backwards = checkQueue(
    history(
      [send('a', 0), send('b', 1)],
      [
        [
          [1, 'b'],
          [0, 'a'],
        ],
      ],
    ),
  )
  assert.ok(backwards.outOfOrder.some((a) => /in one poll/.test(a.detail)))
  // Different producers may interleave freely.
  const two = checkQueue(
    history(
      [send('a', 0), send('b', 0, { producer: 'q' })],
      [
        [
          [0, 'b'],
          [1, 'a'],
        ],
      ],
    ),
  )
  assert.equal(two.valid, true)
})

test('aborted read: a value of an aborted transaction, a failed send, or never sent', () => {
  const aborted = checkQueue(history([send('a', 0, { txn: 'T' })], [[[0, 'a']]], [['T', 'aborted']]))
  assert.equal(aborted.valid, false)
  assert.match(aborted.abortedRead[0].detail, /aborted transaction T/)
  const failed = checkQueue(history([send('a', 0, { outcome: 'fail' })], [[[0, 'a']]]))
  assert.match(failed.abortedRead[0].detail, /send failed/)
  const phantom = checkQueue(history([], [[[0, 'zzz']]]))
  assert.match(phantom.abortedRead[0].detail, /never sent/)
  // Unknown outcomes may go either way.
  const unknown = checkQueue(
    history(
      [send('a', 0, { txn: 'T' }), send('b', 1, { outcome: 'unknown' })],
      [
        [
          [0, 'a'],
          [1, 'b'],
        ],
      ],
      [['T', 'unknown']],
    ),
  )
  assert.equal(unknown.valid, true)
})

test('inconsistent: two reads disagree about an offset', () => {
  const r = checkQueue(history([send('a', 0), send('b', 1)], [[[0, 'a']], [[0, 'b']]]))
  assert.equal(r.valid, false)
  assert.equal(r.inconsistent.length, 1)
})
