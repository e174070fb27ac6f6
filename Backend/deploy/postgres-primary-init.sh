#!/bin/bash
# Run once by the postgres image on the primary's first start (docker-compose.yml mounts
# it in /docker-entrypoint-initdb.d): the standby `postgres-replica` streams the WAL as
# the paytrace role (a superuser, so it may replicate) with a password, through a
# physical slot that keeps WAL the standby has not replayed yet (size the disk for a
# standby that stays down: the slot keeps everything since).
set -euo pipefail
echo "host replication paytrace all scram-sha-256" >> "$PGDATA/pg_hba.conf"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "SELECT pg_create_physical_replication_slot('paytrace_replica')"
