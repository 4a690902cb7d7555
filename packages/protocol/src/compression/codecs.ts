import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { compressFrame, compressFrameSync, decompressFrame, decompressFrameSync } from 'lz4-napi'
import {
  compress as snappyCompress,
  compressSync as snappyCompressSync,
  uncompress as snappyUncompress,
  uncompressSync as snappyUncompressSync,
} from 'snappy'
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi'
import { FluxoError } from '../errors.js'
import { Compression, type CompressionType } from '../records/batch-header.js'
import { isXerialSnappy, xerialBlocks, xerialSnappyDecodeSync } from './xerial-snappy.js'

export class CompressionError extends FluxoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FLUXO_COMPRESSION', message, options)
  }
}

const gzip = promisify(zlib.gzip)
const gunzip = promisify(zlib.gunzip)

function unknownCodec(type: number): CompressionError {
  return new CompressionError(`unknown compression codec ${type}`)
}

function codecName(type: number): string {
  return (
    Object.keys(Compression).find((name) => Compression[name as keyof typeof Compression] === type) ??
    `${type}`
  )
}

function wrap(err: unknown, action: string, type: number): CompressionError {
  if (err instanceof CompressionError) return err
  return new CompressionError(`${codecName(type)} ${action} failed: ${(err as Error)?.message ?? err}`, {
    cause: err,
  })
}

interface Codec {
  compress(data: Buffer): Promise<Buffer>
  compressSync(data: Buffer): Buffer
  decompress(data: Buffer): Promise<Buffer>
  decompressSync(data: Buffer): Buffer
}

async function snappyDecompress(data: Buffer): Promise<Buffer> {
  if (!isXerialSnappy(data)) return (await snappyUncompress(data, { asBuffer: true })) as Buffer
  const parts = await Promise.all(
    xerialBlocks(data).map(async (block) => (await snappyUncompress(block, { asBuffer: true })) as Buffer),
  )
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

const identity = (data: Buffer) => data

/**
 * Kafka's codecs, one entry each. LZ4 uses the frame format with independent blocks (what Kafka's
 * KafkaLZ4BlockOutputStream reads); snappy writes one raw block, as librdkafka does, and reads raw
 * blocks and xerial framing; zstd reads frames without a stored content size (Kafka Java's
 * streaming writer). zstd-napi has no async one-shot API, so its async forms run synchronously.
 * There is no output size limit on decompression.
 */
const codecs: Record<CompressionType, Codec> = {
  [Compression.none]: {
    compress: async (data) => data,
    compressSync: identity,
    decompress: async (data) => data,
    decompressSync: identity,
  },
  [Compression.gzip]: {
    compress: (data) => gzip(data),
    compressSync: (data) => zlib.gzipSync(data),
    decompress: (data) => gunzip(data),
    decompressSync: (data) => zlib.gunzipSync(data),
  },
  [Compression.snappy]: {
    compress: (data) => snappyCompress(data),
    compressSync: (data) => snappyCompressSync(data),
    decompress: snappyDecompress,
    decompressSync: (data) =>
      isXerialSnappy(data)
        ? xerialSnappyDecodeSync(data)
        : (snappyUncompressSync(data, { asBuffer: true }) as Buffer),
  },
  [Compression.lz4]: {
    compress: (data) => compressFrame(data),
    compressSync: (data) => compressFrameSync(data),
    decompress: (data) => decompressFrame(data),
    decompressSync: (data) => decompressFrameSync(data),
  },
  [Compression.zstd]: {
    compress: async (data) => zstdCompress(data),
    compressSync: (data) => zstdCompress(data),
    decompress: async (data) => zstdDecompress(data),
    decompressSync: (data) => zstdDecompress(data),
  },
}

function codec(type: number): Codec {
  const found = codecs[type as CompressionType]
  if (!found) throw unknownCodec(type)
  return found
}

/** Compresses a record batch's records section. */
export async function compress(type: CompressionType, data: Buffer): Promise<Buffer> {
  try {
    return await codec(type).compress(data)
  } catch (err) {
    throw wrap(err, 'compression', type)
  }
}

export function compressSync(type: CompressionType, data: Buffer): Buffer {
  try {
    return codec(type).compressSync(data)
  } catch (err) {
    throw wrap(err, 'compression', type)
  }
}

/** Decompresses a record batch's records section. */
export async function decompress(type: CompressionType, data: Buffer): Promise<Buffer> {
  try {
    return await codec(type).decompress(data)
  } catch (err) {
    throw wrap(err, 'decompression', type)
  }
}

export function decompressSync(type: CompressionType, data: Buffer): Buffer {
  try {
    return codec(type).decompressSync(data)
  } catch (err) {
    throw wrap(err, 'decompression', type)
  }
}
