import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { ErrorCode, encodeRecordBatchSync } from '@fluxo/protocol'
import { startBroker } from '../../src/index.js'
import { createTopic, produce } from '../partition-client.js'
import { RawClient } from '../raw-client.js'
import { requireTool } from '../support.js'

const T = 1_700_000_000_000

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

test('kcat -Q (librdkafka): offsets by timestamp on records with known timestamps', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const broker = await startBroker({ port: 0 })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'timed', 2)
  // Partition 0: offsets 0-5 at T + 10, 20, 30 s | 40, 60, 50 s (not monotonic inside the batch).
  // Partition 1: offsets 0-1 at T + 100, 200 s.
  const layout: [number, number[][]][] = [
    [
      0,
      [
        [10, 20, 30],
        [40, 60, 50],
      ],
    ],
    [1, [[100, 200]]],
  ]
  for (const [partition, batches] of layout) {
    for (const seconds of batches) {
      const batch = encodeRecordBatchSync({
        records: seconds.map((s) => ({ value: Buffer.from(`at ${s}`), timestamp: T + s * 1000 })),
      })
      assert.equal((await produce(client, 'timed', batch, { partition })).errorCode, ErrorCode.NONE)
    }
  }

  const query = async (...targets: [number, number][]) => {
    const args = ['-b', broker.bootstrap, '-Q']
    for (const [partition, ts] of targets) args.push('-t', `timed:${partition}:${ts}`)
    const result = await kcat(args)
    assert.equal(result.code, 0, result.stderr)
    const offsets = new Map<number, number>()
    for (const line of result.stdout.trim().split('\n')) {
      const match = /^timed \[(\d+)\] offset (-?\d+)$/.exec(line.trim())
      assert.ok(match, `unexpected kcat output line: ${line}`)
      offsets.set(Number(match[1]), Number(match[2]))
    }
    return offsets
  }

  const expected: [number, number, number][] = [
    // [partition, timestamp, offset]: the first record at or after the timestamp.
    [0, T, 0],
    [0, T + 10_000, 0],
    [0, T + 15_000, 1],
    [0, T + 30_000, 2],
    [0, T + 45_000, 4],
    [0, T + 55_000, 4],
    [0, T + 60_000, 4],
    [1, T + 99_000, 0],
    [1, T + 150_000, 1],
    // Past every record the broker answers -1 (librdkafka's RD_KAFKA_OFFSET_END), as Kafka does.
    [1, T + 300_000, -1],
  ]
  for (const [partition, ts, offset] of expected) {
    const offsets = await query([partition, ts])
    assert.equal(offsets.get(partition), offset, `partition ${partition} at T+${(ts - T) / 1000}s`)
  }
  // Both partitions in one query.
  assert.deepEqual(
    await query([0, T + 25_000], [1, T + 200_000]),
    new Map([
      [0, 2],
      [1, 1],
    ]),
  )

  // Consuming from a timestamp (-o s@ts) starts at the offset ListOffsets answers.
  const consumed = await kcat([
    '-b',
    broker.bootstrap,
    '-C',
    '-t',
    'timed',
    '-p',
    '0',
    '-o',
    `s@${T + 35_000}`,
    '-e',
    '-f',
    '%o %T %s\n',
  ])
  assert.equal(consumed.code, 0, consumed.stderr)
  assert.deepEqual(consumed.stdout.trim().split('\n'), [
    `3 ${T + 40_000} at 40`,
    `4 ${T + 60_000} at 60`,
    `5 ${T + 50_000} at 50`,
  ])
})
