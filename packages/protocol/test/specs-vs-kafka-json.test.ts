/**
 * Every spec in specs/ against Apache Kafka's own message JSON: api key, valid and flexible versions,
 * and each field's name (camelCased), type, versions, nullableVersions, tag, taggedVersions and
 * default, in order, through inline and common structs. `entityType`, `mapKey`, `ignorable` and
 * `about` are not wire facts and are not compared. Also: supportedVersions stays inside
 * validVersions and above Kafka's deprecatedVersions (marked for removal by KIP-896), apart from the
 * exceptions listed below.
 *
 * The JSON of every API we define is kept in fixtures/kafka-messages (Apache License 2.0);
 * FLUXO_KAFKA_MESSAGES may name another copy of Kafka's clients/src/main/resources/common/message.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { dataSpecs, specs } from '../specs/index.js'
import type { ApiSpec, FieldSpec } from '../specs/types.js'
import { parseVersions } from './fixtures/random-message.js'

const messagesDir =
  process.env.FLUXO_KAFKA_MESSAGES ?? fileURLToPath(new URL('./fixtures/kafka-messages', import.meta.url))

interface KafkaField {
  name: string
  type: string
  versions: string
  nullableVersions?: string
  tag?: number
  taggedVersions?: string
  default?: string | number | boolean
  fields?: KafkaField[]
}

interface KafkaMessage {
  type?: string
  apiKey: number
  name: string
  validVersions: string
  deprecatedVersions?: string
  flexibleVersions: string
  fields: KafkaField[]
  commonStructs?: { name: string; versions: string; fields: KafkaField[] }[]
}

/** Kafka's message JSON allows `//` comment lines (the license header, version history). */
function readKafkaMessage(file: string): KafkaMessage {
  const text = readFileSync(join(messagesDir, file), 'utf8')
  return JSON.parse(
    text
      .split('\n')
      .filter((line) => !/^\s*\/\//.test(line))
      .join('\n'),
  ) as KafkaMessage
}

const NUMERIC = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64'])

/** Kafka writes defaults as strings ("-1", "null", "false", "0x7fffffff"); specs hold typed values. */
function kafkaDefault(f: KafkaField): FieldSpec['default'] {
  const d = f.default
  if (d === undefined || typeof d !== 'string') return d
  if (d === 'null') return null
  const elem = f.type.replace('[]', '')
  if (NUMERIC.has(elem)) return Number(d)
  if (elem === 'bool') return d === 'true'
  return d
}

const camel = (name: string) => name[0].toLowerCase() + name.slice(1)

/** The comparable facts of a field list, as plain data so a mismatch shows as a readable diff. */
function kafkaFacts(fields: KafkaField[]): unknown[] {
  return fields.map((f) => ({
    name: camel(f.name),
    type: f.type,
    versions: f.versions,
    nullableVersions: f.nullableVersions ?? 'none',
    tag: f.tag ?? null,
    taggedVersions: f.taggedVersions ?? 'none',
    default: kafkaDefault(f),
    fields: f.fields ? kafkaFacts(f.fields) : null,
  }))
}

function specFacts(fields: FieldSpec[]): unknown[] {
  return fields.map((f) => ({
    name: f.name,
    type: f.type,
    versions: f.versions,
    nullableVersions: f.nullableVersions ?? 'none',
    tag: f.tag ?? null,
    taggedVersions: f.taggedVersions ?? 'none',
    default: f.default,
    fields: f.fields ? specFacts(f.fields) : null,
  }))
}

function structFacts<S extends { name: string; versions: string }>(
  structs: S[] | undefined,
  facts: (s: S) => unknown[],
): unknown[] {
  return (structs ?? []).map((s) => ({ name: s.name, versions: s.versions, fields: facts(s) }))
}

test('the Kafka message JSON is available', () => {
  assert.ok(existsSync(messagesDir), `Kafka message JSON not found at ${messagesDir}`)
})

/**
 * Known differences, each checked to still hold so its entry is removed once it goes away.
 * ConsumerGroupDescribe v1 (Kafka 4.0, KIP-1099) is newer than the reference JSON.
 */
const AHEAD_OF_REFERENCE = new Set(['ConsumerGroupDescribe'])
/**
 * Specs whose supportedVersions reach into Kafka's deprecatedVersions (the versions KIP-896 marked for
 * removal). Any other spec doing so fails; these predate this check and are left to their owners.
 */
const ADVERTISES_DEPRECATED = new Set(['Produce', 'Metadata', 'FindCoordinator', 'JoinGroup', 'DeleteGroups'])

function compare(api: ApiSpec, kind: 'Request' | 'Response', kafka: KafkaMessage): void {
  const ours = kind === 'Request' ? api.request : api.response
  const where = `${api.name}${kind}`
  assert.equal(kafka.name, where)
  assert.equal(api.apiKey, kafka.apiKey, `${where} apiKey`)
  assert.equal(api.validVersions, kafka.validVersions, `${where} validVersions`)
  assert.equal(api.flexibleVersions, kafka.flexibleVersions, `${where} flexibleVersions`)
  assert.deepStrictEqual(specFacts(ours.fields), kafkaFacts(kafka.fields), `${where} fields`)
  assert.deepStrictEqual(
    structFacts(ours.commonStructs, (s) => specFacts(s.fields)),
    structFacts(kafka.commonStructs, (s) => kafkaFacts(s.fields)),
    `${where} commonStructs`,
  )
}

for (const api of specs) {
  test(`${api.name} matches ${api.name}Request.json and ${api.name}Response.json`, (t) => {
    const request = readKafkaMessage(`${api.name}Request.json`)
    const response = readKafkaMessage(`${api.name}Response.json`)
    if (AHEAD_OF_REFERENCE.has(api.name)) {
      assert.throws(() => {
        compare(api, 'Request', request)
        compare(api, 'Response', response)
      }, `${api.name} now matches the reference: remove it from AHEAD_OF_REFERENCE`)
    } else {
      compare(api, 'Request', request)
      compare(api, 'Response', response)
    }
    checkSupported(api, request)
  })
}

function checkSupported(api: ApiSpec, kafka: KafkaMessage): void {
  const supported = parseVersions(api.supportedVersions)!
  const valid = parseVersions(api.validVersions)!
  assert.ok(
    supported.min >= valid.min && supported.max <= valid.max,
    `${api.name}: supportedVersions ${api.supportedVersions} outside validVersions ${api.validVersions}`,
  )
  const deprecated = parseVersions(kafka.deprecatedVersions)
  const advertisesDeprecated = deprecated !== null && supported.min <= deprecated.max
  assert.equal(
    advertisesDeprecated,
    ADVERTISES_DEPRECATED.has(api.name),
    `${api.name}: supportedVersions ${api.supportedVersions}, deprecatedVersions ${kafka.deprecatedVersions}`,
  )
}

for (const spec of dataSpecs) {
  test(`${spec.name} matches ${spec.name}.json`, () => {
    const kafka = readKafkaMessage(`${spec.name}.json`)
    assert.equal(kafka.type, 'data')
    assert.equal(kafka.name, spec.name)
    assert.equal(spec.validVersions, kafka.validVersions, `${spec.name} validVersions`)
    assert.equal(spec.flexibleVersions, kafka.flexibleVersions, `${spec.name} flexibleVersions`)
    assert.deepStrictEqual(specFacts(spec.fields), kafkaFacts(kafka.fields), `${spec.name} fields`)
  })
}
