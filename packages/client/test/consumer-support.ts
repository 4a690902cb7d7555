// Helpers for the consumer tests: bounded waits, so a broken consumer fails a test instead of hanging it.
import type { Consumer, ConsumerRecord } from '../src/index.js'

const iterators = new WeakMap<
  object,
  { it: AsyncIterator<unknown>; pending?: Promise<IteratorResult<unknown>> }
>()

/**
 * The next `n` records from the consumer's iterator; fails after `timeoutMs`. One iterator per
 * consumer: a `next()` still waiting when a take times out is picked up by the next take, so no
 * record is lost to an abandoned call.
 */
export async function take<K, V>(
  consumer: Consumer<K, V>,
  n: number,
  timeoutMs = 10_000,
): Promise<ConsumerRecord<K, V>[]> {
  const out: ConsumerRecord<K, V>[] = []
  if (n === 0) return out
  let entry = iterators.get(consumer)
  if (!entry) {
    entry = { it: consumer[Symbol.asyncIterator]() }
    iterators.set(consumer, entry)
  }
  const deadline = Date.now() + timeoutMs
  while (out.length < n) {
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`got ${out.length} of ${n} records within ${timeoutMs} ms`)
    const next = entry.pending ?? entry.it.next()
    entry.pending = next
    let timer: NodeJS.Timeout | undefined
    const r = await Promise.race([
      next,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), left)
      }),
    ])
      .catch((err) => {
        entry.pending = undefined
        throw err
      })
      .finally(() => clearTimeout(timer))
    if (r === 'timeout') throw new Error(`got ${out.length} of ${n} records within ${timeoutMs} ms`)
    entry.pending = undefined
    if (r.done) throw new Error(`the iterator ended after ${out.length} of ${n} records`)
    out.push(r.value as ConsumerRecord<K, V>)
  }
  return out
}

/** Waits until `check` holds; fails after `timeoutMs` with `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
