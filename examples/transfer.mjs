// Tutorial step: all or nothing with a transaction (the Fluxo client). A transfer writes a debit and
// a credit; both become visible together when the transaction commits. A second transfer is aborted:
// read_committed consumers never see its records.
// Usage: node examples/transfer.mjs [topic]
import { Kafka } from '@fluxo/client'

const bootstrap = process.env.BOOTSTRAP ?? '127.0.0.1:9092'
const topic = process.argv[2] ?? 'ledger'

const kafka = new Kafka({ bootstrap: [bootstrap], clientId: 'tutorial-transfers' })
const producer = kafka.producer({ transactionalId: 'transfers-1' })

async function transfer(id, from, to, amount, commit) {
  await producer.beginTransaction()
  const debit = producer.send({ topic, key: from, value: JSON.stringify({ transfer: id, amount: -amount }) })
  const credit = producer.send({ topic, key: to, value: JSON.stringify({ transfer: id, amount }) })
  await Promise.all([debit, credit])
  if (commit) await producer.commitTransaction()
  else await producer.abortTransaction()
  console.log(`transfer ${id}: ${from} -> ${to} ${amount}: ${commit ? 'committed' : 'aborted'}`)
}

await transfer(1, 'alice', 'bob', 25, true)
await transfer(2, 'alice', 'carol', 999, false)
await producer.close()
