#!/bin/bash
# The read replica: on first start (an empty data directory) it copies the primary with
# pg_basebackup -R, which also writes standby.signal and primary_conninfo, so PostgreSQL starts as a
# hot standby streaming from the primary through the slot made by postgres-primary-init.sh. Later
# starts find the data directory and go straight to the official image's entrypoint.
set -euo pipefail
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD}"
: "${PGDATA:?}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  echo "replica: copying the primary (pg_basebackup from ${PRIMARY_HOST:-postgres})"
  # The password goes through the environment, never the command line.
  PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD" gosu postgres pg_basebackup \
    --host="${PRIMARY_HOST:-postgres}" --port=5432 --username=replicator \
    --pgdata="$PGDATA" --wal-method=stream --slot=taskman_replica \
    --write-recovery-conf --checkpoint=fast --progress
fi

exec docker-entrypoint.sh "$@"
