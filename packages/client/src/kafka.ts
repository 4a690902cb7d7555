import { Admin, type AdminOptions } from './admin/admin.js'
import { Cluster, type ClusterOptions } from './cluster/cluster.js'
import { Consumer, type ConsumerOptions } from './consumer/consumer.js'
import { Producer, type ProducerOptions } from './producer/producer.js'

export type KafkaOptions = ClusterOptions

/**
 * Entry point: holds the connection settings; each producer and admin gets its own connections.
 *
 * ```ts
 * const kafka = new Kafka({ bootstrap: ['localhost:9092'], clientId: 'app' })
 * const producer = kafka.producer({ lingerMs: 5, compression: 'lz4' })
 * const { partition, offset } = await producer.send({ topic: 't', key: 'k', value: 'v' })
 * await producer.close()
 * ```
 */
export class Kafka {
  constructor(readonly options: KafkaOptions) {
    new Cluster(options) // validates the bootstrap list now rather than on first use
  }

  /** A producer: idempotent with acks=-1 unless configured otherwise. */
  producer<K = string | Buffer, V = string | Buffer>(options: ProducerOptions<K, V> = {}): Producer<K, V> {
    return new Producer<K, V>(new Cluster(this.options), options)
  }

  /**
   * A consumer: `subscribe` with a groupId, or `assign` partitions; read with `for await` or `run()`.
   *
   * ```ts
   * const consumer = kafka.consumer({ groupId: 'billing', valueDeserializer: stringSerde })
   * consumer.subscribe(['orders'])
   * for await (const record of consumer) console.log(record.offset, record.value)
   * ```
   */
  consumer<K = Buffer, V = Buffer>(options: ConsumerOptions<K, V> = {}): Consumer<K, V> {
    return new Consumer<K, V>(new Cluster(this.options), options)
  }

  admin(options: AdminOptions = {}): Admin {
    return new Admin(new Cluster(this.options), options)
  }
}
