// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs over the wire: every supported version,
// the error of each bad input, and that an altered config takes effect at once and survives restart.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import {
  ApiKey,
  type DescribeConfigsResponseDescribeConfigsResult,
  ErrorCode,
  encodeRecordBatchSync,
} from '@fluxo/protocol'
import { type BrokerOptions, startBroker } from '../src/index.js'
import { createTopic, fetchPartition, produce } from './partition-client.js'
import { RawClient } from './raw-client.js'
import { tempDir } from './support.js'

const TOPIC = 2
const BROKER = 4
const BROKER_LOGGER = 8
const GROUP = 32

const SET = 0
const DELETE = 1
const APPEND = 2
const SUBTRACT = 3

const Source = { TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT: 3, STATIC: 4, DEFAULT: 5 }

async function connect(t: TestContext, options: BrokerOptions = {}) {
  const broker = await startBroker({ port: 0, ...options })
  t.after(() => broker.close())
  const client = await RawClient.connect(broker.bootstrap)
  t.after(() => client.close())
  return { broker, client }
}

interface DescribeOptions {
  version?: number
  keys?: string[] | null
  synonyms?: boolean
  documentation?: boolean
}

async function describe(
  client: RawClient,
  resources: [number, string][],
  { version = 4, keys = null, synonyms = false, documentation = false }: DescribeOptions = {},
): Promise<DescribeConfigsResponseDescribeConfigsResult[]> {
  const response = await client.request(ApiKey.DescribeConfigs, version, {
    resources: resources.map(([resourceType, resourceName]) => ({
      resourceType,
      resourceName,
      configurationKeys: keys,
    })),
    includeSynonyms: synonyms,
    includeDocumentation: documentation,
  })
  return response.results
}

/** One resource's configs by name; fails on an error. */
async function configsOf(client: RawClient, type: number, name: string, options: DescribeOptions = {}) {
  const [result] = await describe(client, [[type, name]], options)
  assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? undefined)
  return new Map(result.configs.map((c) => [c.name, c]))
}

function alter(
  client: RawClient,
  resources: [number, string, Record<string, string | null>][],
  { version = 2, validateOnly = false } = {},
) {
  return client.request(ApiKey.AlterConfigs, version, {
    resources: resources.map(([resourceType, resourceName, configs]) => ({
      resourceType,
      resourceName,
      configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
    })),
    validateOnly,
  })
}

function incremental(
  client: RawClient,
  resources: [number, string, [string, number, string | null][]][],
  { version = 1, validateOnly = false } = {},
) {
  return client.request(ApiKey.IncrementalAlterConfigs, version, {
    resources: resources.map(([resourceType, resourceName, ops]) => ({
      resourceType,
      resourceName,
      configs: ops.map(([name, configOperation, value]) => ({ name, configOperation, value })),
    })),
    validateOnly,
  })
}

/** The single resource result of an alter; asserts its code (and message pattern). */
function expectOne(
  response: { responses: { errorCode: number; errorMessage: string | null }[] },
  errorCode: number,
  message?: RegExp,
) {
  assert.equal(response.responses.length, 1)
  const [r] = response.responses
  assert.equal(r.errorCode, errorCode, r.errorMessage ?? undefined)
  if (message) assert.match(r.errorMessage ?? '', message)
  if (errorCode === ErrorCode.NONE) assert.equal(r.errorMessage, null)
}

/** One keyed record (compacted topics refuse keyless ones) of about `bytes`. */
const batchOf = (bytes: number) =>
  encodeRecordBatchSync({ records: [{ key: Buffer.from('k'), value: Buffer.alloc(bytes, 1) }] })

test('ApiVersions advertises DescribeConfigs 1-4, AlterConfigs 0-2, IncrementalAlterConfigs 0-1', async (t) => {
  const { client } = await connect(t)
  const { apiKeys } = await client.request(ApiKey.ApiVersions, 3, {
    clientSoftwareName: 'test',
    clientSoftwareVersion: '1',
  })
  const range = (key: number) => {
    const api = apiKeys.find((a) => a.apiKey === key)
    return api && [api.minVersion, api.maxVersion]
  }
  assert.deepEqual(range(ApiKey.DescribeConfigs), [1, 4])
  assert.deepEqual(range(ApiKey.AlterConfigs), [0, 2])
  assert.deepEqual(range(ApiKey.IncrementalAlterConfigs), [0, 1])
})

test('DescribeConfigs v1-v4 on a topic: values, sources, synonyms, types and documentation', async (t) => {
  const { client } = await connect(t, { config: { 'log.segment.bytes': '2097152' } })
  await createTopic(client, 'orders', 1, { 'retention.ms': '60000' })
  for (const version of [1, 2, 3, 4]) {
    const plain = await configsOf(client, TOPIC, 'orders', { version })
    const retention = plain.get('retention.ms')
    assert.equal(retention?.value, '60000', `v${version}`)
    assert.equal(retention?.configSource, Source.TOPIC_CONFIG)
    assert.equal(retention?.readOnly, false)
    assert.equal(retention?.isSensitive, false)
    assert.deepEqual(retention?.synonyms, [])
    assert.equal(plain.get('segment.bytes')?.value, '2097152')
    assert.equal(plain.get('segment.bytes')?.configSource, Source.STATIC)
    assert.equal(plain.get('max.message.bytes')?.value, '1048588')
    assert.equal(plain.get('max.message.bytes')?.configSource, Source.DEFAULT)
    assert.equal(plain.get('cleanup.policy')?.value, 'delete')
    assert.equal(plain.size, 35)

    const full = await configsOf(client, TOPIC, 'orders', { version, synonyms: true, documentation: true })
    assert.deepEqual(
      full.get('segment.bytes')?.synonyms.map((s) => [s.name, s.value, s.source]),
      [
        ['log.segment.bytes', '2097152', Source.STATIC],
        ['log.segment.bytes', '1073741824', Source.DEFAULT],
      ],
    )
    assert.deepEqual(
      full.get('retention.ms')?.synonyms.map((s) => [s.name, s.value, s.source]),
      [['retention.ms', '60000', Source.TOPIC_CONFIG]],
    )
    if (version >= 3) {
      assert.equal(full.get('retention.ms')?.configType, 5) // LONG
      assert.equal(full.get('cleanup.policy')?.configType, 7) // LIST
      assert.match(full.get('retention.ms')?.documentation ?? '', /retention|kept/)
      assert.equal(plain.get('retention.ms')?.documentation, null)
    } else {
      // Not on the wire before v3: the decoder leaves its defaults.
      assert.equal(full.get('retention.ms')?.configType, 0)
    }
  }
})

test('DescribeConfigs narrows to configurationKeys and answers errors per resource', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 'a')
  const [one] = await describe(client, [[TOPIC, 'a']], { keys: ['retention.ms', 'no.such.config'] })
  assert.deepEqual(
    one.configs.map((c) => c.name),
    ['retention.ms'],
  )

  const results = await describe(client, [
    [TOPIC, 'missing'],
    [TOPIC, 'bad name!'],
    [TOPIC, 'a'],
    [BROKER, '7'],
    [BROKER, 'one'],
    [GROUP, 'g'],
    [99, 'x'],
    [BROKER_LOGGER, ''],
  ])
  const codes = results.map((r) => [r.resourceType, r.resourceName, r.errorCode])
  assert.deepEqual(codes, [
    [TOPIC, 'missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    [TOPIC, 'bad name!', ErrorCode.INVALID_TOPIC_EXCEPTION],
    [TOPIC, 'a', ErrorCode.NONE],
    [BROKER, '7', ErrorCode.INVALID_REQUEST],
    [BROKER, 'one', ErrorCode.INVALID_REQUEST],
    [GROUP, 'g', ErrorCode.INVALID_REQUEST],
    [99, 'x', ErrorCode.INVALID_REQUEST],
    [BROKER_LOGGER, '', ErrorCode.INVALID_REQUEST],
  ])
  assert.match(results[0].errorMessage ?? '', /The topic 'missing' does not exist/)
  assert.match(
    results[3].errorMessage ?? '',
    /Unexpected broker id, expected 1 or empty string, but received 7/,
  )
  assert.match(results[4].errorMessage ?? '', /must be an integer/)
  for (const r of results) if (r.errorCode !== ErrorCode.NONE) assert.deepEqual(r.configs, [])
})

test('DescribeConfigs on the broker, its "" cluster default and its logger', async (t) => {
  const { client } = await connect(t, { config: { 'num.partitions': '3', 'log.retention.hours': '24' } })
  const broker = await configsOf(client, BROKER, '1', { synonyms: true })
  assert.equal(broker.get('num.partitions')?.value, '3')
  assert.equal(broker.get('num.partitions')?.configSource, Source.STATIC)
  assert.equal(broker.get('num.partitions')?.readOnly, true)
  assert.equal(broker.get('log.retention.hours')?.value, '24')
  assert.equal(broker.get('log.retention.ms')?.value, null)
  assert.equal(broker.get('log.retention.ms')?.readOnly, false)
  assert.equal(broker.get('message.max.bytes')?.configSource, Source.DEFAULT)
  assert.equal(broker.get('node.id')?.value, '1')
  assert.deepEqual(
    broker.get('log.retention.hours')?.synonyms.map((s) => [s.name, s.value, s.source]),
    [
      ['log.retention.hours', '24', Source.STATIC],
      ['log.retention.hours', '168', Source.DEFAULT],
    ],
  )
  // v1 and v2 too.
  assert.equal((await configsOf(client, BROKER, '1', { version: 1 })).get('num.partitions')?.value, '3')
  assert.equal((await configsOf(client, BROKER, '', {})).size, 0)
  const logger = await configsOf(client, BROKER_LOGGER, '1')
  assert.deepEqual([...logger.keys()], ['root'])
  assert.equal(logger.get('root')?.configSource, 6) // DYNAMIC_BROKER_LOGGER_CONFIG
})

test('DescribeConfigs describes internal topics', async (t) => {
  const { client } = await connect(t)
  const found = await client.request(ApiKey.FindCoordinator, 3, { key: 'g', keyType: 0, coordinatorKeys: [] })
  assert.equal(found.errorCode, ErrorCode.NONE)
  const offsets = await configsOf(client, TOPIC, '__consumer_offsets')
  assert.ok(offsets.has('cleanup.policy'))
})

test('AlterConfigs v0-v2 replaces the whole override set; validateOnly changes nothing', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't', 1, { 'retention.ms': '1000', 'segment.ms': '5000' })
  for (const version of [0, 1, 2]) {
    const ms = String(60000 + version)
    expectOne(await alter(client, [[TOPIC, 't', { 'retention.ms': ms }]], { version }), ErrorCode.NONE)
    const configs = await configsOf(client, TOPIC, 't')
    assert.equal(configs.get('retention.ms')?.value, ms)
    assert.equal(configs.get('retention.ms')?.configSource, Source.TOPIC_CONFIG)
    // segment.ms was not given: back to its default.
    assert.equal(configs.get('segment.ms')?.value, '604800000')
    assert.equal(configs.get('segment.ms')?.configSource, Source.DEFAULT)
  }
  expectOne(
    await alter(client, [[TOPIC, 't', { 'cleanup.policy': 'compact' }]], { validateOnly: true }),
    ErrorCode.NONE,
  )
  const after = await configsOf(client, TOPIC, 't')
  assert.equal(after.get('cleanup.policy')?.value, 'delete')
  assert.equal(after.get('retention.ms')?.value, '60002')
  // validateOnly still validates.
  expectOne(
    await alter(client, [[TOPIC, 't', { 'retention.ms': 'x' }]], { validateOnly: true }),
    ErrorCode.INVALID_CONFIG,
    /retention\.ms/,
  )
})

test('AlterConfigs errors: INVALID_CONFIG naming the key, unknown topic, duplicates, nulls', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't')
  const cases: [Record<string, string | null>, number, RegExp][] = [
    [{ 'retention.ms': 'soon' }, ErrorCode.INVALID_CONFIG, /retention\.ms.*not a number/],
    [{ 'segment.bytes': '1000' }, ErrorCode.INVALID_CONFIG, /segment\.bytes.*at least 1048576/],
    [{ 'cleanup.policy': 'forever' }, ErrorCode.INVALID_CONFIG, /cleanup\.policy/],
    [{ 'message.timestamp.type': 'Now' }, ErrorCode.INVALID_CONFIG, /message\.timestamp\.type.*CreateTime/],
    [{ 'no.such.config': '1' }, ErrorCode.INVALID_CONFIG, /^Unknown topic config name: no\.such\.config$/],
    [{ 'log.retention.ms': '1' }, ErrorCode.INVALID_CONFIG, /Unknown topic config name: log\.retention\.ms/],
    [
      { 'remote.storage.enable': 'true' },
      ErrorCode.INVALID_CONFIG,
      /remote\.storage\.enable.*Tiered Storage/,
    ],
    [
      { 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' },
      ErrorCode.INVALID_CONFIG,
      /min\.compaction\.lag\.ms/,
    ],
    [{ 'retention.ms': null }, ErrorCode.INVALID_REQUEST, /Null value not supported for : retention\.ms/],
  ]
  for (const [configs, code, message] of cases)
    expectOne(await alter(client, [[TOPIC, 't', configs]]), code, message)
  // Nothing of the above was applied.
  assert.equal((await configsOf(client, TOPIC, 't')).get('retention.ms')?.configSource, Source.DEFAULT)

  expectOne(await alter(client, [[TOPIC, 'missing', {}]]), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, /'missing'/)
  expectOne(await alter(client, [[TOPIC, 'bad name!', {}]]), ErrorCode.INVALID_TOPIC_EXCEPTION)
  expectOne(await alter(client, [[TOPIC, '', {}]]), ErrorCode.INVALID_REQUEST, /Default topic/)
  expectOne(await alter(client, [[BROKER_LOGGER, '1', {}]]), ErrorCode.INVALID_REQUEST)
  expectOne(await alter(client, [[GROUP, 'g', {}]]), ErrorCode.INVALID_REQUEST, /GROUP/)

  const dup = await client.request(ApiKey.AlterConfigs, 2, {
    resources: [
      { resourceType: TOPIC, resourceName: 't', configs: [] },
      { resourceType: TOPIC, resourceName: 't', configs: [] },
      {
        resourceType: TOPIC,
        resourceName: 't2',
        configs: [
          { name: 'retention.ms', value: '1' },
          { name: 'retention.ms', value: '2' },
        ],
      },
    ],
    validateOnly: false,
  })
  assert.deepEqual(
    dup.responses.map((r) => [r.resourceName, r.errorCode, r.errorMessage]),
    [
      ['t', ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
      ['t', ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
      ['t2', ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys'],
    ],
  )
})

test('IncrementalAlterConfigs v0-v1: SET, DELETE, APPEND and SUBTRACT', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't', 1, { 'segment.ms': '5000' })
  for (const version of [0, 1]) {
    expectOne(
      await incremental(
        client,
        [
          [
            TOPIC,
            't',
            [
              ['retention.ms', SET, '120000'],
              ['cleanup.policy', APPEND, 'compact'],
            ],
          ],
        ],
        { version },
      ),
      ErrorCode.NONE,
    )
    let configs = await configsOf(client, TOPIC, 't')
    assert.equal(configs.get('retention.ms')?.value, '120000')
    assert.equal(configs.get('cleanup.policy')?.value, 'delete,compact')
    assert.equal(configs.get('segment.ms')?.value, '5000', 'untouched keys stay')

    expectOne(
      await incremental(
        client,
        [
          [
            TOPIC,
            't',
            [
              ['retention.ms', DELETE, null],
              ['cleanup.policy', SUBTRACT, 'delete'],
            ],
          ],
        ],
        { version },
      ),
      ErrorCode.NONE,
    )
    configs = await configsOf(client, TOPIC, 't')
    assert.equal(configs.get('retention.ms')?.value, '604800000')
    assert.equal(configs.get('retention.ms')?.configSource, Source.DEFAULT)
    assert.equal(configs.get('cleanup.policy')?.value, 'compact')
    assert.equal(configs.get('cleanup.policy')?.configSource, Source.TOPIC_CONFIG)
    expectOne(await incremental(client, [[TOPIC, 't', [['cleanup.policy', DELETE, null]]]]), ErrorCode.NONE)
  }
})

test('IncrementalAlterConfigs errors and validateOnly', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't')
  const cases: [[string, number, string | null][], number, RegExp][] = [
    [
      [['retention.ms', APPEND, '1']],
      ErrorCode.INVALID_CONFIG,
      /Can't APPEND to key retention\.ms because its type is not LIST/,
    ],
    [[['segment.bytes', SUBTRACT, '1']], ErrorCode.INVALID_CONFIG, /SUBTRACT/],
    [[['retention.ms', SET, '-5']], ErrorCode.INVALID_CONFIG, /retention\.ms.*at least -1/],
    [[['no.such.config', SET, '1']], ErrorCode.INVALID_CONFIG, /Unknown topic config name: no\.such\.config/],
    [[['cleanup.policy', APPEND, 'archive']], ErrorCode.INVALID_CONFIG, /cleanup\.policy/],
    [[['retention.ms', SET, null]], ErrorCode.INVALID_REQUEST, /Null value not supported/],
    [[['retention.ms', 9, '1']], ErrorCode.INVALID_REQUEST, /Unknown operations type 9/],
    [
      [
        ['retention.ms', SET, '1'],
        ['retention.ms', DELETE, null],
      ],
      ErrorCode.INVALID_REQUEST,
      /duplicate config keys/,
    ],
  ]
  for (const [ops, code, message] of cases)
    expectOne(await incremental(client, [[TOPIC, 't', ops]]), code, message)
  expectOne(
    await incremental(client, [[TOPIC, 'missing', [['retention.ms', SET, '1']]]]),
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  )

  expectOne(
    await incremental(client, [[TOPIC, 't', [['retention.ms', SET, '1']]]], { validateOnly: true }),
    ErrorCode.NONE,
  )
  assert.equal((await configsOf(client, TOPIC, 't')).get('retention.ms')?.value, '604800000')
})

test('max.message.bytes altered: larger batches get MESSAGE_TOO_LARGE at once, and again after a DELETE they pass', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't')
  assert.equal((await produce(client, 't', batchOf(2000))).errorCode, ErrorCode.NONE)
  expectOne(await incremental(client, [[TOPIC, 't', [['max.message.bytes', SET, '1000']]]]), ErrorCode.NONE)
  assert.equal((await produce(client, 't', batchOf(2000))).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
  assert.equal((await produce(client, 't', batchOf(100))).errorCode, ErrorCode.NONE)
  expectOne(await incremental(client, [[TOPIC, 't', [['max.message.bytes', DELETE, null]]]]), ErrorCode.NONE)
  assert.equal((await produce(client, 't', batchOf(2000))).errorCode, ErrorCode.NONE)
})

test('message.timestamp.type altered to LogAppendTime: produce answers with the append time', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't')
  assert.equal((await produce(client, 't', batchOf(10))).logAppendTimeMs, -1)
  expectOne(
    await alter(client, [[TOPIC, 't', { 'message.timestamp.type': 'LogAppendTime' }]]),
    ErrorCode.NONE,
  )
  const before = Date.now()
  const appended = await produce(client, 't', batchOf(10))
  assert.equal(appended.errorCode, ErrorCode.NONE)
  assert.ok(appended.logAppendTimeMs >= before, `logAppendTime ${appended.logAppendTimeMs}`)
})

test('retention.ms altered: the next retention check deletes what is now too old', async (t) => {
  const { client } = await connect(t, { config: { 'log.retention.check.interval.ms': '50' } })
  await createTopic(client, 't')
  for (let i = 0; i < 3; i++)
    assert.equal((await produce(client, 't', batchOf(10))).errorCode, ErrorCode.NONE)
  await new Promise((resolve) => setTimeout(resolve, 150))
  assert.equal((await fetchPartition(client, 't')).logStartOffset, 0, 'a week of retention keeps everything')
  expectOne(await incremental(client, [[TOPIC, 't', [['retention.ms', SET, '1']]]]), ErrorCode.NONE)
  const deadline = Date.now() + 5000
  let logStartOffset = 0
  while (logStartOffset < 3 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    logStartOffset = (await fetchPartition(client, 't', { offset: 3 })).logStartOffset
  }
  assert.equal(logStartOffset, 3)
})

test('segment.ms altered: the log rolls by the new value from the next append; the change survives restart', async (t) => {
  const dataDir = await tempDir(t)
  const segments = () => readdirSync(join(dataDir, 't-0')).filter((f) => f.endsWith('.log')).length
  {
    const { broker, client } = await connect(t, { storage: 'file', dataDir })
    await createTopic(client, 't')
    for (let i = 0; i < 3; i++) await produce(client, 't', batchOf(10))
    assert.equal(segments(), 1)
    expectOne(
      await alter(client, [[TOPIC, 't', { 'segment.ms': '1', 'max.message.bytes': '1000' }]]),
      ErrorCode.NONE,
    )
    expectOne(
      await incremental(client, [[TOPIC, 't', [['cleanup.policy', APPEND, 'compact']]]]),
      ErrorCode.NONE,
    )
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      assert.equal((await produce(client, 't', batchOf(10))).errorCode, ErrorCode.NONE)
    }
    assert.ok(segments() >= 3, `${segments()} segments`)
    client.close()
    await broker.close()
  }
  const { client } = await connect(t, { storage: 'file', dataDir })
  const configs = await configsOf(client, TOPIC, 't')
  assert.equal(configs.get('segment.ms')?.value, '1')
  assert.equal(configs.get('segment.ms')?.configSource, Source.TOPIC_CONFIG)
  assert.equal(configs.get('cleanup.policy')?.value, 'delete,compact')
  assert.equal(configs.get('max.message.bytes')?.value, '1000')
  assert.equal((await produce(client, 't', batchOf(2000))).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
})

test('dynamic broker configs: cluster default and per broker, followed by topics without an override', async (t) => {
  const { client } = await connect(t, { config: { 'message.max.bytes': '5000' } })
  await createTopic(client, 'plain')
  await createTopic(client, 'own', 1, { 'max.message.bytes': '100000' })
  expectOne(await incremental(client, [[BROKER, '', [['message.max.bytes', SET, '3000']]]]), ErrorCode.NONE)
  let plain = await configsOf(client, TOPIC, 'plain', { synonyms: true })
  assert.equal(plain.get('max.message.bytes')?.value, '3000')
  assert.equal(plain.get('max.message.bytes')?.configSource, Source.DYNAMIC_DEFAULT)
  assert.deepEqual(
    plain.get('max.message.bytes')?.synonyms.map((s) => [s.name, s.value, s.source]),
    [
      ['message.max.bytes', '3000', Source.DYNAMIC_DEFAULT],
      ['message.max.bytes', '5000', Source.STATIC],
      ['message.max.bytes', '1048588', Source.DEFAULT],
    ],
  )
  assert.equal((await produce(client, 'plain', batchOf(4000))).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
  assert.equal((await produce(client, 'own', batchOf(4000))).errorCode, ErrorCode.NONE)

  // Per broker wins over the cluster default; AlterConfigs replaces that scope's whole set.
  expectOne(await alter(client, [[BROKER, '1', { 'message.max.bytes': '8000' }]]), ErrorCode.NONE)
  assert.equal((await produce(client, 'plain', batchOf(4000))).errorCode, ErrorCode.NONE)
  const defaults = await configsOf(client, BROKER, '')
  assert.equal(defaults.get('message.max.bytes')?.value, '3000')
  assert.equal(defaults.get('message.max.bytes')?.configSource, Source.DYNAMIC_DEFAULT)
  const broker = await configsOf(client, BROKER, '1')
  assert.equal(broker.get('message.max.bytes')?.value, '8000')
  assert.equal(broker.get('message.max.bytes')?.configSource, Source.DYNAMIC_BROKER_CONFIG)

  expectOne(await alter(client, [[BROKER, '1', {}]]), ErrorCode.NONE)
  expectOne(await incremental(client, [[BROKER, '', [['message.max.bytes', DELETE, null]]]]), ErrorCode.NONE)
  plain = await configsOf(client, TOPIC, 'plain')
  assert.equal(plain.get('max.message.bytes')?.value, '5000')
  assert.equal(plain.get('max.message.bytes')?.configSource, Source.STATIC)
})

test('dynamic broker configs: refused names, values, ids and conflicts are INVALID_REQUEST', async (t) => {
  const { client } = await connect(t)
  await createTopic(client, 't', 1, { 'min.compaction.lag.ms': '100' })
  const cases: [string, [string, number, string | null][], RegExp][] = [
    ['', [['num.partitions', SET, '3']], /^Cannot update these configs dynamically: Set\(num\.partitions\)$/],
    ['', [['log.retention.hours', SET, '3']], /log\.retention\.hours/],
    ['', [['log.segment.bytes', SET, '10']], /log\.segment\.bytes.*at least 1048576/],
    ['1', [['log.cleaner.max.compaction.lag.ms', SET, '10']], /topic 't'.*min\.compaction\.lag\.ms/],
    ['2', [['log.retention.ms', SET, '10']], /Unexpected broker id, expected 1, but received 2/],
    ['x', [['log.retention.ms', SET, '10']], /Node id must be an integer, but it is: x/],
  ]
  for (const [name, ops, message] of cases)
    expectOne(await incremental(client, [[BROKER, name, ops]]), ErrorCode.INVALID_REQUEST, message)
  expectOne(
    await incremental(client, [[BROKER, '', [['log.retention.ms', APPEND, '1']]]]),
    ErrorCode.INVALID_CONFIG,
    /not LIST/,
  )
  expectOne(
    await incremental(client, [[BROKER, '', [['log.retention.ms', SET, '10']]]], { validateOnly: true }),
    ErrorCode.NONE,
  )
  assert.equal((await configsOf(client, BROKER, '')).size, 0)
  assert.equal((await configsOf(client, TOPIC, 't')).get('retention.ms')?.value, '604800000')
})

test('IncrementalAlterConfigs sets the broker log level (KIP-412)', async (t) => {
  const { client } = await connect(t)
  expectOne(await incremental(client, [[BROKER_LOGGER, '1', [['root', SET, 'ERROR']]]]), ErrorCode.NONE)
  assert.equal((await configsOf(client, BROKER_LOGGER, '1')).get('root')?.value, 'ERROR')
  expectOne(
    await incremental(client, [[BROKER_LOGGER, '1', [['root', SET, 'DEBUG']]]], { validateOnly: true }),
    ErrorCode.NONE,
  )
  assert.equal((await configsOf(client, BROKER_LOGGER, '1')).get('root')?.value, 'ERROR')
  expectOne(
    await incremental(client, [[BROKER_LOGGER, '1', [['root', SET, 'LOUD']]]]),
    ErrorCode.INVALID_CONFIG,
    /not a supported log level/,
  )
  expectOne(
    await incremental(client, [[BROKER_LOGGER, '1', [['kafka.server', SET, 'INFO']]]]),
    ErrorCode.INVALID_CONFIG,
    /Logger kafka\.server does not exist/,
  )
  expectOne(
    await incremental(client, [[BROKER_LOGGER, '1', [['root', DELETE, null]]]]),
    ErrorCode.INVALID_REQUEST,
  )
  expectOne(
    await incremental(client, [[BROKER_LOGGER, '1', [['root', APPEND, 'INFO']]]]),
    ErrorCode.INVALID_REQUEST,
  )
  expectOne(
    await incremental(client, [[BROKER_LOGGER, '3', [['root', SET, 'INFO']]]]),
    ErrorCode.INVALID_REQUEST,
  )
})
