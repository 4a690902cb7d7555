import { apiVersions } from './api-versions.js'
import { createTopics } from './create-topics.js'
import { deleteTopics } from './delete-topics.js'
import { fetch } from './fetch.js'
import type { Handler } from './handler.js'
import { listOffsets } from './list-offsets.js'
import { metadata } from './metadata.js'
import { produce } from './produce.js'

/** Every API this broker serves: ApiVersions advertises exactly these. */
export const handlers: readonly Handler[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  apiVersions,
  createTopics,
  deleteTopics,
] as unknown as Handler[]
