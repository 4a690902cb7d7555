import { type Socket, connect } from 'node:net'
import {
  type ApiRequests,
  type ApiResponses,
  apiDefinitions,
  decodeResponseFrame,
  encodeRequestFrame,
} from '@fluxo/protocol'

/** A minimal protocol client for tests: one socket, requests answered in order. */
export class RawClient {
  private buffer = Buffer.alloc(0)
  private readonly waiting: ((frame: Buffer) => void)[] = []
  private correlationId = 0
  readonly closed: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      while (this.buffer.length >= 4) {
        const size = this.buffer.readInt32BE(0)
        if (this.buffer.length < 4 + size) break
        const frame = this.buffer.subarray(4, 4 + size)
        this.buffer = this.buffer.subarray(4 + size)
        this.waiting.shift()?.(frame)
      }
    })
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()))
    socket.on('error', () => {})
  }

  static connect(bootstrap: string): Promise<RawClient> {
    const at = bootstrap.lastIndexOf(':')
    return new Promise((resolve, reject) => {
      const socket = connect(Number(bootstrap.slice(at + 1)), bootstrap.slice(0, at), () =>
        resolve(new RawClient(socket)),
      )
      socket.once('error', reject)
    })
  }

  async request<K extends keyof ApiRequests>(
    apiKey: K,
    version: number,
    body: ApiRequests[K],
  ): Promise<ApiResponses[K]> {
    const def = apiDefinitions[apiKey]
    const correlationId = ++this.correlationId
    const frame = await this.send(
      Buffer.concat(encodeRequestFrame(def, version, correlationId, 'raw-client', body)),
    )
    const decoded = decodeResponseFrame(def, version, frame)
    if (decoded.correlationId !== correlationId) throw new Error('correlation id mismatch')
    return decoded.body as ApiResponses[K]
  }

  /** Sends raw bytes and resolves with the next response frame (without its size prefix). */
  send(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve)
      this.socket.write(bytes)
      this.closed.then(() => reject(new Error('connection closed')))
    })
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  close(): void {
    this.socket.destroy()
  }
}
