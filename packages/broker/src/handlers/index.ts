import { apiVersions } from './api-versions.js'
import { consumerGroupDescribe } from './consumer-group-describe.js'
import { consumerGroupHeartbeat } from './consumer-group-heartbeat.js'
import { createTopics } from './create-topics.js'
import { deleteGroups } from './delete-groups.js'
import { deleteTopics } from './delete-topics.js'
import { describeGroups } from './describe-groups.js'
import { fetch } from './fetch.js'
import { findCoordinator } from './find-coordinator.js'
import type { Handler } from './handler.js'
import { heartbeat } from './heartbeat.js'
import { joinGroup } from './join-group.js'
import { leaveGroup } from './leave-group.js'
import { listGroups } from './list-groups.js'
import { listOffsets } from './list-offsets.js'
import { metadata } from './metadata.js'
import { offsetCommit } from './offset-commit.js'
import { offsetDelete } from './offset-delete.js'
import { offsetFetch } from './offset-fetch.js'
import { produce } from './produce.js'
import { syncGroup } from './sync-group.js'

/** Every API this broker serves: ApiVersions advertises exactly these. */
export const handlers: readonly Handler[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  offsetCommit,
  offsetFetch,
  findCoordinator,
  joinGroup,
  heartbeat,
  leaveGroup,
  syncGroup,
  describeGroups,
  listGroups,
  apiVersions,
  createTopics,
  deleteTopics,
  deleteGroups,
  offsetDelete,
  consumerGroupHeartbeat,
  consumerGroupDescribe,
] as unknown as Handler[]
