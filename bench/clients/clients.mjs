// One adapter per client library: the same three tasks, each written the way that library is
// normally used at speed. Every adapter gets { bootstrap, topic, partitions, records, value,
// chunk, window, groupId } and returns numbers only; timing is done in client-child.mjs.
//
// Produce: records go out in chunks of `chunk` records (one send call for libraries that take an
// array, `chunk` send() calls for per-record APIs), with up to `window` chunks unacknowledged.
// Record i goes to partition i % partitions, keyless, so that every client builds the same
// per-partition batches whatever its default partitioner does.
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const confluentDir = path.join(root, 'compat', 'confluent')

/** Sends `records` records in chunks with a bounded window of outstanding chunks. */
async function windowed(records, chunk, window, sendChunk) {
  const outstanding = []
  for (let start = 0; start < records; start += chunk) {
    outstanding.push(sendChunk(start, Math.min(chunk, records - start)))
    if (outstanding.length >= window) await outstanding.shift()
  }
  await Promise.all(outstanding)
}

/** Awaits one send per tick of a fixed-rate schedule; returns each send's latency in ms. */
async function fixedRate(ratePerSec, durationS, sendOne) {
  const interval = 1000 / ratePerSec
  const total = Math.round(ratePerSec * durationS)
  const latencies = []
  const t0 = performance.now()
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    const start = performance.now()
    await sendOne(i)
    latencies.push(performance.now() - start)
  }
  return latencies
}

// ---- Fluxo ----------------------------------------------------------------------------------------
const fluxo = {
  name: 'fluxo',
  label: 'Fluxo (@fluxo/client)',
  settings: {
    produce: 'acks=-1, idempotent (default), lingerMs=5 (default), batchSize=262144, maxInFlight=5 (default)',
    consume:
      'assign() all partitions from offset 0, run({ eachBatch }) (defaults: maxBytes 50 MB, 1 MB per partition)',
    latency: 'acks=-1, idempotent, lingerMs=0',
  },
  async available() {
    return true
  },
  async produce(o) {
    const { Kafka } = await import('@fluxo/client')
    const producer = new Kafka({ bootstrap: [o.bootstrap], clientId: 'bench' }).producer({
      batchSize: 262144,
    })
    await producer.send({ topic: o.topic, partition: 0, value: o.value }) // connect, producer id
    const t0 = performance.now()
    await windowed(o.records, o.chunk, o.window, (start, n) => {
      const acks = new Array(n)
      for (let i = 0; i < n; i++)
        acks[i] = producer.send({ topic: o.topic, partition: (start + i) % o.partitions, value: o.value })
      return Promise.all(acks)
    })
    const elapsedMs = performance.now() - t0
    await producer.close()
    return { elapsedMs, extraRecords: 1 }
  },
  async consume(o, onRecords) {
    const client = await import('@fluxo/client')
    if (typeof client.Kafka.prototype.consumer !== 'function') throw new NotAvailable('no consumer yet')
    const consumer = new client.Kafka({ bootstrap: [o.bootstrap], clientId: 'bench' }).consumer({
      autoOffsetReset: 'earliest',
    })
    const assignment = Array.from({ length: o.partitions }, (_, partition) => ({
      topic: o.topic,
      partition,
      offset: 0,
    }))
    // run({ eachBatch }) like the KafkaJS and librdkafka consumers; BENCH_FLUXO_CONSUME=iterator
    // measures `for await` instead.
    const iterator = process.env.BENCH_FLUXO_CONSUME === 'iterator' || typeof consumer.run !== 'function'
    return {
      start: async () => {
        await consumer.assign(assignment)
        if (iterator) {
          for await (const record of consumer) if (onRecords(1, record.value?.length ?? 0)) break
          return
        }
        await new Promise((resolve, reject) => {
          consumer
            .run({
              eachBatch: (batch) => {
                let bytes = 0
                for (const r of batch.records) bytes += r.value?.length ?? 0
                if (onRecords(batch.records.length, bytes)) resolve()
              },
            })
            .catch(reject)
        })
      },
      close: () => consumer.close(),
    }
  },
  async latency(o) {
    const { Kafka } = await import('@fluxo/client')
    const producer = new Kafka({ bootstrap: [o.bootstrap], clientId: 'bench' }).producer({ lingerMs: 0 })
    await producer.send({ topic: o.topic, partition: 0, value: o.value })
    const latencies = await fixedRate(o.rate, o.durationS, (i) =>
      producer.send({ topic: o.topic, partition: i % o.partitions, value: o.value }),
    )
    await producer.close()
    return { latencies }
  },
}

// ---- KafkaJS ---------------------------------------------------------------------------------------
const kafkajs = {
  name: 'kafkajs',
  label: 'KafkaJS 2.2.4',
  settings: {
    produce:
      'acks=-1, not idempotent (default; its idempotence allows 1 request in flight), send() of `chunk` messages',
    consume: 'consumer group, fromBeginning, eachBatch (defaults: maxBytes 10 MB, 1 MB per partition)',
    latency: 'acks=-1, send() of one message',
  },
  async available() {
    return true
  },
  async kafka(o) {
    const { Kafka, logLevel } = await import('kafkajs')
    return new Kafka({ brokers: [o.bootstrap], clientId: 'bench', logLevel: logLevel.NOTHING })
  },
  async produce(o) {
    const producer = (await this.kafka(o)).producer()
    await producer.connect()
    await producer.send({ topic: o.topic, acks: -1, messages: [{ partition: 0, value: o.value }] })
    const t0 = performance.now()
    await windowed(o.records, o.chunk, o.window, (start, n) => {
      const messages = new Array(n)
      for (let i = 0; i < n; i++) messages[i] = { partition: (start + i) % o.partitions, value: o.value }
      return producer.send({ topic: o.topic, acks: -1, messages })
    })
    const elapsedMs = performance.now() - t0
    await producer.disconnect()
    return { elapsedMs, extraRecords: 1 }
  },
  async consume(o, onRecords) {
    const consumer = (await this.kafka(o)).consumer({ groupId: o.groupId })
    await consumer.connect()
    await consumer.subscribe({ topic: o.topic, fromBeginning: true })
    return {
      start: () =>
        new Promise((resolve, reject) => {
          consumer
            .run({
              eachBatch: async ({ batch }) => {
                let bytes = 0
                for (const m of batch.messages) bytes += m.value?.length ?? 0
                if (onRecords(batch.messages.length, bytes)) resolve()
              },
            })
            .catch(reject)
        }),
      close: () => consumer.disconnect(),
    }
  },
  async latency(o) {
    const producer = (await this.kafka(o)).producer()
    await producer.connect()
    await producer.send({ topic: o.topic, acks: -1, messages: [{ partition: 0, value: o.value }] })
    const latencies = await fixedRate(o.rate, o.durationS, (i) =>
      producer.send({
        topic: o.topic,
        acks: -1,
        messages: [{ partition: i % o.partitions, value: o.value }],
      }),
    )
    await producer.disconnect()
    return { latencies }
  },
}

// ---- @platformatic/kafka ---------------------------------------------------------------------------
const platformatic = {
  name: 'platformatic',
  label: '@platformatic/kafka 1.35.0',
  settings: {
    // Its idempotent mode takes each partition's sequence when a request is built and advances it
    // only on the response: concurrent send() calls reuse sequences, and the broker drops the later
    // batches as duplicates (3% of the records lost in a 100,000-record run). So: not idempotent.
    produce:
      'acks=-1, not idempotent (its idempotence loses records under concurrent send() calls), send() of `chunk` messages',
    consume: 'consumer group stream, mode earliest, autocommit off, data events (defaults: maxBytes 10 MB)',
    latency: 'acks=-1, idempotent, send() of one message',
  },
  async available() {
    return true
  },
  async produce(o) {
    const { Producer } = await import('@platformatic/kafka')
    const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [o.bootstrap], acks: -1 })
    await producer.send({ messages: [{ topic: o.topic, partition: 0, value: o.value }] })
    const t0 = performance.now()
    await windowed(o.records, o.chunk, o.window, (start, n) => {
      const messages = new Array(n)
      for (let i = 0; i < n; i++)
        messages[i] = { topic: o.topic, partition: (start + i) % o.partitions, value: o.value }
      return producer.send({ messages })
    })
    const elapsedMs = performance.now() - t0
    await producer.close()
    return { elapsedMs, extraRecords: 1 }
  },
  async consume(o, onRecords) {
    const { Consumer } = await import('@platformatic/kafka')
    const consumer = new Consumer({ clientId: 'bench', bootstrapBrokers: [o.bootstrap], groupId: o.groupId })
    return {
      start: async () => {
        const stream = await consumer.consume({ topics: [o.topic], mode: 'earliest', autocommit: false })
        await new Promise((resolve, reject) => {
          stream.on('error', reject)
          stream.on('data', (m) => {
            if (onRecords(1, m.value?.length ?? 0)) resolve()
          })
        })
        await stream.close()
      },
      close: () => consumer.close(true),
    }
  },
  async latency(o) {
    const { Producer } = await import('@platformatic/kafka')
    const producer = new Producer({
      clientId: 'bench',
      bootstrapBrokers: [o.bootstrap],
      idempotent: true,
      acks: -1,
    })
    await producer.send({ messages: [{ topic: o.topic, partition: 0, value: o.value }] })
    const latencies = await fixedRate(o.rate, o.durationS, (i) =>
      producer.send({ messages: [{ topic: o.topic, partition: i % o.partitions, value: o.value }] }),
    )
    await producer.close()
    return { latencies }
  },
}

// ---- @confluentinc/kafka-javascript (librdkafka) -----------------------------------------------------
function loadConfluent() {
  return createRequire(path.join(confluentDir, 'package.json'))('@confluentinc/kafka-javascript')
}

const confluent = {
  name: 'confluent',
  label: '@confluentinc/kafka-javascript',
  settings: {
    produce:
      'KafkaJS-compatible API, acks=-1, idempotent, librdkafka defaults (linger.ms 5, batch.size 1000000), send() of `chunk` messages',
    consume: 'KafkaJS-compatible API, consumer group, fromBeginning, eachBatch',
    latency: 'acks=-1, idempotent, linger.ms=0, send() of one message',
  },
  async available() {
    try {
      const c = loadConfluent()
      return `librdkafka ${c.librdkafkaVersion}`
    } catch {
      return false
    }
  },
  kafka(o) {
    const { Kafka, logLevel } = loadConfluent().KafkaJS
    return new Kafka({ kafkaJS: { brokers: [o.bootstrap], clientId: 'bench', logLevel: logLevel.NOTHING } })
  },
  async produce(o) {
    const producer = this.kafka(o).producer({ kafkaJS: { acks: -1, idempotent: true } })
    await producer.connect()
    await producer.send({ topic: o.topic, messages: [{ partition: 0, value: o.value }] })
    const t0 = performance.now()
    await windowed(o.records, o.chunk, o.window, (start, n) => {
      const messages = new Array(n)
      for (let i = 0; i < n; i++) messages[i] = { partition: (start + i) % o.partitions, value: o.value }
      return producer.send({ topic: o.topic, messages })
    })
    const elapsedMs = performance.now() - t0
    await producer.disconnect()
    return { elapsedMs, extraRecords: 1 }
  },
  async consume(o, onRecords) {
    const consumer = this.kafka(o).consumer({ kafkaJS: { groupId: o.groupId, fromBeginning: true } })
    await consumer.connect()
    await consumer.subscribe({ topic: o.topic })
    return {
      start: () =>
        new Promise((resolve, reject) => {
          consumer
            .run({
              eachBatch: async ({ batch }) => {
                let bytes = 0
                for (const m of batch.messages) bytes += m.value?.length ?? 0
                if (onRecords(batch.messages.length, bytes)) resolve()
              },
            })
            .catch(reject)
        }),
      close: () => consumer.disconnect(),
    }
  },
  async latency(o) {
    const producer = this.kafka(o).producer({ 'linger.ms': 0, kafkaJS: { acks: -1, idempotent: true } })
    await producer.connect()
    await producer.send({ topic: o.topic, messages: [{ partition: 0, value: o.value }] })
    const latencies = await fixedRate(o.rate, o.durationS, (i) =>
      producer.send({ topic: o.topic, messages: [{ partition: i % o.partitions, value: o.value }] }),
    )
    await producer.disconnect()
    return { latencies }
  },
}

export class NotAvailable extends Error {}

export const clients = { fluxo, kafkajs, platformatic, confluent }
