import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  BatchAttributes,
  BatchHeader,
  Compression,
  writeBatchCrc,
  writeInt64,
} from '../src/records/batch-header.js'
import { encodeRecordBatch, encodeRecordBatchSync } from '../src/records/record-batch.js'
import { type InvalidBatches, type ValidatedBatches, validateBatches } from '../src/records/validate.js'

const MAX = 1_048_588
const T0 = 1_700_000_000_000

function batch(count = 3, timestamp = T0): Buffer {
  return encodeRecordBatchSync({
    records: Array.from({ length: count }, (_, i) => ({
      value: Buffer.from(`v${i}`),
      timestamp: timestamp + i,
    })),
  })
}

function patched(patch: (b: Buffer) => void, fixCrc = true): Buffer {
  const b = batch()
  patch(b)
  if (fixCrc) writeBatchCrc(b)
  return b
}

function expectError(buf: Buffer, error: InvalidBatches['error'], max = MAX, pattern?: RegExp): void {
  const result = validateBatches(buf, max)
  assert.equal(result.ok, false, 'expected a failure')
  const failure = result as InvalidBatches
  assert.equal(failure.error, error, failure.message)
  if (pattern) assert.match(failure.message, pattern)
}

test('valid batches: one slice per batch, total record count and max timestamp', async () => {
  const a = batch(3, T0)
  const b = await encodeRecordBatch({
    compression: Compression.zstd,
    producerId: 5,
    producerEpoch: 0,
    baseSequence: 0,
    records: [{ value: Buffer.from('x'), timestamp: T0 + 100 }],
  })
  const buf = Buffer.concat([a, b])
  const result = validateBatches(buf, MAX) as ValidatedBatches
  assert.equal(result.ok, true)
  assert.equal(result.recordCount, 4)
  assert.equal(result.maxTimestamp, T0 + 100)
  assert.deepEqual(result.batches, [a, b])
  assert.equal(result.batches[1].buffer, buf.buffer, 'slices share memory with the request')
})

test('CORRUPT_MESSAGE: truncated blob, short or overrunning batch length, trailing bytes', () => {
  const b = batch()
  expectError(b.subarray(0, 10), 'CORRUPT_MESSAGE')
  expectError(b.subarray(0, 40), 'CORRUPT_MESSAGE', MAX, /overruns/)
  expectError(b.subarray(0, b.length - 1), 'CORRUPT_MESSAGE', MAX, /overruns/)
  expectError(Buffer.concat([b, b.subarray(0, 5)]), 'CORRUPT_MESSAGE')
  expectError(
    patched((x) => x.writeInt32BE(20, BatchHeader.batchLength), false),
    'CORRUPT_MESSAGE',
    MAX,
    /smaller/,
  )
  expectError(
    patched((x) => x.writeInt32BE(-5, BatchHeader.batchLength), false),
    'CORRUPT_MESSAGE',
  )
})

test('magic: below 2 is UNSUPPORTED_FOR_MESSAGE_FORMAT, above 2 or negative is CORRUPT_MESSAGE', () => {
  // A legacy v1 message: offset, size, crc, magic 1... only the magic position matters here.
  const legacy = Buffer.alloc(40)
  legacy.writeInt32BE(28, 8)
  legacy.writeInt8(1, 16)
  expectError(legacy, 'UNSUPPORTED_FOR_MESSAGE_FORMAT')
  expectError(
    patched((x) => x.writeInt8(0, BatchHeader.magic), false),
    'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  )
  expectError(
    patched((x) => x.writeInt8(3, BatchHeader.magic), false),
    'CORRUPT_MESSAGE',
    MAX,
    /magic 3/,
  )
  expectError(
    patched((x) => x.writeInt8(-1, BatchHeader.magic), false),
    'CORRUPT_MESSAGE',
  )
})

test('CORRUPT_MESSAGE on CRC mismatch, anywhere in the CRC-covered bytes', () => {
  for (const at of [BatchHeader.attributes, BatchHeader.maxTimestamp + 3, BatchHeader.size + 2]) {
    expectError(
      patched((x) => {
        x[at] ^= 0x10
      }, false),
      'CORRUPT_MESSAGE',
      MAX,
      /CRC/,
    )
  }
  const bad = batch()
  bad.writeUInt32BE((bad.readUInt32BE(BatchHeader.crc) + 1) >>> 0, BatchHeader.crc)
  expectError(bad, 'CORRUPT_MESSAGE', MAX, /CRC/)
})

test('MESSAGE_TOO_LARGE when one batch exceeds max.message.bytes (checked before the CRC, as Kafka does)', () => {
  const b = batch()
  assert.equal(validateBatches(b, b.length).ok, true)
  expectError(b, 'MESSAGE_TOO_LARGE', b.length - 1)
  const corrupt = Buffer.from(b)
  corrupt[b.length - 1] ^= 1
  expectError(corrupt, 'MESSAGE_TOO_LARGE', b.length - 1)
})

test('INVALID_RECORD: empty, zero or negative count, inconsistent lastOffsetDelta, base offset, control, sequence', () => {
  expectError(Buffer.alloc(0), 'INVALID_RECORD')
  expectError(
    patched((x) => x.writeInt32BE(0, BatchHeader.recordCount)),
    'INVALID_RECORD',
    MAX,
    /count/,
  )
  expectError(
    patched((x) => x.writeInt32BE(-2, BatchHeader.recordCount)),
    'INVALID_RECORD',
  )
  expectError(
    patched((x) => x.writeInt32BE(5, BatchHeader.lastOffsetDelta)),
    'INVALID_RECORD',
    MAX,
    /lastOffsetDelta/,
  )
  expectError(
    patched((x) => writeInt64(x, BatchHeader.baseOffset, 10), false),
    'INVALID_RECORD',
    MAX,
    /baseOffset/,
  )
  expectError(
    patched((x) => x.writeInt16BE(BatchAttributes.control, BatchHeader.attributes)),
    'INVALID_RECORD',
    MAX,
    /control/,
  )
  expectError(
    patched((x) => {
      writeInt64(x, BatchHeader.producerId, 3)
      x.writeInt32BE(-1, BatchHeader.baseSequence)
    }),
    'INVALID_RECORD',
    MAX,
    /sequence/,
  )
})

test('unknown compression codec in attributes is CORRUPT_MESSAGE', () => {
  expectError(
    patched((x) => x.writeInt16BE(5, BatchHeader.attributes)),
    'CORRUPT_MESSAGE',
    MAX,
    /codec/,
  )
})

test('the first failing batch decides the error', () => {
  const good = batch()
  const bad = patched((x) => x.writeInt32BE(0, BatchHeader.recordCount))
  expectError(Buffer.concat([good, bad]), 'INVALID_RECORD')
})
