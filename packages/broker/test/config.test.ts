import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { renderConfigDocs } from '../scripts/config-docs.js'
import {
  AlterConfigOp,
  ConfigError,
  ConfigSource,
  ConfigTypeId,
  applyConfigOps,
  brokerConfigDefs,
  configField,
  describeBrokerConfigEntries,
  describeTopicConfigEntries,
  describeTopicConfigs,
  formatValue,
  parseBrokerConfig,
  parseProperties,
  resolveTopicConfig,
  topicConfigDefs,
  withDynamicBrokerConfigs,
} from '../src/config.js'

const LONG_MAX = Number.MAX_SAFE_INTEGER

/** Kafka 4.0's topic configs (its "Topic-Level Configs" documentation). */
const KAFKA_TOPIC_CONFIGS = [
  'cleanup.policy',
  'compression.gzip.level',
  'compression.lz4.level',
  'compression.type',
  'compression.zstd.level',
  'delete.retention.ms',
  'file.delete.delay.ms',
  'flush.messages',
  'flush.ms',
  'follower.replication.throttled.replicas',
  'index.interval.bytes',
  'leader.replication.throttled.replicas',
  'local.retention.bytes',
  'local.retention.ms',
  'max.compaction.lag.ms',
  'max.message.bytes',
  'message.downconversion.enable',
  'message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms',
  'message.timestamp.type',
  'min.cleanable.dirty.ratio',
  'min.compaction.lag.ms',
  'min.insync.replicas',
  'preallocate',
  'remote.log.copy.disable',
  'remote.log.delete.on.disable',
  'remote.storage.enable',
  'retention.bytes',
  'retention.ms',
  'segment.bytes',
  'segment.index.bytes',
  'segment.jitter.ms',
  'segment.ms',
  'unclean.leader.election.enable',
]

/** Kafka's topic configs without a "Server Default Property". */
const NO_SERVER_DEFAULT = [
  'follower.replication.throttled.replicas',
  'leader.replication.throttled.replicas',
  'message.downconversion.enable',
  'remote.log.copy.disable',
  'remote.log.delete.on.disable',
  'remote.storage.enable',
]

/** The parsed config, for tests that do not look at warnings. */
function broker(props: Record<string, string>) {
  return parseBrokerConfig(props).config
}
const WEEK_MS = 7 * 24 * 3600 * 1000

function configError(key: string | undefined, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`)
    assert.equal(err.code, 'ERR_FLUXO_CONFIG')
    assert.equal(err.key, key)
    if (key !== undefined) assert.match(err.message, new RegExp(key.replaceAll('.', '\\.')))
    if (message) assert.match(err.message, message)
    return true
  }
}

describe('config tables', () => {
  it('have unique names', () => {
    for (const defs of [brokerConfigDefs, topicConfigDefs])
      assert.equal(new Set(defs.map((d) => d.name)).size, defs.length)
  })

  it('link every topic config to a broker property, both ways', () => {
    const byName = new Map(brokerConfigDefs.map((d) => [d.name, d]))
    for (const def of topicConfigDefs) {
      if (NO_SERVER_DEFAULT.includes(def.name)) {
        assert.equal(def.brokerConfig, undefined, def.name)
        continue
      }
      assert.ok(def.brokerConfig, def.name)
      const source = byName.get(def.brokerConfig)
      assert.ok(source, `${def.name} ← ${def.brokerConfig}`)
      assert.equal(source.topicConfig, def.name)
      assert.equal(source.type, def.type, def.name)
    }
    const linked = brokerConfigDefs.filter((d) => d.topicConfig).length
    assert.equal(linked, topicConfigDefs.length - NO_SERVER_DEFAULT.length)
  })

  it('hold every topic config of Kafka 4.0, and Fluxo’s one more', () => {
    assert.deepEqual(
      topicConfigDefs.map((d) => d.name).sort(),
      [...KAFKA_TOPIC_CONFIGS, 'flush.on.acks.all'].sort(),
    )
  })

  it('make exactly the broker defaults of topic configs dynamic, as Kafka’s DynamicLogConfig', () => {
    const dynamic = brokerConfigDefs.filter((d) => d.dynamic).map((d) => d.name)
    assert.deepEqual(
      dynamic.sort(),
      brokerConfigDefs
        .filter((d) => d.topicConfig)
        .map((d) => d.name)
        .sort(),
    )
    assert.ok(dynamic.includes('log.retention.ms'))
    assert.ok(dynamic.includes('message.max.bytes'))
    assert.ok(!dynamic.includes('log.retention.hours'))
    assert.ok(!dynamic.includes('num.partitions'))
  })

  it('name the Kafka links', () => {
    const link = (name: string) => topicConfigDefs.find((d) => d.name === name)?.brokerConfig
    assert.equal(link('segment.ms'), 'log.roll.ms')
    assert.equal(link('segment.bytes'), 'log.segment.bytes')
    assert.equal(link('flush.messages'), 'log.flush.interval.messages')
    assert.equal(link('flush.ms'), 'log.flush.interval.ms')
    assert.equal(link('max.message.bytes'), 'message.max.bytes')
    assert.equal(link('retention.ms'), 'log.retention.ms')
    assert.equal(link('segment.index.bytes'), 'log.index.size.max.bytes')
    assert.equal(link('file.delete.delay.ms'), 'log.segment.delete.delay.ms')
    assert.equal(link('min.cleanable.dirty.ratio'), 'log.cleaner.min.cleanable.ratio')
    assert.equal(link('flush.on.acks.all'), 'log.flush.on.acks.all')
  })

  it('document every entry, including Fluxo’s flush on acks=all', () => {
    for (const def of [...brokerConfigDefs, ...topicConfigDefs]) assert.ok(def.doc.length > 10, def.name)
    const flush = brokerConfigDefs.find((d) => d.name === 'log.flush.on.acks.all')
    assert.equal(flush?.type, 'boolean')
    assert.equal(flush?.default, false)
    assert.match(flush?.doc ?? '', /acks=all/)
    assert.match(flush?.doc ?? '', /fsync/)
  })
})

describe('parseBrokerConfig', () => {
  it('gives Kafka’s defaults', () => {
    const c = broker({})
    assert.equal(c.nodeId, 1)
    assert.deepEqual(c.listeners, ['PLAINTEXT://:9092'])
    assert.deepEqual(c.advertisedListeners, ['PLAINTEXT://:9092'])
    assert.deepEqual(c.logDirs, ['/tmp/kafka-logs'])
    assert.equal(c.clusterId, null)
    assert.equal(c.numPartitions, 1)
    assert.equal(c.defaultReplicationFactor, 1)
    assert.equal(c.autoCreateTopicsEnable, true)
    assert.equal(c.deleteTopicEnable, true)
    assert.equal(c.messageMaxBytes, 1048588)
    assert.equal(c.socketRequestMaxBytes, 104857600)
    assert.equal(c.socketSendBufferBytes, 102400)
    assert.equal(c.socketReceiveBufferBytes, 102400)
    assert.equal(c.connectionsMaxIdleMs, 600000)
    assert.equal(c.logSegmentBytes, 1073741824)
    assert.equal(c.logRollMs, WEEK_MS)
    assert.equal(c.logRollJitterMs, 0)
    assert.equal(c.logFlushIntervalMessages, LONG_MAX)
    assert.equal(c.logFlushIntervalMs, LONG_MAX)
    assert.equal(c.logFlushSchedulerIntervalMs, LONG_MAX)
    assert.equal(c.logFlushOnAcksAll, false)
    assert.equal(c.logRetentionMs, WEEK_MS)
    assert.equal(c.logRetentionBytes, -1)
    assert.equal(c.logRetentionCheckIntervalMs, 300000)
    assert.equal(c.logSegmentDeleteDelayMs, 60000)
    assert.equal(c.logIndexIntervalBytes, 4096)
    assert.equal(c.logIndexSizeMaxBytes, 10485760)
    assert.equal(c.logMessageTimestampType, 'CreateTime')
    assert.equal(c.logMessageTimestampBeforeMaxMs, LONG_MAX)
    assert.equal(c.logMessageTimestampAfterMaxMs, 3600000)
    assert.deepEqual(c.logCleanupPolicy, ['delete'])
    assert.equal(c.compressionType, 'producer')
    assert.equal(c.minInsyncReplicas, 1)
    assert.equal(c.uncleanLeaderElectionEnable, false)
    assert.equal(c.groupInitialRebalanceDelayMs, 3000)
    assert.equal(c.groupMinSessionTimeoutMs, 6000)
    assert.equal(c.groupMaxSessionTimeoutMs, 1800000)
    assert.equal(c.offsetsRetentionMinutes, 10080)
    assert.equal(c.offsetsRetentionMs, 10080 * 60000)
    assert.equal(c.offsetsTopicNumPartitions, 50)
    assert.equal(c.compressionGzipLevel, -1)
    assert.equal(c.compressionLz4Level, 9)
    assert.equal(c.compressionZstdLevel, 3)
    assert.equal(c.logPreallocate, false)
    assert.equal(c.logLocalRetentionMs, -2)
    assert.equal(c.logLocalRetentionBytes, -2)
    assert.equal(c.logMessageDownconversionEnable, true)
    assert.deepEqual(c.raw, {})
    assert.deepEqual(c.dynamic, { broker: {}, clusterDefault: {} })
    assert.deepEqual(parseBrokerConfig({}).warnings, [])
  })

  it('parses typed values and keeps the raw strings', () => {
    const props = {
      'num.partitions': ' 3 ',
      'auto.create.topics.enable': 'FALSE',
      'log.cleanup.policy': 'compact, delete',
      'log.cleaner.min.cleanable.ratio': '0.25',
      'log.flush.interval.messages': '9223372036854775807',
      'compression.type': 'zstd',
      'cluster.id': 'MkU3OEVBNTcwNTJENDM2Qk',
      'log.flush.on.acks.all': 'true',
    }
    const c = broker(props)
    assert.equal(c.numPartitions, 3)
    assert.equal(c.autoCreateTopicsEnable, false)
    assert.deepEqual(c.logCleanupPolicy, ['compact', 'delete'])
    assert.equal(c.logCleanerMinCleanableRatio, 0.25)
    assert.equal(c.logFlushIntervalMessages, LONG_MAX)
    assert.equal(c.compressionType, 'zstd')
    assert.equal(c.clusterId, 'MkU3OEVBNTcwNTJENDM2Qk')
    assert.equal(c.logFlushOnAcksAll, true)
    assert.deepEqual(c.raw, props)
  })

  it('warns about unknown keys instead of failing', () => {
    const { config, warnings } = parseBrokerConfig({
      'num.network.threads': '3',
      'process.roles': 'broker,controller',
    })
    assert.equal(warnings.length, 2)
    assert.match(warnings[0], /num\.network\.threads/)
    assert.deepEqual(config.raw, {})
  })

  it('rejects bad values, naming the key', () => {
    const bad: [Record<string, string>, string][] = [
      [{ 'num.partitions': 'three' }, 'num.partitions'],
      [{ 'num.partitions': '0' }, 'num.partitions'],
      [{ 'num.partitions': '1.5' }, 'num.partitions'],
      [{ 'num.partitions': '2147483648' }, 'num.partitions'],
      [{ 'log.retention.bytes': '9223372036854775808' }, 'log.retention.bytes'],
      [{ 'auto.create.topics.enable': 'yes' }, 'auto.create.topics.enable'],
      [{ 'log.message.timestamp.type': 'createtime' }, 'log.message.timestamp.type'],
      [{ 'log.cleanup.policy': 'delete,archive' }, 'log.cleanup.policy'],
      [{ 'compression.type': 'brotli' }, 'compression.type'],
      [{ 'log.cleaner.min.cleanable.ratio': '1.5' }, 'log.cleaner.min.cleanable.ratio'],
      [{ 'log.cleaner.min.cleanable.ratio': '' }, 'log.cleaner.min.cleanable.ratio'],
      [{ 'log.segment.bytes': '1024' }, 'log.segment.bytes'],
      [{ 'log.roll.ms': '' }, 'log.roll.ms'],
      [{ 'log.retention.ms': '0' }, 'log.retention.ms'],
      [{ 'log.dirs': '' }, 'log.dirs'],
      [{ 'node.id': '-1' }, 'node.id'],
      [{ 'node.id': '2', 'broker.id': '3' }, 'broker.id'],
    ]
    for (const [props, key] of bad) assert.throws(() => broker(props), configError(key), key)
  })

  it('resolves node.id from broker.id', () => {
    assert.equal(broker({ 'broker.id': '7' }).nodeId, 7)
    assert.equal(broker({ 'broker.id': '7', 'node.id': '7' }).nodeId, 7)
    assert.equal(broker({ 'broker.id': '-1', 'node.id': '4' }).nodeId, 4)
  })

  it('resolves log.roll.ms from log.roll.hours', () => {
    assert.equal(broker({ 'log.roll.hours': '2' }).logRollMs, 2 * 3600000)
    assert.equal(broker({ 'log.roll.hours': '2', 'log.roll.ms': '5000' }).logRollMs, 5000)
    assert.equal(broker({ 'log.roll.jitter.hours': '1' }).logRollJitterMs, 3600000)
    assert.equal(broker({ 'log.roll.jitter.hours': '1', 'log.roll.jitter.ms': '10' }).logRollJitterMs, 10)
  })

  it('resolves retention: ms, then minutes, then hours; negative is unlimited', () => {
    assert.equal(broker({ 'log.retention.hours': '1' }).logRetentionMs, 3600000)
    assert.equal(broker({ 'log.retention.hours': '1', 'log.retention.minutes': '5' }).logRetentionMs, 300000)
    assert.equal(
      broker({
        'log.retention.hours': '1',
        'log.retention.minutes': '5',
        'log.retention.ms': '42',
      }).logRetentionMs,
      42,
    )
    assert.equal(broker({ 'log.retention.ms': '-1' }).logRetentionMs, -1)
    assert.equal(broker({ 'log.retention.hours': '-5' }).logRetentionMs, -1)
  })

  it('resolves log.flush.interval.ms from the scheduler interval', () => {
    assert.equal(broker({ 'log.flush.scheduler.interval.ms': '2000' }).logFlushIntervalMs, 2000)
    assert.equal(
      broker({ 'log.flush.scheduler.interval.ms': '2000', 'log.flush.interval.ms': '500' })
        .logFlushIntervalMs,
      500,
    )
  })

  it('prefers log.dirs over log.dir', () => {
    assert.deepEqual(broker({ 'log.dir': '/data/a' }).logDirs, ['/data/a'])
    assert.deepEqual(broker({ 'log.dir': '/data/a', 'log.dirs': '/data/b, /data/c' }).logDirs, [
      '/data/b',
      '/data/c',
    ])
  })

  it('advertises listeners unless advertised.listeners says otherwise', () => {
    const c = broker({ listeners: 'PLAINTEXT://0.0.0.0:9092, SSL://0.0.0.0:9093' })
    assert.deepEqual(c.listeners, ['PLAINTEXT://0.0.0.0:9092', 'SSL://0.0.0.0:9093'])
    assert.deepEqual(c.advertisedListeners, c.listeners)
    const d = broker({ 'advertised.listeners': 'PLAINTEXT://broker1:9092' })
    assert.deepEqual(d.advertisedListeners, ['PLAINTEXT://broker1:9092'])
  })
})

describe('resolveTopicConfig', () => {
  it('inherits Kafka’s topic defaults from a default broker', () => {
    const brokerConfig = broker({})
    const t = resolveTopicConfig(brokerConfig, {})
    for (const def of topicConfigDefs) {
      const field = configField(def.name) as keyof typeof t
      assert.deepEqual(t[field], def.default, def.name)
    }
    assert.equal(t.segmentMs, WEEK_MS)
    assert.equal(t.retentionMs, WEEK_MS)
    assert.equal(t.flushMs, LONG_MAX)
    assert.equal(t.maxMessageBytes, 1048588)
    assert.equal(t.messageTimestampType, 'CreateTime')
    assert.deepEqual(t.raw, {})
  })

  it('reads every topic config’s default from its BrokerConfig field', () => {
    const brokerConfig = broker({})
    for (const def of topicConfigDefs)
      if (def.brokerConfig) assert.ok(configField(def.brokerConfig) in brokerConfig, def.name)
  })

  it('inherits the broker’s resolved values', () => {
    const brokerConfig = broker({
      'log.roll.hours': '1',
      'log.retention.minutes': '30',
      'log.flush.interval.messages': '1000',
      'log.flush.scheduler.interval.ms': '250',
      'message.max.bytes': '2000000',
      'log.message.timestamp.type': 'LogAppendTime',
      'log.cleanup.policy': 'compact',
      'log.flush.on.acks.all': 'true',
    })
    const t = resolveTopicConfig(brokerConfig, {})
    assert.equal(t.segmentMs, 3600000)
    assert.equal(t.retentionMs, 1800000)
    assert.equal(t.flushMessages, 1000)
    assert.equal(t.flushMs, 250)
    assert.equal(t.maxMessageBytes, 2000000)
    assert.equal(t.messageTimestampType, 'LogAppendTime')
    assert.deepEqual(t.cleanupPolicy, ['compact'])
    assert.equal(t.flushOnAcksAll, true)
  })

  it('applies overrides and keeps them raw', () => {
    const overrides = {
      'segment.bytes': '1048576',
      'segment.ms': '60000',
      'retention.ms': '-1',
      'retention.bytes': '10000000',
      'cleanup.policy': 'compact,delete',
      'message.timestamp.type': 'LogAppendTime',
      'flush.on.acks.all': 'true',
      'index.interval.bytes': '1024',
      'min.cleanable.dirty.ratio': '0.1',
    }
    const t = resolveTopicConfig(broker({}), overrides)
    assert.equal(t.segmentBytes, 1048576)
    assert.equal(t.segmentMs, 60000)
    assert.equal(t.retentionMs, -1)
    assert.equal(t.retentionBytes, 10000000)
    assert.deepEqual(t.cleanupPolicy, ['compact', 'delete'])
    assert.equal(t.messageTimestampType, 'LogAppendTime')
    assert.equal(t.flushOnAcksAll, true)
    assert.equal(t.indexIntervalBytes, 1024)
    assert.equal(t.minCleanableDirtyRatio, 0.1)
    assert.equal(t.flushMs, LONG_MAX)
    assert.deepEqual(t.raw, overrides)
  })

  it('rejects unknown names and bad values, naming the key', () => {
    const brokerConfig = broker({})
    const bad: [Record<string, string>, string][] = [
      [{ 'log.segment.bytes': '1048576' }, 'log.segment.bytes'],
      [{ 'no.such.config': '1' }, 'no.such.config'],
      [{ 'segment.bytes': '1000' }, 'segment.bytes'],
      [{ 'segment.ms': '0' }, 'segment.ms'],
      [{ 'retention.ms': '-2' }, 'retention.ms'],
      [{ 'cleanup.policy': 'forever' }, 'cleanup.policy'],
      [{ 'message.timestamp.type': 'Now' }, 'message.timestamp.type'],
      [{ 'max.message.bytes': 'big' }, 'max.message.bytes'],
      [{ 'unclean.leader.election.enable': '1' }, 'unclean.leader.election.enable'],
      [{ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }, 'min.compaction.lag.ms'],
      [{ 'compression.gzip.level': '0' }, 'compression.gzip.level'],
      [{ 'compression.gzip.level': '10' }, 'compression.gzip.level'],
      [{ 'compression.lz4.level': '18' }, 'compression.lz4.level'],
      [{ 'compression.zstd.level': '23' }, 'compression.zstd.level'],
      [{ 'local.retention.ms': '-3' }, 'local.retention.ms'],
      [{ 'leader.replication.throttled.replicas': '0:1,x' }, 'leader.replication.throttled.replicas'],
      [{ 'follower.replication.throttled.replicas': '*,0:1' }, 'follower.replication.throttled.replicas'],
      [{ 'remote.storage.enable': 'true' }, 'remote.storage.enable'],
      [{ preallocate: 'maybe' }, 'preallocate'],
    ]
    for (const [overrides, key] of bad)
      assert.throws(() => resolveTopicConfig(brokerConfig, overrides), configError(key), key)
  })
})

describe('describeTopicConfigs', () => {
  it('lists every topic config with its value and source', () => {
    const brokerConfig = broker({ 'log.roll.ms': '3600000', 'log.cleanup.policy': 'compact,delete' })
    const entries = describeTopicConfigs(resolveTopicConfig(brokerConfig, { 'retention.ms': '1000' }))
    assert.deepEqual(
      entries.map((e) => e.name),
      topicConfigDefs.map((d) => d.name),
    )
    const byName = new Map(entries.map((e) => [e.name, e]))
    assert.deepEqual(byName.get('retention.ms'), {
      name: 'retention.ms',
      value: '1000',
      readOnly: false,
      configSource: ConfigSource.TOPIC_CONFIG,
      isSensitive: false,
    })
    assert.equal(byName.get('segment.ms')?.value, '3600000')
    assert.equal(byName.get('segment.ms')?.configSource, ConfigSource.STATIC_BROKER_CONFIG)
    assert.equal(byName.get('cleanup.policy')?.value, 'compact,delete')
    assert.equal(byName.get('cleanup.policy')?.configSource, ConfigSource.STATIC_BROKER_CONFIG)
    assert.equal(byName.get('segment.bytes')?.value, '1073741824')
    assert.equal(byName.get('segment.bytes')?.configSource, ConfigSource.DEFAULT_CONFIG)
    assert.equal(byName.get('flush.messages')?.value, '9223372036854775807')
    assert.equal(byName.get('min.cleanable.dirty.ratio')?.value, '0.5')
    assert.equal(byName.get('unclean.leader.election.enable')?.value, 'false')
  })
})

describe('parseProperties', () => {
  it('reads a server.properties', () => {
    const text = [
      '# Licensed to the Apache Software Foundation',
      '! another comment',
      '',
      '   ',
      'process.roles=broker,controller',
      'node.id = 1',
      'listeners: PLAINTEXT://:9092',
      'log.dirs /tmp/kraft-combined-logs',
      '  num.partitions=1',
      'log.retention.hours=168   ',
    ].join('\n')
    assert.deepEqual(parseProperties(text), {
      'process.roles': 'broker,controller',
      'node.id': '1',
      listeners: 'PLAINTEXT://:9092',
      'log.dirs': '/tmp/kraft-combined-logs',
      'num.partitions': '1',
      'log.retention.hours': '168   ',
    })
  })

  it('joins continuation lines and drops their leading whitespace', () => {
    const text =
      'listeners=PLAINTEXT://:9092,\\\n    SSL://:9093\r\nlog.dirs=/a,\\\r\n\t/b\nend=\\\\\nlast=x\\'
    assert.deepEqual(parseProperties(text), {
      listeners: 'PLAINTEXT://:9092,SSL://:9093',
      'log.dirs': '/a,/b',
      end: '\\',
      last: 'x',
    })
  })

  it('does not continue comment lines', () => {
    assert.deepEqual(parseProperties('# a comment \\\nkey=value'), { key: 'value' })
  })

  it('unescapes keys and values', () => {
    const text = 'my\\ key\\=x = a\\tb\\nc\\u0041\\\\d\\:e\\#\n\\#not.a.comment=1\nempty\nequals==v'
    assert.deepEqual(parseProperties(text), {
      'my key=x': 'a\tb\ncA\\d:e#',
      '#not.a.comment': '1',
      empty: '',
      equals: '=v',
    })
  })

  it('lets later keys win', () => {
    assert.deepEqual(parseProperties('a=1\na=2'), { a: '2' })
  })

  it('rejects a malformed \\u escape', () => {
    assert.throws(() => parseProperties('a=\\u12g4'), configError(undefined, /line 1/))
  })

  it('feeds parseBrokerConfig', () => {
    const c = broker(parseProperties('node.id=3\nlog.dirs=/var/fluxo\nlog.roll.hours=24\n'))
    assert.equal(c.nodeId, 3)
    assert.deepEqual(c.logDirs, ['/var/fluxo'])
    assert.equal(c.logRollMs, 24 * 3600000)
  })
})

describe('topic config validators', () => {
  it('accept what Kafka accepts', () => {
    const t = resolveTopicConfig(broker({}), {
      'compression.gzip.level': '-1',
      'compression.lz4.level': '17',
      'compression.zstd.level': '-131072',
      'leader.replication.throttled.replicas': '0:1, 1:1',
      'follower.replication.throttled.replicas': '*',
      'local.retention.ms': '-2',
      'remote.storage.enable': 'false',
      'message.downconversion.enable': 'false',
    })
    assert.equal(t.compressionGzipLevel, -1)
    assert.equal(t.compressionLz4Level, 17)
    assert.equal(t.compressionZstdLevel, -131072)
    assert.deepEqual(t.leaderReplicationThrottledReplicas, ['0:1', '1:1'])
    assert.deepEqual(t.followerReplicationThrottledReplicas, ['*'])
    assert.equal(t.remoteStorageEnable, false)
    assert.equal(resolveTopicConfig(broker({}), { 'compression.gzip.level': '9' }).compressionGzipLevel, 9)
  })

  it('name the key and the rule', () => {
    assert.throws(
      () => resolveTopicConfig(broker({}), { 'compression.gzip.level': '0' }),
      configError('compression.gzip.level', /between 1 and 9, or -1/),
    )
    assert.throws(
      () => resolveTopicConfig(broker({}), { 'retention.ms': 'soon' }),
      configError('retention.ms', /Invalid value "soon" for configuration retention\.ms: not a number/),
    )
    assert.throws(
      () => resolveTopicConfig(broker({}), { 'segment.bytes': '1000' }),
      configError('segment.bytes', /at least 1048576/),
    )
    assert.throws(
      () => resolveTopicConfig(broker({}), { 'no.such.config': '1' }),
      configError('no.such.config', /^Unknown topic config name: no\.such\.config$/),
    )
  })
})

describe('config synonyms and sources (Kafka’s ConfigHelper)', () => {
  const synonyms = (brokerProps: Record<string, string>, overrides: Record<string, string>, name: string) =>
    resolveTopicConfig(broker(brokerProps), overrides).synonyms[name]

  it('lists an override, then the broker property set in the file, then its default', () => {
    assert.deepEqual(
      synonyms({ 'log.segment.bytes': '2097152' }, { 'segment.bytes': '1048576' }, 'segment.bytes'),
      [
        { name: 'segment.bytes', value: '1048576', source: ConfigSource.TOPIC_CONFIG },
        { name: 'log.segment.bytes', value: '2097152', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'log.segment.bytes', value: '1073741824', source: ConfigSource.DEFAULT_CONFIG },
      ],
    )
    const t = resolveTopicConfig(broker({ 'log.segment.bytes': '2097152' }), {})
    assert.equal(t.sources['segment.bytes'], ConfigSource.STATIC_BROKER_CONFIG)
    assert.equal(t.segmentBytes, 2097152)
  })

  it('shows the default alone for an untouched config', () => {
    assert.deepEqual(synonyms({}, {}, 'max.message.bytes'), [
      { name: 'message.max.bytes', value: '1048588', source: ConfigSource.DEFAULT_CONFIG },
    ])
    assert.deepEqual(synonyms({}, {}, 'flush.messages'), [
      {
        name: 'log.flush.interval.messages',
        value: '9223372036854775807',
        source: ConfigSource.DEFAULT_CONFIG,
      },
    ])
  })

  it('keeps the lower-precedence broker synonyms after the primary one', () => {
    assert.deepEqual(
      synonyms({ 'log.retention.ms': '60000', 'log.retention.hours': '2' }, {}, 'retention.ms'),
      [
        { name: 'log.retention.ms', value: '60000', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'log.retention.hours', value: '2', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
      ],
    )
  })

  it('drops synonyms before the primary broker property, as Kafka does', () => {
    // Kafka's configSynonyms(...).dropWhile(_.name != "log.retention.ms"): with only
    // log.retention.hours set, retention.ms shows no synonyms and DEFAULT_CONFIG, though its
    // value is the broker's.
    const t = resolveTopicConfig(broker({ 'log.retention.hours': '2' }), {})
    assert.deepEqual(t.synonyms['retention.ms'], [])
    assert.equal(t.sources['retention.ms'], ConfigSource.DEFAULT_CONFIG)
    assert.equal(t.retentionMs, 2 * 3600000)
  })

  it('has none for the configs without a server default', () => {
    const t = resolveTopicConfig(broker({}), { 'remote.log.copy.disable': 'true' })
    assert.deepEqual(t.synonyms['remote.storage.enable'], [])
    assert.equal(t.sources['remote.storage.enable'], ConfigSource.DEFAULT_CONFIG)
    assert.deepEqual(t.synonyms['remote.log.copy.disable'], [
      { name: 'remote.log.copy.disable', value: 'true', source: ConfigSource.TOPIC_CONFIG },
    ])
  })

  it('puts dynamic broker configs first: per broker, then cluster default', () => {
    const base = broker({ 'log.retention.ms': '1000' })
    const next = withDynamicBrokerConfigs(base, {
      broker: { 'log.retention.ms': '3000' },
      clusterDefault: { 'log.retention.ms': '2000' },
    })
    const t = resolveTopicConfig(next, {})
    assert.equal(t.retentionMs, 3000)
    assert.deepEqual(t.synonyms['retention.ms'], [
      { name: 'log.retention.ms', value: '3000', source: ConfigSource.DYNAMIC_BROKER_CONFIG },
      { name: 'log.retention.ms', value: '2000', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.retention.ms', value: '1000', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
    ])
  })
})

describe('describeTopicConfigEntries', () => {
  it('adds the type, and synonyms and documentation on request', () => {
    const config = resolveTopicConfig(broker({}), { 'retention.ms': '1000' })
    const plain = describeTopicConfigEntries(config, { includeSynonyms: false, includeDocumentation: false })
    const full = describeTopicConfigEntries(config, { includeSynonyms: true, includeDocumentation: true })
    const byName = new Map(full.map((e) => [e.name, e]))
    assert.ok(plain.every((e) => e.synonyms.length === 0 && e.documentation === null))
    assert.deepEqual(byName.get('retention.ms'), {
      name: 'retention.ms',
      value: '1000',
      readOnly: false,
      configSource: ConfigSource.TOPIC_CONFIG,
      isSensitive: false,
      synonyms: [{ name: 'retention.ms', value: '1000', source: ConfigSource.TOPIC_CONFIG }],
      configType: ConfigTypeId.LONG,
      documentation: topicConfigDefs.find((d) => d.name === 'retention.ms')?.doc,
    })
    assert.equal(byName.get('cleanup.policy')?.configType, ConfigTypeId.LIST)
    assert.equal(byName.get('min.cleanable.dirty.ratio')?.configType, ConfigTypeId.DOUBLE)
    assert.equal(byName.get('min.cleanable.dirty.ratio')?.value, '0.5')
    assert.equal(byName.get('segment.bytes')?.configType, ConfigTypeId.INT)
    assert.equal(byName.get('preallocate')?.configType, ConfigTypeId.BOOLEAN)
    assert.equal(byName.get('compression.type')?.configType, ConfigTypeId.STRING)
    assert.equal(byName.get('leader.replication.throttled.replicas')?.value, '')
  })

  it('prints doubles as Java does', () => {
    const config = resolveTopicConfig(broker({}), { 'min.cleanable.dirty.ratio': '1' })
    assert.equal(
      describeTopicConfigs(config).find((e) => e.name === 'min.cleanable.dirty.ratio')?.value,
      '1.0',
    )
    assert.equal(formatValue(0.25, 'double'), '0.25')
    assert.equal(formatValue(0, 'double'), '0.0')
    assert.equal(formatValue(0.0001, 'double'), '1.0E-4')
    assert.equal(formatValue(12345678.5, 'double'), '1.23456785E7')
    assert.equal(formatValue(LONG_MAX, 'long'), '9223372036854775807')
  })
})

describe('describeBrokerConfigEntries', () => {
  const none = { includeSynonyms: false, includeDocumentation: false }
  const all = { includeSynonyms: true, includeDocumentation: true }

  it('lists every property of this broker, with read-only unless dynamic', () => {
    const config = broker({ 'log.retention.hours': '24', 'num.partitions': '3', 'node.id': '2' })
    const entries = describeBrokerConfigEntries(config, true, all)
    assert.deepEqual(
      entries.map((e) => e.name),
      brokerConfigDefs.map((d) => d.name),
    )
    const byName = new Map(entries.map((e) => [e.name, e]))
    assert.deepEqual(byName.get('num.partitions'), {
      name: 'num.partitions',
      value: '3',
      readOnly: true,
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
      isSensitive: false,
      synonyms: [
        { name: 'num.partitions', value: '3', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'num.partitions', value: '1', source: ConfigSource.DEFAULT_CONFIG },
      ],
      configType: ConfigTypeId.INT,
      documentation: brokerConfigDefs.find((d) => d.name === 'num.partitions')?.doc,
    })
    // Kafka shows the property's own value: log.retention.ms stays null, hours carries the setting.
    assert.equal(byName.get('log.retention.ms')?.value, null)
    assert.equal(byName.get('log.retention.ms')?.configSource, ConfigSource.DEFAULT_CONFIG)
    assert.equal(byName.get('log.retention.ms')?.readOnly, false)
    assert.equal(byName.get('log.retention.hours')?.value, '24')
    assert.equal(byName.get('log.retention.hours')?.readOnly, true)
    assert.equal(byName.get('node.id')?.value, '2')
    assert.equal(byName.get('log.flush.interval.messages')?.value, '9223372036854775807')
    assert.equal(byName.get('log.cleaner.min.cleanable.ratio')?.value, '0.5')
  })

  it('lists only the dynamic cluster defaults for the "" resource', () => {
    const base = broker({ 'log.segment.bytes': '2097152' })
    assert.deepEqual(describeBrokerConfigEntries(base, false, none), [])
    const next = withDynamicBrokerConfigs(base, {
      broker: { 'log.retention.ms': '5000' },
      clusterDefault: { 'log.segment.bytes': '3145728' },
    })
    assert.deepEqual(describeBrokerConfigEntries(next, false, all), [
      {
        name: 'log.segment.bytes',
        value: '3145728',
        readOnly: false,
        configSource: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
        isSensitive: false,
        synonyms: [
          { name: 'log.segment.bytes', value: '3145728', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
        ],
        configType: ConfigTypeId.INT,
        documentation: brokerConfigDefs.find((d) => d.name === 'log.segment.bytes')?.doc,
      },
    ])
    const perBroker = new Map(describeBrokerConfigEntries(next, true, none).map((e) => [e.name, e]))
    assert.equal(perBroker.get('log.retention.ms')?.value, '5000')
    assert.equal(perBroker.get('log.retention.ms')?.configSource, ConfigSource.DYNAMIC_BROKER_CONFIG)
    assert.equal(perBroker.get('log.segment.bytes')?.value, '3145728')
    assert.equal(perBroker.get('log.segment.bytes')?.configSource, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)
  })
})

describe('withDynamicBrokerConfigs', () => {
  it('changes the dynamic fields and keeps the others as they are', () => {
    const base = broker({ 'log.retention.hours': '1' })
    base.groupInitialRebalanceDelayMs = 0
    const next = withDynamicBrokerConfigs(base, {
      broker: {},
      clusterDefault: {
        'log.retention.ms': '1234',
        'message.max.bytes': '2000',
        'log.cleanup.policy': 'compact',
      },
    })
    assert.equal(next.logRetentionMs, 1234)
    assert.equal(next.messageMaxBytes, 2000)
    assert.deepEqual(next.logCleanupPolicy, ['compact'])
    assert.equal(next.groupInitialRebalanceDelayMs, 0)
    assert.deepEqual(next.raw, { 'log.retention.hours': '1' })
    assert.equal(base.logRetentionMs, 3600000)
    // Removing the dynamic config brings the file's value back.
    assert.equal(withDynamicBrokerConfigs(next, { broker: {}, clusterDefault: {} }).logRetentionMs, 3600000)
  })

  it('refuses non-dynamic and unknown properties and bad values, naming them', () => {
    const base = broker({})
    const dynamic = (clusterDefault: Record<string, string>) => ({ broker: {}, clusterDefault })
    assert.throws(
      () => withDynamicBrokerConfigs(base, dynamic({ 'log.retention.hours': '1', 'num.partitions': '2' })),
      configError(
        'log.retention.hours',
        /^Cannot update these configs dynamically: Set\(log\.retention\.hours, num\.partitions\)$/,
      ),
    )
    assert.throws(() => withDynamicBrokerConfigs(base, dynamic({ 'no.such': '1' })), configError('no.such'))
    assert.throws(
      () => withDynamicBrokerConfigs(base, dynamic({ 'log.segment.bytes': '10' })),
      configError('log.segment.bytes', /at least 1048576/),
    )
  })
})

describe('applyConfigOps', () => {
  const op = (name: string, o: number, value: string | null = null) => ({ name, op: o, value })

  it('sets and deletes', () => {
    assert.deepEqual(
      applyConfigOps(
        { 'retention.ms': '1', 'segment.ms': '2' },
        [
          op('retention.ms', AlterConfigOp.SET, '5'),
          op('segment.ms', AlterConfigOp.DELETE),
          op('x', AlterConfigOp.DELETE),
        ],
        'topic',
      ),
      { 'retention.ms': '5' },
    )
  })

  it('appends to and subtracts from lists, starting from the table default', () => {
    assert.deepEqual(applyConfigOps({}, [op('cleanup.policy', AlterConfigOp.APPEND, 'compact')], 'topic'), {
      'cleanup.policy': 'delete,compact',
    })
    assert.deepEqual(
      applyConfigOps(
        { 'cleanup.policy': 'compact,delete' },
        [op('cleanup.policy', AlterConfigOp.APPEND, 'delete')],
        'topic',
      ),
      { 'cleanup.policy': 'compact,delete' },
    )
    assert.deepEqual(applyConfigOps({}, [op('cleanup.policy', AlterConfigOp.SUBTRACT, 'delete')], 'topic'), {
      'cleanup.policy': '',
    })
    assert.deepEqual(
      applyConfigOps(
        {},
        [
          op('leader.replication.throttled.replicas', AlterConfigOp.APPEND, '0:1,1:1'),
          op('leader.replication.throttled.replicas', AlterConfigOp.SUBTRACT, '0:1'),
        ],
        'topic',
      ),
      { 'leader.replication.throttled.replicas': '1:1' },
    )
    assert.deepEqual(
      applyConfigOps({}, [op('log.cleanup.policy', AlterConfigOp.APPEND, 'compact')], 'broker'),
      {
        'log.cleanup.policy': 'delete,compact',
      },
    )
  })

  it('refuses APPEND and SUBTRACT on other types', () => {
    assert.throws(
      () => applyConfigOps({}, [op('retention.ms', AlterConfigOp.APPEND, '1')], 'topic'),
      configError('retention.ms', /Can't APPEND to key retention\.ms because its type is not LIST\./),
    )
    assert.throws(
      () => applyConfigOps({}, [op('no.such', AlterConfigOp.SUBTRACT, '1')], 'topic'),
      configError('no.such', /SUBTRACT/),
    )
  })
})

describe('docs/configs.md', () => {
  it('is what scripts/config-docs.ts prints from the tables', () => {
    const page = readFileSync(new URL('../../../docs/configs.md', import.meta.url), 'utf8')
    assert.equal(
      page,
      renderConfigDocs(),
      'regenerate: npx tsx packages/broker/scripts/config-docs.ts > docs/configs.md',
    )
    for (const def of topicConfigDefs) assert.ok(page.includes(`| \`${def.name}\` |`), def.name)
  })
})
