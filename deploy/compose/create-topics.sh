#!/usr/bin/env bash
# One-shot job (docker-compose `kafka-init`): create the platform's topics with
# their partition counts. Idempotent (--if-not-exists); fails if a topic exists
# with fewer partitions than wanted, because keys (show ids) would then map to
# other partitions than the consumers expect.
set -euo pipefail
bootstrap="${KAFKA_BOOTSTRAP_SERVERS:?}"
prefix="${KAFKA_TOPIC_PREFIX:-}"
partitions="${TOPIC_PARTITIONS:-6}"
replication="${TOPIC_REPLICATION_FACTOR:-1}"
topics=(ticketing.catalog.v1 ticketing.booking.v1 ticketing.inventory.v1 ticketing.dead-letter.v1)
kafka_topics=/opt/kafka/bin/kafka-topics.sh

for topic in "${topics[@]}"; do
  name="${prefix}${topic}"
  retention_ms=-1                   # forever: read models are rebuilt from offset 0
  if [[ "${topic}" == *dead-letter* ]]; then
    retention_ms=2592000000         # 30 days: time to inspect and re-drive
  fi
  "${kafka_topics}" --bootstrap-server "${bootstrap}" --create --if-not-exists \
    --topic "${name}" --partitions "${partitions}" --replication-factor "${replication}" \
    --config "retention.ms=${retention_ms}" \
    --config "min.insync.replicas=1"
  actual=$("${kafka_topics}" --bootstrap-server "${bootstrap}" --describe --topic "${name}" \
    | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n1)
  if [[ "${actual}" -lt "${partitions}" ]]; then
    echo "topic ${name} has ${actual} partitions, expected ${partitions}" >&2
    exit 1
  fi
  echo "topic ${name}: ${actual} partitions"
done
