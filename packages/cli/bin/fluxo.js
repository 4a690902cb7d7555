#!/usr/bin/env node
import { main } from '../dist/main.js'

// `fluxo consume | head` closes stdout early: that ends the command, it is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (err) => {
    process.stderr.write(`fluxo: ${err instanceof Error ? err.message : err}\n`)
    exit(1)
  },
)

/** Lets pending output drain; a handle left open by mistake cannot keep the command running. */
function exit(code) {
  process.exitCode = code
  setTimeout(() => process.exit(code), 2000).unref()
}
