import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compress } from '../src/compression/codecs.js'
import { RecordBatchBuilder, restamp } from '../src/records/batch-builder.js'
import { Compression } from '../src/records/batch-header.js'
import {
  type RecordInput,
  decodeRecordBatchesSync,
  encodeRecordBatchSync,
} from '../src/records/record-batch.js'

const records: RecordInput[] = [
  { key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: 1_700_000_000_000 },
  { key: null, value: Buffer.alloc(300, 7), timestamp: 1_700_000_000_005 },
  {
    key: Buffer.from('k3'),
    value: null,
    timestamp: 1_699_999_999_990,
    headers: [
      { key: 'h', value: Buffer.from('x') },
      { key: 'ünï', value: null },
    ],
  },
]
const stamp = { producerId: 42, producerEpoch: 3, baseSequence: 17, isTransactional: false }

function build(buffer = Buffer.alloc(1024, 0xee)) {
  const b = new RecordBatchBuilder(buffer)
  for (const r of records) {
    const size = b.recordSize(r.timestamp!, r.key ?? null, r.value, r.headers)
    assert.ok(b.hasRoomFor(size))
    const before = b.sizeInBytes
    b.append(r.timestamp!, r.key ?? null, r.value, r.headers)
    assert.equal(b.sizeInBytes - before, size, 'recordSize is exact')
  }
  return b
}

test('RecordBatchBuilder writes the same bytes as encodeRecordBatchSync', () => {
  const built = build().build(stamp)
  assert.deepEqual(built, encodeRecordBatchSync({ records, ...stamp }))
  const [batch] = decodeRecordBatchesSync(built)
  assert.equal(batch.baseSequence, 17)
  assert.equal(batch.maxTimestamp, 1_700_000_000_005)
  assert.deepEqual(
    batch.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.headers.length]),
    [
      [0, 1_700_000_000_000, 'k1', 0],
      [1, 1_700_000_000_005, null, 0],
      [2, 1_699_999_999_990, 'k3', 2],
    ],
  )
})

test('restamp changes producer fields and the CRC in place; compressed batches decode', async () => {
  const b = build()
  const built = b.build(stamp)
  const next = { producerId: 43, producerEpoch: 0, baseSequence: 0, isTransactional: true }
  restamp(built, next)
  assert.deepEqual(built, encodeRecordBatchSync({ records, ...next }))
  const payload = await compress(Compression.lz4, b.records())
  const [batch] = decodeRecordBatchesSync(b.buildCompressed(Compression.lz4, payload, stamp))
  assert.equal(batch.compression, Compression.lz4)
  assert.equal(batch.records.length, 3)
  assert.equal(batch.records[2].headers[1].key, 'ünï')
})

test('hasRoomFor stops at the end of the buffer', () => {
  const b = new RecordBatchBuilder(Buffer.alloc(61 + 20))
  const size = b.recordSize(0, null, Buffer.alloc(30), undefined)
  assert.equal(b.hasRoomFor(size), false)
  assert.equal(b.hasRoomFor(b.recordSize(0, null, Buffer.alloc(5), undefined)), true)
})
