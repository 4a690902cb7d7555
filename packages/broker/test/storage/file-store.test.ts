import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { BatchHeader } from '@fluxo/protocol'
import { type LogIo, defaultLogIo } from '../../src/log/file-io.js'
import { openFileStore } from '../../src/storage/file.js'
import type { LogConfig, LogStore, PartitionLog } from '../../src/storage/types.js'
import {
  baseOffsetOf,
  captureLogger,
  fillOf,
  lastOffsetOf,
  logConfig,
  makeBatch,
  tempDir,
  topic,
} from './fixtures.js'

describe('file store', () => {
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

  async function openStore(extra: { io?: LogIo; now?: () => number } = {}): Promise<LogStore> {
    const store = await openFileStore({ dataDir: temp.dir, logger: capture.logger, ...extra })
    stores.push(store)
    return store
  }

  async function openLog(store: LogStore, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
    return store.openPartition(topic(), 0, logConfig(config))
  }

  const partitionDir = () => path.join(temp.dir, 'events-0')
  const segmentFiles = (suffix: string) =>
    fs
      .readdirSync(partitionDir())
      .filter((name) => name.endsWith(suffix))
      .sort()

  async function fill(log: PartitionLog, count: number, payloadBytes = 150): Promise<void> {
    for (let i = 0; i < count; i++) {
      await log.append([
        makeBatch({ records: 1 + (i % 3), payloadBytes, fill: i % 256, maxTimestamp: 1000 + i }),
      ])
    }
  }

  async function snapshot(log: PartitionLog) {
    const { batches } = await log.read(0, 1 << 30)
    return {
      end: log.logEndOffset,
      batches: batches.map((b) => Buffer.from(b)),
      max: await log.maxTimestamp(),
      byTime: await log.offsetForTimestamp(1030),
    }
  }

  it('lays out Kafka-style segment files', async () => {
    const store = await openStore()
    const log = await openLog(store, { segmentBytes: 1000, indexIntervalBytes: 100 })
    await fill(log, 20)
    assert.ok(segmentFiles('.log').length > 2)
    assert.equal(segmentFiles('.log')[0], '00000000000000000000.log')
    // The active segment's indexes live in memory until the log closes; rolled ones are on disk.
    assert.deepEqual(
      segmentFiles('.index').map((n) => n.slice(0, 20)),
      segmentFiles('.log')
        .slice(0, -1)
        .map((n) => n.slice(0, 20)),
    )
    await log.close()
    assert.deepEqual(
      segmentFiles('.index').map((n) => n.slice(0, 20)),
      segmentFiles('.log').map((n) => n.slice(0, 20)),
    )
    // Each segment is named by the base offset of its first batch.
    for (const name of segmentFiles('.log')) {
      const data = fs.readFileSync(path.join(partitionDir(), name))
      if (data.length > 0) assert.equal(baseOffsetOf(data), Number(name.slice(0, 20)))
    }
    const index = fs.readFileSync(path.join(partitionDir(), '00000000000000000000.index'))
    assert.ok(index.length > 0 && index.length % 8 === 0)
    assert.ok(fs.existsSync(path.join(temp.dir, 'meta')))
  })

  it('keeps everything across close and reopen', async () => {
    let store = await openStore()
    let log = await openLog(store, { segmentBytes: 1200, indexIntervalBytes: 150 })
    await fill(log, 40)
    const before = await snapshot(log)
    await store.close()
    store = await openStore()
    log = await openLog(store, { segmentBytes: 1200, indexIntervalBytes: 150 })
    assert.deepEqual(await snapshot(log), before)
    assert.deepEqual(capture.lines, [])
    const next = await log.append([makeBatch({ records: 2 })])
    assert.equal(next.baseOffset, before.end)
  })

  for (const [name, damage] of [
    ['garbage', (file: string) => fs.appendFileSync(file, Buffer.from('not a record batch at all'))],
    [
      'half a batch',
      (file: string) => fs.appendFileSync(file, makeBatch({ payloadBytes: 300 }).subarray(0, 150)),
    ],
    ['a few bytes', (file: string) => fs.appendFileSync(file, Buffer.from([0, 0, 0]))],
  ] as const) {
    it(`truncates a torn tail (${name}) on reopen`, async () => {
      let store = await openStore()
      let log = await openLog(store, { segmentBytes: 1500 })
      await fill(log, 12)
      const before = await snapshot(log)
      await store.close()
      const last = path.join(partitionDir(), segmentFiles('.log').at(-1)!)
      const goodSize = fs.statSync(last).size
      damage(last)
      const cut = fs.statSync(last).size - goodSize
      store = await openStore()
      log = await openLog(store, { segmentBytes: 1500 })
      assert.deepEqual(await snapshot(log), before)
      assert.equal(fs.statSync(last).size, goodSize)
      const warning = capture.lines.find((line) => line.truncatedBytes !== undefined)
      assert.ok(warning, 'expected a warning')
      assert.equal(warning.truncatedBytes, cut)
      assert.equal(warning.position, goodSize)
      assert.equal(warning.segment, last)
      assert.equal((await log.append([makeBatch()])).baseOffset, before.end)
    })
  }

  it('cuts a last batch whose CRC does not match', async () => {
    let store = await openStore()
    let log = await openLog(store)
    await fill(log, 5)
    const { batches } = await log.read(0, 1 << 20)
    await store.close()
    const file = path.join(partitionDir(), '00000000000000000000.log')
    const data = fs.readFileSync(file)
    const lastStart = data.length - batches[4].length
    data[lastStart + BatchHeader.size + 10] ^= 0xff
    fs.writeFileSync(file, data)
    store = await openStore()
    log = await openLog(store)
    assert.equal(log.logEndOffset, lastOffsetOf(batches[3]) + 1)
    assert.equal(fs.statSync(file).size, lastStart)
    assert.match(String(capture.lines[0]?.msg), /CRC/)
    assert.deepEqual((await log.read(0, 1 << 20)).batches.map(fillOf), [0, 1, 2, 3])
  })

  it('rebuilds deleted or damaged index files', async () => {
    let store = await openStore()
    const config = { segmentBytes: 2000, indexIntervalBytes: 100 }
    let log = await openLog(store, config)
    await fill(log, 60)
    const before = await snapshot(log)
    await store.close()
    const indexes = segmentFiles('.index')
    const saved = fs.readFileSync(path.join(partitionDir(), indexes[1]))
    for (const name of indexes.slice(0, 1)) fs.rmSync(path.join(partitionDir(), name))
    for (const name of segmentFiles('.timeindex').slice(2, 3)) fs.rmSync(path.join(partitionDir(), name))
    fs.writeFileSync(path.join(partitionDir(), indexes[3]), Buffer.from([1, 2, 3]))
    store = await openStore()
    log = await openLog(store, config)
    assert.deepEqual(await snapshot(log), before)
    assert.deepEqual(fs.readFileSync(path.join(partitionDir(), indexes[1])), saved)
    assert.ok(fs.existsSync(path.join(partitionDir(), indexes[0])))
    assert.equal(fs.statSync(path.join(partitionDir(), indexes[3])).size % 8, 0)
    for (let offset = 0; offset < before.end; offset += 7) {
      const { batches } = await log.read(offset, 1)
      assert.ok(baseOffsetOf(batches[0]) <= offset && lastOffsetOf(batches[0]) >= offset)
    }
  })

  it('drops the segments after a corrupt one found while rebuilding its index', async () => {
    let store = await openStore()
    const config = { segmentBytes: 1000 }
    let log = await openLog(store, config)
    await fill(log, 30)
    await store.close()
    const logs = segmentFiles('.log')
    assert.ok(logs.length >= 4)
    const victim = path.join(partitionDir(), logs[1])
    const data = fs.readFileSync(victim)
    const firstSize = data.readInt32BE(BatchHeader.batchLength) + 12
    data[firstSize + BatchHeader.size + 3] ^= 0xff
    fs.writeFileSync(victim, data)
    fs.rmSync(victim.replace(/\.log$/, '.index'))
    store = await openStore()
    log = await openLog(store, config)
    assert.deepEqual(segmentFiles('.log'), logs.slice(0, 2))
    assert.equal(fs.statSync(victim).size, firstSize)
    assert.equal(log.logEndOffset, lastOffsetOf(data.subarray(0, firstSize)) + 1)
    assert.ok(capture.lines.length >= 1 + logs.length - 2)
    const end = log.logEndOffset
    assert.equal((await log.append([makeBatch()])).baseOffset, end)
  })

  it('leaves the log consistent when a write fails', async () => {
    let failNext = false
    const io: LogIo = {
      writev(fd, buffers, position) {
        if (!failNext) return defaultLogIo.writev(fd, buffers, position)
        failNext = false
        // A partial write, then the disk is full.
        defaultLogIo.writev(fd, [buffers[0].subarray(0, 30)], position)
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
      },
      fsync: defaultLogIo.fsync,
    }
    let store = await openStore({ io })
    let log = await openLog(store)
    await fill(log, 3)
    const before = await snapshot(log)
    const file = path.join(partitionDir(), '00000000000000000000.log')
    const size = fs.statSync(file).size
    failNext = true
    await assert.rejects(
      log.append([makeBatch({ records: 5 })]),
      (err: Error & { code: string; errno: string }) => {
        assert.equal(err.code, 'ERR_FLUXO_STORAGE')
        assert.equal(err.errno, 'ENOSPC')
        assert.ok(err.cause instanceof Error)
        return true
      },
    )
    assert.equal(log.logEndOffset, before.end)
    assert.equal(fs.statSync(file).size, size)
    assert.deepEqual(await snapshot(log), before)
    const next = await log.append([makeBatch({ records: 2, fill: 0xee })])
    assert.equal(next.baseOffset, before.end)
    await store.close()
    store = await openStore()
    log = await openLog(store)
    assert.equal(log.logEndOffset, before.end + 2)
    assert.deepEqual(capture.lines, [])
  })

  it('undoes a failed append that had rolled to a new segment', async () => {
    let writes = 0
    let failAt = -1
    let segmentsAtFailure = 0
    const io: LogIo = {
      writev(fd, buffers, position) {
        if (++writes === failAt) segmentsAtFailure = segmentFiles('.log').length
        if (writes === failAt) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
        return defaultLogIo.writev(fd, buffers, position)
      },
      fsync: defaultLogIo.fsync,
    }
    const store = await openStore({ io })
    const log = await openLog(store, { segmentBytes: 1000, indexIntervalBytes: 100 })
    await fill(log, 3, 200)
    const before = await snapshot(log)
    const segments = segmentFiles('.log')
    // Four 400-byte batches: two go to a new segment, two to another; fail the second write.
    failAt = writes + 2
    await assert.rejects(log.append(Array.from({ length: 4 }, () => makeBatch({ payloadBytes: 339 }))), /EIO/)
    assert.ok(segmentsAtFailure > segments.length, 'the failure should come after a roll')
    assert.deepEqual(segmentFiles('.log'), segments)
    assert.deepEqual(await snapshot(log), before)
    failAt = -1
    const result = await log.append(Array.from({ length: 4 }, () => makeBatch({ payloadBytes: 339 })))
    assert.deepEqual(result, { baseOffset: before.end, lastOffset: before.end + 3 })
    assert.equal((await log.read(before.end, 1 << 20)).batches.length, 4)
  })

  it('refuses a malformed batch without writing anything', async () => {
    const store = await openStore()
    const log = await openLog(store)
    await log.append([makeBatch()])
    const bad = makeBatch({ payloadBytes: 50 })
    bad.writeInt32BE(500, BatchHeader.batchLength)
    await assert.rejects(log.append([makeBatch(), bad]), { code: 'ERR_FLUXO_STORAGE' })
    assert.equal(log.logEndOffset, 1)
    assert.equal((await log.read(0, 1 << 20)).batches.length, 1)
  })

  it('fsyncs per the flush policy and on sync appends', async () => {
    let fsyncs = 0
    const io: LogIo = {
      writev: defaultLogIo.writev,
      fsync: (fd) => {
        fsyncs++
        return defaultLogIo.fsync(fd)
      },
    }
    const store = await openStore({ io })
    const log = await openLog(store, { flushMessages: 10 })
    for (let i = 0; i < 9; i++) await log.append([makeBatch()])
    assert.equal(fsyncs, 0)
    await log.append([makeBatch()])
    assert.equal(fsyncs, 1)
    await log.append([makeBatch()], { sync: true })
    assert.equal(fsyncs, 2)
    await log.flush()
    assert.equal(fsyncs, 2, 'nothing new to flush')

    const timed = await store.openPartition(topic('timed'), 0, logConfig({ flushMs: 20 }))
    const count = fsyncs
    await timed.append([makeBatch()])
    assert.equal(fsyncs, count)
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.equal(fsyncs, count + 1)
  })

  it('rolls on segment.ms', async () => {
    let now = 1_000_000
    const store = await openStore({ now: () => now })
    const log = await openLog(store, { segmentMs: 1000 })
    await log.append([makeBatch()])
    now += 500
    await log.append([makeBatch()])
    assert.equal(segmentFiles('.log').length, 1)
    now += 600
    await log.append([makeBatch()])
    assert.deepEqual(segmentFiles('.log'), ['00000000000000000000.log', '00000000000000000002.log'])
  })

  it('locks the data directory against a second broker', async () => {
    await openStore()
    await assert.rejects(openStore(), (err: Error & { code: string }) => {
      assert.equal(err.code, 'ERR_FLUXO_STORAGE')
      assert.match(err.message, /in use by process/)
      return true
    })
  })

  it('takes over a stale lock', async () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    fs.mkdirSync(temp.dir, { recursive: true })
    fs.writeFileSync(path.join(temp.dir, '.lock'), `${child.stdout.toString()}\n`)
    const store = await openStore()
    assert.equal(fs.readFileSync(path.join(temp.dir, '.lock'), 'utf8').trim(), String(process.pid))
    await store.close()
    assert.equal(fs.existsSync(path.join(temp.dir, '.lock')), false)
  })

  it('refuses a partition directory that belongs to another topic id', async () => {
    const store = await openStore()
    await openLog(store)
    await store.close()
    const again = await openStore()
    await assert.rejects(
      again.openPartition({ ...topic(), topicId: 'CCCCCCCCCCCCCCCCCCCCCC' }, 0, logConfig()),
      {
        code: 'ERR_FLUXO_STORAGE',
      },
    )
  })

  it('writes metadata atomically as JSON', async () => {
    const store = await openStore()
    await store.saveTopic(topic('a'))
    const id = await store.clusterId()
    const meta = path.join(temp.dir, 'meta')
    assert.deepEqual(fs.readdirSync(meta).sort(), ['cluster.json', 'topics.json'])
    assert.equal(JSON.parse(fs.readFileSync(path.join(meta, 'cluster.json'), 'utf8')).clusterId, id)
  })
})
