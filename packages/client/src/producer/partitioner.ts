/**
 * The default partitioner. Keyed records go to murmur2(key) % partitions exactly as Java's
 * BuiltInPartitioner computes it, so any client puts a key on the same partition. Keyless records
 * stick to one partition until a batch for it is closed (KIP-480), then move to another randomly
 * chosen partition: batches fill up instead of one tiny batch per partition per linger.
 */
import { partitionForKey } from '@fluxo/protocol'

/** Picks a partition for a record; `partitionCount` is the topic's current partition count. */
export type Partitioner = (record: { topic: string; key: Buffer | null }, partitionCount: number) => number

export class BuiltInPartitioner {
  private readonly sticky = new Map<string, number>()

  constructor(private readonly random: () => number = Math.random) {}

  partition(topic: string, key: Buffer | null, partitionCount: number): number {
    if (key !== null) return partitionForKey(key, partitionCount)
    const current = this.sticky.get(topic)
    if (current !== undefined && current < partitionCount) return current
    const next = Math.floor(this.random() * partitionCount)
    this.sticky.set(topic, next)
    return next
  }

  /** A batch for `partition` was closed: if it was the sticky one, keyless records move on. */
  onBatchClosed(topic: string, partition: number, partitionCount: number): void {
    if (this.sticky.get(topic) !== partition) return
    if (partitionCount <= 1) return
    let next = Math.floor(this.random() * (partitionCount - 1))
    if (next >= partition) next++
    this.sticky.set(topic, next)
  }
}
