/**
 * Serializers turn typed keys and values into bytes; a producer takes one per topic, with a default
 * for every other topic. `null` passes through as a Kafka null (a tombstone for compacted topics).
 */

export interface Serializer<T> {
  serialize(value: T, topic: string): Buffer | null
}

export interface Deserializer<T> {
  deserialize(data: Buffer | null, topic: string): T | null
}

export type Serde<T> = Serializer<T> & Deserializer<T>

/** UTF-8 strings. */
export const stringSerde: Serde<string> = {
  serialize: (value) => (value == null ? null : Buffer.from(value, 'utf8')),
  deserialize: (data) => (data === null ? null : data.toString('utf8')),
}

/** JSON documents, UTF-8 encoded. */
export function jsonSerde<T = unknown>(): Serde<T> {
  return {
    serialize: (value) => (value == null ? null : Buffer.from(JSON.stringify(value), 'utf8')),
    deserialize: (data) => (data === null ? null : (JSON.parse(data.toString('utf8')) as T)),
  }
}

/** Raw bytes: Buffers pass as they are, other Uint8Arrays are wrapped without copying. */
export const bytesSerde: Serde<Uint8Array> = {
  serialize: (value) =>
    value == null
      ? null
      : Buffer.isBuffer(value)
        ? value
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  deserialize: (data) => data,
}

/**
 * What a producer accepts when no serializer is configured: strings as UTF-8, Buffers and
 * Uint8Arrays as bytes, null as null. Anything else is a programming error.
 */
export const defaultSerializer: Serializer<string | Uint8Array | null> = {
  serialize(value, topic) {
    if (value == null) return null
    if (typeof value === 'string') return Buffer.from(value, 'utf8')
    if (value instanceof Uint8Array) return bytesSerde.serialize(value, topic)
    throw new TypeError(
      `topic ${topic}: cannot serialize a ${typeof value} without a serializer; configure one for this topic`,
    )
  },
}

/** Serializers for keys and values of one topic. */
export interface TopicSerde<K = unknown, V = unknown> {
  key?: Serializer<K>
  value?: Serializer<V>
}
