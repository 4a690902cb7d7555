import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import {
  BatchAttributes,
  BatchHeader,
  Compression,
  type CompressionType,
  ControlRecordType,
  decodeRecordBatchesSync,
  encodeRecordBatchSync,
  endTxnMarker,
  readInt64,
} from '@fluxo/protocol'
import { OffsetMap } from '../../src/log/offset-map.js'
import { openFileStore } from '../../src/storage/file.js'
import type { CleanOptions, LogConfig, LogStore, PartitionLog } from '../../src/storage/types.js'
import { backends, captureLogger, lastOffsetOf, logConfig, topic } from './fixtures.js'

const T0 = 1_700_000_000_000
const DAY_MS = 86_400_000
/** About a dozen one-record batches per segment. */
const SEGMENT_BYTES = 1000

interface Rec {
  offset: number
  key: string | null
  value: string | null
}

type Input = [key: string | null, value: string | null]

function cleanOptions(overrides: Partial<CleanOptions> = {}): CleanOptions {
  return {
    now: T0,
    minCompactionLagMs: 0,
    maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
    minCleanableDirtyRatio: 0.5,
    deleteRetentionMs: DAY_MS,
    offsetMap: new OffsetMap(1 << 16),
    ioBufferSize: 64 << 10,
    ...overrides,
  }
}

function batchOf(
  records: Input[],
  options: { timestamp?: number; compression?: CompressionType } = {},
): Buffer {
  return encodeRecordBatchSync({
    compression: options.compression,
    records: records.map(([key, value]) => ({
      key: key === null ? null : Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      timestamp: options.timestamp ?? T0,
    })),
  })
}

/** Appends one batch per record (or per `perBatch` records); returns what was appended with offsets. */
async function append(
  log: PartitionLog,
  inputs: Input[],
  options: { perBatch?: number; timestamp?: (offset: number) => number; compression?: CompressionType } = {},
): Promise<Rec[]> {
  const out: Rec[] = []
  const perBatch = options.perBatch ?? 1
  for (let i = 0; i < inputs.length; i += perBatch) {
    const chunk = inputs.slice(i, i + perBatch)
    const offset = log.logEndOffset
    const { baseOffset } = await log.append([
      batchOf(chunk, { timestamp: options.timestamp?.(offset), compression: options.compression }),
    ])
    chunk.forEach(([key, value], j) => out.push({ offset: baseOffset + j, key, value }))
  }
  return out
}

/** Every record from the log start on, read the way a consumer reads across offset gaps. */
async function readAll(log: PartitionLog): Promise<Rec[]> {
  const out: Rec[] = []
  let offset = log.logStartOffset
  while (offset < log.logEndOffset) {
    const { batches } = await log.read(offset, 1 << 20)
    assert.ok(batches.length > 0, `read(${offset}) returned nothing below the log end ${log.logEndOffset}`)
    for (const batch of batches) {
      for (const b of decodeRecordBatchesSync(batch)) {
        for (const r of b.records) {
          out.push({
            offset: r.offset,
            key: r.key === null ? null : r.key.toString(),
            value: r.value === null ? null : r.value.toString(),
          })
        }
      }
      offset = lastOffsetOf(batch) + 1
    }
  }
  return out
}

/** Raw batches from `from` to the log end. */
async function readBatches(log: PartitionLog, from: number): Promise<Buffer[]> {
  const out: Buffer[] = []
  let offset = from
  while (offset < log.logEndOffset) {
    const { batches } = await log.read(offset, 1 << 20)
    for (const batch of batches) out.push(Buffer.from(batch))
    offset = lastOffsetOf(batches[batches.length - 1]) + 1
  }
  return out
}

/**
 * What one complete clean of [0, cleanedBelow) leaves: there, the latest record of each key (keyless
 * records go; tombstones go when `dropTombstones`); from cleanedBelow on, everything.
 */
function compacted(records: Rec[], cleanedBelow: number, dropTombstones = false): Rec[] {
  const latest = new Map<string, number>()
  for (const r of records) if (r.offset < cleanedBelow && r.key !== null) latest.set(r.key, r.offset)
  return records.filter((r) => {
    if (r.offset >= cleanedBelow) return true
    if (r.key === null || latest.get(r.key) !== r.offset) return false
    return !(dropTombstones && r.value === null)
  })
}

/** Last value per key, in the order a consumer applying the log would end with. */
function finalValues(records: Rec[]): Map<string | null, string | null> {
  const out = new Map<string | null, string | null>()
  for (const r of records) out.set(r.key, r.value)
  return out
}

const cycle = (count: number, keys: number, prefix = 'v'): Input[] =>
  Array.from({ length: count }, (_, i) => [`k${i % keys}`, `${prefix}${i}`])

describe('OffsetMap', () => {
  it('maps keys to their latest offset in a fixed table and reports itself full', () => {
    const map = new OffsetMap(11 * OffsetMap.BYTES_PER_ENTRY)
    assert.equal(map.slots, 11)
    assert.equal(map.maxEntries, 9, '0.9 load factor')
    assert.equal(map.memoryBytes, 11 * 24)
    for (let i = 0; i < 9; i++) assert.equal(map.put(Buffer.from(`key-${i}`), i), true)
    assert.equal(map.put(Buffer.from('one-more'), 100), false, 'a new key does not fit')
    assert.equal(map.get(Buffer.from('one-more')), -1)
    assert.equal(map.put(Buffer.from('key-3'), 2 ** 40), true, 'an existing key is updated when full')
    assert.equal(map.get(Buffer.from('key-3')), 2 ** 40)
    assert.equal(map.get(Buffer.from('key-8')), 8)
    assert.equal(map.size, 9)
    assert.equal(map.utilization, 1)
    map.clear()
    assert.equal(map.size, 0)
    assert.equal(map.get(Buffer.from('key-3')), -1)
    assert.equal(map.put(Buffer.alloc(0), 0), true, 'the empty key is a key')
    assert.equal(map.get(Buffer.alloc(0)), 0)
  })

  it('sizes its table from the memory it is given (24 bytes a slot, prime slot count)', () => {
    const map = new OffsetMap(128 << 20)
    assert.ok(map.memoryBytes <= 128 << 20)
    assert.ok(map.slots > (128 << 20) / 24 - 100)
    assert.equal(map.maxEntries, Math.floor(map.slots * 0.9))
    assert.throws(() => new OffsetMap(24), RangeError)
  })
})

for (const makeBackend of backends) {
  const backend = makeBackend()

  describe(`compaction (cleanup.policy=compact): ${backend.name}`, () => {
    let store: LogStore

    beforeEach(async () => {
      store = await backend.setup()
    })

    afterEach(async () => {
      await backend.teardown()
    })

    function open(config: Partial<LogConfig> = {}): Promise<PartitionLog> {
      return store.openPartition(topic(), 0, logConfig({ segmentBytes: SEGMENT_BYTES, ...config }))
    }

    function segmentFiles(): string[] | null {
      const dataDir = backend.dataDir()
      if (dataDir === null) return null
      return fs
        .readdirSync(path.join(dataDir, 'events-0'))
        .filter((name) => name.endsWith('.log'))
        .sort()
    }

    it('keeps the latest record of each key below the active segment; offsets stay, reads skip the gaps', async () => {
      const log = await open()
      const records = await append(log, cycle(100, 10), { timestamp: (offset) => T0 + offset })
      const before = await log.compactionStatus(cleanOptions())
      const activeBase = before.firstUncleanableOffset
      assert.ok(activeBase > 80 && activeBase < 100, `active segment starts at ${activeBase}`)
      assert.equal(before.firstDirtyOffset, 0)
      assert.equal(before.cleanBytes, 0)
      assert.equal(before.dirtyRatio, 1)
      assert.equal(before.due, true)

      const result = await log.clean(cleanOptions())
      assert.equal(result.cleaned, true)
      assert.equal(result.firstDirtyOffset, activeBase)
      assert.equal(result.recordsRead, activeBase)
      assert.equal(result.recordsRemoved, activeBase - 10)
      assert.ok(result.bytesWritten < result.bytesRead / 5)
      const expected = compacted(records, activeBase)
      assert.deepEqual(await readAll(log), expected)
      assert.equal(log.logStartOffset, 0)
      assert.equal(log.logEndOffset, 100)

      // A fetch at a removed offset gets the next batch that stayed.
      const removed = records.find((r) => !expected.some((e) => e.offset === r.offset))!.offset
      const next = expected.find((e) => e.offset > removed)!.offset
      const { batches } = await log.read(removed, 1)
      assert.equal(readInt64(batches[0], 0), next)
      // Timestamp lookups see only what stayed.
      assert.deepEqual(await log.offsetForTimestamp(T0 + removed), {
        offset: next,
        timestamp: T0 + next,
      })

      // Nothing dirty left: not due. A forced second pass merges the small segments it left.
      const after = await log.compactionStatus(cleanOptions())
      assert.equal(after.firstDirtyOffset, activeBase)
      assert.equal(after.cleanableBytes, 0)
      assert.equal(after.due, false)
      assert.equal((await log.clean(cleanOptions())).cleaned, false)
      const filesBefore = segmentFiles()
      const second = await log.clean(cleanOptions({ force: true }))
      assert.equal(second.cleaned, true)
      assert.equal(second.recordsRemoved, 0)
      assert.deepEqual(await readAll(log), expected)
      if (filesBefore !== null) {
        assert.deepEqual(segmentFiles(), ['00000000000000000000.log', segmentFileName(activeBase)])
        assert.ok(filesBefore.length > 2)
      }

      // The cleaned log, its checkpoint included, survives a restart.
      store = await backend.reopen(store)
      const reopened = await open()
      assert.deepEqual(await readAll(reopened), expected)
      assert.equal((await reopened.compactionStatus(cleanOptions())).firstDirtyOffset, activeBase)
      assert.deepEqual(await reopened.append([batchOf([['k1', 'after']])]), {
        baseOffset: 100,
        lastOffset: 100,
      })
    })

    it('keeps a tombstone until delete.retention.ms after the clean that first kept it, then drops it', async () => {
      const log = await open()
      const records = [
        ...(await append(log, cycle(30, 3))),
        ...(await append(log, [
          ['k0', null],
          ['k1', null],
          ['k1', 'back'],
        ])),
      ]
      // Roll: a batch too big for the current segment.
      records.push(...(await append(log, [['big', 'x'.repeat(SEGMENT_BYTES)]])))
      const activeBase = (await log.compactionStatus(cleanOptions())).firstUncleanableOffset
      assert.equal(activeBase, 33)

      const t1 = T0 + 1000
      const first = await log.clean(cleanOptions({ now: t1 }))
      assert.equal(first.cleaned, true)
      const kept = compacted(records, activeBase)
      assert.deepEqual(await readAll(log), kept)
      assert.ok(
        kept.some((r) => r.key === 'k0' && r.value === null),
        'tombstone of k0 kept',
      )
      // KIP-534: the batch holding it carries its delete horizon as base timestamp.
      const [tombstoneBatch] = (await log.read(30, 1)).batches
      assert.notEqual(tombstoneBatch.readInt16BE(BatchHeader.attributes) & BatchAttributes.deleteHorizon, 0)
      assert.equal(readInt64(tombstoneBatch, BatchHeader.baseTimestamp), t1 + DAY_MS)
      assert.equal(decodeRecordBatchesSync(tombstoneBatch)[0].records[0].timestamp, T0, 'record time kept')
      const status = await log.compactionStatus(cleanOptions({ now: t1 + DAY_MS - 1 }))
      assert.equal(status.deleteHorizonMs, t1 + DAY_MS)
      assert.equal(status.due, false)
      assert.equal((await log.clean(cleanOptions({ now: t1 + DAY_MS - 1 }))).cleaned, false)

      // The horizon survives a restart, and once it passes a clean is due and drops the tombstone.
      store = await backend.reopen(store)
      const reopened = await open()
      const due = await reopened.compactionStatus(cleanOptions({ now: t1 + DAY_MS }))
      assert.equal(due.deleteHorizonMs, t1 + DAY_MS)
      assert.equal(due.due, true)
      const second = await reopened.clean(cleanOptions({ now: t1 + DAY_MS }))
      assert.equal(second.cleaned, true)
      assert.equal(second.recordsRemoved, 1)
      assert.deepEqual(await readAll(reopened), compacted(records, activeBase, true))
      assert.equal((await reopened.compactionStatus(cleanOptions({ now: t1 + DAY_MS }))).deleteHorizonMs, -1)
    })

    it('cleans in several passes when the dirty keys outgrow the offset map', async () => {
      const log = await open()
      const records = await append(log, cycle(120, 40))
      const activeBase = (await log.compactionStatus(cleanOptions())).firstUncleanableOffset
      const map = new OffsetMap(11 * OffsetMap.BYTES_PER_ENTRY)
      const ends: number[] = []
      for (let pass = 0; pass < 50; pass++) {
        const result = await log.clean(cleanOptions({ offsetMap: map, minCleanableDirtyRatio: 0 }))
        if (!result.cleaned) break
        assert.ok(map.size <= map.maxEntries)
        ends.push(result.firstDirtyOffset)
      }
      assert.ok(ends.length >= 5, `passes ending at ${ends.join(', ')}`)
      assert.deepEqual(
        ends,
        [...ends].sort((a, b) => a - b),
        'each pass starts where the last ended',
      )
      assert.equal(ends[ends.length - 1], activeBase)
      assert.deepEqual(await readAll(log), compacted(records, activeBase))
    })

    it('does not clean segments younger than min.compaction.lag.ms', async () => {
      const log = await open()
      const records = await append(log, cycle(100, 10), { timestamp: (offset) => T0 + offset * 1000 })
      const policy = { now: T0 + 100_000, minCompactionLagMs: 60_000 }
      const status = await log.compactionStatus(cleanOptions(policy))
      // The first segment holding a record newer than now - 60 s (offset 41 on) stops the clean.
      const stop = status.firstUncleanableOffset
      assert.ok(stop > 20 && stop <= 41, `cleaning stops at ${stop}`)
      await log.clean(cleanOptions(policy))
      assert.deepEqual(await readAll(log), compacted(records, stop))
    })

    it('cleans only above min.cleanable.dirty.ratio, or when max.compaction.lag.ms runs out', async () => {
      const log = await open()
      const records = await append(log, cycle(100, 10), { timestamp: (offset) => T0 + offset })
      await log.clean(cleanOptions())
      const more = await append(log, cycle(30, 10, 'w'), { timestamp: (offset) => T0 + offset })
      records.push(...more)
      const status = await log.compactionStatus(cleanOptions())
      assert.ok(status.cleanBytes > 0 && status.cleanableBytes > 0)
      assert.equal(status.dirtyRatio, status.cleanableBytes / (status.cleanBytes + status.cleanableBytes))
      const before = await readAll(log)

      const strict = cleanOptions({ minCleanableDirtyRatio: status.dirtyRatio })
      assert.equal((await log.compactionStatus(strict)).due, false, 'the ratio must exceed the minimum')
      assert.equal((await log.clean(strict)).cleaned, false)
      assert.deepEqual(await readAll(log), before)

      // max.compaction.lag.ms: the dirty segments' first batches are older than now - lag.
      const lagged = cleanOptions({ minCleanableDirtyRatio: 1, maxCompactionLagMs: 1000, now: T0 + 60_000 })
      const forced = await log.compactionStatus(lagged)
      assert.equal(forced.compactionDelayMs, T0 + 59_000 - (T0 + status.firstDirtyOffset))
      assert.equal(forced.due, true)
      const result = await log.clean(lagged)
      assert.equal(result.cleaned, true)
      assert.deepEqual(await readAll(log), compacted(records, forced.firstUncleanableOffset))
    })

    for (const [name, codec] of [
      ['gzip', Compression.gzip],
      ['snappy', Compression.snappy],
      ['lz4', Compression.lz4],
      ['zstd', Compression.zstd],
    ] as const) {
      it(`rewrites ${name} batches with ${name}, readable by any consumer`, async () => {
        const log = await open({ segmentBytes: 2000 })
        const records = await append(log, cycle(200, 7), { perBatch: 5, compression: codec })
        const activeBase = (await log.compactionStatus(cleanOptions())).firstUncleanableOffset
        assert.ok(activeBase >= 100, `active segment starts at ${activeBase}`)
        await log.clean(cleanOptions())
        assert.deepEqual(await readAll(log), compacted(records, activeBase))
        const batches = await readBatches(log, 0)
        for (const batch of batches) {
          assert.equal(batch.readInt16BE(BatchHeader.attributes) & BatchAttributes.compressionMask, codec)
          assert.equal((readInt64(batch, 0) - 0) % 5, 0, 'base offsets kept')
          assert.equal(batch.readInt32BE(BatchHeader.lastOffsetDelta), 4, 'last offset delta kept')
        }
      })
    }

    it('never touches the active segment', async () => {
      const log = await open()
      await append(log, cycle(100, 10))
      const activeBase = (await log.compactionStatus(cleanOptions())).firstUncleanableOffset
      const active = await readBatches(log, activeBase)
      assert.ok(active.length > 1)
      await log.clean(cleanOptions({ force: true }))
      assert.deepEqual(await readBatches(log, activeBase), active)
    })

    it('removes aborted transactional records and lets committed ones supersede older values', async () => {
      const txn = (producerId: number, records: Input[]) =>
        encodeRecordBatchSync({
          isTransactional: true,
          producerId,
          producerEpoch: 0,
          baseSequence: 0,
          records: records.map(([k, v]) => ({ key: Buffer.from(k!), value: Buffer.from(v!), timestamp: T0 })),
        })
      const marker = (producerId: number, type: ControlRecordType) =>
        encodeRecordBatchSync({
          isTransactional: true,
          isControl: true,
          producerId,
          producerEpoch: 0,
          records: [endTxnMarker(type, 0, T0)],
        })
      const run = async (aborted: boolean) => {
        const log = await store.openPartition(
          topic(aborted ? 'with-index' : 'without-index'),
          0,
          logConfig({ segmentBytes: SEGMENT_BYTES }),
        )
        await log.append([batchOf([['y', 'y0']])]) // 0
        await log.append([batchOf([['z', 'z-old']])]) // 1
        await log.append([txn(7, [['y', 'y-aborted']])]) // 2
        await log.append([marker(7, ControlRecordType.abort)]) // 3
        await log.append([txn(8, [['z', 'z-committed']])]) // 4
        await log.append([marker(8, ControlRecordType.commit)]) // 5
        await log.append([batchOf([['big', 'x'.repeat(SEGMENT_BYTES)]])]) // 6: rolls
        const result = await log.clean(
          cleanOptions({
            abortedTransactions: aborted ? [{ producerId: 7, firstOffset: 2, lastOffset: 3 }] : undefined,
          }),
        )
        assert.equal(result.firstDirtyOffset, 6)
        const batches = await readBatches(log, 0)
        return batches.map((b) => {
          const [decoded] = decodeRecordBatchesSync(b)
          return decoded.isControl
            ? `${decoded.baseOffset}:marker`
            : `${decoded.records[0].offset}:${decoded.records[0].value}`
        })
      }
      assert.deepEqual(await run(true), [
        '0:y0',
        '3:marker',
        '4:z-committed',
        '5:marker',
        `6:${'x'.repeat(1000)}`,
      ])
      // Without the aborted list nothing transactional supersedes or goes: safe, merely less compact.
      assert.deepEqual(await run(false), [
        '0:y0',
        '1:z-old',
        '2:y-aborted',
        '3:marker',
        '4:z-committed',
        '5:marker',
        `6:${'x'.repeat(1000)}`,
      ])
    })

    it("keeps a producer's last batch as an empty header so its sequence numbers survive", async () => {
      const log = await open()
      const idempotent = encodeRecordBatchSync({
        producerId: 9,
        producerEpoch: 3,
        baseSequence: 40,
        records: [
          { key: Buffer.from('a'), value: Buffer.from('old'), timestamp: T0 },
          { key: Buffer.from('b'), value: Buffer.from('old'), timestamp: T0 },
        ],
      })
      await log.append([idempotent]) // 0-1
      await append(log, [
        ['a', 'new'],
        ['b', 'new'],
        ['big', 'x'.repeat(SEGMENT_BYTES)],
      ])
      await log.clean(cleanOptions({ producerLastOffsets: new Map([[9, 1]]) }))
      const [empty] = (await log.read(0, 1)).batches
      assert.equal(empty.length, BatchHeader.size)
      assert.equal(readInt64(empty, 0), 0)
      assert.equal(empty.readInt32BE(BatchHeader.lastOffsetDelta), 1)
      assert.equal(empty.readInt32BE(BatchHeader.recordCount), 0)
      assert.equal(empty.readInt32BE(BatchHeader.baseSequence), 40)
      assert.equal(readInt64(empty, BatchHeader.producerId), 9)
      assert.deepEqual(decodeRecordBatchesSync(empty)[0].records, [])
      // Once the producer has moved on, the empty batch goes too.
      await log.clean(cleanOptions({ force: true, producerLastOffsets: new Map() }))
      assert.equal(readInt64((await log.read(0, 1)).batches[0], 0), 2)
    })

    if (backend.name === 'file') {
      it('a crash before the swap commits leaves the log as it was; after, the swap completes on open', async () => {
        const log = await open()
        const records = await append(log, cycle(150, 12))
        const activeBase = (await log.compactionStatus(cleanOptions())).firstUncleanableOffset
        const dataDir = backend.dataDir()!
        const partitionDir = path.join(dataDir, 'events-0')
        const snapshots: Record<string, string> = {}
        let groups = 0
        // Copying the directory at a hook is what a SIGKILL at that point leaves on disk.
        const result = await log.clean(
          cleanOptions({
            onPhase: (phase) => {
              if (phase === 'cleaned') groups++
              const key = `${phase}-${groups}`
              if (key !== 'cleaned-1' && key !== 'swapped-2') return
              const copy = `${dataDir}-${key}`
              fs.cpSync(dataDir, copy, { recursive: true })
              fs.rmSync(path.join(copy, '.lock'))
              snapshots[key] = copy
            },
          }),
        )
        assert.ok(result.segmentsWritten >= 3, `${result.segmentsWritten} segments written`)
        const expected = compacted(records, activeBase)
        assert.deepEqual(await readAll(log), expected)
        assert.deepEqual(
          fs.readdirSync(partitionDir).filter((n) => /cleaned|swap/.test(n)),
          [],
          'no temporary files left',
        )

        for (const [key, copy] of Object.entries(snapshots)) {
          const files = fs.readdirSync(path.join(copy, 'events-0'))
          if (key === 'swapped-2') {
            assert.ok(
              files.some((n) => n.endsWith('.log.swap')),
              'a committed swap is on disk',
            )
            // The crash may come while the replaced segments are being deleted: take one away.
            const [, second] = files.filter((n) => n.endsWith('.log')).sort()
            fs.rmSync(path.join(copy, 'events-0', second))
          } else {
            assert.ok(
              files.some((n) => n.endsWith('.log.cleaned')),
              'an uncommitted replacement is on disk',
            )
          }
          const { logger, lines } = captureLogger()
          const crashed = await openFileStore({ dataDir: copy, logger })
          try {
            const recovered = await crashed.openPartition(
              topic(),
              0,
              logConfig({ segmentBytes: SEGMENT_BYTES }),
            )
            const read = await readAll(recovered)
            if (key === 'cleaned-1') assert.deepEqual(read, records, 'before the commit: nothing changed')
            // After it: offsets increase, every record is one that was written, and a consumer
            // applying the log ends with the latest value of every key.
            for (let i = 1; i < read.length; i++) assert.ok(read[i].offset > read[i - 1].offset)
            for (const r of read) assert.deepEqual(records[r.offset], r)
            assert.deepEqual(finalValues(read), finalValues(records))
            assert.deepEqual(
              fs.readdirSync(path.join(copy, 'events-0')).filter((n) => /cleaned|swap/.test(n)),
              [],
            )
            if (key === 'swapped-2') {
              assert.ok(lines.some((l) => /interrupted by a crash/.test(String(l.msg))))
              assert.ok(read.length < records.length, 'the first two groups are cleaned')
            }
            // The next clean finishes the job.
            await recovered.clean(cleanOptions({ force: true }))
            assert.deepEqual(await readAll(recovered), expected)
          } finally {
            await crashed.close()
            fs.rmSync(copy, { recursive: true, force: true })
          }
        }
        assert.deepEqual(Object.keys(snapshots).sort(), ['cleaned-1', 'swapped-2'])
      })
    }
  })
}

function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`
}
