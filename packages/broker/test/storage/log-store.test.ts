import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { LogConfig, LogStore, PartitionLog } from '../../src/storage/types.js'
import { backends, baseOffsetOf, fillOf, lastOffsetOf, logConfig, makeBatch, topic } from './fixtures.js'

async function readAll(log: PartitionLog, from = 0): Promise<Buffer[]> {
  const out: Buffer[] = []
  let offset = from
  while (offset < log.logEndOffset) {
    const { batches } = await log.read(offset, 64 * 1024)
    assert.ok(batches.length > 0, `read(${offset}) returned nothing`)
    out.push(...batches)
    offset = lastOffsetOf(batches[batches.length - 1]) + 1
  }
  return out
}

for (const makeBackend of backends) {
  const backend = makeBackend()

  describe(`LogStore contract: ${backend.name}`, () => {
    let store: LogStore

    beforeEach(async () => {
      store = await backend.setup()
    })

    afterEach(async () => {
      await backend.teardown()
    })

    async function open(
      config: Partial<LogConfig> = {},
      name = 'events',
      partition = 0,
    ): Promise<PartitionLog> {
      return store.openPartition(topic(name, partition + 1), partition, logConfig(config))
    }

    it('reports its kind', () => {
      assert.equal(store.kind, backend.name)
    })

    it('assigns offsets in call order and reads batches back byte for byte', async () => {
      const log = await open()
      assert.equal(log.logStartOffset, 0)
      assert.equal(log.logEndOffset, 0)
      const first = [makeBatch({ records: 3, fill: 1 }), makeBatch({ records: 1, fill: 2 })]
      const second = [makeBatch({ records: 5, fill: 3 })]
      const [a, b] = await Promise.all([log.append(first), log.append(second)])
      assert.deepEqual(a, { baseOffset: 0, lastOffset: 3 })
      assert.deepEqual(b, { baseOffset: 4, lastOffset: 8 })
      assert.equal(log.logEndOffset, 9)

      const { batches, bytes } = await log.read(0, 1 << 20)
      assert.deepEqual(batches.map(baseOffsetOf), [0, 3, 4])
      assert.deepEqual(batches.map(fillOf), [1, 2, 3])
      assert.equal(
        bytes,
        batches.reduce((sum, batch) => sum + batch.length, 0),
      )
      // The stored batch is the input with its base offset patched.
      assert.deepEqual(batches[2], second[0])
    })

    it('copies a small batch out of the larger buffer it arrived in', async () => {
      const log = await open()
      const made = makeBatch({ fill: 7 })
      const frame = Buffer.alloc(64 * 1024)
      made.copy(frame, 100)
      await log.append([frame.subarray(100, 100 + made.length)])
      frame.fill(0)
      const { batches } = await log.read(0, 1 << 20)
      assert.equal(fillOf(batches[0]), 7)
    })

    it('reads from an offset in the middle of a batch', async () => {
      const log = await open()
      await log.append([makeBatch({ records: 10, fill: 1 }), makeBatch({ records: 10, fill: 2 })])
      const { batches } = await log.read(15, 1 << 20)
      assert.deepEqual(batches.map(baseOffsetOf), [10])
      assert.deepEqual((await log.read(9, 1 << 20)).batches.map(baseOffsetOf), [0, 10])
      assert.deepEqual((await log.read(20, 1 << 20)).batches, [])
    })

    it('stops at maxBytes but always returns the first batch whole (KIP-74)', async () => {
      const log = await open()
      const size = makeBatch({ payloadBytes: 139 }).length
      assert.equal(size, 200)
      await log.append(Array.from({ length: 5 }, (_, i) => makeBatch({ payloadBytes: 139, fill: i })))
      assert.equal((await log.read(0, 450)).batches.length, 2)
      assert.equal((await log.read(0, 400)).batches.length, 2)
      assert.equal((await log.read(0, 399)).batches.length, 1)
      const tiny = await log.read(1, 10)
      assert.deepEqual(tiny.batches.map(baseOffsetOf), [1])
      assert.equal(tiny.bytes, 200)
      assert.equal((await log.read(4, 0)).batches.length, 1)
      assert.equal((await log.read(0, 10_000)).batches.length, 5)
    })

    it('rolls segments and reads across them', async () => {
      const log = await open({ segmentBytes: 2000, indexIntervalBytes: 300 })
      const expected: Array<{ base: number; last: number; fill: number }> = []
      let offset = 0
      for (let round = 0; round < 40; round++) {
        const batches = Array.from({ length: 1 + (round % 3) }, (_, i) => {
          const records = 1 + ((round + i) % 4)
          const fill = (round * 3 + i) % 251
          expected.push({ base: offset, last: offset + records - 1, fill })
          offset += records
          return makeBatch({ records, payloadBytes: 50 + ((round * 37 + i * 11) % 400), fill })
        })
        await log.append(batches)
      }
      assert.equal(log.logEndOffset, offset)
      const dataDir = backend.dataDir()
      if (dataDir !== null) {
        const dir = fs.readdirSync(path.join(dataDir, 'events-0'))
        assert.ok(dir.filter((name) => name.endsWith('.log')).length > 5, 'expected several segments')
      }
      const all = await readAll(log)
      assert.deepEqual(
        all.map((batch) => ({ base: baseOffsetOf(batch), last: lastOffsetOf(batch), fill: fillOf(batch) })),
        expected,
      )
      // Every offset finds the batch containing it, and a large read continues across segments.
      for (let o = 0; o < offset; o++) {
        const { batches } = await log.read(o, 5000)
        const wanted = expected.findIndex((e) => e.last >= o)
        assert.equal(baseOffsetOf(batches[0]), expected[wanted].base, `read(${o})`)
        assert.deepEqual(
          batches.map(baseOffsetOf),
          expected.slice(wanted, wanted + batches.length).map((e) => e.base),
        )
        const total = batches.reduce((sum, batch) => sum + batch.length, 0)
        assert.ok(total <= 5000 || batches.length === 1)
        if (wanted + batches.length < expected.length) assert.ok(batches.length > 5)
      }
    })

    it('finds offsets by timestamp and the max timestamp', async () => {
      const log = await open({ segmentBytes: 1500, indexIntervalBytes: 200 })
      assert.equal(await log.offsetForTimestamp(0), null)
      assert.equal(await log.maxTimestamp(), null)
      // Timestamps mostly rise but not always (producers' clocks differ).
      const timestamps = Array.from({ length: 60 }, (_, i) => 1000 + i * 10 + (i % 7 === 3 ? -45 : 0))
      timestamps[30] = 5000
      let offset = 0
      const batches: Array<{ base: number; last: number; max: number }> = []
      for (const max of timestamps) {
        const records = 1 + (max % 3)
        batches.push({ base: offset, last: offset + records - 1, max })
        offset += records
        await log.append([
          makeBatch({ records, baseTimestamp: max - 5, maxTimestamp: max, payloadBytes: 120 }),
        ])
      }
      for (const target of [0, 999, 1000, 1001, 1055, 1100, 1255, 1590, 1591, 4999, 5000, 5001]) {
        const hit = batches.find((b) => b.max >= target)
        const found = await log.offsetForTimestamp(target)
        assert.deepEqual(
          found,
          hit === undefined ? null : { offset: hit.base, timestamp: hit.max },
          `ts ${target}`,
        )
      }
      assert.deepEqual(await log.maxTimestamp(), { offset: batches[30].last, timestamp: 5000 })
    })

    it('reports the first offset of the max timestamp batch with LogAppendTime', async () => {
      const log = await open()
      await log.append([makeBatch({ records: 4, maxTimestamp: 2000 })])
      await log.append([makeBatch({ records: 4, maxTimestamp: 3000, logAppendTime: true })])
      await log.append([makeBatch({ records: 4, maxTimestamp: 3000 })])
      assert.deepEqual(await log.maxTimestamp(), { offset: 4, timestamp: 3000 })
    })

    it('keeps topic records and a stable cluster id', async () => {
      const id = await store.clusterId()
      assert.match(id, /^[A-Za-z0-9_-]{22}$/)
      assert.equal(await store.clusterId(), id)
      const orders = { ...topic('orders', 3), configs: { 'retention.ms': '1000' } }
      await store.saveTopic(orders)
      await store.saveTopic(topic('events', 1))
      await store.saveTopic({ ...orders, configs: { 'retention.ms': '2000' } })
      store = await backend.reopen(store)
      assert.equal(await store.clusterId(), id)
      const topics = (await store.loadTopics()).sort((a, b) => a.name.localeCompare(b.name))
      assert.deepEqual(topics, [topic('events', 1), { ...orders, configs: { 'retention.ms': '2000' } }])
    })

    it('keeps partition data across close and reopen of the partition', async () => {
      const log = await open()
      await log.append([makeBatch({ records: 3, fill: 9 })])
      await log.close()
      await assert.rejects(log.append([makeBatch()]), { code: 'ERR_FLUXO_STORAGE' })
      const again = await open()
      assert.equal(again.logEndOffset, 3)
      assert.equal(fillOf((await again.read(0, 1000)).batches[0]), 9)
    })

    it('deletes a topic with its data', async () => {
      const t = topic('doomed', 2)
      await store.saveTopic(t)
      for (const p of [0, 1]) {
        const log = await store.openPartition(t, p, logConfig())
        await log.append([makeBatch({ records: 2 })])
      }
      await store.deleteTopic(t)
      assert.deepEqual(await store.loadTopics(), [])
      const recreated = { ...t, topicId: 'BBBBBBBBBBBBBBBBBBBBBB' }
      const log = await store.openPartition(recreated, 1, logConfig())
      assert.equal(log.logEndOffset, 0)
      assert.deepEqual((await log.read(0, 1000)).batches, [])
    })

    it('honours sync appends and flush', async () => {
      const log = await open({ flushMessages: 1 })
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => log.append([makeBatch({ records: 2 })], { sync: i % 2 === 0 })),
      )
      assert.deepEqual(
        results.map((r) => r.baseOffset),
        Array.from({ length: 20 }, (_, i) => i * 2),
      )
      await log.flush()
      assert.equal(log.logEndOffset, 40)
    })
  })
}
