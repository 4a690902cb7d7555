// Idempotence under faults: a TCP proxy between an idempotent KafkaJS producer and the broker
// loses some produce requests (connection closed before forwarding) and some produce responses
// (request forwarded, connection to the client closed before the answer). KafkaJS retries with
// the same sequence numbers; the broker must append each batch exactly once, in order.
import assert from 'node:assert/strict'
import { type Socket, connect, createServer } from 'node:net'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import { readPartition, text } from '../partition-client.js'
import { RawClient } from '../raw-client.js'

const PRODUCE = 0

interface Faults {
  produceRequests: number
  lostRequests: number
  lostResponses: number
}

/**
 * Forwards whole request frames to the broker. Every `every`-th produce request is lost one way
 * or the other, alternating: dropped before forwarding, or forwarded and then its client
 * connection closed (the broker connection stays open until the broker has answered, so the
 * request is surely processed).
 */
function faultyProxy(every: number) {
  const faults: Faults = { produceRequests: 0, lostRequests: 0, lostResponses: 0 }
  const target = { port: 0 }
  const sockets = new Set<Socket>()
  const server = createServer((client: Socket) => {
    const upstream = connect(target.port, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    let pending = Buffer.alloc(0)
    let awaitingLostResponse: number | null = null
    let upstreamPending = Buffer.alloc(0)
    const closeBoth = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', () => {})
    upstream.on('error', () => {})
    client.on('close', () => {
      if (awaitingLostResponse === null) upstream.destroy()
    })
    upstream.on('close', () => client.destroy())
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readInt32BE(0))
        pending = pending.subarray(frame.length)
        if (frame.readInt16BE(4) === PRODUCE) {
          faults.produceRequests++
          if (faults.produceRequests % every === 0) {
            if ((faults.produceRequests / every) % 2 === 1) {
              faults.lostRequests++
              closeBoth()
              return
            }
            faults.lostResponses++
            awaitingLostResponse = frame.readInt32BE(8)
            upstream.write(frame)
            client.destroy()
            return
          }
        }
        upstream.write(frame)
      }
    })
    upstream.on('data', (chunk) => {
      if (awaitingLostResponse === null) {
        client.write(chunk)
        return
      }
      // Swallow everything up to the lost response, then hang up on the broker too.
      upstreamPending = Buffer.concat([upstreamPending, chunk])
      while (upstreamPending.length >= 8 && upstreamPending.length >= 4 + upstreamPending.readInt32BE(0)) {
        const correlationId = upstreamPending.readInt32BE(4)
        upstreamPending = upstreamPending.subarray(4 + upstreamPending.readInt32BE(0))
        if (correlationId === awaitingLostResponse) {
          upstream.destroy()
          return
        }
      }
    })
  })
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    })
  return { server, faults, target, close }
}

test('idempotent KafkaJS producer through a faulty proxy: 20,000 records, none lost, duplicated or reordered', async (t) => {
  const { server, faults, target, close } = faultyProxy(7)
  // The broker advertises the proxy, so that reconnects after a fault go through it again.
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(close)
  const proxyPort = (server.address() as { port: number }).port
  const broker = await startBroker({
    port: 0,
    advertisedListener: `127.0.0.1:${proxyPort}`,
    config: { 'num.partitions': '3' },
  })
  t.after(() => broker.close())
  target.port = broker.port

  const kafka = new Kafka({
    brokers: [`127.0.0.1:${proxyPort}`],
    clientId: 'faulty',
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 20, maxRetryTime: 200, retries: 50 },
  })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  await admin.createTopics({ topics: [{ topic: 'exactly-once', numPartitions: 3 }] })

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  t.after(() => producer.disconnect())

  const total = 20_000
  const perSend = 50
  for (let sent = 0; sent < total; sent += perSend) {
    await producer.send({
      topic: 'exactly-once',
      acks: -1,
      messages: Array.from({ length: perSend }, (_, i) => {
        const n = sent + i
        return { partition: n % 3, key: String(n % 3), value: String(n) }
      }),
    })
  }
  assert.ok(faults.lostRequests >= 10, `lost requests: ${faults.lostRequests}`)
  assert.ok(faults.lostResponses >= 10, `lost responses: ${faults.lostResponses}`)

  const client = await RawClient.connect(`127.0.0.1:${broker.port}`)
  t.after(() => client.close())
  let count = 0
  for (let partition = 0; partition < 3; partition++) {
    const { records } = await readPartition(client, 'exactly-once', partition)
    const values = records.map((r) => Number(text(r.value)))
    const expected = Array.from({ length: Math.ceil((total - partition) / 3) }, (_, i) => partition + i * 3)
    // Equal sequences mean: nothing lost, nothing duplicated, nothing out of order.
    assert.deepEqual(values, expected, `partition ${partition}`)
    count += values.length
  }
  assert.equal(count, total)
})
