// kcat -G (librdkafka's balanced consumer, classic protocol): two long-running processes share a
// topic, commit on exit, and the group's committed offsets come back after a broker restart.
//
// What kcat 1.7 does with -o under -G: its rebalance callback sets the start offset of every assigned
// partition to the -o value before rd_kafka_assign(). `-o beginning` therefore ignores the committed
// offsets (it is not auto.offset.reset); without -o, or with `-o stored`, the partitions start at the
// group's committed offsets and auto.offset.reset only applies where nothing is committed.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { type TestContext, test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'
import { requireTool, tempDir } from '../support.js'
import { committedAndEnds, waitFor } from './group-support.js'

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

const lines = (out: string) => out.split('\n').filter((l) => l !== '')
const values = (out: string) =>
  lines(out)
    .map((l) => l.split(' ')[1])
    .sort()

interface GroupProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** The partitions of the latest "assigned:" rebalance line; [] after a revoke. */
  assigned(): number[]
  exited: Promise<number | null>
}

/** A long-running `kcat -G` (no -e): stopped with SIGTERM, on which it closes the consumer and commits. */
function groupMember(t: TestContext, bootstrap: string, group: string, topic: string): GroupProcess {
  const args = [
    '-b',
    bootstrap,
    '-G',
    group,
    '-u',
    '-X',
    'auto.offset.reset=earliest',
    '-f',
    '%p %s\n',
    topic,
  ]
  const child = spawn('kcat', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    assigned() {
      const events = [...err.matchAll(/rebalanced \(memberid [^)]*\): (assigned|revoked): ?(.*)/g)]
      const last = events.at(-1)
      if (!last || last[1] === 'revoked') return []
      return [...last[2].matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])).sort((a, b) => a - b)
    },
  }
}

async function produceTo(bootstrap: string, topic: string, partition: number, vals: string[]): Promise<void> {
  const r = await kcat(['-b', bootstrap, '-P', '-t', topic, '-p', String(partition)], `${vals.join('\n')}\n`)
  assert.equal(r.code, 0, r.stderr)
}

async function offsets(bootstrap: string, group: string, topic: string) {
  const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    return await committedAndEnds(admin, group, topic)
  } finally {
    await admin.disconnect()
  }
}

test('kcat -G: two processes share a topic and commit; after a broker restart the group resumes from its commits', async (t) => {
  if (!requireTool(t, 'kcat')) return
  const dataDir = await tempDir(t)
  const P = 4
  const topic = 'kshare'
  const group = 'kpair'
  let broker = await startBroker({
    port: 0,
    storage: 'file',
    dataDir,
    config: { 'num.partitions': String(P) },
  })
  t.after(() => broker.close())

  // An empty topic: the members start at offset 0 and read only what is produced below.
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: P }] })
  await admin.disconnect()
  const x = groupMember(t, broker.bootstrap, group, topic)
  const y = groupMember(t, broker.bootstrap, group, topic)
  const split = () => {
    const [ax, ay] = [x.assigned(), y.assigned()]
    return (
      ax.length > 0 &&
      ay.length > 0 &&
      [...ax, ...ay].sort((a, b) => a - b).join() === Array.from({ length: P }, (_, i) => i).join()
    )
  }
  await waitFor('both kcat processes assigned disjoint partitions covering the topic', split, 30_000, () =>
    JSON.stringify({ x: x.stderr(), y: y.stderr() }),
  )

  const fresh: string[] = []
  for (let p = 0; p < P; p++) {
    const part = Array.from({ length: 50 }, (_, i) => `new-p${p}-${i}`)
    await produceTo(broker.bootstrap, topic, p, part)
    fresh.push(...part)
  }
  const both = () => [...values(x.stdout()), ...values(y.stdout())].sort()
  await waitFor(
    'the two processes to read every new message',
    () => both().length >= fresh.length,
    30_000,
    () => JSON.stringify({ x: x.stderr(), y: y.stderr() }),
  )
  const [ax, ay] = [x.assigned(), y.assigned()]
  assert.ok(split(), 'no rebalance while consuming')
  assert.deepEqual(both(), [...fresh].sort(), 'together they read every message exactly once')
  const partsOf = (out: string) => new Set(lines(out).map((l) => Number(l.split(' ')[0])))
  assert.deepEqual([...partsOf(x.stdout())].sort(), ax, 'x read exactly its partitions')
  assert.deepEqual([...partsOf(y.stdout())].sort(), ay, 'y read exactly its partitions')
  t.diagnostic(`kcat x assigned [${ax}], y assigned [${ay}]`)

  // SIGTERM: kcat closes the consumer, which commits the offsets it consumed and leaves the group.
  x.child.kill('SIGTERM')
  y.child.kill('SIGTERM')
  assert.equal(await x.exited, 0, x.stderr())
  assert.equal(await y.exited, 0, y.stderr())
  const committed = await offsets(broker.bootstrap, group, topic)
  assert.ok(
    committed.every((o) => o.committed === o.high && o.high === 50),
    `committed at the log end: ${JSON.stringify(committed)}`,
  )

  await broker.close()
  broker = await startBroker({ port: 0, storage: 'file', dataDir })
  const b = broker.bootstrap
  assert.deepEqual(await offsets(b, group, topic), committed, 'the commits survived the restart')

  const late: string[] = []
  for (let p = 0; p < P; p++) {
    const part = [`late-p${p}`]
    await produceTo(b, topic, p, part)
    late.push(...part)
  }
  // The group's committed offsets decide (earliest would re-read everything if they were lost).
  const stored = await kcat([
    '-b',
    b,
    '-G',
    group,
    '-e',
    '-o',
    'stored',
    '-X',
    'auto.offset.reset=earliest',
    '-f',
    '%p %s\n',
    topic,
  ])
  assert.equal(stored.code, 0, stored.stderr)
  assert.deepEqual(values(stored.stdout), [...late].sort(), 'only the messages produced after the commits')
  // No -o: the same (the committed offsets, now at the new log end): nothing to read.
  const plain = await kcat([
    '-b',
    b,
    '-G',
    group,
    '-e',
    '-X',
    'auto.offset.reset=earliest',
    '-f',
    '%p %s\n',
    topic,
  ])
  assert.equal(plain.code, 0, plain.stderr)
  assert.deepEqual(lines(plain.stdout), [])

  // -o beginning under -G overrides the committed offsets: kcat re-reads every partition.
  const beginning = await kcat(['-b', b, '-G', group, '-e', '-o', 'beginning', '-f', '%p %s\n', topic])
  assert.equal(beginning.code, 0, beginning.stderr)
  assert.deepEqual(values(beginning.stdout), [...fresh, ...late].sort())
  assert.ok((await offsets(b, group, topic)).every((o) => o.committed === o.high && o.high === 51))
})
