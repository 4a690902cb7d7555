// Test helpers: an embedded broker per test, a plain Fetch to read back what was produced, kcat.
import { spawn, spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import { type Broker, startBroker } from '@fluxo/broker'
import { ApiKey, type RecordBatch, decodeRecordBatchesSync, defaultFetchRequest } from '@fluxo/protocol'
import { Cluster } from '../src/internal.js'

export async function broker(t: TestContext, config: Record<string, string> = {}): Promise<Broker> {
  const b = await startBroker({ port: 0, storage: 'memory', config })
  t.after(() => b.close())
  return b
}

/** Tests needing a tool skip locally when it is missing but fail under CI=true. */
export function requireTool(t: TestContext, command: string, versionArg = '-V'): boolean {
  const found = spawnSync(command, [versionArg], { stdio: 'ignore' }).error === undefined
  if (found) return true
  if (process.env.CI) throw new Error(`${command} is required under CI=true but was not found on PATH`)
  t.skip(`${command} not installed`)
  return false
}

/** Every batch of a partition from offset 0, read with one plain Fetch per round (no consumer). */
export async function fetchBatches(
  bootstrap: string,
  topic: string,
  partition: number,
): Promise<RecordBatch[]> {
  const cluster = new Cluster({ bootstrap: [bootstrap] })
  try {
    const info = await cluster.topicInfo(topic)
    const leader = info.partitions[partition].leader
    const out: RecordBatch[] = []
    let offset = 0
    for (;;) {
      const res = await cluster.request(leader, ApiKey.Fetch, {
        ...defaultFetchRequest(),
        maxBytes: 64 * 1024 * 1024,
        topics: [
          {
            topic,
            topicId: info.topicId,
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: offset,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: 16 * 1024 * 1024,
                replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
              },
            ],
          },
        ],
      })
      const p = res.responses[0].partitions[0]
      if (p.errorCode !== 0) throw new Error(`fetch error ${p.errorCode}`)
      const batches = p.records ? decodeRecordBatchesSync(p.records) : []
      if (batches.length === 0) return out
      out.push(...batches)
      const last = batches[batches.length - 1]
      offset = last.baseOffset + last.lastOffsetDelta + 1
      if (offset >= p.highWatermark) return out
    }
  } finally {
    await cluster.close()
  }
}

export function run(
  command: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}
