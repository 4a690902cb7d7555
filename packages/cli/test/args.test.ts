import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fluxo } from './support.js'

// Nothing listens here: a usage error must be reported before any connection is tried.
const NOWHERE = '127.0.0.1:1'

/** Runs `fn` over `items`, four at a time (each is a node process; the machine may be busy). */
async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 4) await Promise.all(items.slice(i, i + 4).map(fn))
}

test('bad arguments: one line on stderr naming the problem, nothing on stdout, exit code 2', async () => {
  const cases: [string[], RegExp][] = [
    [['topic', 'create', 'x', '--nope'], /^fluxo: Unknown option '--nope'/],
    [['topic', 'create'], /^fluxo: missing topic name \(see 'fluxo topic --help'\)\n$/],
    [
      ['topic', 'create', 'x', '--partitions', '0'],
      /^fluxo: --partitions must be an integer from 1 to \d+, got '0'/,
    ],
    [['topic', 'create', 'x', '--partitions', 'abc'], /^fluxo: --partitions must be an integer/],
    [['topic', 'create', 'x', '--partitions', '1.5'], /^fluxo: --partitions must be an integer/],
    [['topic', 'create', 'x', '--config', 'retention.ms'], /^fluxo: --config expects key=value/],
    [['topic', 'create', 'x', '--set', 'a=b'], /^fluxo: --set does not apply to 'topic create'/],
    [['topic'], /^fluxo: missing subcommand/],
    [['topic', 'frobnicate'], /^fluxo: unknown subcommand 'topic frobnicate'/],
    [['topic', 'list', 'extra'], /^fluxo: unexpected argument 'extra'/],
    [['topic', 'alter-config', 'x'], /^fluxo: alter-config needs --set key=value or --delete key/],
    [['produce'], /^fluxo: missing topic name/],
    [
      ['produce', 't', '--compression', 'brotli'],
      /^fluxo: --compression must be one of none, gzip, snappy, lz4, zstd/,
    ],
    [['produce', 't', '--acks', '2'], /^fluxo: --acks must be all, 1 or 0/],
    [['produce', 't', '--partition', '-1'], /^fluxo: Option '--partition' argument is ambiguous/],
    [['produce', 't', '--partition=-1'], /^fluxo: --partition must be an integer from 0 to \d+, got '-1'/],
    [['consume'], /^fluxo: missing topic name/],
    [['consume', 't', '--format', 'xml'], /^fluxo: --format must be one of value, key:value, json/],
    [['consume', 't', '--from-beginning', '--offset', '3'], /^fluxo: use only one of --from-beginning/],
    [['consume', 't', '--count', '0'], /^fluxo: --count must be an integer >= 1/],
    [['consume', 't', '--json', '--format', 'value'], /^fluxo: --json is --format json/],
    [['group', 'reset-offsets', 'g', '--topic', 't'], /^fluxo: reset-offsets needs exactly one of/],
    [['group', 'reset-offsets', 'g', '--to-earliest'], /^fluxo: reset-offsets needs --topic TOPIC/],
    [['group', 'reset-offsets', '--topic', 't', '--to-earliest'], /^fluxo: missing group id/],
    [['group', 'describe', 'g', '--to-latest'], /^fluxo: --to-latest applies only to 'group reset-offsets'/],
    [['cluster', 'info', '--bootstrap', 'no-port'], /^fluxo: --bootstrap: .*no-port/],
    [['cluster'], /^fluxo: missing subcommand: info/],
  ]
  await inBatches(cases, async ([args, message]) => {
    const r = await fluxo(args.includes('--bootstrap') ? undefined : NOWHERE, args)
    const what = `fluxo ${args.join(' ')}`
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`)
    assert.match(r.stderr, message, what)
    assert.equal(r.stderr.split('\n').length, 2, `${what}: one line\n${r.stderr}`)
    assert.equal(r.stdout, '', what)
  })
})

test('an unreachable cluster is a one-line error with exit code 1', async () => {
  const r = await fluxo(NOWHERE, ['cluster', 'info'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^fluxo: .*(ECONNREFUSED|connect)/i)
  assert.equal(r.stderr.split('\n').length, 2, r.stderr)
})

test('fluxo <command> --help prints its usage and exits 0; help names only options that exist', async () => {
  const helps: [string[], RegExp[]][] = [
    [
      ['topic', '--help'],
      [/^Usage: fluxo topic <subcommand>/, /alter-config NAME/, /--bootstrap/],
    ],
    [['topic', 'create', '-h'], [/^Usage: fluxo topic <subcommand>/]],
    [
      ['produce', '--help'],
      [/^Usage: fluxo produce TOPIC/, /--key-separator/, /--compression/],
    ],
    [
      ['consume', '--help'],
      [/^Usage: fluxo consume TOPIC/, /--since <time>/, /--format/],
    ],
    [
      ['group', '--help'],
      [/^Usage: fluxo group <subcommand>/, /reset-offsets GROUP/, /--dry-run/],
    ],
    [['cluster', '--help'], [/^Usage: fluxo cluster info/]],
  ]
  await inBatches(helps, async ([args, patterns]) => {
    const r = await fluxo(undefined, args)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    for (const p of patterns) assert.match(r.stdout, p, `fluxo ${args.join(' ')}`)
    // Every option the help names is accepted by the command's parser.
    const command = args[0]
    for (const [, flag] of r.stdout.matchAll(/^\s+(--[a-z-]+)/gm)) {
      if (flag === '--help' || flag === '--json' || flag === '--bootstrap') continue
      const probe = await fluxo(NOWHERE, [command, flag, '--help'])
      assert.doesNotMatch(probe.stderr, /Unknown option/, `fluxo ${command} ${flag}`)
    }
  })
})
