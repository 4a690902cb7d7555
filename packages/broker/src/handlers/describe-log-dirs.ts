// DescribeLogDirs (key 35), v1–4. One log dir: the file backend's data directory (absolute path),
// or "memory" for the memory backend. Each partition reports its size in bytes (every segment, as
// Kafka's log.size), offsetLag 0 and isFutureKey false (no replica is being moved between dirs).
// A null topic list means every partition, internal topics included; otherwise only the named
// partitions that exist are listed (unknown ones are left out, as Kafka does), and topics left
// without partitions are dropped. v4 adds the file system's total and usable bytes (KIP-827): -1
// in memory or when the file system cannot be asked.
import fs from 'node:fs'
import {
  type DescribeLogDirsResponseDescribeLogDirsTopic,
  ErrorCode,
  defaultDescribeLogDirsResponse,
} from '@fluxo/protocol'
import { defineHandler } from './handler.js'

const MEMORY_LOG_DIR = 'memory'
const UNKNOWN_BYTES = -1

export const describeLogDirs = defineHandler({
  apiKey: 35,
  async handle(request, ctx) {
    const { cluster, logger } = ctx.broker
    let wanted: Set<string> | null = null
    if (request.topics !== null) {
      wanted = new Set()
      for (const t of request.topics) for (const p of t.partitions) wanted.add(key(t.topic, p))
    }
    const topics: DescribeLogDirsResponseDescribeLogDirsTopic[] = []
    for (const topic of cluster.topics()) {
      const partitions = topic.partitions
        .filter((p) => wanted === null || wanted.has(key(topic.name, p.index)))
        .map((p) => ({
          partitionIndex: p.index,
          partitionSize: p.log.size(),
          offsetLag: 0,
          isFutureKey: false,
        }))
      if (partitions.length > 0) topics.push({ name: topic.name, partitions })
    }
    const logDir = cluster.store.logDir
    let totalBytes = UNKNOWN_BYTES
    let usableBytes = UNKNOWN_BYTES
    if (logDir !== null) {
      try {
        const stats = await fs.promises.statfs(logDir)
        totalBytes = stats.blocks * stats.bsize
        usableBytes = stats.bavail * stats.bsize
      } catch (err) {
        logger.warn({ err, logDir }, 'cannot read the file system size of the log dir')
      }
    }
    return {
      ...defaultDescribeLogDirsResponse(),
      errorCode: ErrorCode.NONE,
      results: [
        { errorCode: ErrorCode.NONE, logDir: logDir ?? MEMORY_LOG_DIR, topics, totalBytes, usableBytes },
      ],
    }
  },
})

function key(topic: string, partition: number): string {
  return `${topic}\0${partition}`
}
