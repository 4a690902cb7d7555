import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  ConfigError,
  ConfigSource,
  brokerConfigDefs,
  configField,
  describeTopicConfigs,
  parseBrokerConfig,
  parseProperties,
  resolveTopicConfig,
  topicConfigDefs,
} from '../src/config.js'

const LONG_MAX = Number.MAX_SAFE_INTEGER

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
      assert.ok(def.brokerConfig, def.name)
      const source = byName.get(def.brokerConfig)
      assert.ok(source, `${def.name} ← ${def.brokerConfig}`)
      assert.equal(source.topicConfig, def.name)
      assert.equal(source.type, def.type, def.name)
    }
    const linked = brokerConfigDefs.filter((d) => d.topicConfig).length
    assert.equal(linked, topicConfigDefs.length)
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
    assert.deepEqual(c.raw, {})
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
      assert.ok(configField(def.brokerConfig ?? '') in brokerConfig, def.name)
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
    ]
    for (const [overrides, key] of bad)
      assert.throws(() => resolveTopicConfig(brokerConfig, overrides), configError(key), key)
  })
})

describe('describeTopicConfigs', () => {
  it('lists every topic config with its value and source', () => {
    const brokerConfig = broker({ 'log.roll.hours': '1', 'log.cleanup.policy': 'compact,delete' })
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
