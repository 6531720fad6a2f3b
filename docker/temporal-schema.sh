#!/bin/sh
# One-shot (service temporal-schema, image temporalio/admin-tools): bring Temporal's two PostgreSQL databases
# to the schema version this admin-tools release ships, before the server starts.
#
# Safe at every `docker compose up`: setup-schema only adds the version table when missing and update-schema
# applies only versions newer than the recorded one. Databases are created by docker/postgres-init.sql,
# because `temporal-sql-tool create` fails when the database already exists.
# Connection settings come from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD.
set -eu

schema_root=/etc/temporal/schema/postgresql/v12

# PostgreSQL is healthy before this runs (depends_on), but keep a short retry for a slow first start.
retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 15 ]; then
      echo "temporal-schema: giving up after $attempt attempts: $*" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir="$schema_root/temporal/versioned" ;;
    *) dir="$schema_root/visibility/versioned" ;;
  esac
  echo "temporal-schema: $db"
  retry temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$dir"
done
echo 'temporal-schema: done'
