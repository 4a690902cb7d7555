// Fetch (key 1), v4–16. Reads whole batches from each partition; never decodes records.
// Long-poll: when fewer than minBytes are ready, the request waits until an append to one of its
// partitions (woken by the partition, not by a polling timer), maxWaitMs, or broker shutdown.
// Limits: partitionMaxBytes per partition and maxBytes for the response, except that the first
// batch of the first non-empty partition is returned whole even when larger (KIP-74).
// Fetch sessions (KIP-227) are not kept: every response carries sessionId 0, which clients treat
// as "no session" and keep sending full fetches. v13+ names topics by id.
// read_committed (isolationLevel 1) returns batches below the last stable offset only, with the
// aborted transactions they overlap; markers wake long-polls like appends, since they move the LSO.
import {
  ErrorCode,
  type FetchResponseFetchableTopicResponse,
  type FetchResponsePartitionData,
  defaultFetchResponse,
  defaultFetchResponsePartitionData,
} from '@fluxo/protocol'
import { IsolationLevel, type Partition } from '../cluster/partition.js'
import { defineHandler } from './handler.js'

/** Kafka answers "no data" with an empty record set, never null (librdkafka rejects a null one). */
const NO_RECORDS = Buffer.alloc(0)

interface Target {
  partition: Partition | undefined
  fetchOffset: number
  partitionMaxBytes: number
  response: FetchResponsePartitionData
}

export const fetch = defineHandler({
  apiKey: 1,
  async handle(request, ctx) {
    const { cluster, shutdown } = ctx.broker
    const byId = ctx.version >= 13
    if (request.sessionId !== 0) {
      return { ...defaultFetchResponse(), errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND }
    }
    if (request.sessionEpoch > 0) {
      return { ...defaultFetchResponse(), errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH }
    }

    const responses: FetchResponseFetchableTopicResponse[] = []
    const targets: Target[] = []
    for (const t of request.topics) {
      const topic = byId ? cluster.topicById(t.topicId) : cluster.topic(t.topic)
      const partitions: FetchResponsePartitionData[] = []
      responses.push({ topic: topic?.name ?? t.topic, topicId: topic?.topicId ?? t.topicId, partitions })
      for (const p of t.partitions) {
        const response = defaultFetchResponsePartitionData()
        response.partitionIndex = p.partition
        response.records = NO_RECORDS
        if (request.isolationLevel === IsolationLevel.readCommitted) response.abortedTransactions = []
        partitions.push(response)
        const partition = topic?.partitions[p.partition]
        if (!partition) {
          response.errorCode =
            topic || !byId ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID
        }
        targets.push({
          partition,
          fetchOffset: p.fetchOffset,
          partitionMaxBytes: p.partitionMaxBytes,
          response,
        })
      }
    }

    const isolation =
      request.isolationLevel === IsolationLevel.readCommitted
        ? IsolationLevel.readCommitted
        : IsolationLevel.readUncommitted
    const deadline = Date.now() + request.maxWaitMs
    for (;;) {
      const { bytes, errors } = await readAll(targets, request.maxBytes, isolation)
      const waitMs = deadline - Date.now()
      if (bytes >= request.minBytes || errors || waitMs <= 0 || shutdown.aborted) break
      await waitForAppend(targets, waitMs, shutdown)
    }
    return { ...defaultFetchResponse(), responses }
  },
})

async function readAll(
  targets: Target[],
  maxBytes: number,
  isolation: IsolationLevel,
): Promise<{ bytes: number; errors: boolean }> {
  let remaining = maxBytes
  let total = 0
  let errors = false
  for (const target of targets) {
    const { partition, response } = target
    if (!partition) {
      errors = true
      continue
    }
    const limit = Math.min(target.partitionMaxBytes, remaining)
    const read = await partition.read(target.fetchOffset, limit, isolation)
    response.errorCode = read.errorCode
    response.highWatermark = read.highWatermark
    response.lastStableOffset = read.lastStableOffset
    response.logStartOffset = read.logStartOffset
    if (read.errorCode !== ErrorCode.NONE) errors = true
    // Only the first non-empty partition may exceed the limits (KIP-74).
    if (read.bytes > limit && total > 0) {
      response.records = NO_RECORDS
      if (read.abortedTransactions !== null) response.abortedTransactions = []
      continue
    }
    response.records = read.records ?? NO_RECORDS
    if (read.abortedTransactions !== null) response.abortedTransactions = read.abortedTransactions
    total += read.bytes
    remaining -= read.bytes
  }
  return { bytes: total, errors }
}

function waitForAppend(targets: Target[], waitMs: number, shutdown: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const cancels: (() => void)[] = []
    const timer = setTimeout(done, waitMs)
    function done() {
      clearTimeout(timer)
      for (const cancel of cancels) cancel()
      shutdown.removeEventListener('abort', done)
      resolve()
    }
    shutdown.addEventListener('abort', done)
    for (const { partition } of targets) if (partition) cancels.push(partition.onAppend(done))
  })
}
