import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { LogStore, PartitionLog } from '../../src/storage/types.js'
import { backends, baseOffsetOf, logConfig, makeBatch, topic } from './fixtures.js'

const T0 = 1_700_000_000_000
/** 61-byte header + 200 bytes: three one-record batches fill a 1000-byte segment, a fourth rolls. */
const BATCH_BYTES = 261
const NO_LIMIT = { retentionMs: -1, retentionBytes: -1, now: T0 }

for (const makeBackend of backends) {
  const backend = makeBackend()

  describe(`log start offset (DeleteRecords) and size: ${backend.name}`, () => {
    let store: LogStore

    beforeEach(async () => {
      store = await backend.setup({ now: () => T0 })
    })

    afterEach(async () => {
      await backend.teardown()
    })

    function open(): Promise<PartitionLog> {
      return store.openPartition(topic(), 0, logConfig({ segmentBytes: 1000 }))
    }

    /** Ten one-record batches: segments [0-2] [3-5] [6-8] and the active [9]. */
    async function seeded(): Promise<PartitionLog> {
      const log = await open()
      for (let i = 0; i < 10; i++) {
        await log.append([makeBatch({ payloadBytes: 200, fill: i, maxTimestamp: T0 + i })])
      }
      return log
    }

    it('size counts the bytes of every batch, and drops with the segments retention deletes', async () => {
      const empty = await open()
      assert.equal(empty.size(), 0)
      const log = await seeded()
      assert.equal(log.size(), 10 * BATCH_BYTES)
      await log.advanceLogStartOffset(6)
      // Moving the start deletes nothing by itself: the bytes stay until retention runs.
      assert.equal(log.size(), 10 * BATCH_BYTES)
      await log.deleteRetained(NO_LIMIT)
      assert.equal(log.size(), 4 * BATCH_BYTES)
    })

    it('moves the start at once, never back, and not past the log end', async () => {
      const log = await seeded()
      await log.advanceLogStartOffset(4)
      assert.equal(log.logStartOffset, 4)
      assert.equal(log.logEndOffset, 10)
      const { batches } = await log.read(4, 1 << 20)
      assert.equal(baseOffsetOf(batches[0]), 4)

      await log.advanceLogStartOffset(2)
      assert.equal(log.logStartOffset, 4)
      await assert.rejects(log.advanceLogStartOffset(11), RangeError)
      assert.equal(log.logStartOffset, 4)

      // Up to the log end empties the log for readers; appends carry on from there.
      await log.advanceLogStartOffset(10)
      assert.equal(log.logStartOffset, 10)
      assert.deepEqual(await log.append([makeBatch({ records: 2 })]), { baseOffset: 10, lastOffset: 11 })
      assert.equal(log.logStartOffset, 10)
    })

    it('the next retention pass deletes the segments wholly below the start, keeping the start', async () => {
      const log = await seeded()
      await log.advanceLogStartOffset(7)
      const result = await log.deleteRetained(NO_LIMIT)
      // [0-2] and [3-5] lie wholly below 7; [6-8] holds offset 7 and stays, the start stays 7.
      assert.deepEqual(result, { deletedSegments: 2, deletedBytes: 6 * BATCH_BYTES, logStartOffset: 7 })
      assert.equal(log.logStartOffset, 7)
      const { batches } = await log.read(7, 1 << 20)
      assert.deepEqual(batches.map(baseOffsetOf), [7, 8, 9])
    })

    it('lookups by timestamp and time bounds still answer while old segments wait for retention', async () => {
      const log = await seeded()
      await log.advanceLogStartOffset(5)
      // The backend answers by batch; the broker keeps answers at or above the start (list-offsets).
      assert.deepEqual(await log.offsetForTimestamp(T0 + 5), { offset: 5, timestamp: T0 + 5 })
      assert.deepEqual(await log.maxTimestamp(), { offset: 9, timestamp: T0 + 9 })
    })

    it('the start survives a reopen, and with it the segments retention keeps', async () => {
      let log = await seeded()
      await log.advanceLogStartOffset(5)
      store = await backend.reopen(store)
      log = await open()
      assert.equal(log.logStartOffset, 5)
      assert.equal(log.logEndOffset, 10)
      assert.equal(log.size(), 10 * BATCH_BYTES)
      const result = await log.deleteRetained(NO_LIMIT)
      assert.equal(result.deletedSegments, 1)
      assert.equal(log.logStartOffset, 5)

      // A start at the log end survives too, and the log goes on from there.
      await log.advanceLogStartOffset(10)
      store = await backend.reopen(store)
      log = await open()
      assert.equal(log.logStartOffset, 10)
      assert.equal(log.logEndOffset, 10)
      assert.deepEqual(await log.append([makeBatch()]), { baseOffset: 10, lastOffset: 10 })
    })

    it('advances made while a retention pass runs all land, the highest last', async () => {
      const log = await seeded()
      const runs = [
        log.advanceLogStartOffset(3),
        log.deleteRetained(NO_LIMIT),
        log.advanceLogStartOffset(8),
        log.advanceLogStartOffset(6),
        log.deleteRetained(NO_LIMIT),
      ]
      await Promise.all(runs)
      assert.equal(log.logStartOffset, 8)
      store = await backend.reopen(store)
      const reopened = await open()
      assert.equal(reopened.logStartOffset, 8)
      assert.equal(reopened.size(), 4 * BATCH_BYTES)
    })

    it('a closed log refuses to move its start', async () => {
      const log = await seeded()
      await log.close()
      await assert.rejects(log.advanceLogStartOffset(1))
    })
  })
}
