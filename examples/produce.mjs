// Tutorial step: write keyed events with headers (KafkaJS). Events with the same key go to the same
// partition (murmur2 of the key, as the Java client does), so they are read back in the order written.
// Usage: node examples/produce.mjs [topic] [count]
import { Kafka, Partitioners, logLevel } from 'kafkajs'

const bootstrap = process.env.BOOTSTRAP ?? '127.0.0.1:9092'
const topic = process.argv[2] ?? 'payments'
const count = Number(process.argv[3] ?? 9)

const kafka = new Kafka({ clientId: 'tutorial-producer', brokers: [bootstrap], logLevel: logLevel.WARN })
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
await producer.connect()
const customers = ['alice', 'bob', 'carol']
const messages = Array.from({ length: count }, (_, i) => ({
  key: customers[i % customers.length],
  value: JSON.stringify({ payment: i + 1, amount: (i + 1) * 10 }),
  headers: { source: 'tutorial' },
}))
const results = await producer.send({ topic, messages, acks: -1 })
for (const r of results) console.log(`partition ${r.partition}: base offset ${r.baseOffset}`)
await producer.disconnect()
