// Shared pieces of the benchmark: frame splitting, pre-encoded requests and responses, /proc
// readers and the .cpuprofile summary. Plain ESM over the built packages (packages/*/dist).
import fs from 'node:fs'
import {
  ApiKey,
  BatchHeader,
  apiDefinitions,
  defaultFetchRequest,
  defaultFetchRequestFetchPartition,
  defaultFetchRequestFetchTopic,
  defaultFetchResponse,
  defaultFetchResponsePartitionData,
  defaultProduceRequest,
  defaultProduceResponse,
  defaultProduceResponsePartitionProduceResponse,
  encodeRecordBatchSync,
  encodeRequestFrame,
  encodeResponseFrame,
  setBaseOffset,
} from '@fluxo/protocol'

export const PRODUCE_VERSION = 7
export const FETCH_VERSION = 11
export const KiB = 1024
export const MiB = 1024 * 1024

/**
 * Splits a byte stream on the int32 size prefix, like the broker's Connection: a frame inside one
 * chunk is a view, a frame spanning chunks is copied into one buffer. `onFrame` gets the payload.
 */
export class FrameSplitter {
  constructor(onFrame) {
    this.onFrame = onFrame
    this.chunks = []
    this.buffered = 0
  }

  push(chunk) {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    while (this.buffered >= 4) {
      const size = this.peekSize()
      if (this.buffered < 4 + size) break
      this.onFrame(this.take(4 + size).subarray(4))
    }
  }

  peekSize() {
    const first = this.chunks[0]
    if (first.length >= 4) return first.readInt32BE(0)
    const head = Buffer.allocUnsafe(4)
    let filled = 0
    for (const c of this.chunks) {
      filled += c.copy(head, filled, 0, Math.min(c.length, 4 - filled))
      if (filled === 4) break
    }
    return head.readInt32BE(0)
  }

  take(n) {
    const first = this.chunks[0]
    this.buffered -= n
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = this.chunks[0]
      const part = Math.min(c.length, n - filled)
      c.copy(out, filled, 0, part)
      filled += part
      if (part === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(part)
    }
    return out
  }
}

/** One uncompressed record batch of `batchKiB` KiB made of `recordBytes`-byte values (baseOffset 0). */
export function makeBatch(batchKiB = 256, recordBytes = 1024) {
  const count = Math.floor((batchKiB * KiB) / recordBytes)
  const value = Buffer.alloc(recordBytes)
  for (let i = 0; i < recordBytes; i++) value[i] = (i * 31 + 7) & 0xff
  const now = Date.now()
  const records = Array.from({ length: count }, () => ({ value, timestamp: now }))
  return encodeRecordBatchSync({ records, baseTimestamp: now })
}

/** A whole Produce v7 frame (size prefix included) for one partition, as one buffer. */
export function produceFrame(topic, partition, batch, correlationId, acks = 1) {
  const req = defaultProduceRequest()
  req.acks = acks
  req.timeoutMs = 30000
  req.topicData = [{ name: topic, partitionData: [{ index: partition, records: batch }] }]
  const chunks = encodeRequestFrame(
    apiDefinitions[ApiKey.Produce],
    PRODUCE_VERSION,
    correlationId,
    'bench',
    req,
  )
  return Buffer.concat(chunks)
}

/** A Fetch v11 frame for one partition (maxWait 0, minBytes 1). */
export function fetchFrame(topic, partition, offset, correlationId, partitionMaxBytes, maxBytes) {
  const req = defaultFetchRequest()
  req.maxWaitMs = 0
  req.minBytes = 1
  req.maxBytes = maxBytes
  req.sessionId = 0
  req.sessionEpoch = -1
  const p = defaultFetchRequestFetchPartition()
  p.partition = partition
  p.fetchOffset = offset
  p.partitionMaxBytes = partitionMaxBytes
  const t = defaultFetchRequestFetchTopic()
  t.topic = topic
  t.partitions = [p]
  req.topics = [t]
  return encodeRequestFrame(apiDefinitions[ApiKey.Fetch], FETCH_VERSION, correlationId, 'bench', req)
}

/** A minimal valid ProduceResponse v7 frame (correlation id at bytes 4..7, to patch). */
export function produceResponseTemplate(topic) {
  const part = defaultProduceResponsePartitionProduceResponse()
  const body = { ...defaultProduceResponse(), responses: [{ name: topic, partitionResponses: [part] }] }
  return Buffer.concat(encodeResponseFrame(apiDefinitions[ApiKey.Produce], PRODUCE_VERSION, 0, body))
}

/**
 * A FetchResponse v11 frame holding as many copies of `batch` as fit in `partitionMaxBytes` (what
 * the broker returns for the same request), split into an 8-byte head (size, correlation id) to
 * patch per response and a shared body that is never copied.
 */
export function fetchResponseTemplate(topic, batch, partitionMaxBytes) {
  const count = Math.max(1, Math.floor(partitionMaxBytes / batch.length))
  const records = Buffer.allocUnsafe(count * batch.length)
  for (let i = 0; i < count; i++) {
    const copy = records.subarray(i * batch.length, (i + 1) * batch.length)
    batch.copy(copy)
    setBaseOffset(copy, i * (copy.readInt32BE(BatchHeader.lastOffsetDelta) + 1))
  }
  const part = defaultFetchResponsePartitionData()
  part.highWatermark = 1e12
  part.lastStableOffset = 1e12
  part.logStartOffset = 0
  part.records = records
  const body = {
    ...defaultFetchResponse(),
    responses: [{ topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [part] }],
  }
  const frame = Buffer.concat(encodeResponseFrame(apiDefinitions[ApiKey.Fetch], FETCH_VERSION, 0, body))
  return { head: frame.subarray(0, 8), body: frame.subarray(8), recordBytes: records.length }
}

/** Fields of /proc/<pid>/status in kB (VmRSS, VmHWM), or null once the process is gone. */
export function procMemory(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN)
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') }
  } catch {
    return null
  }
}

/** CPU seconds (user, system) a process has used so far, from /proc/<pid>/stat; null once it is gone. */
export function procCpu(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    const hz = 100 // USER_HZ
    return { user: Number(fields[11]) / hz, system: Number(fields[12]) / hz }
  } catch {
    return null
  }
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]
}

export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

/**
 * Top self-time functions over V8 .cpuprofile files: each sample's time (its timeDelta) goes to
 * the node it hit; nodes are grouped by function name + url:line across all the files.
 */
export function summarizeProfile(files, top = 15, root = process.cwd()) {
  const groups = new Map()
  let totalUs = 0
  let idleUs = 0
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8'))
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const selfUs = new Map()
    const { samples, timeDeltas } = profile
    for (let i = 0; i < samples.length; i++) {
      const dt = timeDeltas[i + 1] ?? timeDeltas[i] ?? 0
      selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt))
    }
    for (const [id, us] of selfUs) {
      const { functionName, url, lineNumber } = byId.get(id).callFrame
      const name = functionName || '(anonymous)'
      if (name === '(idle)') {
        idleUs += us
        continue
      }
      totalUs += us
      let where = url.replace(/^file:\/\//, '').replace(`${root}/`, '')
      if (where.includes('/node_modules/')) where = where.slice(where.lastIndexOf('/node_modules/') + 14)
      const key = where ? `${name} ${where}:${lineNumber + 1}` : name
      groups.set(key, (groups.get(key) ?? 0) + us)
    }
  }
  const rows = [...groups]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, pct: (100 * us) / totalUs }))
  return { files, busyMs: totalUs / 1000, idleMs: idleUs / 1000, top: rows }
}
