// KafkaJS 2.2.4 transactions against the broker: consume-transform-produce with sendOffsets, commits
// and aborts; read_committed consumers (KafkaJS's default) see only committed records; the group's
// offsets advance only on commit; a transaction left open across a restart is aborted after its
// timeout and readers move on; and a concurrent workload of transactional and idempotent producers
// with read_committed consumers (librdkafka and KafkaJS), checked by the queue checker (after
// Jepsen's Kafka workload).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { test } from 'node:test'
import { type Admin, type Consumer, Kafka, type Producer, logLevel } from 'kafkajs'
import { type Broker, startBroker } from '../../src/index.js'
import { fetchPartition } from '../partition-client.js'
import { RawClient } from '../raw-client.js'
import { requireTool, tempDir } from '../support.js'
import {
  type History,
  type Send,
  type TxnOutcome,
  checkQueue,
  describeAnomalies,
} from '../support/queue-checker.js'
import { sleep, waitFor } from './group-support.js'

async function committedOffset(admin: Admin, groupId: string, topic: string, partition = 0): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return Number(t.partitions.find((p) => p.partition === partition)!.offset)
}

/** A consumer of its own group that records each value it receives. */
async function reader(kafka: Kafka, groupId: string, topic: string, readUncommitted = false) {
  const values: string[] = []
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, readUncommitted })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value!.toString())
    },
  })
  return { consumer, values }
}

test('KafkaJS consume-transform-produce: sendOffsets, commit and abort; read_committed sees only committed; offsets advance on commit', async (t) => {
  const broker = await startBroker({ port: 0 })
  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'eos', logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const consumers: Consumer[] = []
  const producers: Producer[] = []
  t.after(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()))
    await Promise.all(producers.map((p) => p.disconnect()))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  await admin.createTopics({
    topics: [
      { topic: 'in', numPartitions: 1 },
      { topic: 'out', numPartitions: 2 },
    ],
  })
  const input = kafka.producer()
  producers.push(input)
  await input.connect()
  const COUNT = 60
  // Batches of five, fetched about one at a time: the processor sees a dozen batches.
  for (let i = 0; i < COUNT; i += 5)
    await input.send({ topic: 'in', messages: Array.from({ length: 5 }, (_, j) => ({ value: `m${i + j}` })) })

  const processor = kafka.producer({
    transactionalId: 'transformer',
    maxInFlightRequests: 1,
    idempotent: true,
  })
  producers.push(processor)
  await processor.connect()
  const source = kafka.consumer({ groupId: 'transform', maxWaitTimeInMs: 100, maxBytesPerPartition: 100 })
  consumers.push(source)
  await source.connect()
  await source.subscribe({ topic: 'in', fromBeginning: true })

  let batches = 0
  let aborted = 0
  let processed = 0
  // Committed offsets seen around each transaction, checked after the run (an assertion thrown inside
  // eachBatch would only make KafkaJS retry the batch).
  const offsetsAfterAbort: { before: number; after: number }[] = []
  const offsetsAfterCommit: { expected: number; after: number }[] = []
  await source.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      const next = String(Number(batch.lastOffset()) + 1)
      const transform = async (finish: 'commit' | 'abort') => {
        const txn = await processor.transaction()
        await txn.send({
          topic: 'out',
          messages: batch.messages.map((m) => ({
            key: m.value,
            value: `${m.value!.toString().toUpperCase()}-${finish}`,
          })),
        })
        await txn.sendOffsets({
          consumerGroupId: 'transform',
          topics: [{ topic: 'in', partitions: [{ partition: batch.partition, offset: next }] }],
        })
        if (finish === 'commit') await txn.commit()
        else await txn.abort()
      }
      // Every other batch is first processed in a transaction that aborts, then again for real.
      if (batches++ % 2 === 1) {
        const before = await committedOffset(admin, 'transform', 'in')
        await transform('abort')
        aborted++
        offsetsAfterAbort.push({ before, after: await committedOffset(admin, 'transform', 'in') })
      }
      await transform('commit')
      offsetsAfterCommit.push({
        expected: Number(next),
        after: await committedOffset(admin, 'transform', 'in'),
      })
      processed += batch.messages.length
      await heartbeat()
    },
  })
  await waitFor('the input processed', () => processed >= COUNT)
  assert.ok(batches >= 2 && aborted >= 1, `${batches} batches, ${aborted} aborted`)
  for (const { before, after } of offsetsAfterAbort)
    assert.equal(after, before, 'an aborted transaction does not move the offsets')
  for (const { expected, after } of offsetsAfterCommit) assert.equal(after, expected, 'a commit moves them')
  assert.equal(await committedOffset(admin, 'transform', 'in'), COUNT)

  const committed = await reader(kafka, 'check-committed', 'out')
  const uncommitted = await reader(kafka, 'check-uncommitted', 'out', true)
  consumers.push(committed.consumer, uncommitted.consumer)
  await waitFor('the committed output', () => committed.values.length >= COUNT)
  await waitFor('the whole output', () => uncommitted.values.length >= COUNT + 1)
  await sleep(300)
  const expected = Array.from({ length: COUNT }, (_, i) => `M${i}-commit`)
  assert.deepEqual(
    [...committed.values].sort(),
    [...expected].sort(),
    'each input exactly once, no aborted output',
  )
  assert.ok(
    uncommitted.values.some((v) => v.endsWith('-abort')),
    'the aborted attempts were written (read_uncommitted sees them)',
  )
})

test('KafkaJS: a transaction left open across a restart is aborted after its timeout; read_committed readers move on', async (t) => {
  const dataDir = await tempDir(t)
  const config = { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200' }
  let broker: Broker = await startBroker({ port: 0, storage: 'file', dataDir, config })
  let kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'restart', logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 1 }] })
  const producer = kafka.producer({
    transactionalId: 'left-open',
    maxInFlightRequests: 1,
    idempotent: true,
    transactionTimeout: 3000,
  })
  await producer.connect()
  const done = await producer.transaction()
  await done.send({ topic: 'events', messages: [{ value: 'committed-before' }] })
  await done.commit()
  const open = await producer.transaction()
  await open.send({ topic: 'events', messages: [{ value: 'open-1' }, { value: 'open-2' }] })
  await open.sendOffsets({
    consumerGroupId: 'g',
    topics: [{ topic: 'events', partitions: [{ partition: 0, offset: '99' }] }],
  })
  // The producer's process dies with the transaction open; the broker restarts.
  await producer.disconnect()
  await admin.disconnect()
  await broker.close()

  broker = await startBroker({ port: 0, storage: 'file', dataDir, config })
  kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'restart', logLevel: logLevel.NOTHING })
  const plain = kafka.producer()
  const consumers: Consumer[] = []
  const admin2 = kafka.admin()
  t.after(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()))
    await plain.disconnect()
    await admin2.disconnect()
    await broker.close()
  })
  await plain.connect()
  await admin2.connect()
  await plain.send({ topic: 'events', messages: [{ value: 'after-restart' }] })
  const started = Date.now()
  const committed = await reader(kafka, 'after', 'events')
  consumers.push(committed.consumer)
  await waitFor('the committed record', () => committed.values.includes('committed-before'))
  // The open transaction holds the last stable offset: the later record waits behind it.
  await sleep(500)
  assert.deepEqual(committed.values, ['committed-before'])
  await waitFor(
    'the record after the aborted transaction',
    () => committed.values.includes('after-restart'),
    20_000,
  )
  assert.ok(Date.now() - started >= 1000, 'not before the transaction timed out')
  assert.deepEqual(
    committed.values,
    ['committed-before', 'after-restart'],
    'the open transaction was aborted',
  )
  const [offsets] = await admin2.fetchOffsets({ groupId: 'g', topics: ['events'] })
  assert.equal(offsets.partitions[0].offset, '-1', 'its offsets were never committed')
})

test('queue checker over a concurrent workload: KafkaJS transactional and idempotent producers, read_committed consumers (librdkafka, KafkaJS); no anomalies from the broker', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const broker = await startBroker({ port: 0 })
  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'workload', logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const consumers: Consumer[] = []
  const producers: Producer[] = []
  const kcats: ChildProcess[] = []
  t.after(async () => {
    for (const k of kcats) k.kill()
    await Promise.all(consumers.map((c) => c.disconnect()))
    await Promise.all(producers.map((p) => p.disconnect().catch(() => {})))
    await admin.disconnect()
    await broker.close()
  })
  await admin.connect()
  const TOPIC = 'queue'
  const PARTITIONS = 3
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] })

  const history: History = { sends: [], txns: new Map<string, TxnOutcome>(), polls: [] }
  // mulberry32: a seeded generator, so a failure replays the same workload.
  let seed = 42
  const rand = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return (((x ^ (x >>> 14)) >>> 0) % 1_000_000) % n
  }
  const record = (send: Send) => history.sends.push(send)

  // Read_committed consumers poll while the producers run: two librdkafka consumers (kcat), and
  // KafkaJS consumers in two groups (of one and two members).
  const kcatReader = (name: string, exitAtEnd: boolean) => {
    const args = ['-C', '-b', broker.bootstrap, '-t', TOPIC, '-X', 'isolation.level=read_committed']
    args.push('-o', 'beginning', '-u', '-q', '-f', '%p\t%o\t%s\n', ...(exitAtEnd ? ['-e'] : []))
    const child = spawn('kcat', args)
    kcats.push(child)
    let pending = ''
    child.stdout!.on('data', (chunk) => {
      pending += chunk.toString()
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const [partition, offset, value] = pending.slice(0, nl).split('\t')
        pending = pending.slice(nl + 1)
        history.polls.push({
          consumer: name,
          partition: `${TOPIC}-${partition}`,
          records: [{ offset: Number(offset), value }],
        })
      }
    })
    return new Promise<void>((resolve) => child.on('close', () => resolve()))
  }
  void kcatReader('librdkafka-1', false)
  void kcatReader('librdkafka-2', false)
  const poller = async (name: string, groupId: string) => {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 })
    consumers.push(consumer)
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        history.polls.push({
          consumer: name,
          partition: `${TOPIC}-${batch.partition}`,
          records: batch.messages.map((m) => ({ offset: Number(m.offset), value: m.value!.toString() })),
        })
      },
    })
  }
  await Promise.all([
    poller('kafkajs-solo', 'readers-1'),
    poller('kafkajs-pair-a', 'readers-2'),
    poller('kafkajs-pair-b', 'readers-2'),
  ])

  const transactional = async (name: string, transactions: number) => {
    const producer = kafka.producer({ transactionalId: name, maxInFlightRequests: 1, idempotent: true })
    producers.push(producer)
    await producer.connect()
    let seq = 0
    for (let i = 0; i < transactions; i++) {
      const txnName = `${name}#${i}`
      const txn = await producer.transaction()
      const sends = 1 + rand(4)
      for (let j = 0; j < sends; j++) {
        const partition = rand(PARTITIONS)
        const value = `${txnName}.${j}`
        const send: Send = {
          producer: name,
          seq: seq++,
          partition: `${TOPIC}-${partition}`,
          value,
          outcome: 'unknown',
          txn: txnName,
        }
        record(send)
        const [meta] = await txn.send({ topic: TOPIC, messages: [{ partition, value }] })
        send.outcome = 'ok'
        send.offset = Number(meta.baseOffset)
      }
      const commit = rand(3) !== 0
      history.txns.set(txnName, 'unknown')
      if (commit) await txn.commit()
      else await txn.abort()
      history.txns.set(txnName, commit ? 'committed' : 'aborted')
    }
    await producer.disconnect()
  }

  const idempotent = async (name: string, count: number) => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    producers.push(producer)
    await producer.connect()
    for (let i = 0; i < count; i++) {
      const partition = rand(PARTITIONS)
      const send: Send = {
        producer: name,
        seq: i,
        partition: `${TOPIC}-${partition}`,
        value: `${name}.${i}`,
        outcome: 'unknown',
        txn: null,
      }
      record(send)
      const [meta] = await producer.send({ topic: TOPIC, messages: [{ partition, value: send.value }] })
      send.outcome = 'ok'
      send.offset = Number(meta.baseOffset)
    }
    await producer.disconnect()
  }

  // A zombie: a second producer with the same transactional id fences the first in mid-transaction.
  const zombie = async () => {
    const first = kafka.producer({ transactionalId: 'zombie', maxInFlightRequests: 1, idempotent: true })
    producers.push(first)
    await first.connect()
    const txn = await first.transaction()
    const send: Send = {
      producer: 'zombie-1',
      seq: 0,
      partition: `${TOPIC}-0`,
      value: 'zombie-1.0',
      outcome: 'unknown',
      txn: 'zombie#1',
    }
    record(send)
    await txn.send({ topic: TOPIC, messages: [{ partition: 0, value: send.value }] })
    send.outcome = 'ok'
    history.txns.set('zombie#1', 'unknown')
    const second = kafka.producer({ transactionalId: 'zombie', maxInFlightRequests: 1, idempotent: true })
    producers.push(second)
    await second.connect()
    // KafkaJS sends InitProducerId with the transactional id when the first transaction begins: the
    // coordinator aborts the first producer's transaction and fences it.
    const txn2 = await second.transaction()
    await assert.rejects(txn.commit(), (err: Error & { type?: string }) =>
      ['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH'].includes(err.type ?? ''),
    )
    history.txns.set('zombie#1', 'aborted')
    const send2: Send = {
      producer: 'zombie-2',
      seq: 0,
      partition: `${TOPIC}-0`,
      value: 'zombie-2.0',
      outcome: 'unknown',
      txn: 'zombie#2',
    }
    record(send2)
    await txn2.send({ topic: TOPIC, messages: [{ partition: 0, value: send2.value }] })
    send2.outcome = 'ok'
    history.txns.set('zombie#2', 'unknown')
    await txn2.commit()
    history.txns.set('zombie#2', 'committed')
  }

  await Promise.all([
    transactional('tx-a', 25),
    transactional('tx-b', 25),
    transactional('tx-c', 25),
    idempotent('plain', 60),
    zombie(),
  ])

  // Then every committed value must be readable: a final librdkafka read of the whole topic, and the
  // concurrent readers must have caught up.
  await kcatReader('librdkafka-final', true)
  const visible = new Set(
    history.sends
      .filter((s) => s.txn === null || history.txns.get(s.txn) === 'committed')
      .map((s) => s.value),
  )
  const mustSee = visible.size
  const caughtUp = (consumer: string) =>
    new Set(
      history.polls
        .filter((p) => p.consumer === consumer)
        .flatMap((p) => p.records.map((r) => r.value).filter((v) => visible.has(v))),
    ).size >= mustSee
  await waitFor('every reader to catch up', () =>
    ['librdkafka-1', 'librdkafka-2', 'kafkajs-solo'].every(caughtUp),
  )
  const abortedTxns = [...history.txns.values()].filter((o) => o === 'aborted').length
  assert.ok(abortedTxns >= 5, `the workload aborted ${abortedTxns} transactions`)

  // librdkafka filters aborted transactions as the Java client does: its reads must be clean.
  const librdkafka = checkQueue({
    ...history,
    polls: history.polls.filter((p) => p.consumer.startsWith('librdkafka')),
  })
  t.diagnostic(
    `${librdkafka.stats.sends} sends (${librdkafka.stats.mustBeVisible} committed or acknowledged), ${abortedTxns} aborted transactions, librdkafka consumers read ${librdkafka.stats.polls} records`,
  )
  assert.ok(librdkafka.valid, describeAnomalies(librdkafka))
  assert.deepEqual(librdkafka.unseen, [], describeAnomalies(librdkafka))
  assert.equal(librdkafka.stats.mustBeVisible, mustSee)

  // KafkaJS 2.2.4 drops aborted records itself (filterAbortedMessages) but moves past only one aborted
  // transaction per record: when a fetch starts inside two aborted transactions, the second one's
  // records get through. Its reads must show nothing else, and each aborted read must be one the
  // broker answered correctly: a read_committed Fetch at that offset lists the transaction as aborted,
  // so a client filtering as Java's does drops the record.
  const kafkajs = checkQueue({
    ...history,
    polls: history.polls.filter((p) => p.consumer.startsWith('kafkajs')),
  })
  const { abortedRead, ...rest } = kafkajs
  assert.deepEqual(
    [rest.lost, rest.unseen, rest.duplicate, rest.outOfOrder, rest.inconsistent],
    [[], [], [], [], []],
    describeAnomalies(kafkajs),
  )
  const raw = await RawClient.connect(broker.bootstrap)
  t.after(() => raw.close())
  for (const anomaly of abortedRead) {
    const partition = Number(anomaly.partition.split('-').at(-1))
    for (const offset of anomaly.offsets ?? []) {
      const fetched = await fetchPartition(raw, TOPIC, { partition, offset, isolationLevel: 1 })
      const send = history.sends.find((s) => s.value === anomaly.value)!
      const producerId = fetched.batches.find((b) =>
        b.records.some((r) => r.value?.toString() === anomaly.value),
      )?.producerId
      assert.ok(
        fetched.abortedTransactions?.some((a) => a.producerId === producerId && a.firstOffset <= offset),
        `the broker did not list ${send.txn} as aborted at ${anomaly.partition}@${offset}`,
      )
    }
  }
  if (abortedRead.length > 0)
    t.diagnostic(
      `KafkaJS read ${abortedRead.length} aborted record(s) that the broker had listed as aborted (KafkaJS client bug): ${abortedRead.map((a) => a.value).join(', ')}`,
    )
})
