/**
 * messages-roundtrip.test.ts covers the versions Fluxo advertises; this covers the rest of Kafka's
 * validVersions (e.g. ListOffsets v9-v10, DescribeLogDirs v0), so a handler can raise its
 * supportedVersions knowing the codecs already work there.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { specs } from '../specs/index.js'
import { Reader, Writer } from '../src/codec.js'
import { apiDefinition } from '../src/framing.js'
import { MessageContext, Rng, parseVersions, randomMessage } from './fixtures/random-message.js'

const SEED = Number(process.env.FLUXO_TEST_SEED ?? 0x7a11d)
const ITERATIONS = 10

type Encode = (w: Writer, v: number, m: unknown) => void
type Decode = (r: Reader, v: number) => unknown

function unadvertised(validVersions: string, supportedVersions: string): number[] {
  const valid = parseVersions(validVersions)!
  const supported = parseVersions(supportedVersions)!
  const out: number[] = []
  for (let v = valid.min; v <= valid.max; v++) if (v < supported.min || v > supported.max) out.push(v)
  return out
}

for (const api of specs) {
  const versions = unadvertised(api.validVersions, api.supportedVersions)
  if (versions.length === 0) continue
  test(`${api.name} v${versions.join(', v')} (valid, not advertised) round trip`, () => {
    const def = apiDefinition(api.apiKey)!
    for (const v of versions) {
      for (const kind of ['Request', 'Response'] as const) {
        const [encode, decode]: [Encode, Decode] =
          kind === 'Request'
            ? [def.encodeRequest, def.decodeRequest]
            : [def.encodeResponse, def.decodeResponse]
        const ctx = new MessageContext(api, kind, v)
        for (let i = 0; i < ITERATIONS; i++) {
          const seed = (SEED ^ (api.apiKey << 16) ^ (v << 8) ^ (kind === 'Request' ? 0 : 128) ^ i) >>> 0
          const message = randomMessage(ctx, new Rng(seed), { unknownTags: i % 2 === 1 })
          const w = new Writer(64)
          encode(w, v, message)
          const bytes = w.toBuffer()
          const r = new Reader(bytes)
          const decoded = decode(r, v)
          assert.equal(r.pos, bytes.length, `${ctx.label} seed ${seed}: bytes left unread`)
          assert.deepStrictEqual(decoded, message, `${ctx.label} seed ${seed}`)
        }
      }
    }
  })
}
