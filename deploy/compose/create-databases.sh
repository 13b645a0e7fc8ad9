#!/bin/sh
# One-shot job (docker-compose `postgres-init`): create each service's database
# if it does not exist yet. Idempotent; reads PGHOST/PGUSER/PGPASSWORD and DATABASES.
set -eu
for db in ${DATABASES:?space-separated database names}; do
  exists=$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${db}'")
  if [ "${exists}" = "1" ]; then
    echo "database ${db}: exists"
  else
    psql -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"${db}\""
    echo "database ${db}: created"
  fi
done
