import { crc32c as nativeCrc32c } from '@node-rs/crc32'

/** CRC-32C (Castagnoli), the checksum of record batch v2. Native (SSE4.2 / ARMv8 CRC) through @node-rs/crc32. */
export function crc32c(data: Uint8Array, initial = 0): number {
  return nativeCrc32c(data as Buffer, initial) >>> 0
}
