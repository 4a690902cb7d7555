import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { compressSync as snappyRawCompress } from 'snappy'
import {
  CompressionError,
  compress,
  compressSync,
  decompress,
  decompressSync,
} from '../src/compression/codecs.js'
import { isXerialSnappy, xerialBlocks, xerialSnappyEncode } from '../src/compression/xerial-snappy.js'
import { Compression, type CompressionType } from '../src/records/batch-header.js'

const CODECS = Object.entries(Compression) as [string, CompressionType][]

const TEXT = Buffer.from('{"user":"alice","event":"click","n":42}\n'.repeat(5000))

function samples(): Buffer[] {
  return [
    Buffer.alloc(0),
    Buffer.from('x'),
    randomBytes(1000),
    TEXT,
    Buffer.concat([randomBytes(70_000), TEXT]),
  ]
}

function hasCli(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

for (const [name, type] of CODECS) {
  test(`${name}: async and sync round trips, and each decodes the other`, async () => {
    for (const data of samples()) {
      const packed = await compress(type, data)
      const packedSync = compressSync(type, data)
      assert.deepEqual(await decompress(type, packed), data)
      assert.deepEqual(decompressSync(type, packed), data)
      assert.deepEqual(await decompress(type, packedSync), data)
      if (type !== Compression.none && data === TEXT) {
        assert.ok(packed.length < data.length / 4, `${name} compresses repetitive data`)
      }
    }
  })
}

test('snappy: xerial framing (Java clients) decodes, multi-block included, async and sync', async () => {
  for (const data of samples()) {
    const framed = xerialSnappyEncode(data)
    assert.ok(isXerialSnappy(framed))
    assert.deepEqual(await decompress(Compression.snappy, framed), data)
    assert.deepEqual(decompressSync(Compression.snappy, framed), data)
  }
  const big = samples()[4]
  const framed = xerialSnappyEncode(big)
  assert.deepEqual(framed.subarray(0, 16), Buffer.from('82534e41505059000000000100000001', 'hex'))
  // Like snappy-java, one block per 32 KiB of input.
  assert.equal(xerialBlocks(framed).length, Math.ceil(big.length / 32768))
})

test('snappy: raw block (librdkafka, KafkaJS) decodes and we write raw blocks', async () => {
  const data = samples()[3]
  assert.deepEqual(await decompress(Compression.snappy, snappyRawCompress(data)), data)
  assert.equal(isXerialSnappy(await compress(Compression.snappy, data)), false)
})

test('snappy: truncated xerial stream is a CompressionError', async () => {
  const framed = xerialSnappyEncode(samples()[3])
  await assert.rejects(
    decompress(Compression.snappy, framed.subarray(0, framed.length - 3)),
    CompressionError,
  )
  assert.throws(
    () => decompressSync(Compression.snappy, framed.subarray(0, framed.length - 3)),
    CompressionError,
  )
})

test('lz4: writes the frame format with independent blocks, as Kafka reads it', async () => {
  const packed = await compress(Compression.lz4, samples()[3])
  assert.equal(packed.readUInt32LE(0), 0x184d2204)
  const flg = packed[4]
  assert.equal(flg >> 6, 1, 'frame version 01')
  assert.equal(flg & 0x20, 0x20, 'block independence')
})

test('lz4: interoperates with the lz4 CLI', { skip: !hasCli('lz4') }, async () => {
  const data = samples()[4]
  const fromCli = execFileSync('lz4', ['-c', '-q', '-BD'], { input: data, maxBuffer: 1 << 26 })
  assert.deepEqual(await decompress(Compression.lz4, fromCli), data)
  const ours = await compress(Compression.lz4, data)
  assert.deepEqual(execFileSync('lz4', ['-d', '-c', '-q'], { input: ours, maxBuffer: 1 << 26 }), data)
})

test(
  'zstd: decodes frames without a stored content size (streaming writers)',
  { skip: !hasCli('zstd') },
  async () => {
    const data = samples()[4]
    // Piped through stdin, the zstd CLI cannot know the size up front, like Kafka Java's ZstdOutputStream.
    const streamed = execFileSync('sh', ['-c', 'cat | zstd -c -q'], { input: data, maxBuffer: 1 << 26 })
    const frameHeaderDescriptor = streamed[4]
    assert.equal(frameHeaderDescriptor >> 6, 0, 'no frame content size field')
    assert.equal(frameHeaderDescriptor & 0x20, 0, 'not single-segment')
    assert.deepEqual(await decompress(Compression.zstd, streamed), data)
    assert.deepEqual(decompressSync(Compression.zstd, streamed), data)
    const ours = await compress(Compression.zstd, data)
    assert.deepEqual(execFileSync('zstd', ['-d', '-c', '-q'], { input: ours, maxBuffer: 1 << 26 }), data)
  },
)

test('gzip: concatenated members decode as one stream', async () => {
  const a = Buffer.from('first ')
  const b = Buffer.from('second')
  const joined = Buffer.concat([await compress(Compression.gzip, a), await compress(Compression.gzip, b)])
  assert.deepEqual(await decompress(Compression.gzip, joined), Buffer.concat([a, b]))
})

test('unknown codec and corrupt input raise CompressionError with a code and a cause', async () => {
  await assert.rejects(compress(5 as CompressionType, Buffer.from('x')), (err: CompressionError) => {
    return (
      err instanceof CompressionError && err.code === 'ERR_FLUXO_COMPRESSION' && /codec 5/.test(err.message)
    )
  })
  assert.throws(() => decompressSync(7 as CompressionType, Buffer.from('x')), CompressionError)
  const garbage = Buffer.from('definitely not compressed data')
  for (const type of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
    await assert.rejects(decompress(type, garbage), (err: CompressionError) => {
      return err instanceof CompressionError && err.cause !== undefined
    })
    assert.throws(() => decompressSync(type, garbage), CompressionError)
  }
})
