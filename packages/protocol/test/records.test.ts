import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { CompressionError, compress, decompress } from '../src/compression/codecs.js'
import { BatchHeader, Compression, type CompressionType, writeBatchCrc } from '../src/records/batch-header.js'
import {
  ControlRecordType,
  CorruptRecordError,
  type EncodeRecordBatchOptions,
  type RecordInput,
  TimestampType,
  controlRecordType,
  decodeRecordBatches,
  decodeRecordBatchesSync,
  encodeRecordBatch,
  encodeRecordBatchSync,
  endTxnMarker,
} from '../src/records/record-batch.js'

const require = createRequire(import.meta.url)

interface KafkaJsEncoder {
  buffer: Buffer
}
interface KafkaJsRecord {
  offset: string
  timestamp: string
  key: Buffer | null
  value: Buffer | null
  headers: { [key: string]: Buffer | Buffer[] }
}
interface KafkaJsBatch {
  firstOffset: string
  inTransaction: boolean
  isControlBatch: boolean
  producerId: string
  producerEpoch: number
  firstSequence: number
  maxTimestamp: string
  records: KafkaJsRecord[]
}
type KafkaJsCodec = { compress(e: KafkaJsEncoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }

const kafkajs = require('kafkajs') as { CompressionCodecs: { [type: number]: () => KafkaJsCodec } }
const { RecordBatch: kafkaJsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(opts: object): Promise<KafkaJsEncoder>
}
const kafkaJsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  opts: object,
) => KafkaJsEncoder
const kafkaJsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<KafkaJsBatch>
const KafkaJsDecoder = require('kafkajs/src/protocol/decoder') as new (buf: Buffer) => unknown

// KafkaJS ships gzip only; its plugin slot takes the other codecs. Registering ours there still tests
// KafkaJS's batch framing against ours for every codec (the codec bytes themselves are tested elsewhere).
for (const type of [Compression.snappy, Compression.lz4, Compression.zstd]) {
  kafkajs.CompressionCodecs[type] = () => ({
    compress: (encoder) => compress(type, encoder.buffer),
    decompress: (buf) => decompress(type, buf),
  })
}

const CODECS = Object.entries(Compression) as [string, CompressionType][]
const T0 = 1_700_000_000_000

function sampleRecords(): RecordInput[] {
  return [
    { key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: T0 },
    { key: null, value: Buffer.from('no key'), timestamp: T0 + 5 },
    { key: Buffer.from('tombstone'), value: null, timestamp: T0 - 3 },
    {
      key: Buffer.alloc(0),
      value: randomBytes(20_000),
      timestamp: T0 + 2 ** 40,
      headers: [
        { key: 'trace-id', value: Buffer.from('abc') },
        { key: 'ключ', value: null },
        { key: '', value: Buffer.alloc(0) },
        { key: 'trace-id', value: Buffer.from('dup') },
      ],
    },
  ]
}

function batchOptions(compression: CompressionType): EncodeRecordBatchOptions {
  return {
    compression,
    baseOffset: 1234,
    partitionLeaderEpoch: 7,
    producerId: 2 ** 40 + 5,
    producerEpoch: 3,
    baseSequence: 99,
    isTransactional: true,
    records: sampleRecords(),
  }
}

for (const [name, compression] of CODECS) {
  test(`${name}: encode then decode round trips header and records (async and sync)`, async () => {
    const opts = batchOptions(compression)
    for (const bytes of [await encodeRecordBatch(opts), encodeRecordBatchSync(opts)]) {
      for (const [batch] of [await decodeRecordBatches(bytes), decodeRecordBatchesSync(bytes)]) {
        assert.equal(batch.baseOffset, 1234)
        assert.equal(batch.partitionLeaderEpoch, 7)
        assert.equal(batch.magic, 2)
        assert.equal(batch.compression, compression)
        assert.equal(batch.timestampType, TimestampType.createTime)
        assert.equal(batch.isTransactional, true)
        assert.equal(batch.isControl, false)
        assert.equal(batch.lastOffsetDelta, 3)
        assert.equal(batch.baseTimestamp, T0)
        assert.equal(batch.maxTimestamp, T0 + 2 ** 40)
        assert.equal(batch.producerId, 2 ** 40 + 5)
        assert.equal(batch.producerEpoch, 3)
        assert.equal(batch.baseSequence, 99)
        assert.equal(batch.records.length, 4)
        opts.records.forEach((input, i) => {
          const r = batch.records[i]
          assert.equal(r.offset, 1234 + i)
          assert.equal(r.timestamp, input.timestamp)
          assert.deepEqual(r.key, input.key)
          assert.deepEqual(r.value, input.value)
          assert.deepEqual(r.headers, input.headers ?? [])
        })
      }
    }
  })

  test(`${name}: a batch KafkaJS encodes decodes with ours`, async () => {
    const records = sampleRecords()
    const bytes = (
      await kafkaJsRecordBatch({
        compression,
        firstOffset: 50,
        firstTimestamp: T0,
        maxTimestamp: T0 + 2 ** 40,
        lastOffsetDelta: records.length - 1,
        producerId: 77,
        producerEpoch: 1,
        firstSequence: 10,
        records: records.map((r, i) =>
          kafkaJsRecord({
            offsetDelta: i,
            timestampDelta: r.timestamp! - T0,
            key: r.key,
            value: r.value,
            // KafkaJS cannot encode a null header value.
            headers: r.headers
              ? { 'trace-id': [Buffer.from('abc'), Buffer.from('dup')], '': Buffer.alloc(0) }
              : {},
          }),
        ),
      })
    ).buffer
    const [batch] = await decodeRecordBatches(bytes)
    assert.equal(batch.compression, compression)
    assert.equal(batch.baseOffset, 50)
    assert.equal(batch.producerId, 77)
    assert.equal(batch.baseSequence, 10)
    assert.deepEqual(
      batch.records.map((r) => [r.offset, r.timestamp, r.key, r.value]),
      records.map((r, i) => [50 + i, r.timestamp, r.key, r.value]),
    )
    assert.deepEqual(batch.records[3].headers, [
      { key: 'trace-id', value: Buffer.from('abc') },
      { key: 'trace-id', value: Buffer.from('dup') },
      { key: '', value: Buffer.alloc(0) },
    ])
  })

  test(`${name}: a batch we encode decodes with KafkaJS`, async () => {
    const opts = batchOptions(compression)
    const kjs = await kafkaJsDecodeBatch(new KafkaJsDecoder(await encodeRecordBatch(opts)))
    assert.equal(kjs.firstOffset, '1234')
    assert.equal(kjs.inTransaction, true)
    assert.equal(kjs.producerId, String(2 ** 40 + 5))
    assert.equal(kjs.firstSequence, 99)
    assert.deepEqual(
      kjs.records.map((r) => [r.offset, r.timestamp, r.key, r.value]),
      opts.records.map((r, i) => [String(1234 + i), String(r.timestamp), r.key, r.value]),
    )
    assert.deepEqual(kjs.records[3].headers, {
      'trace-id': [Buffer.from('abc'), Buffer.from('dup')],
      ключ: null,
      '': Buffer.alloc(0),
    })
  })
}

test('uncompressed encoding is byte-identical to KafkaJS for the same input', async () => {
  const records = sampleRecords().slice(0, 3)
  const theirs = (
    await kafkaJsRecordBatch({
      firstTimestamp: T0,
      maxTimestamp: T0 + 5,
      lastOffsetDelta: 2,
      partitionLeaderEpoch: 0,
      producerId: -1,
      producerEpoch: 0,
      firstSequence: 0,
      records: records.map((r, i) =>
        kafkaJsRecord({ offsetDelta: i, timestampDelta: r.timestamp! - T0, key: r.key, value: r.value }),
      ),
    })
  ).buffer
  const ours = encodeRecordBatchSync({ records, partitionLeaderEpoch: 0, producerEpoch: 0, baseSequence: 0 })
  assert.deepEqual(ours, theirs)
})

test('LogAppendTime batches give every record the batch maxTimestamp', async () => {
  const bytes = await encodeRecordBatch({
    timestampType: TimestampType.logAppendTime,
    maxTimestamp: T0 + 1000,
    records: sampleRecords().slice(0, 2),
  })
  const [batch] = await decodeRecordBatches(bytes)
  assert.equal(batch.timestampType, TimestampType.logAppendTime)
  assert.deepEqual(
    batch.records.map((r) => r.timestamp),
    [T0 + 1000, T0 + 1000],
  )
})

test('control batches carry an end-transaction marker', async () => {
  const bytes = await encodeRecordBatch({
    isControl: true,
    isTransactional: true,
    producerId: 9,
    producerEpoch: 2,
    baseOffset: 40,
    records: [endTxnMarker(ControlRecordType.commit, 5, T0)],
  })
  const [batch] = await decodeRecordBatches(bytes)
  assert.equal(batch.isControl, true)
  assert.equal(batch.isTransactional, true)
  assert.equal(batch.records.length, 1)
  assert.equal(controlRecordType(batch.records[0]), ControlRecordType.commit)
  assert.equal(batch.records[0].value!.readInt32BE(2), 5)
  const kjs = await kafkaJsDecodeBatch(new KafkaJsDecoder(bytes))
  assert.equal(kjs.isControlBatch, true)
})

test('explicit offset deltas (compacted batches with gaps) and an empty batch', async () => {
  const bytes = encodeRecordBatchSync({
    baseOffset: 100,
    records: [
      { value: Buffer.from('a'), offsetDelta: 0, timestamp: T0 },
      { value: Buffer.from('b'), offsetDelta: 7, timestamp: T0 },
    ],
  })
  const [batch] = decodeRecordBatchesSync(bytes)
  assert.equal(batch.lastOffsetDelta, 7)
  assert.deepEqual(
    batch.records.map((r) => r.offset),
    [100, 107],
  )
  const empty = encodeRecordBatchSync({ records: [], lastOffsetDelta: 4, baseTimestamp: T0 })
  const [emptyBatch] = decodeRecordBatchesSync(empty)
  assert.equal(emptyBatch.records.length, 0)
  assert.equal(emptyBatch.lastOffsetDelta, 4)
})

test('concatenated batches decode in order and a truncated trailing batch is skipped', async () => {
  const a = await encodeRecordBatch({ baseOffset: 0, records: sampleRecords().slice(0, 2) })
  const b = await encodeRecordBatch({
    baseOffset: 2,
    compression: Compression.gzip,
    records: sampleRecords(),
  })
  const c = await encodeRecordBatch({ baseOffset: 6, compression: Compression.lz4, records: sampleRecords() })
  const all = Buffer.concat([a, b, c])
  const batches = await decodeRecordBatches(all)
  assert.deepEqual(
    batches.map((x) => x.records.map((r) => r.offset)),
    [
      [0, 1],
      [2, 3, 4, 5],
      [6, 7, 8, 9],
    ],
  )
  for (const cut of [1, 11, 12, 17, 60, 61, c.length - 1]) {
    const partial = all.subarray(0, a.length + b.length + cut)
    assert.equal((await decodeRecordBatches(partial)).length, 2, `cut at ${cut}`)
    assert.equal(decodeRecordBatchesSync(partial).length, 2, `cut at ${cut}`)
  }
  assert.deepEqual(await decodeRecordBatches(Buffer.alloc(0)), [])
})

test('CRC mismatch is a CorruptRecordError; the leader epoch and base offset are outside the CRC', async () => {
  const bytes = await encodeRecordBatch({ compression: Compression.snappy, records: sampleRecords() })
  for (const at of [
    BatchHeader.attributes + 1,
    BatchHeader.producerId + 7,
    BatchHeader.size + 3,
    bytes.length - 1,
  ]) {
    const bad = Buffer.from(bytes)
    bad[at] ^= 0x01
    await assert.rejects(decodeRecordBatches(bad), (err: CorruptRecordError) => {
      return (
        err instanceof CorruptRecordError &&
        err.code === 'ERR_FLUXO_CORRUPT_RECORD' &&
        /CRC/.test(err.message)
      )
    })
    assert.throws(() => decodeRecordBatchesSync(bad), CorruptRecordError)
  }
  const restamped = Buffer.from(bytes)
  restamped.writeInt32BE(42, BatchHeader.partitionLeaderEpoch)
  restamped.writeInt32BE(5, BatchHeader.baseOffset + 4)
  const [batch] = await decodeRecordBatches(restamped)
  assert.equal(batch.partitionLeaderEpoch, 42)
  assert.equal(batch.baseOffset, 5)
})

test('bad framing, magic, codec and record counts are reported, not misread', async () => {
  const bytes = encodeRecordBatchSync({ records: sampleRecords().slice(0, 2) })
  const shortLength = Buffer.from(bytes)
  shortLength.writeInt32BE(10, BatchHeader.batchLength)
  assert.throws(() => decodeRecordBatchesSync(shortLength), CorruptRecordError)

  const oldMagic = Buffer.from(bytes)
  oldMagic.writeInt8(1, BatchHeader.magic)
  assert.throws(() => decodeRecordBatchesSync(oldMagic), /magic 1/)

  const badCodec = Buffer.from(bytes)
  badCodec.writeInt16BE(6, BatchHeader.attributes)
  writeBatchCrc(badCodec)
  await assert.rejects(decodeRecordBatches(badCodec), CompressionError)

  for (const count of [3, 1, -1]) {
    const wrongCount = Buffer.from(bytes)
    wrongCount.writeInt32BE(count, BatchHeader.recordCount)
    writeBatchCrc(wrongCount)
    assert.throws(() => decodeRecordBatchesSync(wrongCount), CorruptRecordError, `count ${count}`)
  }
})

test('fuzz: mutated records sections (with a fixed-up CRC) decode or throw CorruptRecordError', () => {
  const bytes = encodeRecordBatchSync({ records: sampleRecords().slice(0, 3) })
  for (let i = 0; i < 3000; i++) {
    const bad = Buffer.from(bytes)
    const flips = 1 + Math.floor(Math.random() * 3)
    for (let f = 0; f < flips; f++) {
      const at = BatchHeader.size + Math.floor(Math.random() * (bad.length - BatchHeader.size))
      bad[at] = Math.floor(Math.random() * 256)
    }
    writeBatchCrc(bad)
    try {
      decodeRecordBatchesSync(bad)
    } catch (err) {
      assert.ok(err instanceof CorruptRecordError, `unexpected ${(err as Error).stack}`)
    }
  }
})
