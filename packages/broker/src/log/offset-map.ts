import crypto from 'node:crypto'

/** Four 32-bit words of key hash, then the stored offset + 1 as two words (0 marks an empty slot). */
const WORDS_PER_SLOT = 6

/**
 * The log cleaner's key → offset map, after Kafka's SkimpyOffsetMap: a fixed open-addressing table
 * in one preallocated typed array, so its memory is set by log.cleaner.dedupe.buffer.size and never
 * grows with the partition. A slot holds a 16-byte key hash and the key's latest offset (24 bytes, as
 * in Kafka), never the key itself.
 *
 * The hash is SHA-256 truncated to 128 bits where Kafka uses MD5: the same 16 bytes per slot and the
 * same speed in Node, but collision resistant. Two keys with the same hash share a slot, so the
 * older record of one would be removed as if the other had superseded it; with MD5 a producer could
 * craft such a pair on purpose, with truncated SHA-256 neither chance (2^-64 by the birthday bound
 * at these sizes) nor construction is practical.
 *
 * The table size is the largest prime that fits, and probing is double hashing (the step comes from
 * other hash bits): with any step coprime to a prime size every slot is reachable, and at the 0.9
 * load factor a miss costs about 10 probes where linear probing would cost about 50.
 */
export class OffsetMap {
  /** Bytes of memory per slot. */
  static readonly BYTES_PER_ENTRY = WORDS_PER_SLOT * 4

  readonly slots: number
  /** Distinct keys the map takes before it reports itself full (slots × load factor). */
  readonly maxEntries: number
  private readonly table: Uint32Array
  private readonly hash = new Uint32Array(4)
  private entries = 0
  /** Set when the table holds entries, so clearing an unused map costs nothing. */
  private used = false
  /** The last offset the map covers: records up to it were read into the map (Kafka's latestOffset). */
  latestOffset = -1

  /**
   * @param memoryBytes the table's size (log.cleaner.dedupe.buffer.size divided among cleaners)
   * @param loadFactor how full the table may get (Kafka's log.cleaner.io.buffer.load.factor, 0.9)
   */
  constructor(memoryBytes: number, loadFactor = 0.9) {
    const fit = Math.floor(memoryBytes / OffsetMap.BYTES_PER_ENTRY)
    if (fit < 2) throw new RangeError(`offset map needs at least ${2 * OffsetMap.BYTES_PER_ENTRY} bytes`)
    this.slots = largestPrimeAtMost(fit)
    // At least one slot stays empty, so a lookup of a missing key always ends.
    this.maxEntries = Math.max(1, Math.min(this.slots - 1, Math.floor(this.slots * loadFactor)))
    this.table = new Uint32Array(this.slots * WORDS_PER_SLOT)
  }

  /** Distinct keys in the map. */
  get size(): number {
    return this.entries
  }

  /** Bytes the table occupies. */
  get memoryBytes(): number {
    return this.table.byteLength
  }

  /** Fraction of maxEntries in use (Kafka's buffer utilization metric, against the load factor). */
  get utilization(): number {
    return this.entries / this.maxEntries
  }

  clear(): void {
    if (this.used) this.table.fill(0)
    this.used = false
    this.entries = 0
    this.latestOffset = -1
  }

  /**
   * Records `offset` as the latest for `key`. Returns false, changing nothing, when the key is not
   * in the map and the map already holds maxEntries keys; an existing key is always updated.
   */
  put(key: Buffer, offset: number): boolean {
    const slot = this.find(key)
    const table = this.table
    const at = slot * WORDS_PER_SLOT
    const empty = table[at + 4] === 0 && table[at + 5] === 0
    if (empty) {
      if (this.entries >= this.maxEntries) return false
      table[at] = this.hash[0]
      table[at + 1] = this.hash[1]
      table[at + 2] = this.hash[2]
      table[at + 3] = this.hash[3]
      this.entries++
      this.used = true
    }
    const stored = offset + 1
    table[at + 4] = Math.floor(stored / 4294967296)
    table[at + 5] = stored >>> 0
    return true
  }

  /** The latest offset recorded for `key`, or -1 when it is not in the map. */
  get(key: Buffer): number {
    if (this.entries === 0) return -1
    const at = this.find(key) * WORDS_PER_SLOT
    const stored = this.table[at + 4] * 4294967296 + this.table[at + 5]
    return stored - 1
  }

  /** The slot holding `key`'s hash, or the empty slot where it would go; leaves the hash in `this.hash`. */
  private find(key: Buffer): number {
    const digest = hashKey(key)
    const hash = this.hash
    hash[0] = digest.readUInt32LE(0)
    hash[1] = digest.readUInt32LE(4)
    hash[2] = digest.readUInt32LE(8)
    hash[3] = digest.readUInt32LE(12)
    const slots = this.slots
    const table = this.table
    let slot = hash[0] % slots
    const step = 1 + (hash[1] % (slots - 1))
    for (;;) {
      const at = slot * WORDS_PER_SLOT
      if (table[at + 4] === 0 && table[at + 5] === 0) return slot
      if (
        table[at] === hash[0] &&
        table[at + 1] === hash[1] &&
        table[at + 2] === hash[2] &&
        table[at + 3] === hash[3]
      )
        return slot
      slot += step
      if (slot >= slots) slot -= slots
    }
  }
}

/** crypto.hash (Node 20.12+) skips the Hash object; older Node 20 releases use createHash. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash

function hashKey(key: Buffer): Buffer {
  if (oneShot !== undefined) return oneShot('sha256', key, 'buffer')
  return crypto.createHash('sha256').update(key).digest()
}

function largestPrimeAtMost(n: number): number {
  for (let candidate = n; candidate > 2; candidate--) {
    if (isPrime(candidate)) return candidate
  }
  return 2
}

function isPrime(n: number): boolean {
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}
