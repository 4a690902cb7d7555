import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import type { LogIo } from '../log/file-io.js'
import { FileLog } from '../log/partition-log.js'
import { StorageError, toStorageError } from '../log/storage-error.js'
import type { LogConfig, LogStore, PartitionLog, TopicRecord } from './types.js'

export { StorageError } from '../log/storage-error.js'

export interface FileStoreOptions {
  /** Root of the data directory (`--data-dir`); created when missing. */
  dataDir: string
  logger: Logger
  /** Write and fsync calls of partition logs; tests inject failures here. */
  io?: LogIo
  /** Wall clock for segment.ms; Date.now by default. */
  now?: () => number
}

interface TopicsFile {
  version: 1
  topics: TopicRecord[]
}

const DELETE_SUFFIX = '-delete'

/**
 * Opens the file backend: takes `<dataDir>/.lock`, loads `<dataDir>/meta/`, and removes partition
 * directories left behind by an interrupted topic deletion. Fails with StorageError when another
 * live process holds the directory.
 */
export async function openFileStore(options: FileStoreOptions): Promise<LogStore> {
  const { dataDir, logger } = options
  const metaDir = path.join(dataDir, 'meta')
  try {
    await fs.promises.mkdir(metaDir, { recursive: true })
  } catch (err) {
    throw toStorageError(err, `cannot create data directory ${dataDir}`)
  }
  const lockPath = path.join(dataDir, '.lock')
  acquireLock(lockPath, logger)
  try {
    const topics = await readJson<TopicsFile>(path.join(metaDir, 'topics.json'))
    for (const name of await fs.promises.readdir(dataDir)) {
      if (name.endsWith(DELETE_SUFFIX))
        await fs.promises.rm(path.join(dataDir, name), { recursive: true, force: true })
    }
    return new FileStore(options, metaDir, lockPath, topics?.topics ?? [])
  } catch (err) {
    releaseLock(lockPath)
    throw toStorageError(err, `cannot open data directory ${dataDir}`)
  }
}

class FileStore implements LogStore {
  readonly kind = 'file' as const
  private readonly topics = new Map<string, TopicRecord>()
  private readonly logs = new Map<string, FileLog>()
  private clusterIdPromise: Promise<string> | null = null
  /** Metadata writes run one at a time so the last one written is the last one made. */
  private metaWrites: Promise<void> = Promise.resolve()
  private closed = false
  readonly logDir: string

  constructor(
    private readonly options: FileStoreOptions,
    private readonly metaDir: string,
    private readonly lockPath: string,
    topics: TopicRecord[],
  ) {
    for (const topic of topics) this.topics.set(topic.name, topic)
    this.logDir = path.resolve(options.dataDir)
  }

  clusterId(): Promise<string> {
    this.clusterIdPromise ??= this.loadClusterId()
    return this.clusterIdPromise
  }

  private async loadClusterId(): Promise<string> {
    const file = path.join(this.metaDir, 'cluster.json')
    const existing = await readJson<{ clusterId: string }>(file)
    if (existing !== null) return existing.clusterId
    const clusterId = randomBytes(16).toString('base64url')
    await this.writeMeta('cluster.json', { clusterId })
    return clusterId
  }

  async loadTopics(): Promise<TopicRecord[]> {
    return [...this.topics.values()].map(copyTopic)
  }

  async saveTopic(topic: TopicRecord): Promise<void> {
    this.checkOpen()
    this.topics.set(topic.name, copyTopic(topic))
    await this.writeTopics()
  }

  async deleteTopic(topic: TopicRecord): Promise<void> {
    this.checkOpen()
    const { dataDir } = this.options
    const partitions = Math.max(topic.partitions, this.topics.get(topic.name)?.partitions ?? 0)
    const doomed: string[] = []
    for (let partition = 0; partition < partitions; partition++) {
      const key = partitionKey(topic.name, partition)
      const log = this.logs.get(key)
      this.logs.delete(key)
      if (log !== undefined) await log.close().catch(() => {})
      // Rename first (like Kafka) so a crash mid-delete never leaves a directory that looks live.
      const dir = path.join(dataDir, key)
      const target = `${dir}.${randomBytes(6).toString('hex')}${DELETE_SUFFIX}`
      try {
        await fs.promises.rename(dir, target)
        doomed.push(target)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          throw toStorageError(err, `cannot delete ${dir}`)
      }
    }
    this.topics.delete(topic.name)
    await this.writeTopics()
    for (const dir of doomed) await fs.promises.rm(dir, { recursive: true, force: true })
  }

  async openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog> {
    this.checkOpen()
    const key = partitionKey(topic.name, partition)
    const open = this.logs.get(key)
    if (open !== undefined && !open.isClosed) return open
    const dir = path.join(this.options.dataDir, key)
    checkPartitionMetadata(dir, topic.topicId)
    const log = FileLog.open({
      dir,
      config,
      logger: this.options.logger,
      io: this.options.io,
      now: this.options.now,
    })
    this.logs.set(key, log)
    return log
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const logs = [...this.logs.values()]
    this.logs.clear()
    const results = await Promise.allSettled(logs.map((log) => log.close()))
    await this.metaWrites.catch(() => {})
    releaseLock(this.lockPath)
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed !== undefined) throw toStorageError(failed.reason, 'closing the file store failed')
  }

  private writeTopics(): Promise<void> {
    const file: TopicsFile = { version: 1, topics: [...this.topics.values()] }
    return this.writeMeta('topics.json', file)
  }

  private writeMeta(name: string, value: unknown): Promise<void> {
    const data = `${JSON.stringify(value, null, 2)}\n`
    const write = this.metaWrites.catch(() => {}).then(() => writeAtomically(this.metaDir, name, data))
    this.metaWrites = write
    return write
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('file store is closed')
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

function copyTopic(topic: TopicRecord): TopicRecord {
  return { ...topic, configs: { ...topic.configs } }
}

/**
 * Kafka's partition.metadata: the topic id the directory belongs to, so a directory left by a
 * deleted topic is never served as the data of a new topic with the same name.
 */
function checkPartitionMetadata(dir: string, topicId: string): void {
  const file = path.join(dir, 'partition.metadata')
  let content: string | null = null
  try {
    content = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(err, `cannot read ${file}`)
  }
  if (content === null) {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(file, `version: 0\ntopic_id: ${topicId}\n`)
    return
  }
  const stored = /^topic_id: (\S+)$/m.exec(content)?.[1]
  if (stored !== topicId) {
    throw new StorageError(`${dir} belongs to topic id ${stored}, not ${topicId}`)
  }
}

async function writeAtomically(dir: string, name: string, data: string): Promise<void> {
  const target = path.join(dir, name)
  const tmp = `${target}.tmp`
  try {
    const handle = await fs.promises.open(tmp, 'w')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.promises.rename(tmp, target)
    const dirHandle = await fs.promises.open(dir, 'r')
    try {
      await dirHandle.sync()
    } finally {
      await dirHandle.close()
    }
  } catch (err) {
    throw toStorageError(err, `cannot write ${target}`)
  }
}

async function readJson<T>(file: string): Promise<T | null> {
  let text: string
  try {
    text = await fs.promises.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw toStorageError(err, `cannot read ${file}`)
  }
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw toStorageError(err, `corrupt metadata file ${file}`)
  }
}

/**
 * Exclusive-create `.lock` holding our pid. A lock whose pid is no longer running is stale (the
 * previous broker crashed) and is taken over.
 */
function acquireLock(lockPath: string, logger: Logger): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' })
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw toStorageError(err, `cannot create ${lockPath}`)
    }
    const pid = Number.parseInt(readLockPid(lockPath), 10)
    if (Number.isInteger(pid) && pid > 0 && isRunning(pid)) {
      throw new StorageError(`data directory is in use by process ${pid} (${lockPath})`)
    }
    logger.warn({ lockPath, pid }, 'taking over a stale data directory lock')
    fs.rmSync(lockPath, { force: true })
  }
  throw new StorageError(`cannot take the data directory lock ${lockPath}`)
}

function readLockPid(lockPath: string): string {
  try {
    return fs.readFileSync(lockPath, 'utf8').trim()
  } catch {
    return ''
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function releaseLock(lockPath: string): void {
  if (readLockPid(lockPath) === String(process.pid)) fs.rmSync(lockPath, { force: true })
}
