/**
 * A local storage failure (disk full, I/O error, corrupt or locked data directory). The broker maps
 * it to KAFKA_STORAGE_ERROR for the partition concerned; `cause` keeps the system error.
 */
export class StorageError extends Error {
  readonly code = 'ERR_FLUXO_STORAGE'
  /** The system error code of the cause when there is one (ENOSPC, EIO, ...). */
  readonly errno: string | undefined

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
    const cause = options?.cause as NodeJS.ErrnoException | undefined
    this.errno = typeof cause?.code === 'string' ? cause.code : undefined
  }
}

export function toStorageError(err: unknown, message: string): StorageError {
  if (err instanceof StorageError) return err
  const detail = err instanceof Error ? err.message : String(err)
  return new StorageError(`${message}: ${detail}`, { cause: err })
}
