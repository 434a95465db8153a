#!/usr/bin/env bash
# A streaming replica: clone the primary once (pg_basebackup -R writes standby.signal and
# primary_conninfo), then run postgres. Runs as the postgres user.
set -euo pipefail
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
until pg_isready -h primary -p 5432 -q; do sleep 1; done
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  rm -rf "${PGDATA:?}"/*
  pg_basebackup -h primary -p 5432 -U replicator -D "$PGDATA" -R -X stream --checkpoint=fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
