/**
 * The consumer protocol inside the classic group protocol: a consumer's JoinGroup metadata is a
 * ConsumerProtocolSubscription and its SyncGroup assignment a ConsumerProtocolAssignment, each
 * written as an int16 version followed by the message at that version (codecs generated from
 * specs/consumer-protocol-*.ts). As Kafka's ConsumerProtocol does, a newer version than ours is read
 * with our latest layout: later versions only append fields.
 */
import { DecodeError, Reader, Writer } from './codec.js'
import {
  type ConsumerProtocolAssignment,
  decodeConsumerProtocolAssignment,
  encodeConsumerProtocolAssignment,
} from './generated/consumer-protocol-assignment.js'
import {
  type ConsumerProtocolSubscription,
  decodeConsumerProtocolSubscription,
  encodeConsumerProtocolSubscription,
} from './generated/consumer-protocol-subscription.js'

export const CONSUMER_PROTOCOL_TYPE = 'consumer'
export const CONSUMER_PROTOCOL_LATEST_VERSION = 3

export function writeConsumerSubscription(
  m: ConsumerProtocolSubscription,
  version: number = CONSUMER_PROTOCOL_LATEST_VERSION,
): Buffer {
  const w = new Writer()
  w.int16(version)
  encodeConsumerProtocolSubscription(w, Math.min(version, CONSUMER_PROTOCOL_LATEST_VERSION), m)
  return w.toBuffer()
}

/**
 * Reads a subscription. KafkaJS writes version 1 with only the version 0 fields, so when the bytes
 * end early the fields they lack take their defaults (lower layouts are tried in turn).
 */
export function readConsumerSubscription(buf: Buffer): ConsumerProtocolSubscription & { version: number } {
  const version = new Reader(buf).int16()
  for (let v = Math.min(version, CONSUMER_PROTOCOL_LATEST_VERSION); ; v--) {
    const r = new Reader(buf, 2)
    try {
      return { ...decodeConsumerProtocolSubscription(r, v), version }
    } catch (err) {
      if (v <= 0 || !(err instanceof DecodeError)) throw err
    }
  }
}

export function writeConsumerAssignment(
  m: ConsumerProtocolAssignment,
  version: number = CONSUMER_PROTOCOL_LATEST_VERSION,
): Buffer {
  const w = new Writer()
  w.int16(version)
  encodeConsumerProtocolAssignment(w, Math.min(version, CONSUMER_PROTOCOL_LATEST_VERSION), m)
  return w.toBuffer()
}

/** An empty buffer (what the coordinator relays to a member the leader gave nothing) is an empty assignment. */
export function readConsumerAssignment(buf: Buffer): ConsumerProtocolAssignment & { version: number } {
  if (buf.length === 0) return { assignedPartitions: [], userData: null, version: 0 }
  const r = new Reader(buf)
  const version = r.int16()
  const m = decodeConsumerProtocolAssignment(r, Math.min(version, CONSUMER_PROTOCOL_LATEST_VERSION))
  return { ...m, version }
}
