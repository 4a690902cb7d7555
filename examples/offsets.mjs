// Tutorial step: where each partition starts and ends (ListOffsets through the Admin API).
// Usage: node examples/offsets.mjs [topic]
import { Kafka, logLevel } from 'kafkajs'

const bootstrap = process.env.BOOTSTRAP ?? '127.0.0.1:9092'
const topic = process.argv[2] ?? 'payments'
const kafka = new Kafka({ clientId: 'tutorial-admin', brokers: [bootstrap], logLevel: logLevel.WARN })
const admin = kafka.admin()
await admin.connect()
for (const p of await admin.fetchTopicOffsets(topic)) {
  console.log(`partition ${p.partition}: earliest ${p.low}, next offset ${p.high}`)
}
await admin.disconnect()
