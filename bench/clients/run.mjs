// Client benchmark: `npm run bench:clients` (= node bench/clients/run.mjs). See bench/README.md.
//   --records N      records per produce/consume run (default 1,000,000)
//   --quick          100,000 records, 2 s latency runs
//   --rounds R       interleaved rounds (default 3)
//   --clients a,b    subset of fluxo,kafkajs,platformatic,confluent
//   --tasks a,b      subset of produce,consume,latency
//   --profile        CPU-profile the Fluxo client children (node --cpu-prof) and print the top functions
//   --profile-broker CPU-profile the broker over the whole run
import { execFileSync, fork, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const benchDir = path.dirname(here)
const root = path.dirname(benchDir)
const resultsDir = path.join(benchDir, 'results')
const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const option = (name, fallback) => {
  const at = argv.indexOf(name)
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback
}
const QUICK = flag('--quick')
const PROFILE = flag('--profile')
const PROFILE_BROKER = flag('--profile-broker')
const cfg = {
  records: Number(option('--records', QUICK ? 100_000 : 1_000_000)),
  recordBytes: 1024,
  partitions: 4,
  chunk: 1000,
  window: 4,
  rounds: Number(option('--rounds', 3)),
  latencyRate: 1000,
  latencyS: QUICK ? 2 : 5,
  clients: option('--clients', 'fluxo,kafkajs,platformatic,confluent').split(','),
  tasks: option('--tasks', 'produce,consume,latency').split(','),
  profile: PROFILE,
}
const log = (s) => process.stderr.write(`bench:clients: ${s}\n`)

// ---- cleanup: child processes and temp dirs go away however we exit ------------------------------
const children = new Set()
const tempDirs = new Set()
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(130))

// ---- build -----------------------------------------------------------------------------------------
if (process.env.BENCH_NO_BUILD !== '1') {
  const built = spawnSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) log('`npx tsc -b` failed; benchmarking the existing packages/*/dist')
}
const { procCpu, median, percentile, summarizeProfile } = await import('../common.mjs')
const { clients } = await import('./clients.mjs')
const { Kafka } = await import('@fluxo/client')

/** Forks a child and resolves with its first IPC message (the broker's ready, a client's result). */
function runChild(script, args, { execArgv = [], timeoutMs = 600_000 } = {}) {
  const child = fork(script, args, { cwd: root, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  exited.then(() => children.delete(child))
  const message = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${path.basename(script)} timed out after ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.once('message', (m) => {
      clearTimeout(timer)
      resolve(m)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${path.basename(script)} exited (${signal ?? code}) without a result`))
    })
  })
  return { child, message, exited }
}

// ---- which clients ---------------------------------------------------------------------------------
const available = {}
for (const name of cfg.clients) {
  if (!clients[name]) throw new Error(`unknown client ${name}`)
  available[name] = await clients[name].available()
}
const fluxoConsumer = typeof Kafka.prototype.consumer === 'function'
const active = cfg.clients.filter((c) => available[c])
for (const c of cfg.clients)
  if (!available[c])
    log(`${clients[c].label}: not installed (cd compat/confluent && CKJS_LINKING=dynamic npm ci)`)

// ---- broker ------------------------------------------------------------------------------------------
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxo-bench-clients-'))
tempDirs.add(dataDir)
const brokerOptions = {
  port: 0,
  storage: 'file',
  dataDir,
  config: { 'num.partitions': String(cfg.partitions), 'auto.create.topics.enable': 'true' },
}
fs.mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const brokerProfile = path.join(resultsDir, `clients-broker-${stamp}.cpuprofile`)
const broker = runChild(path.join(benchDir, 'broker-child.mjs'), [JSON.stringify(brokerOptions)], {
  execArgv: PROFILE_BROKER
    ? ['--cpu-prof', '--cpu-prof-dir', resultsDir, '--cpu-prof-name', path.basename(brokerProfile)]
    : [],
})
const ready = await broker.message
const bootstrap = `127.0.0.1:${ready.port}`
const brokerPid = broker.child.pid
const admin = new Kafka({ bootstrap: [bootstrap], clientId: 'bench-admin' }).admin()
log(`broker on ${bootstrap} (file storage in ${dataDir}); clients: ${active.join(', ')}`)

const profileFiles = []

/** Runs one task of one client in its own process; adds the broker's CPU seconds meanwhile. */
async function task(client, name, extra) {
  const opts = {
    client,
    task: name,
    bootstrap,
    partitions: cfg.partitions,
    records: cfg.records,
    recordBytes: cfg.recordBytes,
    chunk: cfg.chunk,
    window: cfg.window,
    rate: cfg.latencyRate,
    durationS: cfg.latencyS,
    timeoutS: Math.max(120, cfg.records / 2000),
    ...extra,
  }
  const execArgv = []
  let profileFile
  if (PROFILE && client === 'fluxo' && name !== 'latency') {
    profileFile = path.join(resultsDir, `client-fluxo-${name}-${stamp}-${profileFiles.length}.cpuprofile`)
    execArgv.push('--cpu-prof', '--cpu-prof-dir', resultsDir, '--cpu-prof-name', path.basename(profileFile))
  }
  const brokerCpu0 = procCpu(brokerPid)
  const run = runChild(path.join(here, 'client-child.mjs'), [JSON.stringify(opts)], {
    execArgv,
    timeoutMs: (opts.timeoutS + 60) * 1000,
  })
  let result
  try {
    result = await run.message
  } catch (err) {
    result = { type: 'error', message: err.message }
  }
  await run.exited
  const brokerCpu1 = procCpu(brokerPid)
  if (profileFile && fs.existsSync(profileFile)) profileFiles.push({ task: name, file: profileFile })
  if (result.type === 'error') {
    if (!result.notAvailable) log(`${client} ${name} failed: ${result.message}`)
    return { error: result.message, notAvailable: !!result.notAvailable }
  }
  const { type, latencies, ...rest } = result
  const out = {
    ...rest,
    brokerCpuSeconds: brokerCpu1.user + brokerCpu1.system - brokerCpu0.user - brokerCpu0.system,
  }
  if (latencies) out.latencies = latencies
  if (rest.elapsedMs) {
    out.recordsPerSec = (rest.records / rest.elapsedMs) * 1000
    out.mbPerSec = (rest.bytes / 1e6 / rest.elapsedMs) * 1000
  }
  return out
}

// ---- rounds ------------------------------------------------------------------------------------------
const runs = Object.fromEntries(active.map((c) => [c, { produce: [], consume: [], latency: [] }]))
for (let round = 1; round <= cfg.rounds; round++) {
  // Rotate the order each round so that no client always goes first (fresh page cache, cool CPU).
  const order = active.map((_, i) => active[(i + round - 1) % active.length])
  const produced = {}
  if (cfg.tasks.includes('produce') || cfg.tasks.includes('consume')) {
    const producers = cfg.tasks.includes('produce') ? order : ['fluxo']
    for (const c of producers) {
      const topic = `produce-${c}-${round}`
      await admin.createTopics([{ name: topic, partitions: cfg.partitions }])
      log(`round ${round}/${cfg.rounds}: ${c} produces ${cfg.records} records to ${topic}`)
      const r = await task(c, 'produce', { topic })
      if (!r.error) {
        // Every record must be in the log: the warm-up record plus N.
        const end = await admin.listOffsets(topic, 'latest')
        const stored = end.reduce((sum, p) => sum + p.offset, 0)
        r.storedRecords = stored
        if (stored !== cfg.records + (r.extraRecords ?? 0)) {
          r.error = `the topic holds ${stored} records, expected ${cfg.records + (r.extraRecords ?? 0)}`
          log(`${c} produce: ${r.error}`)
        }
      }
      if (cfg.tasks.includes('produce')) runs[c].produce.push(r)
      if (!r.error) produced[c] = topic
      if (r.mbPerSec) log(`  ${r.recordsPerSec.toFixed(0)} records/s, ${r.mbPerSec.toFixed(1)} MB/s`)
    }
  }
  if (cfg.tasks.includes('consume')) {
    // Every consumer reads the same topic: the one Fluxo wrote this round (else the first written).
    const source = produced.fluxo ?? Object.values(produced)[0]
    for (const c of order) {
      if (!source) break
      if (c === 'fluxo' && !fluxoConsumer) {
        runs[c].consume.push({ error: 'no consumer in @fluxo/client yet', notAvailable: true })
        continue
      }
      log(`round ${round}/${cfg.rounds}: ${c} consumes ${source}`)
      const r = await task(c, 'consume', { topic: source, groupId: `bench-${c}-${round}-${stamp}` })
      runs[c].consume.push({ ...r, source })
      if (r.mbPerSec) log(`  ${r.recordsPerSec.toFixed(0)} records/s, ${r.mbPerSec.toFixed(1)} MB/s`)
    }
  }
  const topics = Object.values(produced)
  if (topics.length > 0) await admin.deleteTopics(topics) // free the disk before the next round
  if (cfg.tasks.includes('latency')) {
    const topic = `latency-${round}`
    await admin.createTopics([{ name: topic, partitions: cfg.partitions }])
    for (const c of order) {
      log(`round ${round}/${cfg.rounds}: ${c} sends ${cfg.latencyRate}/s for ${cfg.latencyS} s`)
      runs[c].latency.push(await task(c, 'latency', { topic }))
    }
  }
}
await admin.close()
broker.child.send({ type: 'exit' })
await broker.exited

// ---- aggregate -----------------------------------------------------------------------------------------
function throughput(list) {
  const ok = list.filter((r) => !r.error)
  if (ok.length === 0) return { error: list[0]?.error ?? 'not run', notAvailable: list[0]?.notAvailable }
  const rates = ok.map((r) => r.recordsPerSec)
  const mid = ok.find((r) => r.recordsPerSec === median(rates))
  return {
    recordsPerSec: mid.recordsPerSec,
    mbPerSec: mid.mbPerSec,
    runsRecordsPerSec: rates,
    clientCpuSecondsPerGB: (mid.cpu.user + mid.cpu.system) / (mid.bytes / 1e9),
    brokerCpuSecondsPerGB: mid.brokerCpuSeconds / (mid.bytes / 1e9),
    firstRecordMs: mid.firstRecordMs,
    maxRssMB: Math.max(...ok.map((r) => r.maxRssMB)),
    failedRuns: list.length - ok.length,
  }
}
function latency(list) {
  const ok = list.filter((r) => !r.error)
  if (ok.length === 0) return { error: list[0]?.error ?? 'not run' }
  const all = ok.flatMap((r) => r.latencies)
  return { p50: percentile(all, 50), p99: percentile(all, 99), max: Math.max(...all), sends: all.length }
}
const summary = {}
for (const c of active) {
  summary[c] = {
    produce: throughput(runs[c].produce),
    consume: throughput(runs[c].consume),
    latency: latency(runs[c].latency),
  }
}
for (const t of ['produce', 'consume']) {
  const base = summary.fluxo?.[t]?.recordsPerSec
  for (const c of active) {
    const s = summary[c][t]
    if (s.recordsPerSec && base) s.fluxoRatio = base / s.recordsPerSec
  }
}

// ---- report --------------------------------------------------------------------------------------------
const k = (x) => (x >= 1e4 ? `${(x / 1000).toFixed(0)}k` : x.toFixed(0))
const tp = (s) => {
  if (s.error === 'not run') return ['-', '', '']
  if (s.error) return [s.notAvailable ? 'n/a' : 'failed', '', '']
  const runsText = s.runsRecordsPerSec.length > 1 ? ` (${s.runsRecordsPerSec.map(k).join(', ')})` : ''
  return [
    `${k(s.recordsPerSec)}${runsText}`,
    s.mbPerSec.toFixed(1),
    s.fluxoRatio ? `${s.fluxoRatio.toFixed(2)}x` : '',
  ]
}
const header = [
  'client',
  'produce rec/s',
  'MB/s',
  'Fluxo/x',
  'consume rec/s',
  'MB/s',
  'Fluxo/x',
  'send p50 / p99 ms',
]
const rows = []
for (const c of cfg.clients) {
  if (!available[c]) {
    rows.push([clients[c].label, 'not installed', '', '', '', '', '', ''])
    continue
  }
  const s = summary[c]
  const lat = s.latency.error ? 'n/a' : `${s.latency.p50.toFixed(2)} / ${s.latency.p99.toFixed(2)}`
  rows.push([clients[c].label, ...tp(s.produce), ...tp(s.consume), lat])
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
const line = (r) =>
  r
    .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join('  ')
    .trimEnd()
console.log()
console.log(
  `Fluxo client bench - node ${process.version}, ${os.cpus().length} CPUs, one Fluxo broker (file storage), ` +
    `${cfg.records} records of ${cfg.recordBytes} B to ${cfg.partitions} partitions, chunks of ${cfg.chunk} ` +
    `with ${cfg.window} in flight, median of ${cfg.rounds} interleaved rounds (each run in brackets); ` +
    `latency: ${cfg.latencyRate} sends/s for ${cfg.latencyS} s per round, each awaited`,
)
console.log("Fluxo/x = Fluxo records/s divided by that client's; MB = 10^6 bytes of record values")
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const r of rows) console.log(line(r))
console.log()
console.log(
  "CPU seconds per GB, client process / broker process, median run (in brackets: the client's CPU per GB over Fluxo's):",
)
for (const c of active) {
  const s = summary[c]
  const cpu = (x, t) => {
    if (x.error) return 'n/a'
    const base = summary.fluxo?.[t]?.clientCpuSecondsPerGB
    const ratio = base && c !== 'fluxo' ? ` (${(x.clientCpuSecondsPerGB / base).toFixed(1)}x)` : ''
    return `${x.clientCpuSecondsPerGB.toFixed(1)} / ${x.brokerCpuSecondsPerGB.toFixed(1)}${ratio}`
  }
  console.log(
    `  ${clients[c].label.padEnd(widths[0])}  produce ${cpu(s.produce, 'produce')}   consume ${cpu(s.consume, 'consume')}`,
  )
}
console.log()
console.log('Settings:')
for (const c of cfg.clients) {
  const a = clients[c]
  const extra = typeof available[c] === 'string' ? ` (${available[c]})` : ''
  console.log(`  ${a.label}${extra}${available[c] ? '' : ': not installed'}`)
  if (!available[c]) continue
  for (const [t, text] of Object.entries(a.settings)) console.log(`    ${t}: ${text}`)
}
if (!fluxoConsumer) console.log('  Fluxo consume: n/a, @fluxo/client has no consumer in this build')

let profile
if (profileFiles.length > 0) {
  for (const t of ['produce', 'consume']) {
    const files = profileFiles.filter((p) => p.task === t).map((p) => p.file)
    if (files.length === 0) continue
    const p = summarizeProfile(files, 20, root)
    profile = { ...profile, [t]: p }
    console.log()
    console.log(
      `Fluxo client CPU profile, ${t} (${files.length} runs): ${p.busyMs.toFixed(0)} ms busy, ${p.idleMs.toFixed(0)} ms idle`,
    )
    console.log('  self ms     %   function')
    for (const x of p.top)
      console.log(`${x.selfMs.toFixed(0).padStart(9)} ${x.pct.toFixed(1).padStart(5)}   ${x.fn}`)
  }
}

if (PROFILE_BROKER && fs.existsSync(brokerProfile)) {
  const p = summarizeProfile([brokerProfile], 20, root)
  profile = { ...profile, broker: p }
  console.log()
  console.log(`Broker CPU profile, whole run: ${p.busyMs.toFixed(0)} ms busy, ${p.idleMs.toFixed(0)} ms idle`)
  console.log('  self ms     %   function')
  for (const x of p.top)
    console.log(`${x.selfMs.toFixed(0).padStart(9)} ${x.pct.toFixed(1).padStart(5)}   ${x.fn}`)
}

let commit = null
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
} catch {}
const out = path.join(resultsDir, `clients-${stamp}.json`)
for (const c of active)
  for (const r of runs[c].latency) if (r.latencies) r.latencies = r.latencies.map((x) => +x.toFixed(3))
fs.writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), commit, node: process.version, cpus: os.cpus().length, cfg, available, summary, profile, runs }, null, 2)}\n`,
)
console.log()
console.log(`results: ${path.relative(root, out)}`)
process.exit(0)
