/**
 * murmur2 exactly as Kafka's Java client computes it (`Utils.murmur2`), so keyed records land on the
 * same partition whichever client produced them.
 */
const SEED = 0x9747b28c
const M = 0x5bd1e995

export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = SEED ^ length
  const length4 = length & ~3
  for (let i = 0; i < length4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const rest = length & 3
  if (rest > 0) {
    if (rest === 3) h ^= data[length4 + 2] << 16
    if (rest >= 2) h ^= data[length4 + 1] << 8
    h ^= data[length4]
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h
}

export function toPositive(n: number): number {
  return n & 0x7fffffff
}

/** The default partitioner's choice for a non-null key (Java's BuiltInPartitioner.partitionForKey). */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions
}
