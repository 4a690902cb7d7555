import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { murmur2, partitionForKey, toPositive } from '../src/murmur2.js'

const require = createRequire(import.meta.url)
const kafkaJsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer) => number

test('murmur2 matches the Java client test vectors (UtilsTest.testMurmur2)', () => {
  const vectors: [Buffer, number][] = [
    [Buffer.from('21'), -973932308],
    [Buffer.from('foobar'), -790332482],
    [Buffer.from('a-little-bit-long-string'), -985981536],
    [Buffer.from('a-little-bit-longer-string'), -1486304829],
    [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
    [Buffer.from('abc'), 479470107],
  ]
  for (const [key, expected] of vectors) assert.equal(murmur2(key), expected, key.toString())
})

test('murmur2 matches KafkaJS on random keys of every tail length', () => {
  for (let i = 0; i < 500; i++) {
    const key = randomBytes(i % 67)
    assert.equal(murmur2(key), kafkaJsMurmur2(key), key.toString('hex'))
  }
})

test('partitionForKey agrees with KafkaJS DefaultPartitioner', () => {
  const { Partitioners } = require('kafkajs') as {
    Partitioners: {
      DefaultPartitioner: () => (args: {
        topic: string
        partitionMetadata: { partitionId: number; leader: number }[]
        message: { key: Buffer }
      }) => number
    }
  }
  const partitioner = Partitioners.DefaultPartitioner()
  for (const numPartitions of [1, 3, 12, 100]) {
    const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
    }))
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(1 + (i % 40))
      const expected = partitioner({ topic: 't', partitionMetadata, message: { key } })
      assert.equal(partitionForKey(key, numPartitions), expected)
    }
  }
})

test('toPositive clears the sign bit like Java Utils.toPositive', () => {
  assert.equal(toPositive(-1), 0x7fffffff)
  assert.equal(toPositive(-2147483648), 0)
  assert.equal(toPositive(123), 123)
})
