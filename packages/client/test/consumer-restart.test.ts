import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startBroker } from '@fluxo/broker'
import { type Consumer, Kafka, stringSerde } from '../src/index.js'
import { take, until } from './consumer-support.js'

test('a group consumer rides through a broker restart: reconnects, rejoins, resumes from its commits', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'fluxo-consumer-'))
  let broker = await startBroker({ port: 0, storage: 'file', dataDir })
  const consumers: Consumer<Buffer, string>[] = []
  t.after(async () => {
    for (const c of consumers) await c.close({ timeoutMs: 2000 })
    await broker.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  const port = Number(broker.bootstrap.split(':').pop())
  const kafka = new Kafka({
    bootstrap: [broker.bootstrap],
    retry: { retries: 20, initialRetryTimeMs: 50, maxRetryTimeMs: 300 },
  })
  const admin = kafka.admin()
  await admin.createTopics([{ name: 'durable', partitions: 2 }])
  await admin.close()
  const send = async (from: number, count: number) => {
    const producer = kafka.producer()
    await producer.sendBatch(
      Array.from({ length: count }, (_, i) => ({
        topic: 'durable',
        partition: (from + i) % 2,
        value: `r${from + i}`,
      })),
    )
    await producer.close()
  }
  await send(0, 20)
  const events: string[] = []
  const c = kafka.consumer({
    groupId: 'durable',
    autoOffsetReset: 'earliest',
    autoCommitIntervalMs: 100,
    heartbeatIntervalMs: 100,
    valueDeserializer: stringSerde,
    onPartitionsAssigned: () => void events.push('assigned'),
    onPartitionsLost: () => void events.push('lost'),
  })
  consumers.push(c)
  c.subscribe(['durable'])
  const before = await take(c, 20)
  await c.commit() // everything handed out so far

  await broker.close()
  broker = await startBroker({ port, storage: 'file', dataDir })
  await send(20, 20)
  // Records handed out after the restart but before the member learns it was dropped are handed out
  // again after it rejoins (at-least-once): read until every record was seen.
  const seen = new Set(before.map((r) => r.value))
  const after: typeof before = []
  while (seen.size < 40) {
    const [r] = await take(c, 1, 20_000)
    after.push(r)
    seen.add(r.value)
  }
  assert.equal(seen.size, 40, 'no record lost across the restart')
  assert.ok(
    after.every((r) => r.offset >= 10),
    'after the restart each partition resumes at its committed offset, not from the start',
  )
  // The broker does not keep group membership across restarts: the member finds out, rejoins and
  // takes its partitions again from the committed offsets.
  await until(
    () => events.includes('lost') && c.assignment().length === 2,
    'rejoined after the restart',
    10_000,
  )
  assert.deepEqual(events.slice(0, 2), ['assigned', 'lost'])
  assert.ok(c.groupMetadata().generationId >= 1)
})
