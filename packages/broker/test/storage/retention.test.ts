import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { type LogIo, defaultLogIo } from '../../src/log/file-io.js'
import { openFileStore } from '../../src/storage/file.js'
import type { LogConfig, LogStore, PartitionLog } from '../../src/storage/types.js'
import {
  backends,
  baseOffsetOf,
  captureLogger,
  lastOffsetOf,
  logConfig,
  makeBatch,
  tempDir,
  topic,
} from './fixtures.js'

const T0 = 1_700_000_000_000
/** 61-byte header + 200 bytes: three batches fit a 1000-byte segment, a fourth rolls. */
const BATCH_BYTES = 261
const SEGMENT_BYTES = 1000
const SEGMENT_OF_THREE = 3 * BATCH_BYTES
const NO_LIMIT = -1

/** Base offsets of every batch from `from` to the log end. */
async function offsets(log: PartitionLog, from = log.logStartOffset): Promise<number[]> {
  const out: number[] = []
  let offset = from
  while (offset < log.logEndOffset) {
    const { batches } = await log.read(offset, 1 << 20)
    assert.ok(batches.length > 0, `read(${offset}) returned nothing`)
    out.push(...batches.map(baseOffsetOf))
    offset = lastOffsetOf(batches[batches.length - 1]) + 1
  }
  return out
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

for (const makeBackend of backends) {
  const backend = makeBackend()

  describe(`retention (cleanup.policy=delete): ${backend.name}`, () => {
    let store: LogStore
    let clock = T0

    beforeEach(async () => {
      clock = T0
      store = await backend.setup({ now: () => clock })
    })

    afterEach(async () => {
      await backend.teardown()
    })

    function open(config: Partial<LogConfig> = {}): Promise<PartitionLog> {
      return store.openPartition(topic(), 0, logConfig({ segmentBytes: SEGMENT_BYTES, ...config }))
    }

    /**
     * Twelve one-record batches, offset i with timestamp T0 + i s: segments [0-2] [3-5] [6-8] and
     * the active [9-11], whose largest timestamps are T0 + 2, 5, 8 and 11 s.
     */
    async function seeded(config: Partial<LogConfig> = {}, timestamps = range(0, 12)): Promise<PartitionLog> {
      const log = await open(config)
      for (const [i, seconds] of timestamps.entries()) {
        await log.append([makeBatch({ payloadBytes: 200, fill: i, maxTimestamp: T0 + seconds * 1000 })])
      }
      assert.equal(log.logEndOffset, 12)
      return log
    }

    function segmentFiles(): string[] | null {
      const dataDir = backend.dataDir()
      if (dataDir === null) return null
      return fs
        .readdirSync(path.join(dataDir, 'events-0'))
        .filter((name) => name.endsWith('.log'))
        .sort()
    }

    it('deletes nothing from an empty log or within the limits', async () => {
      const empty = await open()
      assert.deepEqual(await empty.deleteRetained({ retentionMs: 1, retentionBytes: 0, now: T0 }), {
        deletedSegments: 0,
        deletedBytes: 0,
        logStartOffset: 0,
      })
      const log = await seeded()
      const none = { deletedSegments: 0, deletedBytes: 0, logStartOffset: 0 }
      assert.deepEqual(
        await log.deleteRetained({ retentionMs: NO_LIMIT, retentionBytes: NO_LIMIT, now: T0 * 2 }),
        none,
      )
      // retention.ms is a strict bound: a segment exactly retention.ms old stays.
      assert.deepEqual(
        await log.deleteRetained({ retentionMs: 3000, retentionBytes: 12 * BATCH_BYTES, now: T0 + 5000 }),
        none,
      )
      assert.deepEqual(await offsets(log), range(0, 12))
    })

    it('deletes whole segments whose largest timestamp is past retention.ms', async () => {
      const log = await seeded()
      // now - 10 s = T0 + 5.5 s: segments [0-2] (T0 + 2 s) and [3-5] (T0 + 5 s) are older; [6-8] is not.
      const result = await log.deleteRetained({
        retentionMs: 10_000,
        retentionBytes: NO_LIMIT,
        now: T0 + 15_500,
      })
      assert.deepEqual(result, { deletedSegments: 2, deletedBytes: 2 * SEGMENT_OF_THREE, logStartOffset: 6 })
      assert.equal(log.logStartOffset, 6)
      assert.equal(log.logEndOffset, 12)
      assert.deepEqual(await offsets(log), range(6, 12))
      // Reads at the new start return its batch; timestamp lookups see only what remains.
      assert.deepEqual((await log.read(6, 1)).batches.map(baseOffsetOf), [6])
      assert.deepEqual(await log.offsetForTimestamp(0), { offset: 6, timestamp: T0 + 6000 })
      assert.deepEqual(await log.maxTimestamp(), { offset: 11, timestamp: T0 + 11_000 })
      const files = segmentFiles()
      if (files !== null) assert.deepEqual(files, ['00000000000000000006.log', '00000000000000000009.log'])
    })

    it('stops at the first segment retention.ms keeps, even when later ones are older', async () => {
      // A producer with a fast clock: [3-5] has timestamps an hour ahead.
      const log = await seeded({}, [0, 1, 2, 3600, 3601, 3602, 6, 7, 8, 9, 10, 11])
      const result = await log.deleteRetained({
        retentionMs: 1000,
        retentionBytes: NO_LIMIT,
        now: T0 + 60_000,
      })
      assert.deepEqual(result, { deletedSegments: 1, deletedBytes: SEGMENT_OF_THREE, logStartOffset: 3 })
      assert.deepEqual(await offsets(log), range(3, 12))
    })

    it('deletes the oldest segments while the rest stays at least retention.bytes', async () => {
      const log = await seeded()
      // 12 batches; a 5-batch limit: [0-2] and [3-5] go (6 batches remain), [6-8] would leave 3.
      const retentionBytes = 5 * BATCH_BYTES
      const result = await log.deleteRetained({ retentionMs: NO_LIMIT, retentionBytes, now: T0 })
      assert.deepEqual(result, { deletedSegments: 2, deletedBytes: 2 * SEGMENT_OF_THREE, logStartOffset: 6 })
      const remaining = (await log.read(6, 1 << 20)).bytes
      assert.equal(remaining, 6 * BATCH_BYTES)
      assert.ok(remaining >= retentionBytes && remaining - SEGMENT_OF_THREE < retentionBytes)
      assert.deepEqual(await offsets(log), range(6, 12))
      // Limits combine: time takes [6-8] too once it is old enough.
      const more = await log.deleteRetained({ retentionMs: 1000, retentionBytes, now: T0 + 9500 })
      assert.deepEqual(more, { deletedSegments: 1, deletedBytes: SEGMENT_OF_THREE, logStartOffset: 9 })
    })

    it('keeps the active segment while any of its batches is within retention.ms', async () => {
      const log = await seeded()
      // Only offset 11 (T0 + 11 s) is younger than now - 1 s.
      const result = await log.deleteRetained({
        retentionMs: 1000,
        retentionBytes: NO_LIMIT,
        now: T0 + 11_500,
      })
      assert.deepEqual(result, { deletedSegments: 3, deletedBytes: 3 * SEGMENT_OF_THREE, logStartOffset: 9 })
      assert.deepEqual(await offsets(log), [9, 10, 11])
    })

    it('rolls an expired active segment and deletes it, leaving an empty log at the end offset', async () => {
      const log = await seeded()
      const result = await log.deleteRetained({
        retentionMs: 1000,
        retentionBytes: NO_LIMIT,
        now: T0 + 60_000,
      })
      assert.deepEqual(result, { deletedSegments: 4, deletedBytes: 12 * BATCH_BYTES, logStartOffset: 12 })
      assert.equal(log.logStartOffset, 12)
      assert.equal(log.logEndOffset, 12)
      assert.deepEqual((await log.read(12, 1 << 20)).batches, [])
      assert.equal(await log.offsetForTimestamp(0), null)
      assert.equal(await log.maxTimestamp(), null)
      const files = segmentFiles()
      if (files !== null) assert.deepEqual(files, ['00000000000000000012.log'])
      // The empty active segment is never deleted; appends continue at the end offset.
      const again = await log.deleteRetained({ retentionMs: 1000, retentionBytes: 0, now: T0 + 120_000 })
      assert.deepEqual(again, { deletedSegments: 0, deletedBytes: 0, logStartOffset: 12 })
      assert.deepEqual(await log.append([makeBatch({ records: 2, maxTimestamp: T0 + 120_000 })]), {
        baseOffset: 12,
        lastOffset: 13,
      })
      assert.deepEqual(await offsets(log), [12])
    })

    it('deletes everything, the active segment included, with retention.bytes=0', async () => {
      const log = await seeded()
      const result = await log.deleteRetained({ retentionMs: NO_LIMIT, retentionBytes: 0, now: T0 })
      assert.deepEqual(result, { deletedSegments: 4, deletedBytes: 12 * BATCH_BYTES, logStartOffset: 12 })
    })

    it('keeps the log start offset across close and reopen', async () => {
      let log = await seeded()
      await log.deleteRetained({ retentionMs: 10_000, retentionBytes: NO_LIMIT, now: T0 + 15_500 })
      store = await backend.reopen(store)
      log = await open()
      assert.equal(log.logStartOffset, 6)
      assert.equal(log.logEndOffset, 12)
      assert.deepEqual(await offsets(log), range(6, 12))

      await log.deleteRetained({ retentionMs: 1000, retentionBytes: NO_LIMIT, now: T0 + 60_000 })
      store = await backend.reopen(store)
      log = await open()
      assert.equal(log.logStartOffset, 12)
      assert.equal(log.logEndOffset, 12)
      assert.deepEqual((await log.append([makeBatch()])).baseOffset, 12)
    })

    it('follows a config change: segments roll at the new segment.bytes', async () => {
      const log = await open({ segmentBytes: 1 << 20 })
      for (let i = 0; i < 3; i++) await log.append([makeBatch({ payloadBytes: 200, maxTimestamp: T0 })])
      log.updateConfig(logConfig({ segmentBytes: SEGMENT_BYTES }))
      // The first segment is now full: offsets 3-5 roll a new one, and offset 6 another.
      for (let i = 0; i < 4; i++)
        await log.append([makeBatch({ payloadBytes: 200, maxTimestamp: T0 + 10_000 })])
      const result = await log.deleteRetained({ retentionMs: 5000, retentionBytes: NO_LIMIT, now: T0 + 9000 })
      assert.deepEqual(result, { deletedSegments: 1, deletedBytes: SEGMENT_OF_THREE, logStartOffset: 3 })
    })

    it('deletes segments rolled by segment.ms', async () => {
      const log = await open({ segmentBytes: 1 << 20, segmentMs: 1000 })
      await log.append([makeBatch({ maxTimestamp: T0 - 3_600_000 })])
      clock += 1001
      await log.append([makeBatch({ maxTimestamp: T0 - 3_600_000 })])
      clock += 1001
      await log.append([makeBatch({ maxTimestamp: clock })])
      const result = await log.deleteRetained({ retentionMs: 60_000, retentionBytes: NO_LIMIT, now: clock })
      assert.equal(result.deletedSegments, 2)
      assert.equal(result.logStartOffset, 2)
      assert.deepEqual(await offsets(log), [2])
    })

    it('serves reads and appends that interleave with deletion', async () => {
      const log = await seeded({ flushMessages: 1 })
      const work: Promise<unknown>[] = []
      for (let i = 0; i < 20; i++) {
        work.push(log.read(Math.max(log.logStartOffset, i % 12), 1 << 20))
        work.push(log.append([makeBatch({ maxTimestamp: T0 + 100_000 })], { sync: i % 2 === 0 }))
        if (i % 5 === 0) {
          work.push(log.deleteRetained({ retentionMs: 1000, retentionBytes: NO_LIMIT, now: T0 + 60_000 }))
        }
      }
      await Promise.all(work)
      // The first new batch joined the active segment [9-11], which therefore stays.
      assert.equal(log.logEndOffset, 32)
      assert.equal(log.logStartOffset, 9)
      assert.deepEqual(await offsets(log), range(9, 32))
    })
  })
}

describe('retention: file backend specifics', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>
  let stores: LogStore[]
  let capture: ReturnType<typeof captureLogger>

  beforeEach(async () => {
    temp = await tempDir()
    stores = []
    capture = captureLogger()
  })

  afterEach(async () => {
    for (const store of stores) await store.close().catch(() => {})
    await temp.remove()
  })

  async function openLog(io?: LogIo): Promise<{ store: LogStore; log: PartitionLog }> {
    const store = await openFileStore({ dataDir: temp.dir, logger: capture.logger, io })
    stores.push(store)
    return { store, log: await store.openPartition(topic(), 0, logConfig({ segmentBytes: SEGMENT_BYTES })) }
  }

  async function fill(log: PartitionLog, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await log.append([makeBatch({ payloadBytes: 200, maxTimestamp: T0 + i * 1000 })])
    }
  }

  const checkpoint = () => path.join(temp.dir, 'events-0', 'log-start-offset-checkpoint')

  it('writes the log start offset checkpoint', async () => {
    const { log } = await openLog()
    await fill(log, 12)
    await log.deleteRetained({ retentionMs: NO_LIMIT, retentionBytes: 6 * BATCH_BYTES, now: T0 })
    assert.equal(fs.readFileSync(checkpoint(), 'utf8'), '0\n6\n')
    assert.deepEqual(fs.readdirSync(path.join(temp.dir, 'events-0')).sort(), [
      '00000000000000000006.index',
      '00000000000000000006.log',
      '00000000000000000006.timeindex',
      '00000000000000000009.log',
      'log-start-offset-checkpoint',
      'partition.metadata',
    ])
  })

  it('reopens at a checkpointed start offset inside the first segment', async () => {
    const first = await openLog()
    await fill(first.log, 12)
    await first.store.close()
    // As DeleteRecords (or a crash between checkpoint and unlink) would leave it.
    fs.writeFileSync(checkpoint(), '0\n5\n')
    const { log } = await openLog()
    assert.equal(log.logStartOffset, 5)
    assert.equal(log.logEndOffset, 12)
    // Segments wholly below the start offset go on the next run, whatever the limits.
    const result = await log.deleteRetained({ retentionMs: NO_LIMIT, retentionBytes: NO_LIMIT, now: T0 })
    assert.deepEqual(result, { deletedSegments: 1, deletedBytes: SEGMENT_OF_THREE, logStartOffset: 5 })
    assert.deepEqual((await log.read(5, 1)).batches.map(baseOffsetOf), [5])
  })

  it('starts empty at the checkpoint when recovery left the log end below it', async () => {
    const first = await openLog()
    await fill(first.log, 4)
    await first.store.close()
    fs.writeFileSync(checkpoint(), '0\n100\n')
    const { log } = await openLog()
    assert.equal(log.logStartOffset, 100)
    assert.equal(log.logEndOffset, 100)
    assert.deepEqual(
      fs.readdirSync(path.join(temp.dir, 'events-0')).filter((name) => name.endsWith('.log')),
      ['00000000000000000100.log'],
    )
    assert.ok(capture.lines.some((line) => String(line.msg).includes('below the log start offset')))
    assert.equal((await log.append([makeBatch()])).baseOffset, 100)
  })

  it('ignores a malformed checkpoint', async () => {
    const first = await openLog()
    await fill(first.log, 4)
    await first.store.close()
    fs.writeFileSync(checkpoint(), 'garbage')
    const { log } = await openLog()
    assert.equal(log.logStartOffset, 0)
    assert.ok(
      capture.lines.some((line) => String(line.msg).includes('malformed log start offset checkpoint')),
    )
  })

  it('closes a deleted segment only after an fsync in flight on it ends', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let gated = -1
    const io: LogIo = {
      writev: defaultLogIo.writev,
      // Fsyncs of the first segment's .log wait at the gate; the others (indexes, directory) do not.
      fsync: async (fd) => {
        if (fs.fstatSync(fd).ino === gated) await gate
        return defaultLogIo.fsync(fd)
      },
    }
    const { log } = await openLog(io)
    gated = fs.statSync(path.join(temp.dir, 'events-0', '00000000000000000000.log')).ino
    // The fourth batch rolls [0-2], whose fsync starts in the background and waits at the gate.
    for (let i = 0; i < 4; i++) {
      await log.append([makeBatch({ payloadBytes: 200, maxTimestamp: T0 })])
    }
    const deleting = log.deleteRetained({ retentionMs: NO_LIMIT, retentionBytes: BATCH_BYTES, now: T0 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    release()
    assert.deepEqual(await deleting, {
      deletedSegments: 1,
      deletedBytes: SEGMENT_OF_THREE,
      logStartOffset: 3,
    })
    // Had the descriptor been closed under the fsync, the fsync would have failed and the log gone offline.
    await log.flush()
    assert.equal((await log.append([makeBatch()], { sync: true })).baseOffset, 4)
    assert.deepEqual(capture.lines, [])
  })
})
