#!/bin/sh
# Restore one database from a dump written by backup.sh.
#
#   restore.sh [--clean] DUMP_FILE TARGET_DATABASE
#
# Verifies the dump against the set's SHA256SUMS when present, creates
# TARGET_DATABASE if it does not exist, and restores in a single transaction
# (all or nothing). Without --clean it refuses a target that already has tables,
# so a typo cannot overwrite a live database; with --clean existing objects are
# dropped first. Connection through libpq variables (PGHOST, PGPORT, PGUSER,
# PGPASSWORD). Stop the services that write to TARGET_DATABASE before restoring
# into it (see docs/runbooks/restore-from-backup.md).
set -eu

clean=""
if [ "${1:-}" = "--clean" ]; then
  clean="--clean --if-exists"
  shift
fi
if [ "$#" -ne 2 ]; then
  echo "usage: restore.sh [--clean] DUMP_FILE TARGET_DATABASE" >&2
  exit 2
fi
dump="$1"
database="$2"

if [ ! -f "${dump}" ]; then
  echo "restore: ${dump} not found" >&2
  exit 1
fi
sums="$(dirname "${dump}")/SHA256SUMS"
if [ -f "${sums}" ]; then
  (cd "$(dirname "${dump}")" && grep " ./$(basename "${dump}")\$" SHA256SUMS | sha256sum -c -) >&2
else
  echo "restore: no SHA256SUMS beside the dump; the set may be incomplete" >&2
fi
pg_restore --list "${dump}" > /dev/null

exists="$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${database}'")"
if [ "${exists}" != "1" ]; then
  echo "restore: creating database ${database}" >&2
  psql -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"${database}\""
elif [ -z "${clean}" ]; then
  tables="$(psql -d "${database}" -tAc "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
  if [ "${tables}" != "0" ]; then
    echo "restore: ${database} already has ${tables} tables; pass --clean to replace them" >&2
    exit 1
  fi
fi

# shellcheck disable=SC2086  # $clean is intentionally split into two options
pg_restore --single-transaction --exit-on-error --no-owner ${clean} --dbname="${database}" "${dump}"
echo "restore: ${dump} restored into ${database}" >&2
