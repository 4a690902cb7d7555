import type { Logger } from 'pino'
import type { RetentionResult } from '../storage/types.js'
import type { Cluster } from './cluster.js'

export interface PartitionRetention extends RetentionResult {
  topic: string
  partition: number
}

/**
 * One pass of Kafka's log retention task (LogManager.cleanupLogs) over every partition of the
 * topics whose cleanup.policy includes delete, with each topic's retention.ms and retention.bytes.
 * A failing partition is logged and skipped; the pass never throws. Returns the partitions that
 * deleted something.
 */
export async function runRetention(
  cluster: Cluster,
  now: number = Date.now(),
  logger?: Logger,
): Promise<PartitionRetention[]> {
  const deleted: PartitionRetention[] = []
  for (const topic of cluster.topics()) {
    const { cleanupPolicy, retentionMs, retentionBytes } = topic.config
    if (!cleanupPolicy.includes('delete')) continue
    for (const partition of topic.partitions) {
      // A topic deleted during the pass has closed logs: nothing left to do for it.
      if (cluster.topic(topic.name) !== topic) break
      try {
        const result = await partition.log.deleteRetained({ retentionMs, retentionBytes, now })
        if (result.deletedSegments === 0) continue
        const entry = { topic: topic.name, partition: partition.index, ...result }
        deleted.push(entry)
        logger?.info(
          { ...entry, retentionMs, retentionBytes },
          `deleted ${result.deletedSegments} log segments past retention`,
        )
      } catch (err) {
        logger?.error({ err, topic: topic.name, partition: partition.index }, 'log retention failed')
      }
    }
  }
  return deleted
}

/**
 * Runs retention every log.retention.check.interval.ms, the first time one interval after the call.
 * Runs never overlap: the next is scheduled when the previous ends. The timer does not keep the
 * process alive. Returns a function that stops it (a run in progress finishes on its own; the
 * logs' close waits for it).
 */
export function startRetention(cluster: Cluster, intervalMs: number, logger: Logger): () => void {
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(run, intervalMs)
    timer.unref()
  }
  const run = () => {
    timer = null
    runRetention(cluster, Date.now(), logger)
      .catch((err) => logger.error({ err }, 'log retention failed'))
      .finally(schedule)
  }
  schedule()
  return () => {
    stopped = true
    if (timer !== null) clearTimeout(timer)
    timer = null
  }
}
