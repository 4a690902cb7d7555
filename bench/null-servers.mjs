// Child process: a "null" Kafka server that does the least a server must (split frames on the size
// prefix, decode the request header, answer in order with the right correlation id) and nothing
// else, so broker/null is the share of the achievable rate the broker reaches.
//   node bench/null-servers.mjs produce '<json>'  -> answers Produce with a fixed ProduceResponse
//   node bench/null-servers.mjs produce-file '<json>' -> the same, after appending the batches to files
//   node bench/null-servers.mjs fetch '<json>'    -> answers Fetch with a fixed response of real batches
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { ApiKey, Reader, apiDefinitions, readRequestHeader } from '@fluxo/protocol'
import {
  FETCH_VERSION,
  FrameSplitter,
  PRODUCE_VERSION,
  fetchResponseTemplate,
  makeBatch,
  produceResponseTemplate,
} from './common.mjs'

const [kind, json] = process.argv.slice(2)
const opts = JSON.parse(json ?? '{}')
process.on('disconnect', () => process.exit(0)) // the parent is gone
process.on('message', (m) => m?.type === 'exit' && process.exit(0))

let answer
if (kind === 'produce' || kind === 'produce-file') {
  const template = produceResponseTemplate(opts.topic)
  // produce-file: also append each partition's records to <dataDir>/<partition>.log with the same
  // synchronous vectored write the broker's file log uses (the least a file-backed broker must do).
  const files = new Map()
  const append = (frame, r) => {
    const request = apiDefinitions[ApiKey.Produce].decodeRequest(r, PRODUCE_VERSION)
    for (const t of request.topicData) {
      for (const p of t.partitionData) {
        let file = files.get(p.index)
        if (!file)
          files.set(
            p.index,
            (file = { fd: fs.openSync(path.join(opts.dataDir, `${p.index}.log`), 'w'), pos: 0 }),
          )
        fs.writevSync(file.fd, [p.records], file.pos)
        file.pos += p.records.length
      }
    }
  }
  answer = (socket, header, frame, r) => {
    if (header.apiKey !== ApiKey.Produce || header.apiVersion !== PRODUCE_VERSION) return false
    if (kind === 'produce-file') append(frame, r)
    const out = Buffer.from(template)
    out.writeInt32BE(header.correlationId, 4)
    socket.write(out)
    return true
  }
} else if (kind === 'fetch') {
  const { head, body } = fetchResponseTemplate(
    opts.topic,
    makeBatch(opts.batchKiB, opts.recordBytes),
    opts.partitionMaxBytes,
  )
  answer = (socket, header) => {
    if (header.apiKey !== ApiKey.Fetch || header.apiVersion !== FETCH_VERSION) return false
    const h = Buffer.from(head)
    h.writeInt32BE(header.correlationId, 4)
    socket.cork()
    socket.write(h)
    socket.write(body)
    socket.uncork()
    return true
  }
} else {
  console.error(`unknown null server kind '${kind}'`)
  process.exit(2)
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const splitter = new FrameSplitter((frame) => {
    const r = new Reader(frame)
    const header = readRequestHeader(r)
    if (!answer(socket, header, frame, r)) {
      console.error(`null ${kind} server: unexpected api ${header.apiKey} v${header.apiVersion}`)
      socket.destroy()
    }
  })
  socket.on('data', (chunk) => splitter.push(chunk))
})
server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }))
