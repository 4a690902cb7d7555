import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { BatchAttributes, BatchHeader, writeBatchCrc, writeInt64 } from '@fluxo/protocol'
import pino from 'pino'
import { openFileStore } from '../../src/storage/file.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import type { LogConfig, LogStore, TopicRecord } from '../../src/storage/types.js'

export interface BatchSpec {
  /** Records in the batch (sets recordCount and lastOffsetDelta). */
  records?: number
  baseTimestamp?: number
  maxTimestamp?: number
  /** Bytes after the 61-byte header, standing in for encoded records. */
  payloadBytes?: number
  /** Byte the payload is filled with, to tell batches apart. */
  fill?: number
  logAppendTime?: boolean
}

/** A valid v2 batch header with a CRC over opaque "records": storage never decodes them. */
export function makeBatch(spec: BatchSpec = {}): Buffer {
  const records = spec.records ?? 1
  const payloadBytes = spec.payloadBytes ?? 100
  const baseTimestamp = spec.baseTimestamp ?? 1_700_000_000_000
  const batch = Buffer.alloc(BatchHeader.size + payloadBytes, spec.fill ?? 0x61)
  writeInt64(batch, BatchHeader.baseOffset, 0)
  batch.writeInt32BE(batch.length - 12, BatchHeader.batchLength)
  batch.writeInt32BE(0, BatchHeader.partitionLeaderEpoch)
  batch.writeInt8(2, BatchHeader.magic)
  batch.writeInt16BE(spec.logAppendTime ? BatchAttributes.timestampTypeLogAppend : 0, BatchHeader.attributes)
  batch.writeInt32BE(records - 1, BatchHeader.lastOffsetDelta)
  writeInt64(batch, BatchHeader.baseTimestamp, baseTimestamp)
  writeInt64(batch, BatchHeader.maxTimestamp, spec.maxTimestamp ?? baseTimestamp)
  writeInt64(batch, BatchHeader.producerId, -1)
  batch.writeInt16BE(-1, BatchHeader.producerEpoch)
  batch.writeInt32BE(-1, BatchHeader.baseSequence)
  batch.writeInt32BE(records, BatchHeader.recordCount)
  writeBatchCrc(batch)
  return batch
}

export function baseOffsetOf(batch: Buffer): number {
  return batch.readInt32BE(0) * 4294967296 + batch.readUInt32BE(4)
}

export function lastOffsetOf(batch: Buffer): number {
  return baseOffsetOf(batch) + batch.readInt32BE(BatchHeader.lastOffsetDelta)
}

export function fillOf(batch: Buffer): number {
  return batch[BatchHeader.size]
}

export function logConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    segmentBytes: 1024 * 1024 * 1024,
    segmentMs: 7 * 24 * 3600 * 1000,
    indexIntervalBytes: 4096,
    flushMessages: Number.MAX_SAFE_INTEGER,
    flushMs: null,
    ...overrides,
  }
}

export function topic(name = 'events', partitions = 1): TopicRecord {
  return { name, topicId: `${name.padEnd(21, 'x').slice(0, 21)}A`, partitions, configs: {} }
}

/** A pino logger whose lines are kept for assertions. */
export function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  return { logger, lines }
}

export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fluxo-storage-'))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** Options every backend takes. */
export interface BackendOptions {
  /** Wall clock for segment.ms. */
  now?: () => number
}

/**
 * A backend under test, for suites written once and run on each: `reopen` closes the store and
 * opens it again where the backend persists (the memory store is returned as it is).
 */
export interface Backend {
  name: 'memory' | 'file'
  setup(options?: BackendOptions): Promise<LogStore>
  reopen(store: LogStore): Promise<LogStore>
  teardown(): Promise<void>
  /** The data directory, for backends that have one. */
  dataDir(): string | null
}

export function memoryBackend(): Backend {
  return {
    name: 'memory',
    setup: async (options = {}) => createMemoryStore(options),
    reopen: async (store) => store,
    teardown: async () => {},
    dataDir: () => null,
  }
}

export function fileBackend(): Backend {
  let temp: Awaited<ReturnType<typeof tempDir>>
  let current: LogStore | null = null
  let storeOptions: BackendOptions = {}
  const open = async () => {
    current = await openFileStore({ dataDir: temp.dir, logger: captureLogger().logger, ...storeOptions })
    return current
  }
  return {
    name: 'file',
    setup: async (options = {}) => {
      temp = await tempDir()
      storeOptions = options
      return open()
    },
    reopen: async (store) => {
      await store.close()
      return open()
    },
    teardown: async () => {
      await current?.close()
      await temp.remove()
    },
    dataDir: () => temp.dir,
  }
}

export const backends: ReadonlyArray<() => Backend> = [memoryBackend, fileBackend]
