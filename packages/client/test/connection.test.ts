import assert from 'node:assert/strict'
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net'
import { test } from 'node:test'
import {
  ApiKey,
  Writer,
  apiDefinitions,
  decodeRequestFrame,
  defaultFetchRequest,
  defaultMetadataRequest,
  encodeResponseFrame,
} from '@fluxo/protocol'
import { ConnectionError, RequestTimeoutError } from '../src/errors.js'
import { Cluster, Connection, backoffMs } from '../src/internal.js'
import { broker } from './support.js'

interface FakeRequest {
  apiKey: number
  apiVersion: number
  correlationId: number
  socket: Socket
}

/**
 * A fake broker that answers ApiVersions with the given ranges and hands every other request to
 * `onRequest` (which may never answer).
 */
async function fakeBroker(
  ranges: Record<number, [number, number]>,
  onRequest: (req: FakeRequest) => void = () => {},
  options: { apiVersionsMax?: number } = {},
): Promise<{ server: Server; port: number; requests: FakeRequest[] }> {
  const requests: FakeRequest[] = []
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      while (buffer.length >= 4 && buffer.length >= 4 + buffer.readInt32BE(0)) {
        const size = buffer.readInt32BE(0)
        const frame = buffer.subarray(4, 4 + size)
        buffer = buffer.subarray(4 + size)
        const apiKey = frame.readInt16BE(0)
        const apiVersion = frame.readInt16BE(2)
        const correlationId = frame.readInt32BE(4)
        if (apiKey === ApiKey.ApiVersions) {
          const max = options.apiVersionsMax ?? 4
          if (apiVersion > max) {
            // KIP-511: an unknown ApiVersions version gets a v0 body with UNSUPPORTED_VERSION.
            const w = new Writer()
            w.int32(0)
            w.int32(correlationId)
            w.int16(35)
            w.int32(1)
            w.int16(18)
            w.int16(0)
            w.int16(max)
            w.patchInt32(0, w.length - 4)
            socket.write(w.toBuffer())
            continue
          }
          decodeRequestFrame(frame)
          const apiKeys = Object.entries(ranges).map(([key, [minVersion, maxVersion]]) => ({
            apiKey: Number(key),
            minVersion,
            maxVersion,
          }))
          apiKeys.push({ apiKey: 18, minVersion: 0, maxVersion: max })
          const body = {
            errorCode: 0,
            apiKeys,
            throttleTimeMs: 0,
            supportedFeatures: [],
            finalizedFeaturesEpoch: -1,
            finalizedFeatures: [],
            zkMigrationReady: false,
          }
          socket.write(
            Buffer.concat(encodeResponseFrame(apiDefinitions[18], apiVersion, correlationId, body)),
          )
          continue
        }
        const req = { apiKey, apiVersion, correlationId, socket }
        requests.push(req)
        onRequest(req)
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, requests }
}

function metadataAnswer(req: FakeRequest): Buffer {
  return Buffer.concat(
    encodeResponseFrame(apiDefinitions[3], req.apiVersion, req.correlationId, {
      throttleTimeMs: 0,
      brokers: [],
      clusterId: 'fake',
      controllerId: -1,
      topics: [],
      clusterAuthorizedOperations: 0,
    }),
  )
}

test('version negotiation picks min(ours, theirs) per API and skips APIs with no common version', async (t) => {
  const fake = await fakeBroker({ 0: [3, 7], 3: [0, 5], 1: [0, 3], 9999: [0, 1] })
  t.after(() => fake.server.close())
  const conn = await Connection.connect({ host: '127.0.0.1', port: fake.port })
  t.after(() => conn.destroy(undefined))
  assert.equal(conn.versionFor(ApiKey.Produce), 7, 'theirs is lower')
  assert.equal(conn.versionFor(ApiKey.Metadata), 5)
  assert.equal(conn.versionFor(ApiKey.Fetch), -1, 'Fluxo decodes Fetch from v4 only: no overlap with 0-3')
  assert.equal(conn.supports(ApiKey.CreateTopics), false, 'not advertised')
  assert.deepEqual(conn.brokerVersions.get(9999), { minVersion: 0, maxVersion: 1 })
  await assert.rejects(conn.request(ApiKey.Fetch, defaultFetchRequest()), {
    code: 'ERR_FLUXO_UNSUPPORTED_VERSION',
  })
})

test('an older broker answers ApiVersions v4 with UNSUPPORTED_VERSION and the client retries lower', async (t) => {
  const fake = await fakeBroker({ 3: [0, 12] }, (req) => req.socket.write(metadataAnswer(req)), {
    apiVersionsMax: 2,
  })
  t.after(() => fake.server.close())
  const conn = await Connection.connect({ host: '127.0.0.1', port: fake.port })
  t.after(() => conn.destroy(undefined))
  assert.equal(conn.versionFor(ApiKey.ApiVersions), 2)
  const md = await conn.request(ApiKey.Metadata, defaultMetadataRequest())
  assert.equal(md.clusterId, 'fake')
  assert.equal(fake.requests[0].apiVersion, 12)
})

test('requests are pipelined: all are written before the first answer, answers match by correlation id', async (t) => {
  const held: FakeRequest[] = []
  const fake = await fakeBroker({ 3: [0, 12] }, (req) => {
    held.push(req)
    if (held.length === 20) for (const r of held) r.socket.write(metadataAnswer(r))
  })
  t.after(() => fake.server.close())
  const conn = await Connection.connect({ host: '127.0.0.1', port: fake.port })
  t.after(() => conn.destroy(undefined))
  const all = Array.from({ length: 20 }, () => conn.request(ApiKey.Metadata, defaultMetadataRequest()))
  assert.equal(conn.inFlight, 20, 'all written at once')
  // The fake broker answers only once it holds all 20: without pipelining this would hang.
  const answers = await Promise.all(all)
  assert.equal(answers.length, 20)
  assert.equal(conn.inFlight, 0)
  const ids = fake.requests.map((r) => r.correlationId)
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'correlation ids increase',
  )
})

test('answers split anywhere across reads, size prefix included, are reassembled in order', async (t) => {
  const held: FakeRequest[] = []
  const fake = await fakeBroker({ 3: [0, 12] }, (req) => {
    held.push(req)
    if (held.length < 10) return
    // One byte stream of ten answers, written in pieces of 1 to 7 bytes with a pause in between.
    const bytes = Buffer.concat(held.map(metadataAnswer))
    void (async () => {
      for (let at = 0, i = 0; at < bytes.length; i++) {
        const n = 1 + (i % 7)
        req.socket.write(bytes.subarray(at, at + n))
        at += n
        await new Promise((r) => setTimeout(r, 1))
      }
    })()
  })
  t.after(() => fake.server.close())
  const conn = await Connection.connect({ host: '127.0.0.1', port: fake.port })
  t.after(() => conn.destroy(undefined))
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => conn.request(ApiKey.Metadata, defaultMetadataRequest())),
  )
  assert.deepEqual(
    answers.map((a) => a.clusterId),
    Array(10).fill('fake'),
  )
})

test('a request without an answer times out and closes the connection; the others fail too', async (t) => {
  const fake = await fakeBroker({ 3: [0, 12] })
  t.after(() => fake.server.close())
  const conn = await Connection.connect({ host: '127.0.0.1', port: fake.port, requestTimeoutMs: 150 })
  const started = Date.now()
  const first = conn.request(ApiKey.Metadata, defaultMetadataRequest())
  const second = conn.request(ApiKey.Metadata, defaultMetadataRequest(), { timeoutMs: 10_000 })
  await assert.rejects(first, (err) => err instanceof RequestTimeoutError && err.retriable)
  await assert.rejects(second, RequestTimeoutError)
  assert.ok(Date.now() - started < 5000)
  assert.equal(conn.closed, true)
  await assert.rejects(conn.request(ApiKey.Metadata, defaultMetadataRequest()), RequestTimeoutError)
})

test('connecting to a closed port fails with a retriable ConnectionError', async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  await assert.rejects(
    Connection.connect({ host: '127.0.0.1', port }),
    (err) => err instanceof ConnectionError && err.retriable,
  )
})

test('the cluster bootstraps, caches metadata and reconnects after the connection drops', async (t) => {
  const b = await broker(t)
  const cluster = new Cluster({ bootstrap: ['127.0.0.1:1', b.bootstrap], retry: { initialRetryTimeMs: 10 } })
  t.after(() => cluster.close())
  const created = await cluster.connection(1).catch(() => undefined)
  assert.equal(created, undefined, 'node 1 is unknown before metadata')
  await cluster.refreshMetadata([])
  assert.equal(cluster.brokers().length, 1)
  const conn = await cluster.connection(1)
  assert.equal(conn.versionFor(ApiKey.Metadata) > 0, true)
  conn.destroy(undefined)
  await new Promise((r) => setImmediate(r))
  const again = await cluster.connection(1)
  assert.notEqual(again, conn)
  assert.equal(again.closed, false)
  const md = await cluster.request(1, ApiKey.Metadata, { ...defaultMetadataRequest(), topics: null })
  assert.equal(md.clusterId, b.clusterId)
})

test('backoff doubles from the initial wait up to the cap, with ±20% jitter', () => {
  assert.equal(
    backoffMs(0, 100, 1000, () => 0.5),
    100,
  )
  assert.equal(
    backoffMs(1, 100, 1000, () => 0.5),
    200,
  )
  assert.equal(
    backoffMs(3, 100, 1000, () => 0.5),
    800,
  )
  assert.equal(
    backoffMs(4, 100, 1000, () => 0.5),
    1000,
  )
  assert.equal(
    backoffMs(10, 100, 1000, () => 0),
    800,
  )
  assert.equal(
    backoffMs(10, 100, 1000, () => 1),
    1200,
  )
})
