// Child process: one client library, one task. `node bench/clients/client-child.mjs '<json>'` with
// { client, task: 'produce' | 'consume' | 'latency', bootstrap, topic, partitions, records,
// recordBytes, chunk, window, groupId, rate, durationS }. Sends one { type: 'result', ... } or
// { type: 'error', message } over IPC, then exits (through process.exit, so --cpu-prof writes).
import { NotAvailable, clients } from './clients.mjs'

process.on('disconnect', () => process.exit(0)) // the parent is gone

const o = JSON.parse(process.argv[2])
const client = clients[o.client]
const value = Buffer.alloc(o.recordBytes)
for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff

function cpuSeconds(since) {
  const u = process.cpuUsage(since)
  return { user: u.user / 1e6, system: u.system / 1e6 }
}

async function run() {
  const opts = { ...o, value }
  if (o.task === 'produce') {
    const cpu0 = process.cpuUsage()
    const r = await client.produce(opts)
    return { ...r, records: o.records, bytes: o.records * o.recordBytes, cpu: cpuSeconds(cpu0) }
  }
  if (o.task === 'consume') {
    let count = 0
    let bytes = 0
    let firstMs = -1
    let doneMs = -1
    const onRecords = (n, b) => {
      if (firstMs < 0) firstMs = performance.now()
      count += n
      bytes += b
      if (count >= o.records && doneMs < 0) doneMs = performance.now()
      return count >= o.records
    }
    const consumer = await client.consume(opts, onRecords)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const timeout = setTimeout(() => {
      process.send({ type: 'error', message: `consumed ${count} of ${o.records} records in ${o.timeoutS} s` })
      process.exit(1)
    }, o.timeoutS * 1000)
    await consumer.start()
    clearTimeout(timeout)
    const cpu = cpuSeconds(cpu0)
    await Promise.race([consumer.close(), new Promise((r) => setTimeout(r, 5000))])
    return {
      elapsedMs: doneMs - t0,
      firstRecordMs: firstMs - t0,
      records: count,
      bytes,
      cpu,
    }
  }
  if (o.task === 'latency') return client.latency(opts)
  throw new Error(`unknown task ${o.task}`)
}

/** The error with its causes and an AggregateError's members (@platformatic/kafka nests them). */
function describe(err, depth = 0) {
  if (!(err instanceof Error) || depth > 3) return String(err)
  const own = Object.entries(err)
    .filter(([k, v]) => !['errors', 'cause', 'stack', 'message'].includes(k) && typeof v !== 'object')
    .map(([k, v]) => `${k}=${v}`)
  let text = `${err.name}: ${err.message}${own.length ? ` (${own.join(', ')})` : ''}`
  for (const e of err.errors ?? []) text += `\n${'  '.repeat(depth + 1)}${describe(e, depth + 1)}`
  if (err.cause) text += `\n${'  '.repeat(depth + 1)}cause: ${describe(err.cause, depth + 1)}`
  return text
}

try {
  const result = await run()
  result.maxRssMB = process.resourceUsage().maxRSS / 1024
  process.send({ type: 'result', ...result }, () => process.exit(0))
} catch (err) {
  process.send(
    {
      type: 'error',
      notAvailable: err instanceof NotAvailable,
      message: err instanceof NotAvailable ? err.message : describe(err),
    },
    () => process.exit(1),
  )
}
