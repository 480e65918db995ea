#!/bin/bash
# Runs once, when the primary's data directory is created (/docker-entrypoint-initdb.d/): a role
# for streaming replication, a physical slot so the primary keeps the WAL the replica has not
# received yet (capped by max_slot_wal_keep_size), and a pg_hba.conf line letting that role in
# from the compose network ("all" in pg_hba.conf does not cover replication connections).
set -euo pipefail
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('taskman_replica');
SQL

echo 'host replication replicator all scram-sha-256' >> "$PGDATA/pg_hba.conf"
