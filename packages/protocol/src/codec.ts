/**
 * Kafka protocol primitives: the only hand-written codec code besides record batches and framing.
 * Generated message codecs (src/generated/) call these. `compact` selects the flexible-version
 * encodings (unsigned-varint lengths plus one, KIP-482).
 */

export class ProtocolError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProtocolError'
    this.code = code
  }
}

/** Thrown for any malformed input; the only error a decoder may throw. */
export class DecodeError extends ProtocolError {
  constructor(message: string) {
    super('ERR_FLUXO_DECODE', message)
    this.name = 'DecodeError'
  }
}

export class EncodeError extends ProtocolError {
  constructor(message: string) {
    super('ERR_FLUXO_ENCODE', message)
    this.name = 'EncodeError'
  }
}

/** A tagged field this version of Fluxo does not know: kept as raw bytes so it survives a round trip. */
export type TaggedField = readonly [tag: number, data: Buffer]
/** A known tagged field to write: its tag and a function writing its value. */
export type TaggedWrite = readonly [tag: number, write: (w: Writer) => void]

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA'
const TWO_32 = 4294967296
const EMPTY = Buffer.alloc(0)

export class Reader {
  pos: number
  readonly end: number

  constructor(
    readonly buf: Buffer,
    pos = 0,
    end = buf.length,
  ) {
    this.pos = pos
    this.end = end
  }

  get remaining(): number {
    return this.end - this.pos
  }

  private need(n: number): number {
    const at = this.pos
    if (at + n > this.end)
      throw new DecodeError(`need ${n} bytes at offset ${at}, only ${this.end - at} left`)
    this.pos = at + n
    return at
  }

  int8(): number {
    return this.buf.readInt8(this.need(1))
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2))
  }
  uint16(): number {
    return this.buf.readUInt16BE(this.need(2))
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4))
  }
  uint32(): number {
    return this.buf.readUInt32BE(this.need(4))
  }
  /** int64 as a number: exact below 2^53, which holds for offsets, timestamps and producer ids. */
  int64(): number {
    const at = this.need(8)
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4)
  }
  float64(): number {
    return this.buf.readDoubleBE(this.need(8))
  }
  bool(): boolean {
    return this.buf[this.need(1)] !== 0
  }
  uuid(): string {
    const at = this.need(16)
    return this.buf.toString('base64url', at, at + 16)
  }

  uvarint(): number {
    let value = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varint')
      const byte = this.buf[this.pos++]
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
      shift += 7
    }
    throw new DecodeError('varint longer than 5 bytes')
  }

  varint(): number {
    const n = this.uvarint()
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2
  }

  /** Length of a string, bytes or array; -1 means null. */
  private length(compact: boolean): number {
    const n = compact ? this.uvarint() - 1 : this.int32()
    if (n < -1) throw new DecodeError(`negative length ${n}`)
    return n
  }

  nullableString(compact: boolean): string | null {
    const n = compact ? this.uvarint() - 1 : this.int16()
    if (n < 0) {
      if (n === -1) return null
      throw new DecodeError(`negative string length ${n}`)
    }
    const at = this.need(n)
    return this.buf.toString('utf8', at, at + n)
  }

  string(compact: boolean): string {
    const s = this.nullableString(compact)
    if (s === null) throw new DecodeError('null string in a non-nullable field')
    return s
  }

  /** Bytes as a view into the frame (no copy). */
  nullableBytes(compact: boolean): Buffer | null {
    const n = this.length(compact)
    if (n === -1) return null
    const at = this.need(n)
    return this.buf.subarray(at, at + n)
  }

  bytes(compact: boolean): Buffer {
    const b = this.nullableBytes(compact)
    if (b === null) throw new DecodeError('null bytes in a non-nullable field')
    return b
  }

  raw(n: number): Buffer {
    const at = this.need(n)
    return this.buf.subarray(at, at + n)
  }

  /** Array length; -1 for a null array. A count larger than the bytes left cannot be valid. */
  arrayLength(compact: boolean): number {
    const n = this.length(compact)
    if (n > this.end - this.pos)
      throw new DecodeError(`array of ${n} elements with ${this.end - this.pos} bytes left`)
    return n
  }

  /** Reads the tagged-field section, calling `known` for each tag; unknown tags are returned raw. */
  taggedFields(known: (tag: number, r: Reader) => boolean): TaggedField[] | undefined {
    const count = this.uvarint()
    let unknown: TaggedField[] | undefined
    let last = -1
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint()
      if (tag <= last) throw new DecodeError(`tagged fields out of order: ${tag} after ${last}`)
      last = tag
      const size = this.uvarint()
      const at = this.need(size)
      const sub = new Reader(this.buf, at, at + size)
      if (!known(tag, sub)) (unknown ??= []).push([tag, this.buf.subarray(at, at + size)])
    }
    return unknown
  }

  skipTaggedFields(): TaggedField[] | undefined {
    return this.taggedFields(() => false)
  }
}

/**
 * A growable writer. Large byte fields (record batches) are kept as references instead of copied:
 * `chunks()` returns the pieces to hand to `socket.write` / `writev`.
 */
export class Writer {
  private buf: Buffer
  private pos = 0
  private readonly done: Buffer[] = []
  private doneBytes = 0

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize)
  }

  get length(): number {
    return this.doneBytes + this.pos
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  int8(v: number): void {
    this.ensure(1)
    this.pos = this.buf.writeInt8(v, this.pos)
  }
  int16(v: number): void {
    this.ensure(2)
    this.pos = this.buf.writeInt16BE(v, this.pos)
  }
  uint16(v: number): void {
    this.ensure(2)
    this.pos = this.buf.writeUInt16BE(v, this.pos)
  }
  int32(v: number): void {
    this.ensure(4)
    this.pos = this.buf.writeInt32BE(v, this.pos)
  }
  uint32(v: number): void {
    this.ensure(4)
    this.pos = this.buf.writeUInt32BE(v, this.pos)
  }
  int64(v: number): void {
    this.ensure(8)
    const hi = Math.floor(v / TWO_32)
    this.buf.writeInt32BE(hi, this.pos)
    this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 4)
    this.pos += 8
  }
  float64(v: number): void {
    this.ensure(8)
    this.pos = this.buf.writeDoubleBE(v, this.pos)
  }
  bool(v: boolean): void {
    this.ensure(1)
    this.buf[this.pos++] = v ? 1 : 0
  }
  uuid(v: string): void {
    const b = Buffer.from(v, 'base64url')
    if (b.length !== 16) throw new EncodeError(`not a 16-byte uuid: ${v}`)
    this.ensure(16)
    this.pos += b.copy(this.buf, this.pos)
  }

  uvarint(v: number): void {
    this.ensure(5)
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.pos++] = v
  }

  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  private writeLength(compact: boolean, n: number): void {
    if (compact) this.uvarint(n + 1)
    else this.int32(n)
  }

  nullableString(compact: boolean, s: string | null): void {
    if (s === null) {
      if (compact) this.uvarint(0)
      else this.int16(-1)
      return
    }
    const n = Buffer.byteLength(s)
    if (compact) this.uvarint(n + 1)
    else {
      if (n > 0x7fff) throw new EncodeError(`string of ${n} bytes is too long`)
      this.int16(n)
    }
    this.ensure(n)
    this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  string(compact: boolean, s: string): void {
    if (s === null || s === undefined) throw new EncodeError('null string in a non-nullable field')
    this.nullableString(compact, s)
  }

  nullableBytes(compact: boolean, b: Uint8Array | null): void {
    if (b === null) {
      this.writeLength(compact, -1)
      return
    }
    this.writeLength(compact, b.length)
    this.raw(b)
  }

  bytes(compact: boolean, b: Uint8Array): void {
    if (b === null || b === undefined) throw new EncodeError('null bytes in a non-nullable field')
    this.nullableBytes(compact, b)
  }

  /** Appends bytes; large ones by reference (the caller must not change them before they are sent). */
  raw(b: Uint8Array): void {
    if (b.length >= 4096) {
      this.done.push(this.buf.subarray(0, this.pos), b as Buffer)
      this.doneBytes += this.pos + b.length
      this.buf = this.buf.subarray(this.pos)
      this.pos = 0
      return
    }
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  arrayLength(compact: boolean, n: number): void {
    this.writeLength(compact, n)
  }

  /** Writes a tagged-field section: known fields (if any) merged with unknown ones, in tag order. */
  taggedFields(unknown: readonly TaggedField[] | undefined, known?: TaggedWrite[]): void {
    if (!known && !unknown) {
      this.uvarint(0)
      return
    }
    const all: TaggedWrite[] = known ? [...known] : []
    if (unknown) for (const [tag, data] of unknown) all.push([tag, (w) => w.raw(data)])
    all.sort((a, b) => a[0] - b[0])
    this.uvarint(all.length)
    for (const [tag, write] of all) {
      const sub = new Writer(64)
      write(sub)
      const body = sub.toBuffer()
      this.uvarint(tag)
      this.uvarint(body.length)
      this.raw(body)
    }
  }

  /** Overwrites an int32 written earlier (frame sizes). Only for positions in the first chunk. */
  patchInt32(at: number, v: number): void {
    const target = this.done.length ? this.done[0] : this.buf
    target.writeInt32BE(v, at)
  }

  chunks(): Buffer[] {
    return this.pos === 0 ? this.done : [...this.done, this.buf.subarray(0, this.pos)]
  }

  toBuffer(): Buffer {
    if (this.done.length === 0) return this.buf.subarray(0, this.pos)
    return Buffer.concat(this.chunks(), this.length)
  }
}

export const emptyBuffer = (): Buffer => EMPTY
