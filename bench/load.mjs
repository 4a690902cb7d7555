// Raw-protocol load generators (run in the bench's main process, against a server in a child).
import net from 'node:net'
import { ApiKey, BatchHeader, apiDefinitions, decodeResponseFrame, readInt64 } from '@fluxo/protocol'
import { FETCH_VERSION, FrameSplitter, PRODUCE_VERSION, fetchFrame, percentile } from './common.mjs'

function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/**
 * Measures what arrives in [warmupMs, warmupMs + durationMs] after the connections are up; the
 * `counter` object is shared by every connection. `hooks.start` / `hooks.end` run at the window's edges.
 */
function window(counter, warmupMs, durationMs, stop, hooks) {
  const t0 = performance.now()
  const mark = {}
  const first = setTimeout(() => {
    mark.t = performance.now()
    mark.bytes = counter.bytes
    mark.requests = counter.requests
    counter.latencies.length = 0
    hooks?.start?.()
  }, warmupMs)
  const second = setTimeout(() => {
    const elapsedMs = performance.now() - mark.t
    hooks?.end?.()
    stop({
      elapsedMs,
      bytes: counter.bytes - mark.bytes,
      requests: counter.requests - mark.requests,
    })
  }, warmupMs + durationMs)
  return () => {
    clearTimeout(first)
    clearTimeout(second)
    return performance.now() - t0
  }
}

function summarize(result, counter) {
  const lat = counter.latencies
  return {
    ...result,
    mibPerSec: result.bytes / (1024 * 1024) / (result.elapsedMs / 1000),
    requestsPerSec: result.requests / (result.elapsedMs / 1000),
    latencyMs: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: percentile(lat, 100) },
  }
}

/**
 * Pipelined Produce load: each connection resends its pre-encoded frame, keeping up to `inflight`
 * requests outstanding. Counts batch bytes acknowledged. With `totalBytes` it stops once that much
 * has been sent (a pre-fill) instead of after warmup + duration.
 */
export async function produceLoad({
  port,
  frames,
  batchBytes,
  inflight,
  warmupMs = 0,
  durationMs = 0,
  totalBytes,
  hooks,
}) {
  const sockets = await Promise.all(frames.map(() => connect(port)))
  const counter = { bytes: 0, requests: 0, sent: 0, latencies: [], errors: 0, firstError: null }
  const def = apiDefinitions[ApiKey.Produce]
  const t0 = performance.now()
  let running = true
  let result
  let cancel
  return new Promise((resolve, reject) => {
    let open = sockets.length
    const finish = () => {
      if (--open > 0) return
      cancel?.()
      for (const s of sockets) s.destroy()
      result ??= { elapsedMs: performance.now() - t0, bytes: counter.bytes, requests: counter.requests }
      if (counter.errors > 0)
        reject(new Error(`${counter.errors} produce errors, first: ${counter.firstError}`))
      else resolve(summarize(result, counter))
    }
    sockets.forEach((socket, i) => {
      const frame = frames[i]
      const sentAt = []
      let outstanding = 0
      let done = false
      const pump = () => {
        while (running && outstanding < inflight) {
          if (totalBytes !== undefined && counter.sent * batchBytes >= totalBytes) {
            running = false
            break
          }
          sentAt.push(performance.now())
          socket.write(frame)
          outstanding++
          counter.sent++
        }
        if (!running && outstanding === 0 && !done) {
          done = true
          finish()
        }
      }
      const splitter = new FrameSplitter((payload) => {
        const { body } = decodeResponseFrame(def, PRODUCE_VERSION, payload)
        const p = body.responses[0]?.partitionResponses[0]
        if (!p || p.errorCode !== 0) {
          counter.errors++
          counter.firstError ??= p ? `error code ${p.errorCode} ${p.errorMessage ?? ''}` : 'empty response'
        }
        counter.latencies.push(performance.now() - sentAt.shift())
        counter.bytes += batchBytes
        counter.requests++
        outstanding--
        pump()
      })
      socket.on('data', (chunk) => splitter.push(chunk))
      socket.on('error', (err) => reject(err))
      socket.on('close', () => {
        if (!done) reject(new Error('server closed a produce connection'))
      })
      pump()
    })
    if (totalBytes === undefined) {
      cancel = window(
        counter,
        warmupMs,
        durationMs,
        (r) => {
          result = r
          running = false
        },
        hooks,
      )
    }
  })
}

/**
 * Sequential Fetch load: connection i reads partition `partitions[i]` from offset 0 one request at
 * a time (maxWait 0, minBytes 1), and starts over at 0 when it reaches the end of the log.
 * Counts record bytes received.
 */
export async function fetchLoad({
  port,
  topic,
  partitions,
  partitionMaxBytes,
  maxBytes,
  warmupMs,
  durationMs,
  hooks,
}) {
  const sockets = await Promise.all(partitions.map(() => connect(port)))
  const counter = { bytes: 0, requests: 0, latencies: [], wraps: 0 }
  const def = apiDefinitions[ApiKey.Fetch]
  let running = true
  let result
  return new Promise((resolve, reject) => {
    let open = sockets.length
    const finish = () => {
      if (--open > 0) return
      for (const s of sockets) s.destroy()
      resolve({ ...summarize(result, counter), wraps: counter.wraps })
    }
    sockets.forEach((socket, i) => {
      const partition = partitions[i]
      let offset = 0
      let correlationId = 0
      let sentAt = 0
      let done = false
      const send = () => {
        if (!running) {
          done = true
          finish()
          return
        }
        sentAt = performance.now()
        socket.cork()
        for (const c of fetchFrame(topic, partition, offset, ++correlationId, partitionMaxBytes, maxBytes))
          socket.write(c)
        socket.uncork()
      }
      const splitter = new FrameSplitter((payload) => {
        const { correlationId: id, body } = decodeResponseFrame(def, FETCH_VERSION, payload)
        const p = body.responses[0]?.partitions[0]
        if (id !== correlationId || body.errorCode !== 0 || !p || p.errorCode !== 0) {
          reject(
            new Error(
              `bad fetch response: correlation ${id}/${correlationId}, error ${body.errorCode}/${p?.errorCode}`,
            ),
          )
          return
        }
        counter.latencies.push(performance.now() - sentAt)
        counter.requests++
        const records = p.records ?? Buffer.alloc(0)
        counter.bytes += records.length
        offset = records.length === 0 ? 0 : nextOffset(records)
        if (records.length === 0) counter.wraps++
        send()
      })
      socket.on('data', (chunk) => splitter.push(chunk))
      socket.on('error', (err) => reject(err))
      socket.on('close', () => {
        if (!done) reject(new Error('server closed a fetch connection'))
      })
      send()
    })
    window(
      counter,
      warmupMs,
      durationMs,
      (r) => {
        result = r
        running = false
      },
      hooks,
    )
  })
}

/** Offset after the last whole batch in a fetched record set. */
function nextOffset(records) {
  let pos = 0
  let next = 0
  while (pos + BatchHeader.size <= records.length) {
    const size = records.readInt32BE(pos + BatchHeader.batchLength) + 12
    if (pos + size > records.length) break
    next = readInt64(records, pos) + records.readInt32BE(pos + BatchHeader.lastOffsetDelta) + 1
    pos += size
  }
  return next
}
