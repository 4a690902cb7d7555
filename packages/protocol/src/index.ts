export * from './crc32c.js'
export * from './records/batch-header.js'
