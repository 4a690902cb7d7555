export { type Broker, type BrokerOptions, startBroker } from './broker.js'
export {
  type BrokerConfig,
  type TopicConfig,
  parseBrokerConfig,
  parseProperties,
  resolveTopicConfig,
} from './config.js'
export type { LogStore, PartitionLog, TopicRecord, LogConfig } from './storage/types.js'
