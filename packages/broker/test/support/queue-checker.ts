/**
 * A checker for the history of a queue workload, after Jepsen's Kafka workload
 * (jepsen.tests.kafka, used on Redpanda in 2022 and Bufstream in 2024): producers send unique values
 * to partitions, alone or inside transactions that commit or abort, and consumers poll them. From
 * what was sent, how each send and transaction ended, and what every poll returned, it reports:
 *
 * - lost: a value that had to be visible (acknowledged outside a transaction, or in a committed
 *   one) was never read, although reads of its partition went past its offset;
 * - unseen: a value that had to be visible was never read, and no read went past it (the readers
 *   stopped early: not a proof of loss, but a final full read makes it one);
 * - duplicate: one value stored at two offsets (a retry appended twice);
 * - outOfOrder: one producer's values in a partition stored in another order than it sent them, or
 *   one poll returning offsets that do not increase;
 * - abortedRead: a read returned a value of an aborted transaction, or of a send that failed;
 * - inconsistent: two reads returned different values at one offset of a partition.
 *
 * A send whose outcome is unknown (a timeout) and a transaction whose outcome is unknown may or may
 * not be visible; neither is reported either way.
 */

export type SendOutcome = 'ok' | 'fail' | 'unknown'
export type TxnOutcome = 'committed' | 'aborted' | 'unknown'

export interface Send {
  /** Who sent it; with `seq`, the producer's order (it waits for one send before the next). */
  producer: string
  seq: number
  partition: string
  value: string
  outcome: SendOutcome
  /** The offset the broker acknowledged, when known. */
  offset?: number
  /** The transaction it belongs to; null when sent outside any. */
  txn: string | null
}

export interface Poll {
  consumer: string
  partition: string
  /** In the order the poll returned them. */
  records: { offset: number; value: string }[]
}

export interface History {
  sends: Send[]
  txns: Map<string, TxnOutcome>
  polls: Poll[]
}

export interface Anomaly {
  partition: string
  value?: string
  offsets?: number[]
  detail: string
}

export interface CheckResult {
  /** No lost, duplicate, out-of-order, aborted or inconsistent reads (unseen values are listed apart). */
  valid: boolean
  lost: Anomaly[]
  unseen: Anomaly[]
  duplicate: Anomaly[]
  outOfOrder: Anomaly[]
  abortedRead: Anomaly[]
  inconsistent: Anomaly[]
  stats: { sends: number; mustBeVisible: number; readValues: number; polls: number }
}

type Visibility = 'must' | 'mustNot' | 'may'

function visibility(send: Send, txns: Map<string, TxnOutcome>): Visibility {
  if (send.txn !== null) {
    const outcome = txns.get(send.txn) ?? 'unknown'
    // A committed transaction makes each of its sends visible: the producer commits only after every
    // send was acknowledged, and an abort hides even acknowledged ones.
    if (outcome === 'committed') return send.outcome === 'fail' ? 'mustNot' : 'must'
    if (outcome === 'aborted') return 'mustNot'
    return send.outcome === 'fail' ? 'mustNot' : 'may'
  }
  if (send.outcome === 'ok') return 'must'
  if (send.outcome === 'fail') return 'mustNot'
  return 'may'
}

export function checkQueue(history: History): CheckResult {
  const result: CheckResult = {
    valid: true,
    lost: [],
    unseen: [],
    duplicate: [],
    outOfOrder: [],
    abortedRead: [],
    inconsistent: [],
    stats: { sends: history.sends.length, mustBeVisible: 0, readValues: 0, polls: history.polls.length },
  }
  const sends = new Map<string, Send>()
  for (const s of history.sends) sends.set(s.value, s)

  // What the reads established: per partition, offset → value, and value → the offsets it was read at.
  const byOffset = new Map<string, Map<number, string>>()
  const offsetsOf = new Map<string, Set<number>>()
  const highestRead = new Map<string, number>()
  for (const poll of history.polls) {
    let last = -1
    for (const r of poll.records) {
      if (r.offset <= last) {
        result.outOfOrder.push({
          partition: poll.partition,
          value: r.value,
          offsets: [last, r.offset],
          detail: `${poll.consumer} read offset ${r.offset} after ${last} in one poll`,
        })
      }
      last = r.offset
      let offsets = byOffset.get(poll.partition)
      if (!offsets) byOffset.set(poll.partition, (offsets = new Map()))
      const seen = offsets.get(r.offset)
      if (seen !== undefined && seen !== r.value) {
        result.inconsistent.push({
          partition: poll.partition,
          offsets: [r.offset],
          detail: `offset ${r.offset} read as ${JSON.stringify(seen)} and as ${JSON.stringify(r.value)}`,
        })
      }
      offsets.set(r.offset, r.value)
      const key = `${poll.partition}\u0000${r.value}`
      let at = offsetsOf.get(key)
      if (!at) offsetsOf.set(key, (at = new Set()))
      at.add(r.offset)
      highestRead.set(poll.partition, Math.max(highestRead.get(poll.partition) ?? -1, r.offset))
    }
  }
  result.stats.readValues = offsetsOf.size

  for (const [key, at] of offsetsOf) {
    const [partition, value] = key.split('\u0000')
    const send = sends.get(value)
    if (at.size > 1)
      result.duplicate.push({
        partition,
        value,
        offsets: [...at].sort((a, b) => a - b),
        detail: `${JSON.stringify(value)} stored at ${at.size} offsets`,
      })
    if (!send) {
      result.abortedRead.push({ partition, value, detail: `${JSON.stringify(value)} was never sent` })
      continue
    }
    if (send.partition !== partition)
      result.inconsistent.push({
        partition,
        value,
        detail: `${JSON.stringify(value)} was sent to ${send.partition} but read from ${partition}`,
      })
    if (visibility(send, history.txns) === 'mustNot')
      result.abortedRead.push({
        partition,
        value,
        offsets: [...at],
        detail:
          send.txn !== null && history.txns.get(send.txn) === 'aborted'
            ? `${JSON.stringify(value)} of aborted transaction ${send.txn} was read`
            : `${JSON.stringify(value)} whose send failed was read`,
      })
  }

  // Values that had to be visible: read, lost, or unseen.
  for (const send of history.sends) {
    if (visibility(send, history.txns) !== 'must') continue
    result.stats.mustBeVisible++
    if (offsetsOf.has(`${send.partition}\u0000${send.value}`)) continue
    const highest = highestRead.get(send.partition) ?? -1
    const laterReadOfProducer = history.sends.some(
      (other) =>
        other.producer === send.producer &&
        other.partition === send.partition &&
        other.seq > send.seq &&
        offsetsOf.has(`${other.partition}\u0000${other.value}`),
    )
    const passed = (send.offset !== undefined && highest > send.offset) || laterReadOfProducer
    const anomaly = {
      partition: send.partition,
      value: send.value,
      offsets: send.offset === undefined ? undefined : [send.offset],
      detail: `${JSON.stringify(send.value)} (${send.txn === null ? 'acknowledged' : `committed in ${send.txn}`}) was never read`,
    }
    if (passed) result.lost.push(anomaly)
    else result.unseen.push(anomaly)
  }

  // One producer's order within a partition must survive in the offsets.
  const lastByProducer = new Map<string, { seq: number; offset: number; value: string }>()
  const observed = history.sends
    .map((s) => ({ send: s, at: offsetsOf.get(`${s.partition}\u0000${s.value}`) }))
    .filter((x) => x.at !== undefined)
    .sort((a, b) => a.send.seq - b.send.seq)
  for (const { send, at } of observed) {
    const offset = Math.min(...at!)
    const key = `${send.producer}\u0000${send.partition}`
    const previous = lastByProducer.get(key)
    if (previous && offset < previous.offset)
      result.outOfOrder.push({
        partition: send.partition,
        value: send.value,
        offsets: [previous.offset, offset],
        detail: `${send.producer} sent ${JSON.stringify(previous.value)} before ${JSON.stringify(send.value)} but they are at offsets ${previous.offset} and ${offset}`,
      })
    if (!previous || offset > previous.offset)
      lastByProducer.set(key, { seq: send.seq, offset, value: send.value })
  }

  result.valid =
    result.lost.length === 0 &&
    result.duplicate.length === 0 &&
    result.outOfOrder.length === 0 &&
    result.abortedRead.length === 0 &&
    result.inconsistent.length === 0
  return result
}

/** A short text of every anomaly, for assertion messages. */
export function describeAnomalies(result: CheckResult, limit = 10): string {
  const lines: string[] = []
  for (const kind of ['lost', 'unseen', 'duplicate', 'outOfOrder', 'abortedRead', 'inconsistent'] as const) {
    const list = result[kind]
    if (list.length === 0) continue
    lines.push(`${kind}: ${list.length}`)
    for (const a of list.slice(0, limit)) lines.push(`  ${a.partition}: ${a.detail}`)
  }
  return lines.join('\n')
}
