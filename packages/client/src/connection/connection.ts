/**
 * One TCP connection to one broker. Requests are pipelined: each is written at once with the next
 * correlation id and Kafka answers in request order, so in-flight requests form a FIFO queue. The
 * first request is always ApiVersions (KIP-511); every later request uses the highest version both
 * sides support, min(ours, theirs), from the protocol package's `apiDefinitions`.
 *
 * A request that times out closes the connection, as Kafka's NetworkClient does: once a response
 * is overdue, what follows on the socket can no longer be matched with confidence.
 */
import { type Socket, connect } from 'node:net'
import {
  type AnyApiDefinition,
  type ApiRequests,
  type ApiResponses,
  type ApiVersionsResponse,
  DecodeError,
  ErrorCode,
  Reader,
  apiDefinition,
  decodeApiVersionsResponse,
  decodeResponseFrame,
  encodeRequestFrame,
} from '@fluxo/protocol'
import { ConnectionError, KafkaError, RequestTimeoutError, UnsupportedVersionError } from '../errors.js'

export interface ConnectionOptions {
  host: string
  port: number
  /** Sent in every request header; shows up in broker logs and quotas. Default `fluxo`. */
  clientId?: string | null
  /** Time allowed to open the socket and finish the ApiVersions handshake. Default 10000 (Kafka's socket.connection.setup.timeout.ms). */
  connectTimeoutMs?: number
  /** Time allowed for each response. Default 30000 (Kafka's request.timeout.ms). */
  requestTimeoutMs?: number
  /**
   * Caps on the version used per API key, below what both sides support; for tests and for
   * working around a broker bug. E.g. `{ 0: 7 }` keeps Produce at v7.
   */
  maxVersions?: Readonly<Record<number, number>>
  /** The broker's node id when known (for error messages). */
  nodeId?: number
}

export interface RequestOptions {
  /** Overrides the negotiated version. */
  version?: number
  /** Overrides requestTimeoutMs, e.g. a long-polling Fetch adds its maxWaitMs. */
  timeoutMs?: number
}

/** A version range as advertised by the broker. */
export interface VersionRange {
  minVersion: number
  maxVersion: number
}

interface Pending {
  correlationId: number
  apiKey: number
  decode: (frame: Buffer) => unknown
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout | undefined
}

const CLIENT_SOFTWARE_NAME = 'fluxo-client'
const CLIENT_SOFTWARE_VERSION = '0.1.0'
/** Larger frames cannot be a Kafka response; a corrupt length must not make us buffer forever. */
const MAX_FRAME_BYTES = 1024 * 1024 * 1024

export class Connection {
  readonly host: string
  readonly port: number
  readonly nodeId: number | undefined
  private readonly clientId: string | null
  private readonly requestTimeoutMs: number
  private readonly maxVersions: Readonly<Record<number, number>>
  private readonly pending: Pending[] = []
  private correlationId = 0
  private closeError: Error | undefined
  private readonly closeListeners: ((err: Error | undefined) => void)[] = []
  private drainWaiters: (() => void)[] = []
  /** API key → version to use, once ApiVersions has answered. */
  private readonly versions = new Map<number, number>()
  /** API key → the broker's advertised range. */
  readonly brokerVersions = new Map<number, VersionRange>()

  private constructor(
    private readonly socket: Socket,
    options: ConnectionOptions,
    private readonly reader: FrameReader,
  ) {
    this.host = options.host
    this.port = options.port
    this.nodeId = options.nodeId
    this.clientId = options.clientId === undefined ? 'fluxo' : options.clientId
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000
    this.maxVersions = options.maxVersions ?? {}
    socket.setNoDelay(true)
    socket.setKeepAlive(true)
    reader.onFrame = (frame) => this.onFrame(frame)
    reader.onInvalidSize = (size) =>
      this.destroy(new ConnectionError(`${this}: invalid response size ${size}`))
    socket.on('error', (err) => this.destroy(new ConnectionError(`${this}: ${err.message}`, { cause: err })))
    socket.on('close', () => this.destroy(new ConnectionError(`${this}: connection closed by the broker`)))
  }

  /** Opens a connection and negotiates API versions. */
  static async connect(options: ConnectionOptions): Promise<Connection> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
    const reader = new FrameReader()
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({
        host: options.host,
        port: options.port,
        onread: { buffer: () => reader.nextBuffer(), callback: (n, buf) => reader.onRead(n, buf as Buffer) },
      })
      const timer = setTimeout(() => {
        s.destroy()
        reject(
          new RequestTimeoutError(
            `connecting to ${options.host}:${options.port} took longer than ${connectTimeoutMs} ms`,
          ),
        )
      }, connectTimeoutMs)
      s.once('connect', () => {
        clearTimeout(timer)
        s.removeAllListeners('error')
        resolve(s)
      })
      s.once('error', (err) => {
        clearTimeout(timer)
        reject(
          new ConnectionError(`cannot connect to ${options.host}:${options.port}: ${err.message}`, {
            cause: err,
          }),
        )
      })
    })
    const connection = new Connection(socket, options, reader)
    try {
      await connection.negotiateVersions(connectTimeoutMs)
    } catch (err) {
      connection.destroy(err as Error)
      throw err
    }
    return connection
  }

  toString(): string {
    return `broker ${this.nodeId ?? ''}${this.nodeId === undefined ? '' : ' at '}${this.host}:${this.port}`.trim()
  }

  get closed(): boolean {
    return this.closeError !== undefined
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.pending.length
  }

  /** The version this connection uses for `apiKey`, or -1 when the broker and Fluxo share none. */
  versionFor(apiKey: number): number {
    return this.versions.get(apiKey) ?? -1
  }

  supports(apiKey: number): boolean {
    return this.versions.has(apiKey)
  }

  /** Called once, when the connection closes for any reason (`err` undefined after close()). */
  onClose(listener: (err: Error | undefined) => void): void {
    if (this.closeError) listener(this.closeError)
    else this.closeListeners.push(listener)
  }

  /** Sends a request and resolves with its decoded response. */
  request<K extends keyof ApiRequests>(
    apiKey: K,
    body: ApiRequests[K],
    options?: RequestOptions,
  ): Promise<ApiResponses[K]> {
    return this.requestAny(apiKey, body, options) as Promise<ApiResponses[K]>
  }

  /**
   * Untyped form of `request`, for APIs whose codecs the protocol package gained after this client
   * was compiled: the body must have the shape of Kafka's message JSON, camelCased.
   */
  requestAny(apiKey: number, body: unknown, options?: RequestOptions): Promise<unknown> {
    const def = apiDefinition(apiKey)
    if (!def)
      return Promise.reject(
        new UnsupportedVersionError(`the protocol package has no codec for API ${apiKey}`),
      )
    const version = options?.version ?? this.versions.get(apiKey)
    if (version === undefined) {
      const theirs = this.brokerVersions.get(apiKey)
      return Promise.reject(
        new UnsupportedVersionError(
          theirs
            ? `${this} supports ${def.name} v${theirs.minVersion}-${theirs.maxVersion}, Fluxo v${def.minVersion}-${def.maxVersion}`
            : `${this} does not support ${def.name}`,
        ),
      )
    }
    return this.write(
      def,
      version,
      body,
      options?.timeoutMs,
      (frame) => decodeResponseFrame(def, version, frame).body,
    )
  }

  /** Sends a request the broker will not answer (Produce with acks=0). */
  sendNoResponse<K extends keyof ApiRequests>(apiKey: K, body: ApiRequests[K]): void {
    const def = apiDefinition(apiKey)!
    const version = this.versions.get(apiKey)
    if (version === undefined) throw new UnsupportedVersionError(`${this} does not support ${def.name}`)
    if (this.closeError) throw this.closeError
    this.writeFrame(encodeRequestFrame(def, version, this.nextCorrelationId(), this.clientId, body))
  }

  /** Resolves when every in-flight request has been answered (or failed). */
  drained(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Waits for in-flight requests (up to requestTimeoutMs), then closes the socket. */
  async close(): Promise<void> {
    if (this.closeError) return
    await this.drained()
    if (this.closeError) return
    this.destroy(undefined)
  }

  /** Closes at once; in-flight requests fail with `err` (or a ConnectionError). */
  destroy(err: Error | undefined): void {
    if (this.closeError) return
    this.closeError = err ?? new ConnectionError(`${this}: connection closed`)
    this.reader.stopped = true
    this.socket.destroy()
    const pending = this.pending.splice(0)
    for (const p of pending) {
      if (p.timer) clearTimeout(p.timer)
      p.reject(this.closeError)
    }
    this.notifyDrained()
    for (const listener of this.closeListeners.splice(0)) listener(err)
  }

  private nextCorrelationId(): number {
    this.correlationId = (this.correlationId + 1) & 0x7fffffff
    return this.correlationId
  }

  private write(
    def: AnyApiDefinition,
    version: number,
    body: unknown,
    timeoutMs: number | undefined,
    decode: (frame: Buffer) => unknown,
  ): Promise<unknown> {
    if (this.closeError) return Promise.reject(this.closeError)
    const correlationId = this.nextCorrelationId()
    let chunks: Buffer[]
    try {
      chunks = encodeRequestFrame(def, version, correlationId, this.clientId, body)
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { correlationId, apiKey: def.apiKey, decode, resolve, reject, timer: undefined }
      const ms = timeoutMs ?? this.requestTimeoutMs
      p.timer = setTimeout(() => {
        this.destroy(
          new RequestTimeoutError(`${this}: no response to ${def.name} v${version} within ${ms} ms`),
        )
      }, ms)
      p.timer.unref()
      this.pending.push(p)
      this.writeFrame(chunks)
    })
  }

  private writeFrame(chunks: Buffer[]): void {
    if (chunks.length === 1) {
      this.socket.write(chunks[0])
      return
    }
    this.socket.cork()
    for (const c of chunks) this.socket.write(c)
    this.socket.uncork()
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.length >= 4 ? frame.readInt32BE(0) : -1
    const p = this.pending[0]
    if (!p || p.correlationId !== correlationId) {
      this.destroy(
        new ConnectionError(
          `${this}: response with correlation id ${correlationId}, expected ${p ? p.correlationId : 'none'}`,
        ),
      )
      return
    }
    this.pending.shift()
    if (p.timer) clearTimeout(p.timer)
    let value: unknown
    try {
      value = p.decode(frame)
    } catch (err) {
      // Framing is intact, so only this request fails; the connection stays usable.
      p.reject(
        err instanceof DecodeError
          ? new ConnectionError(`${this}: cannot decode the response to API ${p.apiKey}: ${err.message}`, {
              cause: err,
            })
          : (err as Error),
      )
      this.notifyDrained()
      return
    }
    p.resolve(value)
    this.notifyDrained()
  }

  private notifyDrained(): void {
    if (this.pending.length > 0 || this.drainWaiters.length === 0) return
    for (const w of this.drainWaiters.splice(0)) w()
  }

  /**
   * ApiVersions at our highest version. A broker that does not know it answers with
   * UNSUPPORTED_VERSION in a v0 body listing its own range for ApiVersions (KIP-511); we retry at
   * the highest version both know.
   */
  private async negotiateVersions(timeoutMs: number): Promise<void> {
    const def = apiDefinition(18)!
    let version = Math.min(def.maxVersion, this.maxVersions[18] ?? def.maxVersion)
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = (await this.write(
        def,
        version,
        { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION },
        timeoutMs,
        (frame) => decodeApiVersions(frame, version),
      )) as ApiVersionsResponse
      if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
        const theirs = response.apiKeys.find((k) => k.apiKey === 18)
        const next = theirs ? Math.min(theirs.maxVersion, version - 1) : 0
        if (next < 0 || next >= version) break
        version = next
        continue
      }
      if (response.errorCode !== ErrorCode.NONE)
        throw new KafkaError(response.errorCode, `${this}: ApiVersions failed`)
      this.setVersions(response)
      return
    }
    throw new UnsupportedVersionError(`${this}: no ApiVersions version in common`)
  }

  private setVersions(response: ApiVersionsResponse): void {
    for (const k of response.apiKeys) {
      this.brokerVersions.set(k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion })
      const ours = apiDefinition(k.apiKey)
      if (!ours) continue
      const max = Math.min(
        ours.maxVersion,
        k.maxVersion,
        this.maxVersions[k.apiKey] ?? Number.MAX_SAFE_INTEGER,
      )
      const min = Math.max(ours.minVersion, k.minVersion)
      if (max >= min) this.versions.set(k.apiKey, max)
    }
  }
}

/**
 * Splits the socket's bytes into response frames, reading straight into each frame's buffer
 * (net.Socket's `onread`): once a frame's size is known, the socket's next reads land in the frame
 * itself, so a multi-MB Fetch response is neither read in 64 KiB chunks nor copied out of them.
 * Between frames, reads go to one reused scratch buffer and frames found there are copied out (small
 * ones come from Node's buffer pool).
 */
class FrameReader {
  private readonly scratch = Buffer.allocUnsafe(65536)
  /** The size prefix of the next frame while it spans reads. */
  private readonly sizeBytes = Buffer.alloc(4)
  private sizeFilled = 0
  /** The frame being read, and how much of it has arrived. */
  private frame: Buffer | undefined
  private filled = 0
  stopped = false
  onFrame: (frame: Buffer) => void = () => {}
  onInvalidSize: (size: number) => void = () => {}

  /** Where the socket's next read goes. */
  nextBuffer(): Buffer {
    return this.frame === undefined ? this.scratch : this.frame.subarray(this.filled)
  }

  onRead(n: number, buf: Buffer): boolean {
    if (this.stopped) return false
    if (buf !== this.scratch) {
      this.filled += n
      this.completeFrame()
      return !this.stopped
    }
    let pos = 0
    while (pos < n && !this.stopped) {
      if (this.frame === undefined) {
        let size: number
        if (this.sizeFilled === 0 && n - pos >= 4) {
          size = buf.readInt32BE(pos)
          pos += 4
        } else {
          const k = Math.min(4 - this.sizeFilled, n - pos)
          buf.copy(this.sizeBytes, this.sizeFilled, pos, pos + k)
          this.sizeFilled += k
          pos += k
          if (this.sizeFilled < 4) break
          this.sizeFilled = 0
          size = this.sizeBytes.readInt32BE(0)
        }
        if (size < 4 || size > MAX_FRAME_BYTES) {
          this.stopped = true
          this.onInvalidSize(size)
          break
        }
        this.frame = Buffer.allocUnsafe(size)
        this.filled = 0
      }
      const k = Math.min(this.frame.length - this.filled, n - pos)
      buf.copy(this.frame, this.filled, pos, pos + k)
      this.filled += k
      pos += k
      this.completeFrame()
    }
    return !this.stopped
  }

  private completeFrame(): void {
    const frame = this.frame
    if (frame === undefined || this.filled < frame.length) return
    this.frame = undefined
    this.onFrame(frame)
  }
}

/** ApiVersions responses always use header v0; an UNSUPPORTED_VERSION answer has a v0 body. */
function decodeApiVersions(frame: Buffer, version: number): ApiVersionsResponse {
  const r = new Reader(frame, 4)
  const errorCode = frame.length >= 6 ? frame.readInt16BE(4) : 0
  if (errorCode === ErrorCode.UNSUPPORTED_VERSION) return decodeApiVersionsResponse(r, 0)
  return decodeApiVersionsResponse(r, version)
}
