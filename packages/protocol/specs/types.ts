/**
 * Fluxo's protocol specs: one file per API, in the shape of Kafka's message JSON (camelCase names).
 * `scripts/generate.ts` turns them into the typed codecs in `src/generated/` (do not edit those).
 *
 * Version strings: '3+' (3 and later), '3-7', '5' or 'none'.
 */
export interface FieldSpec {
  name: string
  /** int8 | int16 | uint16 | int32 | uint32 | int64 | float64 | bool | string | bytes | records | uuid |
   *  []<primitive> | []<StructName> | <StructName> */
  type: string
  versions: string
  nullableVersions?: string
  /** Tagged fields (flexible versions only): tag number and the versions where the tag is known. */
  tag?: number
  taggedVersions?: string
  default?: number | boolean | string | null
  /** Inline struct definition for struct and struct-array types. */
  fields?: FieldSpec[]
}

export interface StructSpec {
  name: string
  versions: string
  fields: FieldSpec[]
}

export interface MessageSpec {
  fields: FieldSpec[]
  /** Structs referenced by name from several fields. */
  commonStructs?: StructSpec[]
}

export interface ApiSpec {
  apiKey: number
  /** Kafka's API name, e.g. 'Produce'. */
  name: string
  /** Versions Kafka defines. */
  validVersions: string
  /** Versions Fluxo decodes and advertises. */
  supportedVersions: string
  flexibleVersions: string
  request: MessageSpec
  response: MessageSpec
}

/**
 * A message that is not a request or response (Kafka's `"type": "data"`), such as the consumer
 * protocol's subscription and assignment carried as bytes inside JoinGroup and SyncGroup.
 */
export interface DataSpec extends MessageSpec {
  type: 'data'
  name: string
  validVersions: string
  flexibleVersions: string
}
