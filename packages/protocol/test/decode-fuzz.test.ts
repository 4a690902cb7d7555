/**
 * Decoders face bytes from the network: whatever they get, they return a message or throw DecodeError,
 * never RangeError / TypeError, and never allocate in proportion to a length the frame cannot hold.
 * Valid frames for every (API, version) are mutated (bit flips, truncation, overwritten and inserted
 * bytes, huge lengths) and decoded through the framing and through each decoder directly.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { specs } from '../specs/index.js'
import { DecodeError, Reader, Writer } from '../src/codec.js'
import {
  type AnyApiDefinition,
  apiDefinition,
  decodeRequestFrame,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
} from '../src/framing.js'
import { MessageContext, Rng, randomMessage, supportedVersions } from './fixtures/random-message.js'

const SEED = Number(process.env.FLUXO_TEST_SEED ?? 0xf022)
/** Mutated decodes in the random loop; the whole file stays well under the ~5 s budget. */
const ITERATIONS = 20_000

interface Sample {
  def: AnyApiDefinition
  version: number
  kind: 'Request' | 'Response'
  /** Frame payload: header + body, without the size prefix. */
  payload: Buffer
  /** Where the body starts in `payload`. */
  bodyAt: number
  /** The first sample of its (API, version, kind): the exhaustive sweeps use only these. */
  first: boolean
}

function isDecodeError(err: unknown): boolean {
  return err instanceof DecodeError || (err as { code?: unknown })?.code === 'ERR_FLUXO_DECODE'
}

function headerLength(def: AnyApiDefinition, version: number, kind: Sample['kind'], payload: Buffer): number {
  if (kind === 'Response')
    return def.apiKey !== 18 && def.flexibleFrom >= 0 && version >= def.flexibleFrom ? 5 : 4
  const clientIdLength = payload.readInt16BE(8)
  const fixed = 10 + Math.max(clientIdLength, 0)
  return def.flexibleFrom >= 0 && version >= def.flexibleFrom ? fixed + 1 : fixed
}

function corpus(): Sample[] {
  const rng = new Rng(SEED)
  const out: Sample[] = []
  for (const api of specs) {
    const def = apiDefinition(api.apiKey)!
    for (const version of supportedVersions(api)) {
      for (const kind of ['Request', 'Response'] as const) {
        const ctx = new MessageContext(api, kind, version)
        for (let i = 0; i < (kind === 'Request' ? 2 : 1); i++) {
          const message = randomMessage(ctx, rng)
          const chunks =
            kind === 'Request'
              ? encodeRequestFrame(
                  def,
                  version,
                  rng.int(0, 1 << 30),
                  rng.chance(0.5) ? 'fuzz' : null,
                  message,
                )
              : encodeResponseFrame(def, version, rng.int(0, 1 << 30), message)
          const payload = Buffer.concat(chunks).subarray(4)
          out.push({
            def,
            version,
            kind,
            payload,
            bodyAt: headerLength(def, version, kind, payload),
            first: i === 0,
          })
        }
      }
    }
  }
  return out
}

const HUGE_INT32 = [0x7fffffff, -0x80000000, -1, -2, 0x7ffffffe, 0x40000000]
const HUGE_UVARINT = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0xff, 0xff, 0xff, 0xff, 0x7f],
  [0x80, 0x80, 0x80, 0x80, 0x08],
  [0xff, 0xff, 0xff, 0xff, 0xff],
  [0x80, 0x80, 0x80, 0x80],
]

type Mutation = (b: Buffer, rng: Rng) => Buffer

const MUTATIONS: Record<string, Mutation> = {
  flipBits(b, rng) {
    const out = Buffer.from(b)
    for (let i = rng.int(1, 4); i > 0 && out.length; i--)
      out[rng.int(0, out.length - 1)] ^= 1 << rng.int(0, 7)
    return out
  },
  truncate(b, rng) {
    return b.subarray(0, rng.int(0, Math.max(0, b.length - 1)))
  },
  overwriteBytes(b, rng) {
    const out = Buffer.from(b)
    for (let i = rng.int(1, 6); i > 0 && out.length; i--) out[rng.int(0, out.length - 1)] = rng.int(0, 255)
    return out
  },
  hugeInt32(b, rng) {
    if (b.length < 4) return b
    const out = Buffer.from(b)
    out.writeInt32BE(rng.pick(HUGE_INT32), rng.int(0, out.length - 4))
    return out
  },
  hugeInt16(b, rng) {
    if (b.length < 2) return b
    const out = Buffer.from(b)
    out.writeInt16BE(rng.pick([0x7fff, -0x8000, -2, -1]), rng.int(0, out.length - 2))
    return out
  },
  hugeUvarint(b, rng) {
    const at = rng.int(0, b.length)
    const v = Buffer.from(rng.pick(HUGE_UVARINT))
    return Buffer.concat([b.subarray(0, at), v, b.subarray(Math.min(b.length, at + v.length))])
  },
  insertBytes(b, rng) {
    const at = rng.int(0, b.length)
    return Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 8)), b.subarray(at)])
  },
  deleteRange(b, rng) {
    const at = rng.int(0, b.length)
    return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 8)))])
  },
  randomBody(b, rng) {
    return Buffer.concat([b.subarray(0, 10), rng.bytes(rng.int(0, 64))])
  },
}
const MUTATION_NAMES = Object.keys(MUTATIONS)

function decodeSample(s: Sample, payload: Buffer, viaFrame: boolean): void {
  if (s.kind === 'Request') {
    if (viaFrame) decodeRequestFrame(payload)
    else s.def.decodeRequest(new Reader(payload, Math.min(s.bodyAt, payload.length)), s.version)
  } else if (viaFrame) decodeResponseFrame(s.def, s.version, payload)
  else s.def.decodeResponse(new Reader(payload, Math.min(s.bodyAt, payload.length)), s.version)
}

/** Decodes, allowing only success or DecodeError; returns whether it threw. */
function expectOnlyDecodeError(s: Sample, payload: Buffer, viaFrame: boolean, what: string): boolean {
  try {
    decodeSample(s, payload, viaFrame)
    return false
  } catch (err) {
    if (isDecodeError(err)) return true
    const name = `${s.def.name}${s.kind} v${s.version}`
    assert.fail(
      `${name} ${what} ${viaFrame ? 'frame' : 'body'}: ${String(err)}\n  ${payload.toString('hex')}`,
    )
  }
}

const samples = corpus()

test('every valid sample decodes', () => {
  assert.ok(samples.length > 300, `${samples.length} samples`)
  for (const s of samples) {
    decodeSample(s, s.payload, true)
    decodeSample(s, s.payload, false)
  }
})

test(`${ITERATIONS} random mutations decode or throw DecodeError`, () => {
  const rng = new Rng(SEED + 1)
  const thrown: Record<string, number> = {}
  let failures = 0
  for (let i = 0; i < ITERATIONS; i++) {
    const s = rng.pick(samples)
    const name = rng.pick(MUTATION_NAMES)
    let payload = MUTATIONS[name](s.payload, rng)
    if (rng.chance(0.2)) payload = MUTATIONS[rng.pick(MUTATION_NAMES)](payload, rng)
    const viaFrame = rng.chance(0.6)
    if (expectOnlyDecodeError(s, payload, viaFrame, `${name} #${i}`)) {
      failures++
      thrown[name] = (thrown[name] ?? 0) + 1
    }
  }
  // Most mutations must be caught: a decoder that accepted everything would pass the check above.
  assert.ok(failures > ITERATIONS / 4, `only ${failures} of ${ITERATIONS} mutations were rejected`)
})

test('every strict prefix of every sample throws DecodeError', () => {
  // A decoder reads a valid message to its last byte (the round-trip test checks that), so on any
  // prefix it must run out of bytes: a prefix that decodes means a decoder stopped early.
  for (const s of samples) {
    if (!s.first) continue
    for (let n = 0; n < s.payload.length; n++) {
      const cut = s.payload.subarray(0, n)
      const threw = expectOnlyDecodeError(s, cut, true, `prefix ${n}`)
      assert.ok(
        threw,
        `${s.def.name}${s.kind} v${s.version}: ${n}-byte prefix of ${s.payload.length} decoded`,
      )
    }
  }
})

test('a huge length at any offset is rejected quickly, without allocating for it', () => {
  let slowest = 0
  let decodes = 0
  const heapBefore = process.memoryUsage().heapUsed
  for (const s of samples) {
    if (!s.first || s.kind !== 'Request') continue
    for (let at = 0; at + 4 <= s.payload.length; at++) {
      for (const huge of [0x7fffffff, -0x80000000]) {
        const b = Buffer.from(s.payload)
        b.writeInt32BE(huge, at)
        const start = performance.now()
        expectOnlyDecodeError(s, b, true, `int32 ${huge} at ${at}`)
        slowest = Math.max(slowest, performance.now() - start)
        decodes++
      }
      const b = Buffer.concat([
        s.payload.subarray(0, at),
        Buffer.from(HUGE_UVARINT[0]),
        s.payload.subarray(at + 5),
      ])
      const start = performance.now()
      expectOnlyDecodeError(s, b, true, `uvarint 2^32-1 at ${at}`)
      slowest = Math.max(slowest, performance.now() - start)
      decodes++
    }
  }
  assert.ok(decodes > 1000)
  assert.ok(slowest < 100, `slowest decode took ${slowest.toFixed(1)} ms`)
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 1024 * 1024, 'heap grew by > 256 MiB')
})

test('array length 2^31 - 1 and -2^31 in 4 bytes: DecodeError, fast', () => {
  const metadata = apiDefinition(3)!
  for (const length of [0x7fffffff, -0x80000000, -2]) {
    const body = Buffer.alloc(4)
    body.writeInt32BE(length)
    const start = performance.now()
    assert.throws(() => metadata.decodeRequest(new Reader(body), 0), DecodeError)
    assert.ok(performance.now() - start < 20)
  }
  // Compact array of 2^32 - 2 elements (uvarint 2^32 - 1) in a flexible version.
  const start = performance.now()
  assert.throws(() => metadata.decodeRequest(new Reader(Buffer.from(HUGE_UVARINT[0])), 9), DecodeError)
  assert.ok(performance.now() - start < 20)
})

test('string, bytes and tagged-field sizes larger than the frame are rejected', () => {
  const w = new Writer()
  w.int16(0x7fff)
  assert.throws(() => new Reader(w.toBuffer()).string(false), DecodeError)
  assert.throws(() => new Reader(Buffer.from([0, 0, 0, 9, 1])).bytes(false), DecodeError)
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).bytes(true), DecodeError)
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).string(true), DecodeError)
  // One tagged field (tag 5) claiming 2^32 - 1 bytes.
  const tagged = Buffer.from([1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f])
  assert.throws(() => new Reader(tagged).skipTaggedFields(), DecodeError)
  // 2^32 - 1 tagged fields in a 5-byte frame.
  assert.throws(() => new Reader(Buffer.from(HUGE_UVARINT[0])).skipTaggedFields(), DecodeError)
})

test('a known tagged field cannot read past its declared size', () => {
  // ApiVersions v3 response: error code, no api keys, throttle time, then tag 1 (finalizedFeaturesEpoch,
  // an int64) declared as 1 byte, followed by 8 more bytes an unbounded reader would take.
  const body = Buffer.from([0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0xaa, 1, 2, 3, 4, 5, 6, 7, 8])
  assert.throws(() => apiDefinition(18)!.decodeResponse(new Reader(body), 3), DecodeError)
})

test('garbage frames: unknown api keys, bad versions, random bytes', () => {
  const rng = new Rng(SEED + 2)
  const s = samples[0]
  for (let i = 0; i < 2000; i++) {
    const payload = rng.bytes(rng.int(0, 40))
    if (payload.length >= 4 && rng.chance(0.5)) {
      payload.writeInt16BE(rng.pick(specs).apiKey, 0)
      payload.writeInt16BE(rng.int(-2, 20), 2)
    }
    expectOnlyDecodeError({ ...s, kind: 'Request' }, payload, true, `garbage #${i}`)
  }
  assert.throws(
    () => decodeRequestFrame(Buffer.from([0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0xff, 0xff])),
    DecodeError,
  )
})
