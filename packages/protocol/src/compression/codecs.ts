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

/**
 * Compresses a record batch's records section. LZ4 uses the frame format with independent blocks (what
 * Kafka's KafkaLZ4BlockOutputStream reads); snappy writes one raw block, as librdkafka does.
 */
export async function compress(type: CompressionType, data: Buffer): Promise<Buffer> {
  try {
    switch (type) {
      case Compression.none:
        return data
      case Compression.gzip:
        return await gzip(data)
      case Compression.snappy:
        return await snappyCompress(data)
      case Compression.lz4:
        return await compressFrame(data)
      case Compression.zstd:
        // zstd-napi has no async one-shot API.
        return zstdCompress(data)
      default:
        throw unknownCodec(type)
    }
  } catch (err) {
    throw wrap(err, 'compression', type)
  }
}

export function compressSync(type: CompressionType, data: Buffer): Buffer {
  try {
    switch (type) {
      case Compression.none:
        return data
      case Compression.gzip:
        return zlib.gzipSync(data)
      case Compression.snappy:
        return snappyCompressSync(data)
      case Compression.lz4:
        return compressFrameSync(data)
      case Compression.zstd:
        return zstdCompress(data)
      default:
        throw unknownCodec(type)
    }
  } catch (err) {
    throw wrap(err, 'compression', type)
  }
}

async function snappyDecompress(data: Buffer): Promise<Buffer> {
  if (!isXerialSnappy(data)) return (await snappyUncompress(data, { asBuffer: true })) as Buffer
  const parts = await Promise.all(
    xerialBlocks(data).map(async (block) => (await snappyUncompress(block, { asBuffer: true })) as Buffer),
  )
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/**
 * Decompresses a records section. Snappy accepts raw blocks and xerial framing; zstd accepts frames
 * without a stored content size (Kafka Java's streaming writer). There is no output size limit.
 */
export async function decompress(type: CompressionType, data: Buffer): Promise<Buffer> {
  try {
    switch (type) {
      case Compression.none:
        return data
      case Compression.gzip:
        return await gunzip(data)
      case Compression.snappy:
        return await snappyDecompress(data)
      case Compression.lz4:
        return await decompressFrame(data)
      case Compression.zstd:
        return zstdDecompress(data)
      default:
        throw unknownCodec(type)
    }
  } catch (err) {
    throw wrap(err, 'decompression', type)
  }
}

export function decompressSync(type: CompressionType, data: Buffer): Buffer {
  try {
    switch (type) {
      case Compression.none:
        return data
      case Compression.gzip:
        return zlib.gunzipSync(data)
      case Compression.snappy:
        return isXerialSnappy(data)
          ? xerialSnappyDecodeSync(data)
          : (snappyUncompressSync(data, { asBuffer: true }) as Buffer)
      case Compression.lz4:
        return decompressFrameSync(data)
      case Compression.zstd:
        return zstdDecompress(data)
      default:
        throw unknownCodec(type)
    }
  } catch (err) {
    throw wrap(err, 'decompression', type)
  }
}
