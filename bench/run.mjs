// Fluxo benchmark: `npm run bench` (or `node bench/run.mjs [--profile]`). See bench/README.md.
import { execFileSync, fork, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDir = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(benchDir)
const resultsDir = path.join(benchDir, 'results')
const num = (name, fallback) => Number(process.env[name] ?? fallback)
const PROFILE = process.argv.includes('--profile') || process.env.BENCH_PROFILE === '1'

const cfg = {
  durationS: num('BENCH_DURATION_S', 5),
  warmupS: num('BENCH_WARMUP_S', 1),
  connections: num('BENCH_CONNECTIONS', 4),
  inflight: num('BENCH_INFLIGHT', 8),
  batchKiB: 256,
  recordBytes: 1024,
  fetchFillMiB: num('BENCH_FETCH_FILL_MIB', 256),
  partitionMaxBytes: 1 << 20,
  fetchMaxBytes: 4 << 20,
  crcSeconds: num('BENCH_CRC_S', 1),
  startRuns: num('BENCH_START_RUNS', 20),
  rounds: num('BENCH_ROUNDS', 3),
  profile: PROFILE,
  brokerConfig: process.env.BENCH_BROKER_CONFIG ?? null,
}
const GOALS = { produceRatio: 0.8, peakRssMB: 300, startMs: 50, idleRssMB: 80 }

// ---- cleanup: child processes and temp dirs go away however we exit ------------------------------
const children = new Set()
const tempDirs = new Set()
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(130))

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxo-bench-'))
  tempDirs.add(dir)
  return dir
}
function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** Forks a child script and waits for its { type: 'ready' } message. */
function startChild(script, args, execArgv = []) {
  const spawnedAt = performance.now()
  const child = fork(path.join(benchDir, script), args, {
    cwd: root,
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready after 30 s`)), 30000)
    child.once('message', (ready) => {
      clearTimeout(timer)
      resolve({ child, ready, wallMs: performance.now() - spawnedAt })
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited before it was ready (${signal ?? code})`))
    })
  })
}

/** Asks a child to exit (it exits through process.exit, so --cpu-prof writes); kills it after 20 s. */
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.send({ type: 'exit' })
  })
}

/**
 * Runs `fn` (a load against the server child `pid`) and adds what the child used meanwhile: peak
 * RSS (VmHWM, and the largest VmRSS sampled every 100 ms) and CPU seconds per GiB moved.
 */
async function watch(pid, fn) {
  const { procMemory, procCpu } = common
  let maxRssKb = 0
  const sample = () => {
    const m = procMemory(pid)
    if (m && m.rssKb > maxRssKb) maxRssKb = m.rssKb
  }
  const timer = setInterval(sample, 100)
  const cpu = {}
  try {
    const result = await fn({ start: () => (cpu.start = procCpu(pid)), end: () => (cpu.end = procCpu(pid)) })
    sample()
    const user = cpu.end.user - cpu.start.user
    const system = cpu.end.system - cpu.start.system
    return {
      ...result,
      peakRssMB: (procMemory(pid)?.hwmKb ?? Number.NaN) / 1024,
      sampledPeakRssMB: maxRssKb / 1024,
      cpuSeconds: { user, system },
      cpuSecondsPerGiB: (user + system) / (result.bytes / 2 ** 30),
      cpuUtilisation: (user + system) / (result.elapsedMs / 1000),
    }
  } finally {
    clearInterval(timer)
  }
}

// ---- build -----------------------------------------------------------------------------------------
if (process.env.BENCH_NO_BUILD !== '1') {
  const built = spawnSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' })
  const dist = ['protocol', 'broker'].every((p) =>
    fs.existsSync(path.join(root, 'packages', p, 'dist', 'index.js')),
  )
  if (built.status !== 0) {
    if (!dist) {
      console.error('bench: `npx tsc -b` failed and packages/*/dist is missing')
      process.exit(1)
    }
    console.error('bench: `npx tsc -b` failed; benchmarking the existing packages/*/dist')
  }
}
const common = await import('./common.mjs')
const { produceLoad, fetchLoad } = await import('./load.mjs')
const { crc32c } = await import('@fluxo/protocol')
const { makeBatch, produceFrame, procMemory, median, percentile, summarizeProfile, MiB } = common

fs.mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const batch = makeBatch(cfg.batchKiB, cfg.recordBytes)
const partitions = Array.from({ length: cfg.connections }, (_, i) => i)
const loadOpts = {
  batchBytes: batch.length,
  inflight: cfg.inflight,
  warmupMs: cfg.warmupS * 1000,
  durationMs: cfg.durationS * 1000,
}
const brokerConfig = {
  'num.partitions': String(cfg.connections),
  'auto.create.topics.enable': 'true',
  // Extra Kafka broker properties for experiments, e.g. BENCH_BROKER_CONFIG='{"log.flush.interval.ms":"60000"}'.
  ...JSON.parse(process.env.BENCH_BROKER_CONFIG ?? '{}'),
}
const results = {}
const log = (s) => process.stderr.write(`bench: ${s}\n`)

// ---- 3. CRC32C ------------------------------------------------------------------------------------
function crcRate(buf, seconds) {
  let bytes = 0
  let x = 0
  const t0 = performance.now()
  const until = t0 + seconds * 1000
  let now = t0
  while (now < until) {
    for (let i = 0; i < 64; i++) x ^= crc32c(buf)
    bytes += 64 * buf.length
    now = performance.now()
  }
  if (x === 0.5) console.log(x) // keep the result alive
  return bytes / MiB / ((now - t0) / 1000)
}
log('crc32c')
results.crc = {
  mibPerSec256K: crcRate(batch.subarray(21), cfg.crcSeconds),
  mibPerSec1K: crcRate(batch.subarray(21, 21 + 1024), cfg.crcSeconds),
}

// ---- 4. embedded start -> ready, cold start, idle RSS ---------------------------------------------
log('start-up: fresh child process')
{
  const { child, ready, wallMs } = await startChild('broker-child.mjs', [
    JSON.stringify({ port: 0, storage: 'memory' }),
  ])
  await new Promise((r) => setTimeout(r, 500))
  const mem = procMemory(child.pid)
  await stopChild(child)
  results.coldStart = {
    readyFromProcessStartMs: ready.readyMs,
    importMs: ready.importMs,
    startBrokerMs: ready.startMs,
    spawnToReadyWallMs: wallMs,
    idleRssMB: mem.rssKb / 1024,
  }
}
log(`start-up: ${cfg.startRuns} in-process starts`)
{
  const { startBroker } = await import('@fluxo/broker')
  const times = []
  for (let i = 0; i < cfg.startRuns + 2; i++) {
    const t0 = performance.now()
    const broker = await startBroker({ port: 0, storage: 'memory' })
    const ms = performance.now() - t0
    await broker.close()
    if (i >= 2) times.push(ms) // two warm-up starts
  }
  results.embeddedStart = { medianMs: median(times), minMs: Math.min(...times), p90Ms: percentile(times, 90) }
}

// ---- 1. produce throughput ------------------------------------------------------------------------
const PRODUCE_TOPIC = 'bench-produce'
const produceFrames = partitions.map((p) => produceFrame(PRODUCE_TOPIC, p, batch, p + 1))

/** The run with the median rate, plus every run's rate (servers are compared round by round). */
function aggregate(runs) {
  const sorted = [...runs].sort((a, b) => a.mibPerSec - b.mibPerSec)
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]
  return {
    ...mid,
    peakRssMB: Math.max(...runs.map((x) => x.peakRssMB)),
    runsMiBPerSec: runs.map((x) => x.mibPerSec),
  }
}

const profileFiles = []
const produceServers = [
  {
    key: 'produceNull',
    label: 'null sink',
    script: 'null-servers.mjs',
    args: () => ['produce', JSON.stringify({ topic: PRODUCE_TOPIC })],
  },
  {
    key: 'produceNullFile',
    label: 'null sink + file append',
    script: 'null-servers.mjs',
    args: (dataDir) => ['produce-file', JSON.stringify({ topic: PRODUCE_TOPIC, dataDir })],
  },
  {
    key: 'produceBroker',
    label: `broker (file storage, acks=1${PROFILE ? ', --cpu-prof' : ''})`,
    script: 'broker-child.mjs',
    args: (dataDir) => [JSON.stringify({ port: 0, storage: 'file', dataDir, config: brokerConfig })],
    broker: true,
  },
]
const produceRuns = Object.fromEntries(produceServers.map((s) => [s.key, []]))
for (let round = 1; round <= cfg.rounds; round++) {
  for (const server of produceServers) {
    log(`produce round ${round}/${cfg.rounds}: ${server.label}`)
    const dataDir = tempDir()
    const profileName = `broker-produce-${stamp}-${round}.cpuprofile`
    const execArgv =
      PROFILE && server.broker
        ? ['--cpu-prof', '--cpu-prof-dir', resultsDir, '--cpu-prof-name', profileName]
        : []
    const { child, ready } = await startChild(server.script, server.args(dataDir), execArgv)
    try {
      // One request first so the broker auto-creates the topic outside the measurement.
      if (server.broker)
        await produceLoad({
          port: ready.port,
          frames: [produceFrames[0]],
          ...loadOpts,
          inflight: 1,
          totalBytes: 1,
        })
      const run = await watch(child.pid, (hooks) =>
        produceLoad({ port: ready.port, frames: produceFrames, ...loadOpts, hooks }),
      )
      produceRuns[server.key].push(run)
    } finally {
      await stopChild(child)
      removeDir(dataDir)
    }
    if (execArgv.length > 0) profileFiles.push(path.join(resultsDir, profileName))
  }
}
for (const server of produceServers) results[server.key] = aggregate(produceRuns[server.key])
if (PROFILE) results.profile = summarizeProfile(profileFiles, 15, root)

// ---- 2. fetch throughput --------------------------------------------------------------------------
const FETCH_TOPIC = 'bench-fetch'
const fetchOpts = {
  topic: FETCH_TOPIC,
  partitions,
  partitionMaxBytes: cfg.partitionMaxBytes,
  maxBytes: cfg.fetchMaxBytes,
  warmupMs: cfg.warmupS * 1000,
  durationMs: cfg.durationS * 1000,
}

log(`fetch: starting the null source, and a broker filled with ${cfg.fetchFillMiB} MiB`)
{
  const opts = {
    topic: FETCH_TOPIC,
    batchKiB: cfg.batchKiB,
    recordBytes: cfg.recordBytes,
    partitionMaxBytes: cfg.partitionMaxBytes,
  }
  const nullSource = await startChild('null-servers.mjs', ['fetch', JSON.stringify(opts)])
  const dataDir = tempDir()
  const brokerOpts = { port: 0, storage: 'file', dataDir, config: brokerConfig }
  const broker = await startChild('broker-child.mjs', [JSON.stringify(brokerOpts)])
  try {
    const frames = partitions.map((p) => produceFrame(FETCH_TOPIC, p, batch, p + 1))
    const port = broker.ready.port
    await produceLoad({ port, frames: [frames[0]], ...loadOpts, inflight: 1, totalBytes: 1 })
    const fill = await produceLoad({ port, frames, ...loadOpts, totalBytes: cfg.fetchFillMiB * MiB })
    const runs = { fetchNull: [], fetchBroker: [] }
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const [key, { child, ready }] of [
        ['fetchNull', nullSource],
        ['fetchBroker', broker],
      ]) {
        log(`fetch round ${round}/${cfg.rounds}: ${key === 'fetchNull' ? 'null source' : 'broker'}`)
        runs[key].push(
          await watch(child.pid, (hooks) => fetchLoad({ port: ready.port, ...fetchOpts, hooks })),
        )
      }
    }
    results.fetchNull = aggregate(runs.fetchNull)
    results.fetchBroker = { ...aggregate(runs.fetchBroker), filledMiB: fill.bytes / MiB }
  } finally {
    await stopChild(nullSource.child)
    await stopChild(broker.child)
    removeDir(dataDir)
  }
}

// ---- report ---------------------------------------------------------------------------------------
const r = results
const produceRatio = r.produceBroker.mibPerSec / r.produceNull.mibPerSec
const produceFileRatio = r.produceBroker.mibPerSec / r.produceNullFile.mibPerSec
const fetchRatio = r.fetchBroker.mibPerSec / r.fetchNull.mibPerSec
const crcShare = r.produceBroker.mibPerSec / r.crc.mibPerSec256K
results.derived = { produceRatio, produceFileRatio, fetchRatio, crcShareOfProduce: crcShare }

const f1 = (x) => x.toFixed(1)
const mibs = (x) => `${x.toFixed(0)} MiB/s`
const rate = (x) =>
  `${mibs(x.mibPerSec)} (${Math.min(...x.runsMiBPerSec).toFixed(0)}-${Math.max(...x.runsMiBPerSec).toFixed(0)})  ${f1(x.cpuSecondsPerGiB)} cpu-s/GiB`
const lat = (l) => `${f1(l.p50)} / ${f1(l.p99)} ms`
const check = (ok) => (ok ? 'ok' : 'MISSED')
const rows = [
  ['produce', 'null sink', rate(r.produceNull), '', ''],
  ['produce', 'null sink + file append', rate(r.produceNullFile), '', ''],
  ['produce', `broker, file storage, acks=1${PROFILE ? ' (profiled)' : ''}`, rate(r.produceBroker), '', ''],
  [
    'produce',
    'ratio broker / null',
    produceRatio.toFixed(2),
    `>= ${GOALS.produceRatio}`,
    check(produceRatio >= GOALS.produceRatio),
  ],
  ['produce', 'ratio broker / (null + file append)', produceFileRatio.toFixed(2), '', ''],
  ['produce', 'request latency p50 / p99, null', lat(r.produceNull.latencyMs), '', ''],
  ['produce', 'request latency p50 / p99, broker', lat(r.produceBroker.latencyMs), '', ''],
  [
    'produce',
    'broker peak RSS (VmHWM)',
    `${f1(r.produceBroker.peakRssMB)} MB`,
    `< ${GOALS.peakRssMB} MB`,
    check(r.produceBroker.peakRssMB < GOALS.peakRssMB),
  ],
  ['fetch', 'null source', rate(r.fetchNull), '', ''],
  ['fetch', `broker, file storage (${f1(r.fetchBroker.filledMiB)} MiB log)`, rate(r.fetchBroker), '', ''],
  ['fetch', 'ratio broker / null', fetchRatio.toFixed(2), '', ''],
  ['fetch', 'request latency p50 / p99, null', lat(r.fetchNull.latencyMs), '', ''],
  ['fetch', 'request latency p50 / p99, broker', lat(r.fetchBroker.latencyMs), '', ''],
  ['fetch', 'broker peak RSS (VmHWM)', `${f1(r.fetchBroker.peakRssMB)} MB`, '', ''],
  ['crc32c', '256 KiB buffers', mibs(r.crc.mibPerSec256K), '', ''],
  ['crc32c', '1 KiB buffers', mibs(r.crc.mibPerSec1K), '', ''],
  ['crc32c', 'share of broker produce time', `${f1(100 * crcShare)} %`, '', ''],
  [
    'start',
    'embedded start -> ready, median',
    `${f1(r.embeddedStart.medianMs)} ms`,
    `< ${GOALS.startMs} ms`,
    check(r.embeddedStart.medianMs < GOALS.startMs),
  ],
  [
    'start',
    'embedded start -> ready, min / p90',
    `${f1(r.embeddedStart.minMs)} / ${f1(r.embeddedStart.p90Ms)} ms`,
    '',
    '',
  ],
  ['start', 'cold: process start -> ready', `${f1(r.coldStart.readyFromProcessStartMs)} ms`, '', ''],
  [
    'start',
    'cold: import / startBroker',
    `${f1(r.coldStart.importMs)} / ${f1(r.coldStart.startBrokerMs)} ms`,
    '',
    '',
  ],
  [
    'start',
    'idle RSS, fresh process + broker',
    `${f1(r.coldStart.idleRssMB)} MB`,
    `< ${GOALS.idleRssMB} MB`,
    check(r.coldStart.idleRssMB < GOALS.idleRssMB),
  ],
]
const header = ['', 'measurement', 'value', 'goal', '']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
const line = (row) =>
  row
    .map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
    .join('  ')
    .trimEnd()
console.log()
console.log(
  `Fluxo bench - node ${process.version}, ${os.cpus().length} CPUs, ${cfg.connections} connections, ` +
    `${cfg.inflight} produce requests in flight each, ${cfg.warmupS} s warm-up + ${cfg.durationS} s per run, ` +
    `batch ${(batch.length / 1024).toFixed(1)} KiB of ${cfg.recordBytes}-byte records, ` +
    `median of ${cfg.rounds} interleaved rounds (min-max)`,
)
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
let section = ''
for (const row of rows) {
  console.log(line([row[0] === section ? '' : row[0], ...row.slice(1)]))
  section = row[0]
}

if (results.profile) {
  const p = results.profile
  console.log()
  const files = p.files.map((f) => path.relative(root, f)).join(', ')
  console.log(
    `Broker CPU profile during produce (${p.files.length} runs): ${f1(p.busyMs)} ms busy, ${f1(p.idleMs)} ms idle`,
  )
  console.log(`  ${files}`)
  console.log('  self ms     %   function')
  for (const t of p.top)
    console.log(`${t.selfMs.toFixed(0).padStart(9)} ${t.pct.toFixed(1).padStart(5)}   ${t.fn}`)
}

let commit = null
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
} catch {}
const out = path.join(resultsDir, `bench-${stamp}.json`)
const report = {
  date: new Date().toISOString(),
  commit,
  node: process.version,
  cpus: os.cpus().length,
  cfg,
  goals: GOALS,
  batchBytes: batch.length,
  results,
}
fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
console.log()
console.log(`results: ${path.relative(root, out)}`)
process.exit(0)
