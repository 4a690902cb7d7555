// Tutorial step: create a topic with the Admin API (KafkaJS).
// Usage: node examples/create-topic.mjs [topic] [partitions]
import { Kafka, logLevel } from 'kafkajs'

const bootstrap = process.env.BOOTSTRAP ?? '127.0.0.1:9092'
const topic = process.argv[2] ?? 'payments'
const partitions = Number(process.argv[3] ?? 3)

const kafka = new Kafka({ clientId: 'tutorial-admin', brokers: [bootstrap], logLevel: logLevel.WARN })
const admin = kafka.admin()
await admin.connect()
const created = await admin.createTopics({
  topics: [
    {
      topic,
      numPartitions: partitions,
      // Keep events for 7 days: reading them does not delete them.
      configEntries: [{ name: 'retention.ms', value: String(7 * 24 * 3600 * 1000) }],
    },
  ],
})
const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
console.log(
  `${created ? 'created' : 'already exists'}: ${topic} with ${metadata.topics[0].partitions.length} partitions`,
)
await admin.disconnect()
