/**
 * Retries with exponential backoff and jitter, as Kafka's clients do since KIP-580: the wait starts
 * at retry.backoff.ms, doubles per attempt up to retry.backoff.max.ms, and is spread by ±20% so
 * many clients that failed together do not retry together.
 */
import { isRetriable } from '../errors.js'

export interface RetryOptions {
  /** Attempts after the first. Default 5. */
  retries?: number
  /** First wait, in ms (Kafka's retry.backoff.ms). Default 100. */
  initialRetryTimeMs?: number
  /** Longest wait, in ms (Kafka's retry.backoff.max.ms). Default 1000. */
  maxRetryTimeMs?: number
}

export const JITTER = 0.2

/** The wait before retry number `attempt` (0-based). */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const exp = Math.min(initialMs * 2 ** attempt, maxMs)
  const jitter = 1 - JITTER + random() * 2 * JITTER
  return Math.max(0, Math.round(exp * jitter))
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface RetryCall extends RetryOptions {
  /** Which errors to retry; default: those flagged `retriable`. */
  shouldRetry?: (err: unknown) => boolean
  /** Runs before each wait: refresh metadata, drop a cached coordinator... */
  onRetry?: (err: unknown, attempt: number) => void | Promise<void>
  /** No retry starts after this time (epoch ms). */
  deadline?: number
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryCall = {}): Promise<T> {
  const retries = options.retries ?? 5
  const initial = options.initialRetryTimeMs ?? 100
  const max = options.maxRetryTimeMs ?? 1000
  const shouldRetry = options.shouldRetry ?? isRetriable
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (attempt >= retries || !shouldRetry(err)) throw err
      const wait = backoffMs(attempt, initial, max)
      if (options.deadline !== undefined && Date.now() + wait > options.deadline) throw err
      await options.onRetry?.(err, attempt)
      await sleep(wait)
    }
  }
}
