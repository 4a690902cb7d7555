import fs from 'node:fs'

/**
 * The two system calls the log's write path depends on, behind an interface so tests can inject
 * failures (ENOSPC, EIO) and a later backend can count or throttle them.
 */
export interface LogIo {
  /** Writes every byte of `buffers` at `position`, or throws. */
  writev(fd: number, buffers: readonly Buffer[], position: number): void
  fsync(fd: number): Promise<void>
}

/** libuv splits larger vectors anyway; staying under IOV_MAX keeps each call a single pwritev. */
const MAX_IOV = 1024

function writevFully(fd: number, buffers: readonly Buffer[], position: number): void {
  let index = 0
  let skip = 0
  while (index < buffers.length) {
    const end = Math.min(buffers.length, index + MAX_IOV)
    const chunk = buffers.slice(index, end)
    if (skip > 0) chunk[0] = chunk[0].subarray(skip)
    let written = fs.writevSync(fd, chunk, position)
    if (written <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    position += written
    // Advance past fully written buffers; a partial write leaves `skip` bytes done in the next one.
    while (index < end && written > 0) {
      const left = buffers[index].length - skip
      if (written >= left) {
        written -= left
        skip = 0
        index++
      } else {
        skip += written
        written = 0
      }
    }
    while (index < buffers.length && buffers[index].length === 0) index++
  }
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())))
}

export const defaultLogIo: LogIo = { writev: writevFully, fsync: fsyncAsync }

/** Reads exactly `length` bytes at `position` into `buf` from `offset`; false at end of file. */
export function readFully(
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): boolean {
  while (length > 0) {
    const read = fs.readSync(fd, buf, offset, length, position)
    if (read === 0) return false
    offset += read
    length -= read
    position += read
  }
  return true
}
