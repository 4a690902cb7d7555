import { FluxoError } from './errors.js'

/**
 * Varints as Kafka writes them: zigzag-signed varint/varlong inside records (like protobuf's
 * sint32/sint64), unsigned varint for lengths and tags of flexible versions (KIP-482).
 *
 * Reads advance a caller-owned cursor instead of returning [value, pos]: no allocation per call, and a
 * protocol reader with a `pos` field can pass itself.
 */

export interface Cursor {
  pos: number
}

export class VarIntError extends FluxoError {
  constructor(message: string) {
    super('ERR_FLUXO_VARINT', message)
  }
}

const TWO_POW_28 = 268435456
const TWO_POW_32 = 4294967296

function truncated(pos: number): VarIntError {
  return new VarIntError(`varint truncated at byte ${pos}`)
}

/** Unsigned varint, at most 5 bytes (uint32). */
export function readUnsignedVarInt(buf: Buffer, cursor: Cursor): number {
  let pos = cursor.pos
  const end = buf.length
  let value = 0
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw truncated(pos)
    const b = buf[pos++]
    value |= (b & 0x7f) << shift
    if (b < 0x80) {
      cursor.pos = pos
      return value >>> 0
    }
  }
  throw new VarIntError(`varint longer than 5 bytes at ${cursor.pos}`)
}

/** Zigzag varint (int32). */
export function readVarInt(buf: Buffer, cursor: Cursor): number {
  const raw = readUnsignedVarInt(buf, cursor)
  return (raw >>> 1) ^ -(raw & 1)
}

/** Zigzag varlong. Exact while |value| <= 2^53; larger values lose precision, like any JS number. */
export function readVarLong(buf: Buffer, cursor: Cursor): number {
  let pos = cursor.pos
  const end = buf.length
  // First 28 bits with int arithmetic: the common case (small deltas) never leaves this loop.
  let lo = 0
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw truncated(pos)
    const b = buf[pos++]
    lo |= (b & 0x7f) << shift
    if (b < 0x80) {
      cursor.pos = pos
      return (lo >>> 1) ^ -(lo & 1)
    }
  }
  let hi = 0
  let scale = 1
  for (let i = 0; i < 6; i++) {
    if (pos >= end) throw truncated(pos)
    const b = buf[pos++]
    hi += (b & 0x7f) * scale
    if (b < 0x80) {
      cursor.pos = pos
      const magnitude = (lo >>> 1) + hi * (TWO_POW_28 / 2)
      return lo & 1 ? -magnitude - 1 : magnitude
    }
    scale *= 128
  }
  throw new VarIntError(`varlong longer than 10 bytes at ${cursor.pos}`)
}

/** Writes an unsigned varint (value taken as uint32); returns the position after it. */
export function writeUnsignedVarInt(buf: Buffer, pos: number, value: number): number {
  value >>>= 0
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80
    value >>>= 7
  }
  buf[pos++] = value
  return pos
}

/** Writes a zigzag varint (value taken as int32); returns the position after it. */
export function writeVarInt(buf: Buffer, pos: number, value: number): number {
  return writeUnsignedVarInt(buf, pos, (value << 1) ^ (value >> 31))
}

/** Writes a zigzag varlong for an integer with |value| <= 2^53; returns the position after it. */
export function writeVarLong(buf: Buffer, pos: number, value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return writeVarInt(buf, pos, value)
  // Zigzag as (2 * magnitude + sign) over two 32-bit halves: 2 * value would not be exact above 2^52.
  const negative = value < 0
  const magnitude = negative ? -value - 1 : value
  const mHi = Math.floor(magnitude / TWO_POW_32)
  const mLo = magnitude - mHi * TWO_POW_32
  let lo = ((mLo * 2) % TWO_POW_32) + (negative ? 1 : 0)
  let hi = mHi * 2 + (mLo >= 0x80000000 ? 1 : 0)
  while (hi > 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80
    lo = (lo >>> 7) | ((hi & 0x7f) << 25)
    lo >>>= 0
    hi >>>= 7
  }
  buf[pos++] = lo
  return pos
}

export function sizeOfUnsignedVarInt(value: number): number {
  value >>>= 0
  if (value < 0x80) return 1
  if (value < 0x4000) return 2
  if (value < 0x200000) return 3
  if (value < 0x10000000) return 4
  return 5
}

export function sizeOfVarInt(value: number): number {
  return sizeOfUnsignedVarInt((value << 1) ^ (value >> 31))
}

export function sizeOfVarLong(value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return sizeOfVarInt(value)
  // Float rounding of the zigzag value above 2^53 cannot cross a 7-bit boundary (the next is 2^56).
  let zigzag = value < 0 ? -2 * value - 1 : 2 * value
  let size = 1
  while (zigzag >= 128) {
    zigzag = Math.floor(zigzag / 128)
    size++
  }
  return size
}
