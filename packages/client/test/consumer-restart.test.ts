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
  const after = await take(c, 20, 20_000)
  const values = [...before, ...after].map((r) => r.value)
  assert.equal(new Set(values).size, 40, 'no record lost or repeated across the restart')
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
