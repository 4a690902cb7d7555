// KafkaJS's admin describeConfigs (DescribeConfigs v1-2 with synonyms) and alterConfigs
// (AlterConfigs v0-1) against Fluxo: what kafka-configs users see, and that a change takes effect.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { startBroker } from '../../src/index.js'

// Not every KafkaJS export is visible to ESM named imports (Node's CommonJS export detection).
const require = createRequire(import.meta.url)
const { ConfigResourceTypes, ConfigSource } = require('kafkajs') as typeof import('kafkajs')

async function setup(t: import('node:test').TestContext) {
  const broker = await startBroker({
    port: 0,
    config: { 'log.segment.bytes': '2097152', 'log.retention.check.interval.ms': '50' },
  })
  t.after(() => broker.close())
  const kafka = new Kafka({
    brokers: [broker.bootstrap],
    clientId: 'configs',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  return { kafka, admin }
}

type Admin = Awaited<ReturnType<typeof setup>>['admin']

async function topicConfigs(admin: Admin, topic: string, configNames?: string[]) {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames }],
  })
  assert.equal(resources.length, 1)
  assert.equal(resources[0].errorCode, 0)
  return new Map(resources[0].configEntries.map((e) => [e.configName, e]))
}

test('KafkaJS describeConfigs: values, defaults, sources, synonyms, read-only and sensitive flags', async (t) => {
  const { admin } = await setup(t)
  await admin.createTopics({
    topics: [{ topic: 'orders', configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
  })

  const configs = await topicConfigs(admin, 'orders')
  assert.deepEqual(configs.get('retention.ms'), {
    configName: 'retention.ms',
    configValue: '3600000',
    readOnly: false,
    isDefault: false,
    configSource: ConfigSource.TOPIC_CONFIG,
    isSensitive: false,
    configSynonyms: [
      { configName: 'retention.ms', configValue: '3600000', configSource: ConfigSource.TOPIC_CONFIG },
    ],
  })
  assert.deepEqual(configs.get('segment.bytes'), {
    configName: 'segment.bytes',
    configValue: '2097152',
    readOnly: false,
    isDefault: false,
    configSource: ConfigSource.STATIC_BROKER_CONFIG,
    isSensitive: false,
    configSynonyms: [
      {
        configName: 'log.segment.bytes',
        configValue: '2097152',
        configSource: ConfigSource.STATIC_BROKER_CONFIG,
      },
      {
        configName: 'log.segment.bytes',
        configValue: '1073741824',
        configSource: ConfigSource.DEFAULT_CONFIG,
      },
    ],
  })
  const maxBytes = configs.get('max.message.bytes')
  assert.equal(maxBytes?.configValue, '1048588')
  assert.equal(maxBytes?.isDefault, true)
  assert.equal(maxBytes?.configSource, ConfigSource.DEFAULT_CONFIG)
  assert.equal(configs.get('cleanup.policy')?.configValue, 'delete')
  assert.equal(configs.get('message.timestamp.type')?.configValue, 'CreateTime')
  assert.equal(configs.get('min.insync.replicas')?.configValue, '1')
  assert.ok([...configs.values()].every((e) => !e.isSensitive && !e.readOnly))

  const narrowed = await topicConfigs(admin, 'orders', ['cleanup.policy', 'retention.bytes'])
  assert.deepEqual([...narrowed.keys()].sort(), ['cleanup.policy', 'retention.bytes'])

  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }],
  })
  const broker = new Map(resources[0].configEntries.map((e) => [e.configName, e]))
  assert.equal(broker.get('log.segment.bytes')?.configValue, '2097152')
  assert.equal(broker.get('log.segment.bytes')?.configSource, ConfigSource.STATIC_BROKER_CONFIG)
  assert.equal(broker.get('log.segment.bytes')?.readOnly, false, 'a dynamic broker config')
  assert.equal(broker.get('num.partitions')?.readOnly, true)
  assert.equal(broker.get('num.partitions')?.isDefault, true)
  assert.deepEqual(broker.get('num.partitions')?.configSynonyms, [])
})

test('KafkaJS alterConfigs: validateOnly, INVALID_CONFIG, and max.message.bytes enforced at once', async (t) => {
  const { kafka, admin } = await setup(t)
  await admin.createTopics({ topics: [{ topic: 'small' }] })
  const alter = (configEntries: { name: string; value: string }[], validateOnly = false) =>
    admin.alterConfigs({
      validateOnly,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'small', configEntries }],
    })

  const checked = await alter([{ name: 'max.message.bytes', value: '1000' }], true)
  assert.deepEqual(checked.resources, [
    { errorCode: 0, errorMessage: null, resourceType: ConfigResourceTypes.TOPIC, resourceName: 'small' },
  ])
  assert.equal((await topicConfigs(admin, 'small')).get('max.message.bytes')?.configValue, '1048588')

  await assert.rejects(
    alter([{ name: 'max.message.bytes', value: 'big' }]),
    (err: Error & { type?: string }) => {
      assert.equal(err.type, 'INVALID_CONFIG')
      return true
    },
  )
  await assert.rejects(alter([{ name: 'no.such.config', value: '1' }]), (err: Error & { type?: string }) => {
    assert.equal(err.type, 'INVALID_CONFIG')
    return true
  })

  await alter([{ name: 'max.message.bytes', value: '1000' }])
  const after = await topicConfigs(admin, 'small')
  assert.equal(after.get('max.message.bytes')?.configValue, '1000')
  assert.equal(after.get('max.message.bytes')?.configSource, ConfigSource.TOPIC_CONFIG)

  const producer = kafka.producer({ retry: { retries: 0 } })
  await producer.connect()
  t.after(() => producer.disconnect())
  await producer.send({ topic: 'small', messages: [{ value: 'fits' }] })
  await assert.rejects(
    producer.send({ topic: 'small', messages: [{ value: 'x'.repeat(2000) }] }),
    (err: Error & { type?: string }) => {
      assert.equal(err.type, 'MESSAGE_TOO_LARGE')
      return true
    },
  )

  // AlterConfigs replaces the whole set: max.message.bytes goes back to its default.
  await alter([{ name: 'retention.bytes', value: '1000000' }])
  const replaced = await topicConfigs(admin, 'small')
  assert.equal(replaced.get('max.message.bytes')?.configValue, '1048588')
  assert.equal(replaced.get('retention.bytes')?.configValue, '1000000')
  await producer.send({ topic: 'small', messages: [{ value: 'x'.repeat(2000) }] })
})

test('KafkaJS alterConfigs retention.ms: the next retention check removes the old records', async (t) => {
  const { kafka, admin } = await setup(t)
  await admin.createTopics({ topics: [{ topic: 'short' }] })
  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  await producer.send({ topic: 'short', messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] })
  assert.deepEqual(
    (await admin.fetchTopicOffsets('short')).map((p) => [p.low, p.high]),
    [['0', '3']],
  )
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: 'short',
        configEntries: [{ name: 'retention.ms', value: '1' }],
      },
    ],
  })
  const deadline = Date.now() + 5000
  let low = '0'
  while (low !== '3' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    low = (await admin.fetchTopicOffsets('short'))[0].low
  }
  assert.equal(low, '3')
})
