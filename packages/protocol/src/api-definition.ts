import type { Reader, Writer } from './codec.js'

/** One Kafka API as the protocol package knows it: versions and the codecs generated from its spec. */
export interface ApiDefinition<Req, Res> {
  apiKey: number
  name: string
  /** Lowest and highest version Fluxo decodes and advertises. */
  minVersion: number
  maxVersion: number
  /** First flexible version (KIP-482), or -1 when the API has none. */
  flexibleFrom: number
  encodeRequest(w: Writer, version: number, message: Req): void
  decodeRequest(r: Reader, version: number): Req
  encodeResponse(w: Writer, version: number, message: Res): void
  decodeResponse(r: Reader, version: number): Res
}
