import assert from 'node:assert/strict'
import { test } from 'node:test'
import { broker, fluxo, json } from './support.js'

interface TopicJson {
  name: string
  topicId: string
  partitions: { partition: number; leader: number; earliestOffset: number; latestOffset: number }[]
  configs: { name: string; value: string | null; isDefault: boolean; source: string }[]
}

test('fluxo topic: create, list, describe, alter-config and delete round trip, as tables and --json', async (t) => {
  const b = await broker(t)
  const created = await fluxo(b.bootstrap, [
    'topic',
    'create',
    'orders',
    '--partitions',
    '3',
    '--config',
    'retention.ms=60000',
  ])
  assert.equal(created.code, 0, created.stderr)
  assert.equal(created.stdout, 'Created topic orders with 3 partition(s)\n')
  assert.equal(created.stderr, '')

  const again = await fluxo(b.bootstrap, ['topic', 'create', 'orders', '--partitions', '1'])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /^fluxo: TOPIC_ALREADY_EXISTS\b.*orders.*\n$/)
  assert.equal(again.stdout, '')

  const made = json<{ name: string; partitions: number }>(
    await fluxo(b.bootstrap, ['topic', 'create', 'events', '--json']),
  )
  assert.equal(made.name, 'events')
  assert.equal(made.partitions, 1, "the broker's num.partitions")

  const list = await fluxo(b.bootstrap, ['topic', 'list'])
  assert.equal(list.code, 0)
  const lines = list.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^NAME\s+PARTITIONS\s+ID$/)
  assert.match(lines[1], /^events\s+1\s+\S+$/)
  assert.match(lines[2], /^orders\s+3\s+\S+$/)
  assert.deepEqual(
    json<{ name: string; partitions: number }[]>(await fluxo(b.bootstrap, ['topic', 'list', '--json'])).map(
      (x) => [x.name, x.partitions],
    ),
    [
      ['events', 1],
      ['orders', 3],
    ],
  )

  const produced = await fluxo(b.bootstrap, ['produce', 'orders', '--partition', '2'], { input: 'a\nb\n' })
  assert.equal(produced.code, 0, produced.stderr)
  const described = json<TopicJson>(await fluxo(b.bootstrap, ['topic', 'describe', 'orders', '--json']))
  assert.equal(described.name, 'orders')
  assert.deepEqual(
    described.partitions.map((p) => [p.partition, p.leader, p.earliestOffset, p.latestOffset]),
    [
      [0, 1, 0, 0],
      [1, 1, 0, 0],
      [2, 1, 0, 2],
    ],
  )
  const retention = described.configs.find((c) => c.name === 'retention.ms')
  assert.deepEqual([retention?.value, retention?.isDefault, retention?.source], ['60000', false, 'topic'])
  const policy = described.configs.find((c) => c.name === 'cleanup.policy')
  assert.deepEqual([policy?.value, policy?.isDefault], ['delete', true])

  const table = await fluxo(b.bootstrap, ['topic', 'describe', 'orders'])
  assert.equal(table.code, 0)
  assert.match(table.stdout, /^NAME\s+orders$/m)
  assert.match(table.stdout, /^PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+EARLIEST\s+LATEST$/m)
  assert.match(table.stdout, /^2\s+1\s+\d+\s+\[1\]\s+0\s+2$/m)
  assert.match(table.stdout, /^\* retention\.ms\s+60000\s+topic$/m, 'a config set on the topic is marked')
  assert.match(table.stdout, /^ {2}cleanup\.policy\s+delete\s+default$/m)

  const altered = await fluxo(b.bootstrap, [
    'topic',
    'alter-config',
    'orders',
    '--set',
    'cleanup.policy=compact',
    '--delete',
    'retention.ms',
  ])
  assert.equal(altered.code, 0, altered.stderr)
  assert.equal(altered.stdout, 'Set cleanup.policy=compact on orders\nDeleted retention.ms from orders\n')
  const after = json<TopicJson>(await fluxo(b.bootstrap, ['topic', 'describe', 'orders', '--json']))
  const byName = (n: string) => after.configs.find((c) => c.name === n)
  assert.deepEqual([byName('cleanup.policy')?.value, byName('cleanup.policy')?.isDefault], ['compact', false])
  assert.deepEqual([byName('retention.ms')?.value, byName('retention.ms')?.isDefault], ['604800000', true])

  const badConfig = await fluxo(b.bootstrap, ['topic', 'alter-config', 'orders', '--set', 'retention.ms=abc'])
  assert.equal(badConfig.code, 1)
  assert.match(badConfig.stderr, /^fluxo: INVALID_CONFIG\b/)

  const deleted = await fluxo(b.bootstrap, ['topic', 'delete', 'orders'])
  assert.equal(deleted.code, 0, deleted.stderr)
  assert.equal(deleted.stdout, 'Deleted topic orders\n')
  const gone = await fluxo(b.bootstrap, ['topic', 'describe', 'orders'])
  assert.equal(gone.code, 1)
  assert.match(gone.stderr, /^fluxo: UNKNOWN_TOPIC_OR_PARTITION\b.*orders.*\n$/)
  assert.equal(gone.stderr.split('\n').length, 2, 'one line')
  const deleteAgain = await fluxo(b.bootstrap, ['topic', 'delete', 'orders'])
  assert.equal(deleteAgain.code, 1)
  assert.match(deleteAgain.stderr, /^fluxo: UNKNOWN_TOPIC_OR_PARTITION\b/)
  assert.deepEqual(
    json<{ name: string }[]>(await fluxo(b.bootstrap, ['topic', 'list', '--json'])).map((x) => x.name),
    ['events'],
  )
})

test('fluxo cluster info: cluster id, controller, brokers and topic count', async (t) => {
  const b = await broker(t)
  await fluxo(b.bootstrap, ['topic', 'create', 'one'])
  const info = json<{
    clusterId: string
    controllerId: number
    brokers: { nodeId: number; host: string; port: number }[]
    topicCount: number
  }>(await fluxo(b.bootstrap, ['cluster', 'info', '--json']))
  assert.equal(info.clusterId, b.clusterId)
  assert.equal(info.controllerId, 1)
  assert.deepEqual(
    info.brokers.map((x) => `${x.host}:${x.port}`),
    [b.bootstrap],
  )
  assert.equal(info.topicCount, 1)
  const table = await fluxo(b.bootstrap, ['cluster', 'info'])
  assert.equal(table.code, 0)
  assert.match(table.stdout, new RegExp(`^CLUSTER ID\\s+${b.clusterId}$`, 'm'))
  assert.match(table.stdout, /^TOPICS\s+1$/m)
  const [host, port] = b.bootstrap.split(':')
  assert.match(table.stdout, new RegExp(`^1\\*\\s+${host}\\s+${port}\\s+-$`, 'm'))
  // FLUXO_BOOTSTRAP stands in for --bootstrap.
  const fromEnv = await fluxo(undefined, ['cluster', 'info', '--json'], {
    env: { FLUXO_BOOTSTRAP: b.bootstrap },
  })
  assert.equal(json<{ clusterId: string }>(fromEnv).clusterId, b.clusterId)
})
