import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CompressionTypes, Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../src/index.js'
import { tempDir } from './support.js'

const TOPIC = 'compacted'
const KEYS = 1000
const RECORDS = 100_000
const DELETE_RETENTION_MS = 60_000
/** Big enough that two cannot share a 1 MiB segment: the second starts the active segment. */
const FILLER = 'f'.repeat(1_040_000)

/** Broker settings of both tests: the cleaner runs only when the test says, on the test's clock. */
const BROKER_CONFIG = {
  'log.cleaner.enable': 'false',
  'log.cleaner.dedupe.buffer.size': String(1 << 20),
}

interface Consumed {
  offset: number
  key: string
  value: string | null
  timestamp: number
}

function kafka(bootstrap: string): Kafka {
  return new Kafka({ brokers: [bootstrap], clientId: 'compaction', logLevel: logLevel.NOTHING })
}

/**
 * Creates the compacted topic and writes 100,000 records over 1,000 keys (half the requests
 * gzip), then tombstones for keys 0-99 of which 0-49 are written again, then two big records that
 * leave everything else in closed segments. Returns the value a consumer must end with per key
 * (null: deleted).
 */
async function produceWorkload(bootstrap: string): Promise<Map<string, string | null>> {
  const client = kafka(bootstrap)
  const admin = client.admin()
  await admin.connect()
  await admin.createTopics({
    topics: [
      {
        topic: TOPIC,
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: String(1 << 20) },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'delete.retention.ms', value: String(DELETE_RETENTION_MS) },
        ],
      },
    ],
  })
  await admin.disconnect()
  const producer = client.producer()
  await producer.connect()
  const latest = new Map<string, string | null>()
  const send = async (messages: { key: string; value: string | null }[], gzip = false) => {
    await producer.send({
      topic: TOPIC,
      acks: -1,
      compression: gzip ? CompressionTypes.GZIP : CompressionTypes.None,
      messages,
    })
    for (const { key, value } of messages) latest.set(key, value)
  }
  const perRequest = 5000
  for (let from = 0; from < RECORDS; from += perRequest) {
    const messages = Array.from({ length: perRequest }, (_, i) => ({
      key: `key-${(from + i) % KEYS}`,
      value: `value-${from + i}`,
    }))
    await send(messages, (from / perRequest) % 2 === 1)
  }
  await send([
    ...Array.from({ length: 100 }, (_, k) => ({ key: `key-${k}`, value: null })),
    ...Array.from({ length: 50 }, (_, k) => ({ key: `key-${k}`, value: `revived-${k}` })),
  ])
  // Two keys: a record in the active segment supersedes nothing until that segment is closed.
  await send([{ key: 'filler-1', value: FILLER }])
  await send([{ key: 'filler-2', value: FILLER }])
  await producer.disconnect()
  return latest
}

/** Everything in the topic, read by a KafkaJS group consumer from the beginning to the end offset. */
async function consumeAll(bootstrap: string, group: string): Promise<Consumed[]> {
  const client = kafka(bootstrap)
  const admin = client.admin()
  await admin.connect()
  const [{ high }] = await admin.fetchTopicOffsets(TOPIC)
  await admin.disconnect()
  const end = Number(high)
  const consumer = client.consumer({ groupId: group, maxBytes: 16 << 20 })
  await consumer.connect()
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  const consumed: Consumed[] = []
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${consumed.length} records, no end`)), 15_000)
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              consumed.push({
                offset: Number(message.offset),
                key: message.key!.toString(),
                value: message.value === null ? null : message.value.toString(),
                timestamp: Number(message.timestamp),
              })
            }
            if (consumed.length > 0 && consumed[consumed.length - 1].offset >= end - 1) {
              clearTimeout(timer)
              resolve()
            }
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return consumed
}

/** A consumer reading the compacted topic gets exactly one record per key: the latest. */
function assertCompacted(consumed: Consumed[], latest: Map<string, string | null>, tombstones: boolean) {
  for (let i = 1; i < consumed.length; i++) {
    assert.ok(consumed[i].offset > consumed[i - 1].offset, `offsets increase at ${consumed[i].offset}`)
  }
  const expected = [...latest].filter(([, value]) => tombstones || value !== null)
  assert.equal(consumed.length, expected.length, 'one record per key')
  const got = new Map(consumed.map((c) => [c.key, c.value]))
  assert.deepEqual(new Map([...got].sort()), new Map(expected.sort()))
}

test('compaction in action: 100,000 KafkaJS records over 1,000 keys and tombstones compact to the latest value per key', async (t) => {
  const dataDir = await tempDir(t)
  const broker = await startBroker({ port: 0, storage: 'file', dataDir, config: BROKER_CONFIG })
  t.after(() => broker.close())
  const latest = await produceWorkload(broker.bootstrap)
  assert.equal(latest.size, KEYS + 2)
  assert.equal([...latest.values()].filter((v) => v === null).length, 50)
  const segmentsBefore = segmentFiles(dataDir).length

  const t1 = Date.now()
  const [cleaned] = await broker.runLogCleaner({ now: t1 })
  assert.equal(cleaned.topic, TOPIC)
  assert.equal(cleaned.recordsRead, RECORDS + 150 + 1, 'every record below the active segment was read')
  const first = await consumeAll(broker.bootstrap, 'after-clean')
  // Tombstones stay for delete.retention.ms, so consumers that are behind still see the deletes.
  assertCompacted(first, latest, true)
  // The delete horizon rides in the base timestamp of the tombstones' batch; record times stay.
  assert.ok(
    first.every((c) => c.timestamp <= t1),
    'no record time moved to the delete horizon',
  )

  assert.deepEqual(await broker.runLogCleaner({ now: t1 + DELETE_RETENTION_MS - 1 }), [], 'nothing due yet')
  const [horizon] = await broker.runLogCleaner({ now: t1 + DELETE_RETENTION_MS })
  assert.equal(horizon.recordsRemoved, 50, 'the 50 tombstones went')
  // Segments are grouped by their size before cleaning: the second clean merges what the first left.
  assert.ok(segmentFiles(dataDir).length < segmentsBefore, 'the cleaned segments merged')
  const second = await consumeAll(broker.bootstrap, 'after-horizon')
  assertCompacted(second, latest, false)
  assert.deepEqual(
    second,
    first.filter((c) => c.value !== null),
    'offsets and values unchanged',
  )
})

test('compaction survives a SIGKILL in the middle of a clean: the restarted broker gives the same result', async (t) => {
  const dataDir = await tempDir(t)
  const child = startChildBroker(t, dataDir)
  const { bootstrap } = (await nextMessage(child)) as { bootstrap: string }
  const latest = await produceWorkload(bootstrap)

  // The child pauses once the second segment group's swap is committed, before the old segments go.
  child.send({ clean: Date.now() })
  assert.deepEqual(await nextMessage(child), { paused: 2 })
  const files = fs.readdirSync(path.join(dataDir, `${TOPIC}-0`))
  assert.ok(
    files.some((name) => name.endsWith('.log.swap')),
    `a committed swap on disk: ${files}`,
  )
  child.kill('SIGKILL')
  await once(child, 'exit')

  const broker = await startBroker({ port: 0, storage: 'file', dataDir, config: BROKER_CONFIG })
  t.after(() => broker.close())
  const recovered = await consumeAll(broker.bootstrap, 'after-crash')
  // Partly cleaned: no record lost or repeated, offsets increase, the last value of each key is the latest.
  for (let i = 1; i < recovered.length; i++) assert.ok(recovered[i].offset > recovered[i - 1].offset)
  const applied = new Map(recovered.map((c) => [c.key, c.value]))
  assert.deepEqual(new Map([...applied].sort()), new Map([...latest].sort()))
  assert.ok(recovered.length < RECORDS, 'the groups swapped before the crash are compacted')

  await broker.runLogCleaner({ now: Date.now() })
  assertCompacted(await consumeAll(broker.bootstrap, 'after-recovery'), latest, true)
})

function segmentFiles(dataDir: string): string[] {
  return fs.readdirSync(path.join(dataDir, `${TOPIC}-0`)).filter((name) => name.endsWith('.log'))
}

const BROKER_ENTRY = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href

/**
 * A broker in a child process whose clean pass stops for good at the second committed swap, so the
 * test can SIGKILL it there. Messages: {bootstrap} when listening, {paused: 2} at the swap.
 */
function startChildBroker(t: TestContext, dataDir: string): ChildProcess {
  const code = `
    const { startBroker } = await import(${JSON.stringify(BROKER_ENTRY)})
    const broker = await startBroker({
      port: 0, storage: 'file', dataDir: ${JSON.stringify(dataDir)}, config: ${JSON.stringify(BROKER_CONFIG)},
    })
    process.on('message', async ({ clean }) => {
      let groups = 0
      await broker.runLogCleaner({
        now: clean,
        onPhase: async (phase) => {
          if (phase === 'cleaned') groups++
          if (phase === 'swapped' && groups === 2) {
            process.send({ paused: groups })
            await new Promise(() => {})
          }
        },
      })
      process.send({ done: groups })
    })
    process.send({ bootstrap: broker.bootstrap })
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, FLUXO_LOG_LEVEL: 'error' },
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return child
}

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child broker exited (${code})`))
    child.once('exit', onExit)
    child.once('message', (message) => {
      child.off('exit', onExit)
      resolve(message)
    })
  })
}
