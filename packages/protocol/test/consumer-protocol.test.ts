import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import {
  readConsumerAssignment,
  readConsumerSubscription,
  writeConsumerAssignment,
  writeConsumerSubscription,
} from '../src/index.js'

const require = createRequire(import.meta.url)
const { AssignerProtocol } = require('kafkajs') as typeof import('kafkajs')

const i16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const i32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const str = (s: string) => Buffer.concat([i16(Buffer.byteLength(s)), Buffer.from(s)])

test('ConsumerProtocolSubscription v3 has the byte layout of Kafka’s JSON, field by field', () => {
  const bytes = writeConsumerSubscription({
    topics: ['a', 'bb'],
    userData: Buffer.from([1, 2]),
    ownedPartitions: [{ topic: 'a', partitions: [0, 2] }],
    generationId: 7,
    rackId: 'r1',
  })
  const expected = Buffer.concat([
    i16(3), // version
    i32(2),
    str('a'),
    str('bb'), // Topics: []string
    i32(2),
    Buffer.from([1, 2]), // UserData: nullable bytes
    i32(1),
    str('a'),
    i32(2),
    i32(0),
    i32(2), // OwnedPartitions (v1+)
    i32(7), // GenerationId (v2+)
    str('r1'), // RackId (v3+)
  ])
  assert.deepEqual(bytes, expected)
  const back = readConsumerSubscription(bytes)
  assert.equal(back.version, 3)
  assert.deepEqual(back.topics, ['a', 'bb'])
  assert.deepEqual(back.ownedPartitions, [{ topic: 'a', partitions: [0, 2] }])
  assert.equal(back.generationId, 7)
  assert.equal(back.rackId, 'r1')
  assert.deepEqual(back.userData, Buffer.from([1, 2]))
})

test('every subscription version round-trips; fields newer than the version take their defaults', () => {
  const m = {
    topics: ['t'],
    userData: null,
    ownedPartitions: [{ topic: 't', partitions: [1] }],
    generationId: 3,
    rackId: 'r',
  }
  for (let v = 0; v <= 3; v++) {
    const back = readConsumerSubscription(writeConsumerSubscription(m, v))
    assert.equal(back.version, v)
    assert.equal(back.userData, null)
    assert.deepEqual(back.ownedPartitions, v >= 1 ? m.ownedPartitions : [])
    assert.equal(back.generationId, v >= 2 ? 3 : -1)
    assert.equal(back.rackId, v >= 3 ? 'r' : null)
  }
  // A newer version (say 4, with fields appended) is read with the v3 layout, as Kafka does.
  const v4 = Buffer.concat([i16(4), writeConsumerSubscription(m, 3).subarray(2), i32(99)])
  assert.deepEqual(readConsumerSubscription(v4).topics, ['t'])
})

test('KafkaJS reads our subscription and assignment, and we read KafkaJS’s', () => {
  const sub = writeConsumerSubscription(
    { topics: ['x', 'y'], userData: Buffer.from('u'), ownedPartitions: [], generationId: -1, rackId: null },
    0,
  )
  assert.deepEqual(AssignerProtocol.MemberMetadata.decode(sub), {
    version: 0,
    topics: ['x', 'y'],
    userData: Buffer.from('u'),
  })
  const theirs = AssignerProtocol.MemberMetadata.encode({
    version: 1,
    topics: ['z'],
    userData: Buffer.alloc(0),
  })
  // KafkaJS writes version 1 with the version 0 fields only: the missing ones take their defaults.
  assert.deepEqual(readConsumerSubscription(theirs).topics, ['z'])
  assert.deepEqual(readConsumerSubscription(theirs).ownedPartitions, [])

  const assignment = writeConsumerAssignment({
    assignedPartitions: [
      { topic: 'x', partitions: [0, 1] },
      { topic: 'y', partitions: [2] },
    ],
    userData: null,
  })
  const decoded = AssignerProtocol.MemberAssignment.decode(assignment)!
  assert.deepEqual(decoded.assignment, { x: [0, 1], y: [2] })
  const kjs = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { q: [3, 4] } })
  const ours = readConsumerAssignment(kjs)
  assert.deepEqual(ours.assignedPartitions, [{ topic: 'q', partitions: [3, 4] }])
  assert.deepEqual(ours.userData, Buffer.alloc(0))
})

test('an empty SyncGroup assignment reads as no partitions', () => {
  assert.deepEqual(readConsumerAssignment(Buffer.alloc(0)).assignedPartitions, [])
})
