/**
 * Request and response framing: `int32 size` + header + body. Header versions follow Kafka's rule:
 * flexible API versions use request header v2 and response header v1 (tagged fields), except
 * ApiVersions responses, which always use header v0 so a client can read them before it knows
 * which versions the broker supports (KIP-511).
 */
import type { ApiDefinition } from './api-definition.js'
import { DecodeError, Reader, type TaggedField, Writer } from './codec.js'
import { ApiKey, apiDefinitions } from './generated/apis.js'

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
  unknownTaggedFields?: TaggedField[]
}

// biome-ignore lint/suspicious/noExplicitAny: the table holds every API's codecs
export type AnyApiDefinition = ApiDefinition<any, any>

export function apiDefinition(apiKey: number): AnyApiDefinition | undefined {
  return (apiDefinitions as Record<number, AnyApiDefinition>)[apiKey]
}

export function isFlexible(def: AnyApiDefinition, version: number): boolean {
  return def.flexibleFrom >= 0 && version >= def.flexibleFrom
}

export function responseHeaderVersion(def: AnyApiDefinition, version: number): 0 | 1 {
  if (def.apiKey === ApiKey.ApiVersions) return 0
  return isFlexible(def, version) ? 1 : 0
}

/**
 * Reads the fixed part of a request header (key, version, correlation id, client id). The tagged
 * fields of header v2 are read by `readRequestHeaderTags` once the caller knows the API.
 */
export function readRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  // The client id is a classic nullable string even in header v2.
  const clientId = r.nullableString(false)
  return { apiKey, apiVersion, correlationId, clientId }
}

export function readRequestHeaderTags(r: Reader, header: RequestHeader): void {
  const u = r.skipTaggedFields()
  if (u) header.unknownTaggedFields = u
}

/** Encodes a whole request frame (size prefix included) as chunks ready for the socket. */
export function encodeRequestFrame<Req>(
  def: ApiDefinition<Req, unknown>,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: Req,
): Buffer[] {
  const w = new Writer(512)
  w.int32(0)
  w.int16(def.apiKey)
  w.int16(version)
  w.int32(correlationId)
  w.nullableString(false, clientId)
  if (isFlexible(def, version)) w.taggedFields(undefined)
  def.encodeRequest(w, version, body)
  w.patchInt32(0, w.length - 4)
  return w.chunks()
}

/** Encodes a whole response frame (size prefix included) as chunks ready for the socket. */
export function encodeResponseFrame<Res>(
  def: ApiDefinition<unknown, Res>,
  version: number,
  correlationId: number,
  body: Res,
): Buffer[] {
  const w = new Writer(512)
  w.int32(0)
  w.int32(correlationId)
  if (responseHeaderVersion(def as AnyApiDefinition, version) === 1) w.taggedFields(undefined)
  def.encodeResponse(w, version, body)
  w.patchInt32(0, w.length - 4)
  return w.chunks()
}

/** Decodes a response frame's payload (size prefix already removed). */
export function decodeResponseFrame<Res>(
  def: ApiDefinition<unknown, Res>,
  version: number,
  payload: Buffer,
): { correlationId: number; body: Res } {
  const r = new Reader(payload)
  const correlationId = r.int32()
  if (responseHeaderVersion(def as AnyApiDefinition, version) === 1) r.skipTaggedFields()
  const body = def.decodeResponse(r, version)
  return { correlationId, body }
}

/** Decodes a request frame's payload (size prefix already removed); throws DecodeError. */
export function decodeRequestFrame(payload: Buffer): { header: RequestHeader; body: unknown } {
  const r = new Reader(payload)
  const header = readRequestHeader(r)
  const def = apiDefinition(header.apiKey)
  if (!def) throw new DecodeError(`unknown api key ${header.apiKey}`)
  if (isFlexible(def, header.apiVersion)) readRequestHeaderTags(r, header)
  return { header, body: def.decodeRequest(r, header.apiVersion) }
}
