/**
 * Generates src/generated/ from specs/: one file per API with the request and response types,
 * straight-line encoders/decoders with `version >= N` checks, and default constructors; plus
 * `apis.ts`, the API table (key, name, versions, codecs) shared by broker and client.
 *
 *   npm run generate            write the files
 *   npm run generate -- --check exit 1 if the checked-in files differ (CI)
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dataSpecs, specs } from '../specs/index.js'
import type { ApiSpec, DataSpec, FieldSpec, MessageSpec } from '../specs/types.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, 'src', 'generated')

const PRIMITIVES: Record<string, { ts: string; def: string }> = {
  bool: { ts: 'boolean', def: 'false' },
  int8: { ts: 'number', def: '0' },
  int16: { ts: 'number', def: '0' },
  uint16: { ts: 'number', def: '0' },
  int32: { ts: 'number', def: '0' },
  uint32: { ts: 'number', def: '0' },
  int64: { ts: 'number', def: '0' },
  float64: { ts: 'number', def: '0' },
  uuid: { ts: 'string', def: 'ZERO_UUID' },
  string: { ts: 'string', def: "''" },
  bytes: { ts: 'Buffer', def: 'emptyBuffer()' },
  records: { ts: 'Buffer', def: 'emptyBuffer()' },
}

interface Range {
  min: number
  max: number
}

function parseRange(s: string | undefined): Range | null {
  if (s === undefined || s === 'none') return null
  if (s.endsWith('+')) return { min: Number(s.slice(0, -1)), max: Number.POSITIVE_INFINITY }
  const [a, b] = s.split('-')
  return { min: Number(a), max: Number(b ?? a) }
}

/** A JS condition on `v` for a version range, simplified against the versions the message exists in. */
function cond(range: Range | null, within: Range): string {
  if (!range) return 'false'
  const lo = range.min > within.min ? `v >= ${range.min}` : ''
  const hi = range.max < within.max ? `v <= ${range.max}` : ''
  if (range.min > within.max || range.max < within.min) return 'false'
  return [lo, hi].filter(Boolean).join(' && ') || 'true'
}

function intersect(a: Range | null, b: Range): Range {
  if (!a) return b
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) }
}
const kebab = (s: string) => s.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()

interface Struct {
  typeName: string
  fields: FieldSpec[]
}

class MessageGen {
  readonly structs: Struct[] = []
  private readonly common = new Map<string, FieldSpec[]>()
  readonly flex: Range
  readonly valid: Range

  constructor(
    readonly msgName: string,
    spec: MessageSpec,
    api: Pick<ApiSpec, 'flexibleVersions' | 'validVersions'>,
  ) {
    this.flex = parseRange(api.flexibleVersions) ?? { min: 1e9, max: 1e9 }
    this.valid = parseRange(api.validVersions)!
    for (const s of spec.commonStructs ?? []) this.common.set(s.name, s.fields)
    this.collect(msgName, spec.fields)
    for (const [name, fields] of this.common) this.collect(this.typeName(name), fields)
  }

  typeName(structName: string): string {
    return structName.startsWith(this.msgName) ? structName : this.msgName + structName
  }

  private collect(typeName: string, fields: FieldSpec[]): void {
    if (this.structs.some((s) => s.typeName === typeName)) return
    this.structs.push({ typeName, fields })
    for (const f of fields) {
      if (f.fields) this.collect(this.typeName(f.type.replace('[]', '')), f.fields)
    }
  }

  private kind(f: FieldSpec): { array: boolean; elem: string; struct: boolean } {
    const array = f.type.startsWith('[]')
    const elem = array ? f.type.slice(2) : f.type
    return { array, elem, struct: !(elem in PRIMITIVES) }
  }

  private isNullable(f: FieldSpec): boolean {
    const { struct, array } = this.kind(f)
    if (f.tag !== undefined && struct && !array) return true
    return parseRange(f.nullableVersions) !== null
  }

  tsType(f: FieldSpec): string {
    const { array, elem, struct } = this.kind(f)
    const base = struct ? this.typeName(elem) : PRIMITIVES[elem].ts
    const t = array ? `${base}[]` : base
    return this.isNullable(f) ? `${t} | null` : t
  }

  defaultExpr(f: FieldSpec): string {
    const { array, elem, struct } = this.kind(f)
    if (f.default === null) return 'null'
    if (array) return this.isNullable(f) && f.default === undefined && f.tag === undefined ? '[]' : '[]'
    if (struct) return this.isNullable(f) ? 'null' : `default${this.typeName(elem)}()`
    if (f.default !== undefined)
      return typeof f.default === 'string' ? JSON.stringify(f.default) : String(f.default)
    if (elem === 'records' && this.isNullable(f)) return 'null'
    return PRIMITIVES[elem].def
  }

  private primWrite(elem: string, expr: string, nullable: string, c: string): string {
    switch (elem) {
      case 'string':
      case 'bytes':
      case 'records': {
        const m = elem === 'string' ? 'String' : 'Bytes'
        const lower = elem === 'string' ? 'string' : 'bytes'
        if (nullable === 'false') return `w.${lower}(${c}, ${expr})`
        if (nullable === 'true') return `w.nullable${m}(${c}, ${expr})`
        return `${nullable} ? w.nullable${m}(${c}, ${expr}) : w.${lower}(${c}, ${expr}!)`
      }
      default:
        return `w.${elem}(${expr})`
    }
  }

  private primRead(elem: string, nullable: string, c: string): string {
    switch (elem) {
      case 'string':
      case 'bytes':
      case 'records': {
        const m = elem === 'string' ? 'String' : 'Bytes'
        const lower = elem === 'string' ? 'string' : 'bytes'
        if (nullable === 'false') return `r.${lower}(${c})`
        if (nullable === 'true') return `r.nullable${m}(${c})`
        return `(${nullable} ? r.nullable${m}(${c}) : r.${lower}(${c}))`
      }
      default:
        return `r.${elem}()`
    }
  }

  /** Statements writing field value `expr`. */
  private writeValue(f: FieldSpec, expr: string, within: Range, c: string): string[] {
    const { array, elem, struct } = this.kind(f)
    const nullable = cond(parseRange(f.nullableVersions), within)
    if (array) {
      const each = struct ? `encode${this.typeName(elem)}(w, v, e)` : this.primWrite(elem, 'e', 'false', c)
      const lines = [`w.arrayLength(${c}, ${expr}.length)`, `for (const e of ${expr}) ${each}`]
      if (nullable === 'false') return lines
      const guard = nullable === 'true' ? `${expr} === null` : `${expr} === null && (${nullable})`
      return [
        `if (${guard}) w.arrayLength(${c}, -1)`,
        'else {',
        `  w.arrayLength(${c}, ${expr}!.length)`,
        `  for (const e of ${expr}!) ${each}`,
        '}',
      ]
    }
    if (struct) {
      const call = `encode${this.typeName(elem)}(w, v, ${expr}!)`
      if (f.tag !== undefined) return [call]
      if (nullable === 'false') return [call]
      return [`if (${expr} === null) w.int8(-1)`, `else { w.int8(1); ${call} }`]
    }
    return [this.primWrite(elem, expr, nullable, c)]
  }

  private readValue(f: FieldSpec, within: Range, c: string): string {
    const { array, elem, struct } = this.kind(f)
    const nullable = cond(parseRange(f.nullableVersions), within)
    if (array) {
      const each = struct ? `decode${this.typeName(elem)}(r, v)` : this.primRead(elem, 'false', c)
      return `readArray(r, ${c}, ${nullable}, () => ${each})`
    }
    if (struct) {
      const call = `decode${this.typeName(elem)}(r, v)`
      if (f.tag !== undefined || nullable === 'false') return call
      return `(r.int8() < 0 ? null : ${call})`
    }
    return this.primRead(elem, nullable, c)
  }

  private tagPresent(f: FieldSpec, expr: string): string {
    const { array, struct } = this.kind(f)
    if (array) return `${expr} !== null && ${expr}.length > 0`
    if (struct) return `${expr} !== null`
    if (f.type === 'bytes' || f.type === 'records') return `${expr} !== null && ${expr}.length > 0`
    return `${expr} !== ${this.defaultExpr(f)}`
  }

  emitStruct(s: Struct): string {
    const within = this.valid
    const flexCond = cond(this.flex, within)
    const regular = s.fields.filter((f) => f.tag === undefined)
    const tagged = s.fields.filter((f) => f.tag !== undefined)
    const out: string[] = []
    out.push(`export interface ${s.typeName} {`)
    for (const f of s.fields) out.push(`  ${f.name}: ${this.tsType(f)}`)
    out.push('  unknownTaggedFields?: TaggedField[]')
    out.push('}', '')

    out.push(`export function default${s.typeName}(): ${s.typeName} {`)
    out.push(`  return { ${s.fields.map((f) => `${f.name}: ${this.defaultExpr(f)}`).join(', ')} }`)
    out.push('}', '')

    // encoder
    out.push(`export function encode${s.typeName}(w: Writer, v: number, m: ${s.typeName}): void {`)
    out.push(`  const c = ${flexCond}`)
    for (const f of regular) {
      const fc = cond(parseRange(f.versions), within)
      const body = this.writeValue(f, `m.${f.name}`, intersect(parseRange(f.versions), within), 'c')
      if (fc === 'false') continue
      if (fc === 'true') out.push(...body.map((l) => `  ${l}`))
      else out.push(`  if (${fc}) {`, ...body.map((l) => `    ${l}`), '  }')
    }
    if (tagged.length === 0) out.push('  if (c) w.taggedFields(m.unknownTaggedFields)')
    else {
      out.push('  if (c) {', '    let t: TaggedWrite[] | undefined')
      for (const f of tagged) {
        const tc = cond(parseRange(f.taggedVersions), within)
        const body = this.writeValue(
          f,
          `m.${f.name}`,
          intersect(parseRange(f.taggedVersions), within),
          'true',
        )
        out.push(
          `    if (${tc === 'true' ? '' : `${tc} && `}${this.tagPresent(f, `m.${f.name}`)}) (t ??= []).push([${f.tag}, (w) => { ${body.join('; ')} }])`,
        )
      }
      out.push('    w.taggedFields(m.unknownTaggedFields, t)', '  }')
    }
    out.push('}', '')

    // decoder
    out.push(`export function decode${s.typeName}(r: Reader, v: number): ${s.typeName} {`)
    out.push(`  const c = ${flexCond}`)
    out.push(`  const m: ${s.typeName} = {`)
    for (const f of s.fields) {
      if (f.tag !== undefined) {
        out.push(`    ${f.name}: ${this.defaultExpr(f)},`)
        continue
      }
      const fc = cond(parseRange(f.versions), within)
      const read = this.readValue(f, intersect(parseRange(f.versions), within), 'c')
      if (fc === 'true') out.push(`    ${f.name}: ${read},`)
      else if (fc === 'false') out.push(`    ${f.name}: ${this.defaultExpr(f)},`)
      else out.push(`    ${f.name}: ${fc} ? ${read} : ${this.defaultExpr(f)},`)
    }
    out.push('  }')
    if (tagged.length === 0) {
      out.push(
        '  if (c) {',
        '    const u = r.skipTaggedFields()',
        '    if (u) m.unknownTaggedFields = u',
        '  }',
      )
    } else {
      out.push('  if (c) {', '    const u = r.taggedFields((tag, r) => {', '      switch (tag) {')
      for (const f of tagged) {
        const tc = cond(parseRange(f.taggedVersions), within)
        out.push(`        case ${f.tag}:`)
        if (tc !== 'true') out.push(`          if (!(${tc})) return false`)
        out.push(
          `          m.${f.name} = ${this.readValue(f, intersect(parseRange(f.taggedVersions), within), 'true')}`,
        )
        out.push('          return true')
      }
      out.push(
        '        default:',
        '          return false',
        '      }',
        '    })',
        '    if (u) m.unknownTaggedFields = u',
        '  }',
      )
    }
    out.push('  return m', '}', '')
    return out.join('\n')
  }
}

const HEADER = `// Generated by packages/protocol/scripts/generate.ts from packages/protocol/specs/. Do not edit.
/* eslint-disable */
`

function generateApi(api: ApiSpec): string {
  return generateFile([
    new MessageGen(`${api.name}Request`, api.request, api),
    new MessageGen(`${api.name}Response`, api.response, api),
  ])
}

/** A data message: its structs' codecs (the caller writes the version prefix Kafka puts before them). */
function generateData(spec: DataSpec): string {
  return generateFile([new MessageGen(spec.name, spec, spec)])
}

function generateFile(gens: MessageGen[]): string {
  const parts: string[] = [HEADER]
  const bodies: string[] = []
  let usesTaggedWrite = false
  for (const gen of gens) {
    for (const s of gen.structs) {
      const code = gen.emitStruct(s)
      if (code.includes('TaggedWrite')) usesTaggedWrite = true
      bodies.push(code)
    }
  }
  const body = bodies.join('\n')
  const imports = ['Reader', 'TaggedField', 'Writer']
  if (usesTaggedWrite) imports.push('TaggedWrite')
  if (body.includes('ZERO_UUID')) imports.push('ZERO_UUID')
  if (body.includes('emptyBuffer()')) imports.push('emptyBuffer')
  const typeOnly = new Set(['TaggedField', 'TaggedWrite'])
  parts.push(
    `import { ${imports
      .sort()
      .map((i) => (typeOnly.has(i) ? `type ${i}` : i))
      .join(', ')} } from '../codec.js'`,
  )
  if (body.includes('readArray(')) parts.push(`import { readArray } from './read-array.js'`)
  parts.push('', body)
  return parts.join('\n')
}

function generateTable(): string {
  const lines = [HEADER]
  const sorted = [...specs].sort((a, b) => a.apiKey - b.apiKey)
  for (const api of sorted) {
    const file = kebab(api.name)
    lines.push(
      `import { decode${api.name}Request, decode${api.name}Response, encode${api.name}Request, encode${api.name}Response, type ${api.name}Request, type ${api.name}Response } from './${file}.js'`,
    )
  }
  lines.push(`import type { ApiDefinition } from '../api-definition.js'`, '')
  lines.push('/** Kafka API keys, by Kafka API name. */')
  lines.push('export const ApiKey = {')
  for (const api of sorted) lines.push(`  ${api.name}: ${api.apiKey},`)
  lines.push('} as const', '')
  lines.push('export interface ApiRequests {')
  for (const api of sorted) lines.push(`  ${api.apiKey}: ${api.name}Request`)
  lines.push('}', '', 'export interface ApiResponses {')
  for (const api of sorted) lines.push(`  ${api.apiKey}: ${api.name}Response`)
  lines.push('}', '')
  lines.push('/** Every API this protocol package can encode and decode, by key. */')
  lines.push(
    'export const apiDefinitions: { readonly [K in keyof ApiRequests]: ApiDefinition<ApiRequests[K], ApiResponses[K]> } = {',
  )
  for (const api of sorted) {
    const sup = parseRange(api.supportedVersions)!
    const flex = parseRange(api.flexibleVersions)
    lines.push(`  ${api.apiKey}: {`)
    lines.push(`    apiKey: ${api.apiKey},`)
    lines.push(`    name: '${api.name}',`)
    lines.push(`    minVersion: ${sup.min},`)
    lines.push(`    maxVersion: ${sup.max},`)
    lines.push(`    flexibleFrom: ${flex ? flex.min : -1},`)
    lines.push(`    encodeRequest: encode${api.name}Request,`)
    lines.push(`    decodeRequest: decode${api.name}Request,`)
    lines.push(`    encodeResponse: encode${api.name}Response,`)
    lines.push(`    decodeResponse: decode${api.name}Response,`)
    lines.push('  },')
  }
  lines.push('}', '')
  return lines.join('\n')
}

const READ_ARRAY = `${HEADER}import type { Reader } from '../codec.js'

/** Reads an array; \`nullable\` says whether a null (-1 length) array is allowed at this version. */
export function readArray<T>(r: Reader, compact: boolean, nullable: boolean, read: () => T): T[] {
  const n = r.arrayLength(compact)
  if (n < 0) {
    if (nullable) return null as unknown as T[]
    return []
  }
  const out: T[] = new Array(n)
  for (let i = 0; i < n; i++) out[i] = read()
  return out
}
`

function generateIndex(): string {
  const lines = [HEADER]
  for (const api of [...specs].sort((a, b) => a.apiKey - b.apiKey))
    lines.push(`export * from './${kebab(api.name)}.js'`)
  for (const spec of dataSpecs) lines.push(`export * from './${kebab(spec.name)}.js'`)
  lines.push(`export * from './apis.js'`, '')
  return lines.join('\n')
}

const files = new Map<string, string>()
for (const api of specs) files.set(`${kebab(api.name)}.ts`, generateApi(api))
for (const spec of dataSpecs) files.set(`${kebab(spec.name)}.ts`, generateData(spec))
files.set('apis.ts', generateTable())
files.set('read-array.ts', READ_ARRAY)
files.set('index.ts', generateIndex())

if (process.argv.includes('--check')) {
  const stale: string[] = []
  const existing = existsSync(outDir) ? new Set(readdirSync(outDir)) : new Set<string>()
  for (const [name, text] of files) {
    if (!existing.has(name) || readFileSync(join(outDir, name), 'utf8') !== text) stale.push(name)
    existing.delete(name)
  }
  stale.push(...existing)
  if (stale.length) {
    console.error(`src/generated is out of date (${stale.join(', ')}): run npm run generate`)
    process.exit(1)
  }
  console.log(`src/generated is up to date (${files.size} files)`)
} else {
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  for (const [name, text] of files) writeFileSync(join(outDir, name), text)
  console.log(`wrote ${files.size} files to ${outDir}`)
}
