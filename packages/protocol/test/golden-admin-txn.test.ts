/**
 * The Admin and transaction APIs against real clients' codecs, encoded live: KafkaJS 2.2.4 writes the
 * classic versions (v0-v1), @platformatic/kafka 1.35.0 the flexible ones. Each client request must
 * decode to the message we expect with no byte left and re-encode to the same bytes; each client must
 * read our responses. ElectLeaders has no encoder in either client and rests on the spec check and
 * round trips alone.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { Reader, Writer } from '../src/codec.js'
import { type AnyApiDefinition, decodeRequestFrame, encodeRequestFrame } from '../src/framing.js'
import * as gen from '../src/generated/index.js'

const require = createRequire(import.meta.url)
const api = gen.apiDefinitions as unknown as Record<number, AnyApiDefinition>

interface KafkaJsRequest {
  apiKey: number
  apiVersion: number
  encode(): Promise<unknown>
}
type KafkaJsFrame = (args: {
  correlationId: number
  clientId: string
  request: KafkaJsRequest
}) => Promise<{ buffer: Buffer }>
const kafkajsFrame = require('kafkajs/src/protocol/request.js') as KafkaJsFrame

async function kafkajs(path: string, args: unknown): Promise<Buffer> {
  const build = require(`kafkajs/src/protocol/requests/${path}/request.js`) as (a: unknown) => KafkaJsRequest
  return (await kafkajsFrame({ correlationId: 7, clientId: 'fluxo-golden', request: build(args) })).buffer
}

/** KafkaJS's response decoder for `requests/<path>/response.js` (DeleteRecords builds it from the request). */
function kafkajsDecode(path: string, requestArgs?: unknown): (b: Buffer) => Promise<unknown> {
  type Decoder = { decode(b: Buffer): Promise<unknown> }
  const mod = require(`kafkajs/src/protocol/requests/${path}/response.js`) as
    | Decoder
    | ((a: unknown) => Decoder)
  return typeof mod === 'function' ? mod(requestArgs).decode : mod.decode
}

function checkFrame(frame: Buffer, apiKey: number, version: number, expected: object): void {
  const def = api[apiKey]
  const decoded = decodeRequestFrame(frame.subarray(4))
  assert.deepStrictEqual(decoded.header, {
    apiKey,
    apiVersion: version,
    correlationId: 7,
    clientId: 'fluxo-golden',
  })
  assert.deepStrictEqual(decoded.body, expected, `${def.name} v${version} body`)
  const ours = Buffer.concat(encodeRequestFrame(def, version, 7, 'fluxo-golden', expected))
  assert.equal(ours.toString('hex'), frame.toString('hex'), `${def.name} v${version}: our bytes differ`)
}

function checkBody(body: Buffer, apiKey: number, version: number, expected: object): void {
  const def = api[apiKey]
  const r = new Reader(body)
  assert.deepStrictEqual(def.decodeRequest(r, version), expected, `${def.name} v${version} body`)
  assert.equal(r.remaining, 0, `${def.name} v${version}: bytes left`)
  const w = new Writer()
  def.encodeRequest(w, version, expected)
  assert.equal(
    w.toBuffer().toString('hex'),
    body.toString('hex'),
    `${def.name} v${version}: our bytes differ`,
  )
}

function response(apiKey: number, version: number, message: object): Buffer {
  const w = new Writer()
  api[apiKey].encodeResponse(w, version, message)
  return w.toBuffer()
}

interface PlatformaticApi {
  createRequest(...args: unknown[]): { buffer: Buffer }
  parseResponse(correlationId: number, apiKey: number, apiVersion: number, reader: unknown): unknown
}
type Platformatic = Record<string, PlatformaticApi> & { Reader: { from(b: Buffer): unknown } }
const platformatic = (): Promise<Platformatic> =>
  import('@platformatic/kafka') as unknown as Promise<Platformatic>

const hexUuid = (id: string) =>
  Buffer.from(id, 'base64url')
    .toString('hex')
    .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5')
const TOPIC_ID = Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64url')

test('KafkaJS transaction requests v0-v1 and responses: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit', async () => {
  for (const v of [0, 1]) {
    const addPartitions = await kafkajs(`addPartitionsToTxn/v${v}`, {
      transactionalId: 'tx-1',
      producerId: '9007199254740991',
      producerEpoch: 3,
      topics: [{ topic: 'orders', partitions: [0, 2] }],
    })
    checkFrame(addPartitions, 24, v, {
      ...gen.defaultAddPartitionsToTxnRequest(),
      v3AndBelowTransactionalId: 'tx-1',
      v3AndBelowProducerId: Number.MAX_SAFE_INTEGER,
      v3AndBelowProducerEpoch: 3,
      v3AndBelowTopics: [{ name: 'orders', partitions: [0, 2] }],
    })
    const addPartitionsResponse = response(24, v, {
      ...gen.defaultAddPartitionsToTxnResponse(),
      throttleTimeMs: 5,
      resultsByTopicV3AndBelow: [
        { name: 'orders', resultsByPartition: [{ partitionIndex: 2, partitionErrorCode: 0 }] },
      ],
    })
    assert.deepEqual(await kafkajsDecode(`addPartitionsToTxn/v${v}`)(addPartitionsResponse), {
      throttleTime: v === 0 ? 5 : 0,
      ...(v === 1 ? { clientSideThrottleTime: 5 } : {}),
      errors: [{ topic: 'orders', partitionErrors: [{ partition: 2, errorCode: 0 }] }],
    })

    const addOffsets = await kafkajs(`addOffsetsToTxn/v${v}`, {
      transactionalId: 'tx-1',
      producerId: '42',
      producerEpoch: 0,
      groupId: 'group-a',
    })
    checkFrame(addOffsets, 25, v, {
      transactionalId: 'tx-1',
      producerId: 42,
      producerEpoch: 0,
      groupId: 'group-a',
    })

    const endTxn = await kafkajs(`endTxn/v${v}`, {
      transactionalId: 'tx-1',
      producerId: '42',
      producerEpoch: 1,
      transactionResult: true,
    })
    checkFrame(endTxn, 26, v, {
      transactionalId: 'tx-1',
      producerId: 42,
      producerEpoch: 1,
      committed: true,
    })
    const endTxnResponse = response(26, v, { ...gen.defaultEndTxnResponse(), throttleTimeMs: 0 })
    assert.equal(
      ((await kafkajsDecode(`endTxn/v${v}`)(endTxnResponse)) as { errorCode: number }).errorCode,
      0,
    )

    const txnOffsetCommit = await kafkajs(`txnOffsetCommit/v${v}`, {
      transactionalId: 'tx-1',
      groupId: 'group-a',
      producerId: '42',
      producerEpoch: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 1, offset: '100', metadata: null }] }],
    })
    checkFrame(txnOffsetCommit, 28, v, {
      ...gen.defaultTxnOffsetCommitRequest(),
      transactionalId: 'tx-1',
      groupId: 'group-a',
      producerId: 42,
      producerEpoch: 1,
      topics: [
        {
          name: 'orders',
          partitions: [
            {
              ...gen.defaultTxnOffsetCommitRequestPartition(),
              partitionIndex: 1,
              committedOffset: 100,
              committedMetadata: null,
            },
          ],
        },
      ],
    })
  }
})

test('KafkaJS DeleteRecords v0-v1 request and response', async () => {
  for (const v of [0, 1]) {
    const args = {
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '17' }] }],
      timeout: 3000,
    }
    const frame = await kafkajs(`deleteRecords/v${v}`, args)
    checkFrame(frame, 21, v, {
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 17 }] }],
      timeoutMs: 3000,
    })
    const body = response(21, v, {
      throttleTimeMs: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, lowWatermark: 17, errorCode: 0 }] }],
    })
    const decoded = (await kafkajsDecode(`deleteRecords/v${v}`, args)(body)) as { topics: unknown[] }
    assert.deepEqual(decoded.topics, [
      { topic: 'orders', partitions: [{ partition: 0, lowWatermark: 17n, errorCode: 0 }] },
    ])
  }
})

test('@platformatic/kafka flexible Admin requests and responses', async () => {
  const k = await platformatic()

  checkBody(
    k.incrementalAlterConfigsV1.createRequest(
      [
        {
          resourceType: 2,
          resourceName: 'orders',
          configs: [
            { name: 'retention.ms', configOperation: 0, value: '60000' },
            { name: 'cleanup.policy', configOperation: 1 },
          ],
        },
      ],
      true,
    ).buffer,
    44,
    1,
    {
      resources: [
        {
          resourceType: 2,
          resourceName: 'orders',
          configs: [
            { name: 'retention.ms', configOperation: 0, value: '60000' },
            { name: 'cleanup.policy', configOperation: 1, value: null },
          ],
        },
      ],
      validateOnly: true,
    },
  )
  const iac = { errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'orders' }
  assert.deepEqual(
    k.incrementalAlterConfigsV1.parseResponse(
      1,
      44,
      1,
      k.Reader.from(response(44, 1, { throttleTimeMs: 0, responses: [iac] })),
    ),
    { throttleTimeMs: 0, responses: [iac] },
  )

  checkBody(
    k.deleteRecordsV2.createRequest(
      [{ name: 'orders', partitions: [{ partitionIndex: 3, offset: 2n ** 40n }] }],
      5000,
    ).buffer,
    21,
    2,
    { topics: [{ name: 'orders', partitions: [{ partitionIndex: 3, offset: 2 ** 40 }] }], timeoutMs: 5000 },
  )
  assert.deepEqual(
    k.deleteRecordsV2.parseResponse(
      1,
      21,
      2,
      k.Reader.from(
        response(21, 2, {
          throttleTimeMs: 0,
          topics: [
            { name: 'orders', partitions: [{ partitionIndex: 3, lowWatermark: 2 ** 40, errorCode: 0 }] },
          ],
        }),
      ),
    ),
    {
      throttleTimeMs: 0,
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 3, lowWatermark: 2n ** 40n, errorCode: 0 }] },
      ],
    },
  )

  for (const v of [2, 4]) {
    const client = k[`describeLogDirsV${v}`]
    checkBody(client.createRequest([{ name: 'orders', partitions: [0, 1] }]).buffer, 35, v, {
      topics: [{ topic: 'orders', partitions: [0, 1] }],
    })
    const result = {
      errorCode: 0,
      logDir: '/var/fluxo',
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, partitionSize: 1024, offsetLag: 0, isFutureKey: false }],
        },
      ],
      totalBytes: v >= 4 ? 10_000 : -1,
      usableBytes: v >= 4 ? 5_000 : -1,
    }
    const parsed = client.parseResponse(
      1,
      35,
      v,
      k.Reader.from(response(35, v, { throttleTimeMs: 0, errorCode: 0, results: [result] })),
    ) as {
      results: {
        logDir: string
        topics: { partitions: { partitionSize: bigint }[] }[]
        totalBytes?: bigint
      }[]
    }
    assert.equal(parsed.results[0].logDir, '/var/fluxo')
    assert.equal(parsed.results[0].topics[0].partitions[0].partitionSize, 1024n)
    if (v >= 4) assert.equal(parsed.results[0].totalBytes, 10_000n)
  }

  checkBody(
    k.describeTopicPartitionsV0.createRequest([{ name: 'orders' }], 100, {
      topicName: 'orders',
      partitionIndex: 5,
    }).buffer,
    75,
    0,
    {
      topics: [{ name: 'orders' }],
      responsePartitionLimit: 100,
      cursor: { topicName: 'orders', partitionIndex: 5 },
    },
  )
  checkBody(k.describeTopicPartitionsV0.createRequest([{ name: 'orders' }], 2000).buffer, 75, 0, {
    topics: [{ name: 'orders' }],
    responsePartitionLimit: 2000,
    cursor: null,
  })
  const partition = {
    errorCode: 0,
    partitionIndex: 0,
    leaderId: 1,
    leaderEpoch: 4,
    replicaNodes: [1],
    isrNodes: [1],
    eligibleLeaderReplicas: [],
    lastKnownElr: [],
    offlineReplicas: [],
  }
  const dtp = k.describeTopicPartitionsV0.parseResponse(
    1,
    75,
    0,
    k.Reader.from(
      response(75, 0, {
        throttleTimeMs: 0,
        topics: [
          {
            errorCode: 0,
            name: 'orders',
            topicId: TOPIC_ID,
            isInternal: false,
            partitions: [partition],
            topicAuthorizedOperations: -2147483648,
          },
        ],
        nextCursor: { topicName: 'orders', partitionIndex: 1 },
      }),
    ),
  ) as { topics: { name: string; topicId: string; partitions: unknown[] }[]; nextCursor: unknown }
  assert.equal(dtp.topics[0].name, 'orders')
  assert.equal(dtp.topics[0].topicId, hexUuid(TOPIC_ID))
  assert.deepEqual(dtp.topics[0].partitions, [partition])
  assert.deepEqual(dtp.nextCursor, { topicName: 'orders', partitionIndex: 1 })
})

test('@platformatic/kafka flexible transaction requests and responses', async () => {
  const k = await platformatic()

  checkBody(k.addOffsetsToTxnV4.createRequest('tx-1', 42n, 2, 'group-a').buffer, 25, 4, {
    transactionalId: 'tx-1',
    producerId: 42,
    producerEpoch: 2,
    groupId: 'group-a',
  })
  assert.deepEqual(
    k.addOffsetsToTxnV4.parseResponse(
      1,
      25,
      4,
      k.Reader.from(response(25, 4, { throttleTimeMs: 0, errorCode: 0 })),
    ),
    { throttleTimeMs: 0, errorCode: 0 },
  )

  const transaction = {
    transactionalId: 'tx-1',
    producerId: 42n,
    producerEpoch: 2,
    verifyOnly: false,
    topics: [{ name: 'orders', partitions: [0, 1] }],
  }
  for (const v of [3, 5]) {
    checkBody(k[`addPartitionsToTxnV${v}`].createRequest([transaction]).buffer, 24, v, {
      ...gen.defaultAddPartitionsToTxnRequest(),
      ...(v >= 4
        ? { transactions: [{ ...transaction, producerId: 42 }] }
        : {
            v3AndBelowTransactionalId: 'tx-1',
            v3AndBelowProducerId: 42,
            v3AndBelowProducerEpoch: 2,
            v3AndBelowTopics: transaction.topics,
          }),
    })
  }
  const topicResults = [
    { name: 'orders', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: 0 }] },
  ]
  assert.deepEqual(
    k.addPartitionsToTxnV5.parseResponse(
      1,
      24,
      5,
      k.Reader.from(
        response(24, 5, {
          ...gen.defaultAddPartitionsToTxnResponse(),
          resultsByTransaction: [{ transactionalId: 'tx-1', topicResults }],
        }),
      ),
    ),
    { throttleTimeMs: 0, errorCode: 0, resultsByTransaction: [{ transactionalId: 'tx-1', topicResults }] },
  )

  checkBody(k.endTxnV4.createRequest('tx-1', 42n, 2, false).buffer, 26, 4, {
    transactionalId: 'tx-1',
    producerId: 42,
    producerEpoch: 2,
    committed: false,
  })

  checkBody(
    k.txnOffsetCommitV4.createRequest('tx-1', 'group-a', 42n, 2, 7, 'member-1', null, [
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 1, committedOffset: 100n, committedLeaderEpoch: 3, committedMetadata: 'm' },
        ],
      },
    ]).buffer,
    28,
    4,
    {
      transactionalId: 'tx-1',
      groupId: 'group-a',
      producerId: 42,
      producerEpoch: 2,
      generationId: 7,
      memberId: 'member-1',
      groupInstanceId: null,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 1, committedOffset: 100, committedLeaderEpoch: 3, committedMetadata: 'm' },
          ],
        },
      ],
    },
  )

  checkBody(k.describeProducersV0.createRequest([{ name: 'orders', partitionIndexes: [0] }]).buffer, 61, 0, {
    topics: [{ name: 'orders', partitionIndexes: [0] }],
  })
  const producer = {
    producerId: 42,
    producerEpoch: 2,
    lastSequence: 9,
    lastTimestamp: 1700000000000,
    coordinatorEpoch: 0,
    currentTxnStartOffset: -1,
  }
  const producers = k.describeProducersV0.parseResponse(
    1,
    61,
    0,
    k.Reader.from(
      response(61, 0, {
        throttleTimeMs: 0,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0, errorMessage: null, activeProducers: [producer] },
            ],
          },
        ],
      }),
    ),
  ) as { topics: { partitions: { activeProducers: unknown[] }[] }[] }
  assert.deepEqual(producers.topics[0].partitions[0].activeProducers, [
    { ...producer, producerId: 42n, lastTimestamp: 1700000000000n, currentTxnStartOffset: -1n },
  ])

  checkBody(k.describeTransactionsV0.createRequest(['tx-1', 'tx-2']).buffer, 65, 0, {
    transactionalIds: ['tx-1', 'tx-2'],
  })
  const state = {
    errorCode: 0,
    transactionalId: 'tx-1',
    transactionState: 'Ongoing',
    transactionTimeoutMs: 60000,
    transactionStartTimeMs: 1700000000000,
    producerId: 42,
    producerEpoch: 2,
    topics: [{ topic: 'orders', partitions: [0, 1] }],
  }
  assert.deepEqual(
    k.describeTransactionsV0.parseResponse(
      1,
      65,
      0,
      k.Reader.from(response(65, 0, { throttleTimeMs: 0, transactionStates: [state] })),
    ),
    {
      throttleTimeMs: 0,
      transactionStates: [{ ...state, transactionStartTimeMs: 1700000000000n, producerId: 42n }],
    },
  )

  checkBody(k.listTransactionsV1.createRequest(['ONGOING'], [42n], 1000n, null).buffer, 66, 1, {
    stateFilters: ['ONGOING'],
    producerIdFilters: [42],
    durationFilter: 1000,
  })
  assert.deepEqual(
    k.listTransactionsV1.parseResponse(
      1,
      66,
      1,
      k.Reader.from(
        response(66, 1, {
          throttleTimeMs: 0,
          errorCode: 0,
          unknownStateFilters: ['Bogus'],
          transactionStates: [{ transactionalId: 'tx-1', producerId: 42, transactionState: 'Ongoing' }],
        }),
      ),
    ),
    {
      throttleTimeMs: 0,
      errorCode: 0,
      unknownStateFilters: ['Bogus'],
      transactionStates: [{ transactionalId: 'tx-1', producerId: 42n, transactionState: 'Ongoing' }],
    },
  )
})
