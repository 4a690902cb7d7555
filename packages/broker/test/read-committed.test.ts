// Transactions on the partition: transactional batches hold the last stable offset (LSO) until
// their COMMIT/ABORT marker; read_committed Fetch stops at the LSO and lists the aborted
// transactions it overlaps; ListOffsets latest answers the LSO; all of it survives a restart.
// The broker here has a stub transaction coordinator that accepts every transactional batch, and
// markers are written with Partition.writeTxnMarker, as the real coordinator does.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import {
  ApiKey,
  ControlRecordType,
  ErrorCode,
  type RecordBatch,
  controlRecordType,
  defaultListOffsetsRequest,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import pino from 'pino'
import { Cluster } from '../src/cluster/cluster.js'
import type { Partition } from '../src/cluster/partition.js'
import { parseBrokerConfig } from '../src/config.js'
import type { BrokerContext } from '../src/handlers/handler.js'
import { handlers } from '../src/handlers/index.js'
import { KafkaServer } from '../src/net/server.js'
import { openFileStore } from '../src/storage/file.js'
import { createMemoryStore } from '../src/storage/memory.js'
import type { LogStore } from '../src/storage/types.js'
import { createTopic, fetchPartition, produce, text } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { requireTool, tempDir } from './support.js'

const READ_UNCOMMITTED = 0
const READ_COMMITTED = 1

interface Harness {
  bootstrap: string
  client: RawClient
  partition(topic: string, index?: number): Partition
  /** The stub coordinator's answer to verifyPartition (NONE unless a test changes it). */
  verdict: { errorCode: number; calls: unknown[][] }
  close(): Promise<void>
}

/** A broker whose transaction coordinator accepts every partition; the test writes the markers. */
async function harness(t: TestContext, dataDir?: string): Promise<Harness> {
  const logger = pino({ level: 'silent' })
  const { config } = parseBrokerConfig({})
  const store: LogStore = dataDir ? await openFileStore({ dataDir, logger }) : createMemoryStore()
  const self = { nodeId: config.nodeId, host: '127.0.0.1', port: 0, rack: null }
  const cluster = new Cluster(store, config, self, logger)
  await cluster.load()
  const shutdown = new AbortController()
  const verdict = { errorCode: ErrorCode.NONE as number, calls: [] as unknown[][] }
  const context = {
    cluster,
    config,
    logger,
    groups: undefined,
    transactions: {
      verifyPartition: (...args: unknown[]) => {
        verdict.calls.push(args)
        return verdict.errorCode
      },
    },
    shutdown: shutdown.signal,
    apis: () => server.supportedApis(),
  } as unknown as BrokerContext
  const server = new KafkaServer(handlers, context, logger)
  const { port } = await server.listen('127.0.0.1', 0)
  self.port = port
  const bootstrap = `127.0.0.1:${port}`
  const client = await RawClient.connect(bootstrap)
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      client.close()
      shutdown.abort()
      await server.close()
      await store.close()
    })()
    return closed
  }
  t.after(close)
  return {
    bootstrap,
    client,
    verdict,
    partition: (topic, index = 0) => {
      const partition = cluster.partition(topic, index)
      assert.ok(partition, `${topic}-${index}`)
      return partition
    },
    close,
  }
}

function txnBatch(producerId: number, baseSequence: number, values: string[], producerEpoch = 0) {
  return encodeRecordBatchSync({
    producerId,
    producerEpoch,
    baseSequence,
    isTransactional: true,
    records: values.map((v) => ({ value: Buffer.from(v) })),
  })
}

const plainBatch = (values: string[]) =>
  encodeRecordBatchSync({ records: values.map((v) => ({ value: Buffer.from(v) })) })

async function produceTxn(h: Harness, topic: string, batch: Buffer, partition = 0) {
  const response = await h.client.request(ApiKey.Produce, 9, {
    transactionalId: 'txn-1',
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  })
  return response.responses[0].partitionResponses[0]
}

async function marker(h: Harness, topic: string, producerId: number, commit: boolean, producerEpoch = 0) {
  return h.partition(topic).writeTxnMarker({ producerId, producerEpoch, commit, coordinatorEpoch: 0 })
}

async function latest(client: RawClient, topic: string, isolationLevel: number): Promise<number> {
  const response = await client.request(ApiKey.ListOffsets, 5, {
    ...defaultListOffsetsRequest(),
    replicaId: -1,
    isolationLevel,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  })
  const p = response.topics[0].partitions[0]
  assert.equal(p.errorCode, ErrorCode.NONE)
  return p.offset
}

/**
 * What a read_committed consumer keeps (the Java consumer's algorithm): a producer's transactional
 * batches are dropped from the first offset of an aborted transaction until its ABORT marker;
 * control batches are never returned to the application.
 */
function committedValues(
  batches: RecordBatch[],
  aborted: { producerId: number; firstOffset: number }[],
): string[] {
  const pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset)
  const abortedProducers = new Set<number>()
  const values: string[] = []
  for (const batch of batches) {
    while (pending.length > 0 && pending[0].firstOffset <= batch.baseOffset + batch.lastOffsetDelta) {
      abortedProducers.add(pending.shift()!.producerId)
    }
    if (batch.isControl) {
      if (controlRecordType(batch.records[0]) === ControlRecordType.abort) {
        abortedProducers.delete(batch.producerId)
      }
      continue
    }
    if (batch.isTransactional && abortedProducers.has(batch.producerId)) continue
    for (const r of batch.records) values.push(text(r.value)!)
  }
  return values
}

test('read_committed stops at the last stable offset and lists the aborted transactions it overlaps', async (t) => {
  const h = await harness(t)
  const { client } = h
  await createTopic(client, 'txn')

  assert.equal((await produceTxn(h, 'txn', txnBatch(100, 0, ['a0', 'a1', 'a2']))).baseOffset, 0)
  assert.equal((await produce(client, 'txn', plainBatch(['p0']))).baseOffset, 3)
  assert.equal((await produceTxn(h, 'txn', txnBatch(200, 0, ['b0', 'b1']))).baseOffset, 4)
  assert.deepEqual(h.verdict.calls, [
    ['txn-1', 100, 0, 'txn', 0],
    ['txn-1', 200, 0, 'txn', 0],
  ])

  let committed = await fetchPartition(client, 'txn', { isolationLevel: READ_COMMITTED })
  assert.equal(committed.highWatermark, 6)
  assert.equal(committed.lastStableOffset, 0)
  assert.deepEqual(committed.records, [])
  assert.deepEqual(committed.abortedTransactions, [])
  const uncommitted = await fetchPartition(client, 'txn', { isolationLevel: READ_UNCOMMITTED })
  assert.equal(uncommitted.records.length, 6)
  assert.equal(uncommitted.lastStableOffset, 0)
  assert.equal(await latest(client, 'txn', READ_COMMITTED), 0)
  assert.equal(await latest(client, 'txn', READ_UNCOMMITTED), 6)

  assert.deepEqual(await marker(h, 'txn', 100, true), { errorCode: ErrorCode.NONE, offset: 6 })
  committed = await fetchPartition(client, 'txn', { isolationLevel: READ_COMMITTED })
  assert.equal(committed.lastStableOffset, 4)
  assert.deepEqual(
    committed.records.map((r) => text(r.value)),
    ['a0', 'a1', 'a2', 'p0'],
  )
  assert.equal(await latest(client, 'txn', READ_COMMITTED), 4)

  // Producer 100 opens a second transaction (offset 7) behind 200's, which is then aborted.
  assert.equal((await produceTxn(h, 'txn', txnBatch(100, 3, ['a3']))).baseOffset, 7)
  assert.deepEqual(await marker(h, 'txn', 200, false), { errorCode: ErrorCode.NONE, offset: 8 })
  committed = await fetchPartition(client, 'txn', { isolationLevel: READ_COMMITTED })
  assert.equal(committed.lastStableOffset, 7)
  assert.deepEqual(
    committed.batches.map((b) => b.baseOffset),
    [0, 3, 4, 6],
  )
  assert.deepEqual(committed.abortedTransactions, [{ producerId: 200, firstOffset: 4 }])

  assert.equal((await marker(h, 'txn', 100, false)).offset, 9)
  assert.equal(await latest(client, 'txn', READ_COMMITTED), 10)
  committed = await fetchPartition(client, 'txn', { isolationLevel: READ_COMMITTED })
  assert.equal(committed.lastStableOffset, 10)
  assert.deepEqual(committed.abortedTransactions, [
    { producerId: 200, firstOffset: 4 },
    { producerId: 100, firstOffset: 7 },
  ])
  assert.deepEqual(committedValues(committed.batches, committed.abortedTransactions!), [
    'a0',
    'a1',
    'a2',
    'p0',
  ])

  // Only transactions whose marker is at or after the fetch offset and that start before the end
  // of the returned data are listed.
  const from9 = await fetchPartition(client, 'txn', { isolationLevel: READ_COMMITTED, offset: 9 })
  assert.deepEqual(from9.abortedTransactions, [{ producerId: 100, firstOffset: 7 }])
  const upTo3 = await fetchPartition(client, 'txn', {
    isolationLevel: READ_COMMITTED,
    offset: 0,
    partitionMaxBytes: 1,
  })
  assert.deepEqual(
    upTo3.batches.map((b) => b.baseOffset),
    [0],
  )
  assert.deepEqual(upTo3.abortedTransactions, [])
  const uncommittedAgain = await fetchPartition(client, 'txn', { isolationLevel: READ_UNCOMMITTED })
  assert.equal(uncommittedAgain.abortedTransactions?.length ?? 0, 0)
})

test('a read_committed long-poll is answered when a marker moves the last stable offset', async (t) => {
  const h = await harness(t)
  await createTopic(h.client, 'poll')
  await produceTxn(h, 'poll', txnBatch(5, 0, ['t0', 't1']))
  const poller = await RawClient.connect(h.bootstrap)
  t.after(() => poller.close())
  const started = Date.now()
  const waiting = fetchPartition(poller, 'poll', { isolationLevel: READ_COMMITTED, maxWaitMs: 10_000 })
  await new Promise((resolve) => setTimeout(resolve, 200))
  await marker(h, 'poll', 5, true)
  const answered = await waiting
  assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms`)
  assert.deepEqual(committedValues(answered.batches, answered.abortedTransactions!), ['t0', 't1'])
  assert.equal(answered.lastStableOffset, 3)
})

test('transactional produce: the coordinator must know the partition; plain writes during an open transaction are INVALID_TXN_STATE', async (t) => {
  const h = await harness(t)
  await createTopic(h.client, 'checked')
  h.verdict.errorCode = ErrorCode.INVALID_TXN_STATE
  const refused = await produceTxn(h, 'checked', txnBatch(9, 0, ['x']))
  assert.equal(refused.errorCode, ErrorCode.INVALID_TXN_STATE)
  h.verdict.errorCode = ErrorCode.NONE
  assert.equal((await produceTxn(h, 'checked', txnBatch(9, 0, ['x']))).baseOffset, 0)

  const idempotentPlain = encodeRecordBatchSync({
    producerId: 9,
    producerEpoch: 0,
    baseSequence: 1,
    records: [{ value: Buffer.from('outside') }],
  })
  assert.equal((await produce(h.client, 'checked', idempotentPlain)).errorCode, ErrorCode.INVALID_TXN_STATE)

  // Markers with an older producer epoch are refused; a newer one (the coordinator fencing) is written.
  assert.equal((await marker(h, 'checked', 9, false, 0)).errorCode, ErrorCode.NONE)
  assert.equal((await marker(h, 'checked', 9, false, 1)).errorCode, ErrorCode.NONE)
  assert.deepEqual(await marker(h, 'checked', 9, true, 0), {
    errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
    offset: -1,
  })
  const stale = await produceTxn(h, 'checked', txnBatch(9, 1, ['late'], 0))
  assert.equal(stale.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)
})

test('open and aborted transactions survive a restart, from the snapshot and from the log alone', async (t) => {
  const dataDir = await tempDir(t)
  let h = await harness(t, dataDir)
  await createTopic(h.client, 'durable')
  await produceTxn(h, 'durable', txnBatch(1, 0, ['aborted-0', 'aborted-1']))
  await marker(h, 'durable', 1, false)
  await produce(h.client, 'durable', plainBatch(['plain']))
  await produceTxn(h, 'durable', txnBatch(2, 0, ['open']))
  await h.close()

  for (const withSnapshot of [true, false]) {
    if (!withSnapshot) {
      const dir = join(dataDir, 'durable-0')
      for (const f of await readdir(dir)) if (f.endsWith('.snapshot')) await rm(join(dir, f))
    }
    h = await harness(t, dataDir)
    const committed = await fetchPartition(h.client, 'durable', { isolationLevel: READ_COMMITTED })
    assert.equal(committed.lastStableOffset, 4, `snapshot: ${withSnapshot}`)
    assert.deepEqual(committed.abortedTransactions, [{ producerId: 1, firstOffset: 0 }])
    assert.deepEqual(committedValues(committed.batches, committed.abortedTransactions!), ['plain'])
    await h.close()
  }

  h = await harness(t, dataDir)
  assert.deepEqual(await marker(h, 'durable', 2, true), { errorCode: ErrorCode.NONE, offset: 5 })
  const committed = await fetchPartition(h.client, 'durable', { isolationLevel: READ_COMMITTED })
  assert.equal(committed.lastStableOffset, 6)
  assert.deepEqual(committedValues(committed.batches, committed.abortedTransactions!), ['plain', 'open'])
})

function kcat(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end()
  })
}

test('kcat (librdkafka) with isolation.level=read_committed skips aborted records and markers', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const h = await harness(t)
  await createTopic(h.client, 'eos')
  const expected: string[] = []
  let sequence = 0
  for (let txn = 0; txn < 20; txn++) {
    const values = Array.from({ length: 3 }, (_, i) => `txn${txn}-${i}`)
    await produceTxn(h, 'eos', txnBatch(42, sequence, values))
    sequence += 3
    if (txn % 3 === 1) await produce(h.client, 'eos', plainBatch([`plain${txn}`]))
    const commit = txn % 2 === 0
    await marker(h, 'eos', 42, commit)
    if (commit) expected.push(...values)
    if (txn % 3 === 1) expected.push(`plain${txn}`)
  }
  const committed = await kcat([
    '-b',
    h.bootstrap,
    '-C',
    '-t',
    'eos',
    '-p',
    '0',
    '-e',
    '-q',
    '-f',
    '%s\\n',
    '-X',
    'isolation.level=read_committed',
  ])
  assert.equal(committed.code, 0, committed.stderr)
  assert.deepEqual(committed.stdout.trim().split('\n'), expected)

  const everything = await kcat([
    '-b',
    h.bootstrap,
    '-C',
    '-t',
    'eos',
    '-p',
    '0',
    '-e',
    '-q',
    '-X',
    'isolation.level=read_uncommitted',
  ])
  assert.equal(everything.stdout.trim().split('\n').length, 20 * 3 + 7)
})
