// Child process: one Fluxo broker. `node bench/broker-child.mjs '<json startBroker options>'`.
// Reports { type: 'ready', port, mainMs, importMs, startMs, readyMs } over IPC, where the *Ms are
// performance.now() readings (ms since this process started) and durations. On { type: 'exit' } it
// exits at once without closing the broker (a bench data dir is thrown away; exiting through
// process.exit still writes a --cpu-prof profile).
const mainMs = performance.now()
process.on('disconnect', () => process.exit(0)) // the parent is gone
process.on('message', (m) => m?.type === 'exit' && process.exit(0))

const options = JSON.parse(process.argv[2] ?? '{}')
const { startBroker } = await import('@fluxo/broker')
const imported = performance.now()
const broker = await startBroker(options)
const readyMs = performance.now()
process.send({
  type: 'ready',
  port: broker.port,
  mainMs,
  importMs: imported - mainMs,
  startMs: readyMs - imported,
  readyMs,
})
