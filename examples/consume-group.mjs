// Tutorial step: read a topic as a member of a consumer group (KafkaJS). The group shares the
// topic's partitions among its members and commits how far it has read, so a restarted consumer
// continues where the group left off.
// Usage: node examples/consume-group.mjs [topic] [group] [idle seconds before exiting]
import { Kafka, logLevel } from 'kafkajs'

const bootstrap = process.env.BOOTSTRAP ?? '127.0.0.1:9092'
const topic = process.argv[2] ?? 'payments'
const groupId = process.argv[3] ?? 'billing'
const idleSeconds = Number(process.argv[4] ?? 3)

const kafka = new Kafka({ clientId: 'tutorial-consumer', brokers: [bootstrap], logLevel: logLevel.WARN })
const consumer = kafka.consumer({ groupId })
await consumer.connect()
await consumer.subscribe({ topic, fromBeginning: true })

let idle
const stopWhenIdle = () => {
  clearTimeout(idle)
  idle = setTimeout(async () => {
    await consumer.disconnect()
  }, idleSeconds * 1000)
}
// The idle clock starts once the group has assigned partitions (`fluxo start` waits
// group.initial.rebalance.delay.ms, 3 s as in Kafka, for more members before the first assignment).
consumer.on(consumer.events.GROUP_JOIN, stopWhenIdle)
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    console.log(`p${partition} offset ${message.offset} key ${message.key} value ${message.value}`)
    stopWhenIdle()
  },
})
