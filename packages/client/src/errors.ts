/**
 * The client's errors. Broker-reported failures are `KafkaError`s carrying Kafka's error name and
 * `retriable` flag from @fluxo/protocol's error table; local failures (sockets, timeouts, misuse) are
 * `ClientError`s with a stable `ERR_FLUXO_*` code. Both say whether retrying can help.
 */
import { type ErrorCodeName, FluxoError, KafkaProtocolError, errorInfo } from '@fluxo/protocol'

/** Where a Kafka error was reported, when it concerns one topic-partition, group or resource. */
export interface KafkaErrorContext {
  topic?: string
  partition?: number
  groupId?: string
  resource?: string
}

/** An error code returned by the broker. `errorName` is Kafka's name (`NOT_LEADER_OR_FOLLOWER`, ...). */
export class KafkaError extends KafkaProtocolError {
  readonly topic?: string
  readonly partition?: number
  readonly groupId?: string
  readonly resource?: string

  constructor(errorCode: number, message?: string | null, context: KafkaErrorContext = {}) {
    super(errorCode, message)
    this.topic = context.topic
    this.partition = context.partition
    this.groupId = context.groupId
    this.resource = context.resource
  }
}

/** A local failure: the error's `code` is stable, `retriable` tells whether another attempt may succeed. */
export class ClientError extends FluxoError {
  readonly retriable: boolean
  constructor(code: string, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(code, message, options)
    this.retriable = retriable
  }
}

/** The socket failed or closed before a response arrived (Kafka's NetworkException). */
export class ConnectionError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FLUXO_CONNECTION', message, true, options)
  }
}

/** No response within `requestTimeoutMs` (or the connection could not be opened in `connectTimeoutMs`). */
export class RequestTimeoutError extends ClientError {
  constructor(message: string) {
    super('ERR_FLUXO_REQUEST_TIMEOUT', message, true)
  }
}

/** The broker supports no version of an API the client needs. */
export class UnsupportedVersionError extends ClientError {
  constructor(message: string) {
    super('ERR_FLUXO_UNSUPPORTED_VERSION', message, false)
  }
}

/** The client, producer or admin was closed, or a call was made in a state that does not allow it. */
export class IllegalStateError extends ClientError {
  constructor(message: string) {
    super('ERR_FLUXO_ILLEGAL_STATE', message, false)
  }
}

/** A record's delivery did not complete within `deliveryTimeoutMs`. */
export class DeliveryTimeoutError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FLUXO_DELIVERY_TIMEOUT', message, false, options)
  }
}

/** Throws a KafkaError for a non-zero code. */
export function throwIfError(errorCode: number, message?: string | null, context?: KafkaErrorContext): void {
  if (errorCode !== 0) throw new KafkaError(errorCode, message, context)
}

export function isRetriable(err: unknown): boolean {
  return (
    (err instanceof KafkaProtocolError || err instanceof ClientError) &&
    (err as { retriable: boolean }).retriable
  )
}

/** The Kafka error name of `err`, when it is a broker-reported error. */
export function kafkaErrorName(err: unknown): ErrorCodeName | undefined {
  return err instanceof KafkaProtocolError ? err.errorName : undefined
}

export function errorName(code: number): ErrorCodeName {
  return errorInfo(code).name
}
