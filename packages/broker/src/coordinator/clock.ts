/**
 * Time for the coordinators: the real clock in the broker, a manual one in tests, so the group
 * state machine's session, rebalance and retention timers run without sleeps.
 */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Wall-clock time; timers are unref'd so a pending session timeout never keeps the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms)
    handle.unref()
    return handle
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  },
}

interface ManualTimer {
  id: number
  due: number
  fn: () => void
}

/** A clock that moves only when told: `advance(ms)` fires due timers in due-time order (ties: creation order). */
export class ManualClock implements Clock {
  private time: number
  private nextId = 1
  private readonly timers = new Map<number, ManualTimer>()

  constructor(start = 1_700_000_000_000) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.set(id, { id, due: this.time + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size
  }

  /** Moves time forward by `ms`, firing every timer that falls due, including ones set by fired timers. */
  advance(ms: number): void {
    const target = this.time + ms
    for (;;) {
      let next: ManualTimer | undefined
      for (const t of this.timers.values()) {
        if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t
      }
      if (!next) break
      this.timers.delete(next.id)
      this.time = Math.max(this.time, next.due)
      next.fn()
    }
    this.time = target
  }
}
