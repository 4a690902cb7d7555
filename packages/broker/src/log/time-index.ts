import { readInt64, writeInt64 } from '@fluxo/protocol'

const ENTRY_SIZE = 12

/**
 * Sparse time index of one segment: (timestamp: int64, offset relative to the segment's base
 * offset: int32). An entry (T, O) is added next to an offset index entry when the segment's largest
 * timestamp grew to T; O lies in the first batch whose maxTimestamp is T, so every batch before O's
 * batch has maxTimestamp < T. Timestamps strictly increase from entry to entry.
 */
export class TimeIndex {
  private timestamps: Float64Array
  private relative: Int32Array
  length = 0

  constructor(
    readonly baseOffset: number,
    capacity = 16,
  ) {
    this.timestamps = new Float64Array(capacity)
    this.relative = new Int32Array(capacity)
  }

  static parse(baseOffset: number, data: Buffer): TimeIndex | null {
    if (data.length % ENTRY_SIZE !== 0) return null
    const count = data.length / ENTRY_SIZE
    const index = new TimeIndex(baseOffset, Math.max(16, count))
    let previousTimestamp = Number.NEGATIVE_INFINITY
    let previousRelative = 0
    for (let i = 0; i < count; i++) {
      const timestamp = readInt64(data, i * ENTRY_SIZE)
      const relative = data.readInt32BE(i * ENTRY_SIZE + 8)
      if (timestamp <= previousTimestamp || relative < previousRelative) return null
      index.timestamps[i] = timestamp
      index.relative[i] = relative
      previousTimestamp = timestamp
      previousRelative = relative
    }
    index.length = count
    return index
  }

  lastTimestamp(): number {
    return this.length === 0 ? -1 : this.timestamps[this.length - 1]
  }

  lastOffset(): number {
    return this.length === 0 ? -1 : this.baseOffset + this.relative[this.length - 1]
  }

  /** Appends (timestamp, offset) when timestamp is larger than the last entry's. */
  maybeAppend(timestamp: number, offset: number): void {
    if (timestamp <= this.lastTimestamp()) return
    if (this.length === this.timestamps.length) this.grow()
    this.timestamps[this.length] = timestamp
    this.relative[this.length] = offset - this.baseOffset
    this.length++
  }

  /**
   * Offset to start a search for the first batch with maxTimestamp >= `timestamp`: the offset of
   * the last entry whose timestamp is <= it, or null to start at the segment's beginning.
   */
  lookup(timestamp: number): number | null {
    let lo = 0
    let hi = this.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.timestamps[mid] <= timestamp) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found < 0 ? null : this.baseOffset + this.relative[found]
  }

  truncate(length: number): void {
    if (length < this.length) this.length = length
  }

  /** The index file's content. */
  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.length * ENTRY_SIZE)
    for (let i = 0; i < this.length; i++) {
      writeInt64(buf, i * ENTRY_SIZE, this.timestamps[i])
      buf.writeInt32BE(this.relative[i], i * ENTRY_SIZE + 8)
    }
    return buf
  }

  private grow(): void {
    const timestamps = new Float64Array(this.timestamps.length * 2)
    const relative = new Int32Array(this.relative.length * 2)
    timestamps.set(this.timestamps)
    relative.set(this.relative)
    this.timestamps = timestamps
    this.relative = relative
  }
}
