import type { Socket } from 'node:net'
import {
  type AnyApiDefinition,
  ApiKey,
  DecodeError,
  ErrorCode,
  Reader,
  apiDefinition,
  encodeResponseFrame,
  isFlexible,
  readRequestHeader,
  readRequestHeaderTags,
} from '@fluxo/protocol'
import type { Logger } from 'pino'
import { apiVersionsBody } from '../handlers/api-versions.js'
import { type BrokerContext, type Handler, NO_RESPONSE } from '../handlers/handler.js'

/** Smallest valid request: api key, version, correlation id, client id length. */
const MIN_REQUEST_SIZE = 10
/** Frames read ahead of the one being handled before the socket is paused (backpressure). */
const MAX_QUEUED_FRAMES = 8

export interface ServedApi {
  handler: Handler
  definition: AnyApiDefinition
  minVersion: number
  maxVersion: number
}

/**
 * One client connection: splits frames on the size prefix, handles requests one at a time in
 * arrival order (as Kafka does, so a client's pipelined produces append in order) and writes each
 * response before starting the next request. Anything malformed closes this connection only.
 */
export class Connection {
  private readonly chunks: Buffer[] = []
  private buffered = 0
  private readonly queue: Buffer[] = []
  private busy = false
  private closed = false
  private idle: Promise<void> = Promise.resolve()
  private markIdle: () => void = () => {}
  readonly address: string

  constructor(
    private readonly socket: Socket,
    private readonly broker: BrokerContext,
    private readonly apis: ReadonlyMap<number, ServedApi>,
    private readonly logger: Logger,
  ) {
    this.address = `${socket.remoteAddress}:${socket.remotePort}`
    socket.setNoDelay(true)
    socket.on('data', (chunk) => this.onData(chunk))
    socket.on('error', (err) => this.logger.debug({ err, client: this.address }, 'socket error'))
    socket.on('close', () => {
      this.closed = true
    })
    const idleMs = broker.config.connectionsMaxIdleMs
    if (idleMs > 0) {
      socket.setTimeout(idleMs, () => this.close(`idle for more than ${idleMs} ms (connections.max.idle.ms)`))
    }
  }

  /** Resolves when the request being handled (if any) has been answered. */
  drained(): Promise<void> {
    return this.idle
  }

  close(reason: string, level: 'info' | 'warn' = 'info'): void {
    if (this.closed) return
    this.closed = true
    this.logger[level]({ client: this.address, reason }, 'closing connection')
    this.queue.length = 0
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const max = this.broker.config.socketRequestMaxBytes
    while (this.buffered >= 4) {
      const size = this.peekSize()
      if (size < MIN_REQUEST_SIZE || size > max) {
        const why = size > max ? `exceeds socket.request.max.bytes (${max})` : 'is too small to be a request'
        this.close(`request size ${size} ${why}`, 'warn')
        return
      }
      if (this.buffered < 4 + size) break
      this.queue.push(this.take(4 + size).subarray(4))
    }
    if (this.queue.length >= MAX_QUEUED_FRAMES) this.socket.pause()
    if (!this.busy) void this.run()
  }

  private peekSize(): number {
    const first = this.chunks[0]
    if (first.length >= 4) return first.readInt32BE(0)
    return this.take(4, true).readInt32BE(0)
  }

  /** Removes `n` bytes from the front of the buffered chunks (or only looks, with `peek`). */
  private take(n: number, peek = false): Buffer {
    const first = this.chunks[0]
    if (first.length >= n) {
      if (peek) return first
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      this.buffered -= n
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    let i = 0
    while (filled < n) {
      const c = this.chunks[i]
      const part = Math.min(c.length, n - filled)
      c.copy(out, filled, 0, part)
      filled += part
      if (!peek) {
        if (part === c.length) {
          this.chunks.shift()
          continue
        }
        this.chunks[0] = c.subarray(part)
      }
      i++
    }
    if (!peek) this.buffered -= n
    return out
  }

  private async run(): Promise<void> {
    this.busy = true
    this.idle = new Promise((resolve) => {
      this.markIdle = resolve
    })
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!
        if (this.queue.length < MAX_QUEUED_FRAMES && this.socket.isPaused()) this.socket.resume()
        try {
          await this.handle(frame)
        } catch (err) {
          this.logger.error({ err, client: this.address }, 'request failed')
          this.close('internal error', 'warn')
        }
        // Backpressure on the way out: a client that does not read its responses stops being read.
        if (this.socket.writableNeedDrain && !this.closed) await this.drainOrClose()
      }
    } finally {
      this.busy = false
      this.markIdle()
    }
  }

  private drainOrClose(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.on('drain', done)
      this.socket.on('close', done)
    })
  }

  private async handle(frame: Buffer): Promise<void> {
    const r = new Reader(frame)
    let header: ReturnType<typeof readRequestHeader>
    try {
      header = readRequestHeader(r)
    } catch (err) {
      this.close(`malformed request header: ${(err as Error).message}`, 'warn')
      return
    }
    const served = this.apis.get(header.apiKey)
    if (!served) {
      this.close(`unsupported api key ${header.apiKey}`, 'warn')
      return
    }
    const { handler, definition } = served
    const version = header.apiVersion
    if (version < served.minVersion || version > served.maxVersion) {
      if (header.apiKey === ApiKey.ApiVersions) {
        // Kafka's rule: answer an unknown ApiVersions version with v0 and our list (KIP-511).
        this.send(
          definition,
          0,
          header.correlationId,
          apiVersionsBody(this.broker, ErrorCode.UNSUPPORTED_VERSION),
        )
        return
      }
      this.close(
        `unsupported version ${version} of ${definition.name} (we serve ${served.minVersion}-${served.maxVersion})`,
        'warn',
      )
      return
    }
    let request: unknown
    try {
      if (isFlexible(definition, version)) readRequestHeaderTags(r, header)
      request = definition.decodeRequest(r, version)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.close(`malformed ${definition.name} v${version} request: ${err.message}`, 'warn')
      return
    }
    let response: unknown
    try {
      response = await handler.handle(request as never, {
        header,
        version,
        broker: this.broker,
        clientAddress: this.address,
      })
    } catch (err) {
      this.logger.error({ err, api: definition.name, version, client: this.address }, 'request failed')
      this.close(`internal error handling ${definition.name}`, 'warn')
      return
    }
    if (response === NO_RESPONSE || this.closed) return
    this.send(definition, version, header.correlationId, response)
  }

  private send(definition: AnyApiDefinition, version: number, correlationId: number, body: unknown): void {
    let chunks: Buffer[]
    try {
      chunks = encodeResponseFrame(definition, version, correlationId, body)
    } catch (err) {
      this.logger.error({ err, api: definition.name, version }, 'could not encode response')
      this.close(`internal error encoding ${definition.name}`, 'warn')
      return
    }
    if (chunks.length === 1) {
      this.socket.write(chunks[0])
      return
    }
    this.socket.cork()
    for (const c of chunks) this.socket.write(c)
    this.socket.uncork()
  }
}
