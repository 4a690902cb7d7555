import alterConfigs from './alter-configs.js'
import apiVersions from './api-versions.js'
import consumerGroupDescribe from './consumer-group-describe.js'
import consumerGroupHeartbeat from './consumer-group-heartbeat.js'
import createPartitions from './create-partitions.js'
import createTopics from './create-topics.js'
import deleteGroups from './delete-groups.js'
import deleteTopics from './delete-topics.js'
import describeCluster from './describe-cluster.js'
import describeConfigs from './describe-configs.js'
import describeGroups from './describe-groups.js'
import fetch from './fetch.js'
import findCoordinator from './find-coordinator.js'
import heartbeat from './heartbeat.js'
import initProducerId from './init-producer-id.js'
import joinGroup from './join-group.js'
import leaveGroup from './leave-group.js'
import listGroups from './list-groups.js'
import listOffsets from './list-offsets.js'
import metadata from './metadata.js'
import offsetCommit from './offset-commit.js'
import offsetDelete from './offset-delete.js'
import offsetFetch from './offset-fetch.js'
import offsetForLeaderEpoch from './offset-for-leader-epoch.js'
import produce from './produce.js'
import syncGroup from './sync-group.js'

import type { ApiSpec } from './types.js'

export const specs: ApiSpec[] = [
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
  initProducerId,
  offsetForLeaderEpoch,
  describeConfigs,
  alterConfigs,
  createPartitions,
  deleteGroups,
  offsetDelete,
  describeCluster,
  consumerGroupHeartbeat,
  consumerGroupDescribe,
]
