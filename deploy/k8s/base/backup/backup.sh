#!/bin/sh
# Dump PostgreSQL databases (the event store first of all) to BACKUP_DIR.
# Used by the `postgres-backup` CronJob; runs the same on a laptop.
#
# Environment:
#   PGHOST, PGPORT, PGUSER, PGPASSWORD  libpq connection (PGPASSWORD may come from ~/.pgpass)
#   BACKUP_DATABASES                    space-separated names
#                                       (default: ticketing_booking ticketing_inventory ticketing_gateway)
#   BACKUP_DIR                          where dumps go (default /backups)
#   BACKUP_RETENTION_DAYS               delete backup sets older than this (default 14; 0 keeps all)
#
# Writes BACKUP_DIR/<UTC timestamp>/<db>.dump (pg_dump custom format, consistent
# snapshot per database) plus SHA256SUMS, and prints the set's directory last.
# A set is only complete once SHA256SUMS exists: dumps are written as *.partial
# and renamed after pg_dump succeeds.
set -eu

databases="${BACKUP_DATABASES:-ticketing_booking ticketing_inventory ticketing_gateway ticketing_entry ticketing_notifications}"
backup_dir="${BACKUP_DIR:-/backups}"
retention_days="${BACKUP_RETENTION_DAYS:-14}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="${backup_dir}/${stamp}"

mkdir -p "${target}"
for db in ${databases}; do
  echo "backup: dumping ${db}" >&2
  pg_dump --format=custom --compress=6 --no-owner --dbname="${db}" \
    --file="${target}/${db}.dump.partial"
  mv "${target}/${db}.dump.partial" "${target}/${db}.dump"
done
(cd "${target}" && sha256sum ./*.dump > SHA256SUMS.partial && mv SHA256SUMS.partial SHA256SUMS)
echo "backup: complete set in ${target}" >&2

if [ "${retention_days}" -gt 0 ]; then
  find "${backup_dir}" -mindepth 1 -maxdepth 1 -type d -name '20*Z' -mtime "+${retention_days}" \
    -exec sh -c 'echo "backup: pruning $1" >&2; rm -rf "$1"' _ {} \;
fi
echo "${target}"
