import type { RetentionPolicy } from '../storage/types.js'

/** What retention needs to know of a segment; the file log's LogSegment and the memory log's runs of batches. */
export interface RetainableSegment {
  readonly baseOffset: number
  /** Bytes of batches in the segment. */
  readonly size: number
  /** The largest batch timestamp, or a stand-in when no batch has one (Kafka: the file's mtime). */
  largestTimestamp(): number
}

/**
 * How many segments, oldest first, cleanup.policy=delete removes: Kafka's
 * UnifiedLog.deletableSegments under its three predicates. A segment goes when the next one starts
 * at or below logStartOffset, when `now` is more than retentionMs past its largest timestamp, or
 * when the log without it is still at least retentionBytes; the first segment none of these hold
 * for stops the count. An empty last (active) segment never counts. The size and start-offset
 * predicates hold on a prefix of the log, so one pass deletes what Kafka's three consecutive passes
 * (start offset, size, time) delete.
 */
export function deletableSegments(
  segments: readonly RetainableSegment[],
  logStartOffset: number,
  { retentionMs, retentionBytes, now }: RetentionPolicy,
): number {
  // Bytes above retention.bytes still to free; negative when there is no limit or nothing to free.
  let excess = -1
  if (retentionBytes >= 0) {
    excess = -retentionBytes
    for (const segment of segments) excess += segment.size
  }
  let count = 0
  for (; count < segments.length; count++) {
    const segment = segments[count]
    const next = segments[count + 1]
    if (next === undefined && segment.size === 0) break
    const belowStart = next !== undefined && next.baseOffset <= logStartOffset
    const oversized = excess >= 0 && excess >= segment.size
    const expired = retentionMs >= 0 && now - segment.largestTimestamp() > retentionMs
    if (!belowStart && !oversized && !expired) break
    excess -= segment.size
  }
  return count
}
