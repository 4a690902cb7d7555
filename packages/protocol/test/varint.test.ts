import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import {
  type Cursor,
  VarIntError,
  readUnsignedVarInt,
  readVarInt,
  readVarLong,
  sizeOfUnsignedVarInt,
  sizeOfVarInt,
  sizeOfVarLong,
  writeUnsignedVarInt,
  writeVarInt,
  writeVarLong,
} from '../src/varint.js'

interface KafkaJsEncoder {
  writeVarInt(v: number): KafkaJsEncoder
  writeVarLong(v: number): KafkaJsEncoder
  writeUVarInt(v: number): KafkaJsEncoder
  buffer: Buffer
}
const require = createRequire(import.meta.url)
const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkaJsEncoder

const INT32_EDGES = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, 2 ** 20, -(2 ** 20), 2 ** 30, -(2 ** 30)]
INT32_EDGES.push(2 ** 31 - 1, -(2 ** 31), 2 ** 27 - 1, -(2 ** 27))
const INT64_EDGES = [
  ...INT32_EDGES,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  -(2 ** 32),
  2 ** 35 + 7,
  -(2 ** 35) - 7,
]
INT64_EDGES.push(1_700_000_000_000, -1_700_000_000_000, 2 ** 52, -(2 ** 52), 2 ** 53 - 1, -(2 ** 53) + 1)
INT64_EDGES.push(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 49 - 1, 2 ** 49, 2 ** 56 / 2 ** 4)

function randomInt64(): number {
  const bits = Math.floor(Math.random() * 53)
  const v = Math.floor(Math.random() * 2 ** bits)
  return Math.random() < 0.5 && v !== 0 ? -v : v
}

test('varint round trips edge values, with sizes, matching KafkaJS bytes', () => {
  const buf = Buffer.alloc(16)
  for (const v of INT32_EDGES) {
    const end = writeVarInt(buf, 3, v)
    assert.equal(end - 3, sizeOfVarInt(v), `size of ${v}`)
    assert.deepEqual(buf.subarray(3, end), new Encoder().writeVarInt(v).buffer, `bytes of ${v}`)
    const cursor: Cursor = { pos: 3 }
    assert.equal(readVarInt(buf, cursor), v)
    assert.equal(cursor.pos, end)
  }
})

test('varlong round trips edge and random values, with sizes, matching KafkaJS bytes', () => {
  const buf = Buffer.alloc(16)
  const values = [...INT64_EDGES]
  for (let i = 0; i < 2000; i++) values.push(randomInt64())
  for (const v of values) {
    const end = writeVarLong(buf, 1, v)
    assert.equal(end - 1, sizeOfVarLong(v), `size of ${v}`)
    assert.deepEqual(buf.subarray(1, end), new Encoder().writeVarLong(v).buffer, `bytes of ${v}`)
    const cursor: Cursor = { pos: 1 }
    assert.equal(readVarLong(buf, cursor), v, `value ${v}`)
    assert.equal(cursor.pos, end)
  }
})

test('varlong reads int64 extremes written by Java (10 bytes)', () => {
  // zigzag(Long.MIN_VALUE) = 2^64 - 1: nine 0xff bytes then 0x01.
  const min = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
  const cursor = { pos: 0 }
  assert.equal(readVarLong(min, cursor), -(2 ** 63))
  assert.equal(cursor.pos, 10)
})

test('unsigned varint round trips uint32 values and matches KafkaJS', () => {
  const buf = Buffer.alloc(8)
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1]) {
    const end = writeUnsignedVarInt(buf, 0, v)
    assert.equal(end, sizeOfUnsignedVarInt(v))
    if (v < 2 ** 31) assert.deepEqual(buf.subarray(0, end), new Encoder().writeUVarInt(v).buffer)
    const cursor = { pos: 0 }
    assert.equal(readUnsignedVarInt(buf, cursor), v)
    assert.equal(cursor.pos, end)
  }
})

test('truncated and over-long varints throw VarIntError', () => {
  assert.throws(() => readVarInt(Buffer.from([0x80, 0x80]), { pos: 0 }), VarIntError)
  assert.throws(() => readVarInt(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), { pos: 0 }), VarIntError)
  assert.throws(() => readVarLong(Buffer.alloc(11, 0x80), { pos: 0 }), VarIntError)
  assert.throws(() => readVarLong(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80]), { pos: 0 }), VarIntError)
  assert.throws(
    () => readUnsignedVarInt(Buffer.alloc(0), { pos: 0 }),
    (err: VarIntError) => {
      return err.code === 'ERR_FLUXO_VARINT'
    },
  )
})
