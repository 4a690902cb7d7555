import { type Server, type Socket, createServer } from 'node:net'
import { apiDefinition } from '@fluxo/protocol'
import type { Logger } from 'pino'
import type { BrokerContext, Handler, SupportedApi } from '../handlers/handler.js'
import { Connection, type ServedApi } from './connection.js'

/** The TCP listener: accepts connections and tracks them for a clean shutdown. */
export class KafkaServer {
  private readonly server: Server
  private readonly connections = new Set<Connection>()
  private readonly sockets = new Set<Socket>()
  private readonly apis = new Map<number, ServedApi>()

  constructor(
    handlers: readonly Handler[],
    private readonly broker: BrokerContext,
    private readonly logger: Logger,
  ) {
    for (const handler of handlers) {
      const definition = apiDefinition(handler.apiKey)
      if (!definition) throw new Error(`no protocol definition for api key ${handler.apiKey}`)
      this.apis.set(handler.apiKey, {
        handler,
        definition,
        minVersion: handler.minVersion ?? definition.minVersion,
        maxVersion: handler.maxVersion ?? definition.maxVersion,
      })
    }
    this.server = createServer((socket) => this.accept(socket))
  }

  supportedApis(): SupportedApi[] {
    return [...this.apis.values()]
      .map(({ handler, minVersion, maxVersion }) => ({ apiKey: handler.apiKey, minVersion, maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey)
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        const address = this.server.address()
        if (address === null || typeof address === 'string') throw new Error('not a TCP address')
        resolve({ host: address.address, port: address.port })
      })
    })
  }

  private accept(socket: Socket): void {
    const connection = new Connection(socket, this.broker, this.apis, this.logger)
    this.connections.add(connection)
    this.sockets.add(socket)
    socket.on('close', () => {
      this.connections.delete(connection)
      this.sockets.delete(socket)
    })
  }

  /** Stops accepting, lets in-flight requests finish (long-polls end early), then closes sockets. */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()))
    await Promise.all([...this.connections].map((c) => c.drained()))
    for (const socket of this.sockets) socket.end()
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy()
    }, 1000)
    await stopped
    clearTimeout(deadline)
  }
}
