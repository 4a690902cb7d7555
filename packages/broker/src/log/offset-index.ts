const ENTRY_SIZE = 8

/**
 * Sparse offset index of one segment: (offset relative to the segment's base offset: int32,
 * position of the batch in the .log file: int32), big-endian as Kafka writes it. An entry is added
 * for a batch starting after more than index.interval.bytes since the previous entry; the batch at
 * position 0 is implicit. Entries live in memory; the file is written when the segment stops being
 * active or the log closes (the active segment's index is rebuilt by recovery after a crash).
 */
export class OffsetIndex {
  private relative: Int32Array
  private positions: Int32Array
  length = 0

  constructor(
    readonly baseOffset: number,
    capacity = 16,
  ) {
    this.relative = new Int32Array(capacity)
    this.positions = new Int32Array(capacity)
  }

  /** Parses an index file, or returns null when it fails the sanity check (then it is rebuilt). */
  static parse(baseOffset: number, data: Buffer, logSize: number): OffsetIndex | null {
    if (data.length % ENTRY_SIZE !== 0) return null
    const count = data.length / ENTRY_SIZE
    const index = new OffsetIndex(baseOffset, Math.max(16, count))
    let previousRelative = 0
    let previousPosition = 0
    for (let i = 0; i < count; i++) {
      const relative = data.readInt32BE(i * ENTRY_SIZE)
      const position = data.readInt32BE(i * ENTRY_SIZE + 4)
      if (relative <= previousRelative || position <= previousPosition || position >= logSize) return null
      index.relative[i] = relative
      index.positions[i] = position
      previousRelative = relative
      previousPosition = position
    }
    index.length = count
    return index
  }

  append(offset: number, position: number): void {
    if (this.length === this.relative.length) this.grow()
    this.relative[this.length] = offset - this.baseOffset
    this.positions[this.length] = position
    this.length++
  }

  /** Position of the last indexed batch starting at or before `offset` (0 when none is). */
  lookup(offset: number): number {
    const target = offset - this.baseOffset
    let lo = 0
    let hi = this.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.relative[mid] <= target) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found < 0 ? 0 : this.positions[found]
  }

  lastPosition(): number {
    return this.length === 0 ? 0 : this.positions[this.length - 1]
  }

  /** Drops the entries past `length` (a failed append is undone). */
  truncate(length: number): void {
    if (length < this.length) this.length = length
  }

  /** The index file's content. */
  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.length * ENTRY_SIZE)
    for (let i = 0; i < this.length; i++) {
      buf.writeInt32BE(this.relative[i], i * ENTRY_SIZE)
      buf.writeInt32BE(this.positions[i], i * ENTRY_SIZE + 4)
    }
    return buf
  }

  private grow(): void {
    const relative = new Int32Array(this.relative.length * 2)
    const positions = new Int32Array(this.positions.length * 2)
    relative.set(this.relative)
    positions.set(this.positions)
    this.relative = relative
    this.positions = positions
  }
}
