import { compressSync, uncompressSync } from 'snappy'

/**
 * Xerial snappy framing, written by Kafka's Java clients (snappy-java's SnappyOutputStream):
 * 8-byte magic, int32 version, int32 min compatible version, then [int32 length][raw snappy block]
 * chunks, each block compressing at most 32 KiB of input. librdkafka and KafkaJS write one raw block
 * instead, so readers must accept both.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_SIZE = 16
const XERIAL_BLOCK_SIZE = 32 * 1024

export function isXerialSnappy(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_SIZE && XERIAL_MAGIC.equals(data.subarray(0, XERIAL_MAGIC.length))
}

/** Splits a xerial stream into its raw snappy blocks (views into `data`). */
export function xerialBlocks(data: Buffer): Buffer[] {
  const blocks: Buffer[] = []
  let pos = XERIAL_HEADER_SIZE
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new RangeError(`xerial snappy: truncated block length at ${pos}`)
    const length = data.readInt32BE(pos)
    pos += 4
    if (length < 0 || pos + length > data.length) {
      throw new RangeError(`xerial snappy: block of ${length} bytes at ${pos} overruns ${data.length}`)
    }
    blocks.push(data.subarray(pos, pos + length))
    pos += length
  }
  return blocks
}

export function xerialSnappyDecodeSync(data: Buffer): Buffer {
  const parts = xerialBlocks(data).map((block) => uncompressSync(block, { asBuffer: true }) as Buffer)
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/** Encodes like Java's producer does; Fluxo itself writes raw blocks, this exists for tests and interop. */
export function xerialSnappyEncode(data: Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_SIZE)
  XERIAL_MAGIC.copy(header, 0)
  header.writeInt32BE(1, 8)
  header.writeInt32BE(1, 12)
  const parts: Buffer[] = [header]
  for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_SIZE) {
    const block = compressSync(data.subarray(pos, pos + XERIAL_BLOCK_SIZE))
    const length = Buffer.allocUnsafe(4)
    length.writeInt32BE(block.length, 0)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}
