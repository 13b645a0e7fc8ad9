"""One Kafka runtime for every service: a faststream broker, batch subscribers, one failure policy.

A service declares each subscriber as a plain async function that takes a `PartitionBatch`
of decoded messages and stores its effects together with `batch.next_offset` in one
transaction (`runtime.KafkaRuntime.subscriber`). The runtime does everything else, the same
way in every service, one concern per module:

- `messages`: what a subscriber receives and what a service publishes.
- `positions`: a partition starts where the service's own database says, read whenever the
  group hands the partition out; every batch continues exactly where the last one ended.
- `offset_copies`: Kafka's committed offsets, only a copy of the positions for tooling.
- `retries`: a transient failure backs off and tries the same batch again, keeping the position.
- `failures`: a message that can never be processed goes to the dead-letter topic; the
  partition moves on.
- `lag`: how far behind each partition is, and for how long.
- `spans`: a trace span for every message consumed and published.
- `subscription`: one subscriber function, reading fetched batches partition by partition.
- `batch_subscriber`: how a subscription is registered on faststream.
- `broker`: the faststream broker, its producer and what the service publishes.
- `runtime`: the service's broker with its subscriptions; `start()`, then `stop()`.
"""
