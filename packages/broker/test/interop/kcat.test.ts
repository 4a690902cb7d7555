import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { startBroker } from '../../src/index.js'
import { requireTool } from '../support.js'

function kcat(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

test('kcat (librdkafka): metadata, produce with snappy/lz4/zstd/gzip, consume back', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const broker = await startBroker({ port: 0, config: { 'num.partitions': '2' } })
  t.after(() => broker.close())
  const b = broker.bootstrap

  for (const codec of ['snappy', 'lz4', 'zstd', 'gzip']) {
    const topic = `kcat-${codec}`
    const lines = Array.from({ length: 200 }, (_, i) => `key-${i % 7}:${codec} message ${i} ${'x'.repeat(i)}`)
    const produced = await kcat(
      ['-b', b, '-P', '-t', topic, '-z', codec, '-K', ':', '-p', '0'],
      `${lines.join('\n')}\n`,
    )
    assert.equal(produced.code, 0, produced.stderr)
    const consumed = await kcat([
      '-b',
      b,
      '-C',
      '-t',
      topic,
      '-p',
      '0',
      '-o',
      'beginning',
      '-e',
      '-f',
      '%k:%s\n',
    ])
    assert.equal(consumed.code, 0, consumed.stderr)
    assert.deepEqual(consumed.stdout.trimEnd().split('\n'), lines, `round trip with ${codec}`)
  }

  const meta = await kcat(['-b', b, '-L', '-J'])
  assert.equal(meta.code, 0, meta.stderr)
  const parsed = JSON.parse(meta.stdout)
  assert.equal(parsed.brokers.length, 1)
  assert.equal(parsed.brokers[0].name, `${broker.host}:${broker.port}`)
  assert.equal(parsed.brokers[0].id, 1)
  const topics = parsed.topics.map((x: { topic: string }) => x.topic).sort()
  assert.deepEqual(topics, ['kcat-gzip', 'kcat-lz4', 'kcat-snappy', 'kcat-zstd'])
  assert.equal(parsed.topics[0].partitions.length, 2)
})
