// The Fluxo TypeScript client in one script: create a topic, produce JSON orders keyed by customer,
// consume them in a consumer group with `for await`, and see the group's committed offsets.
// Usage: node examples/client.mjs [topic] [group]
import { Kafka, jsonSerde, stringSerde } from '@fluxo/client'

const bootstrap = process.env.BOOTSTRAP ?? '127.0.0.1:9092'
const topic = process.argv[2] ?? 'orders'
const groupId = process.argv[3] ?? 'shipping'

const kafka = new Kafka({ bootstrap: [bootstrap], clientId: 'example-client' })

const admin = kafka.admin()
const existing = await admin.listTopics()
if (!existing.includes(topic)) await admin.createTopics([{ name: topic, partitions: 3 }])

// Idempotent, acks=all by default; the same key always goes to the same partition (murmur2).
const producer = kafka.producer({ valueSerializer: jsonSerde() })
const orders = [
  { customer: 'alice', total: 12 },
  { customer: 'bob', total: 7 },
  { customer: 'alice', total: 30 },
  { customer: 'carol', total: 5 },
  { customer: 'bob', total: 18 },
  { customer: 'alice', total: 9 },
]
await Promise.all(
  orders.map((order) =>
    producer.send({ topic, key: order.customer, value: order, headers: { source: 'example' } }),
  ),
)
await producer.close()
console.log(`produced ${orders.length} orders`)

const consumer = kafka.consumer({
  groupId,
  autoOffsetReset: 'earliest',
  keyDeserializer: stringSerde,
  valueDeserializer: jsonSerde(),
})
consumer.subscribe([topic])
let seen = 0
for await (const record of consumer) {
  console.log(`p${record.partition} offset ${record.offset} ${record.key} total ${record.value.total}`)
  if (++seen === orders.length) break
}
await consumer.commit()
await consumer.close()

const [offsets] = await admin.fetchOffsets(groupId, [topic])
const committed = offsets.partitions.map((p) => `p${p.partition}=${p.offset}`).join(' ')
console.log(`group ${groupId} committed ${committed}`)
await admin.close()
