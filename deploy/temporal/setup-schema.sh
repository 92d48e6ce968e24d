#!/bin/sh
# One-shot schema setup for Temporal on PostgreSQL, run in the temporalio/admin-tools image (which has
# temporal-sql-tool and the schema files) before the server starts. Creates the two databases and brings
# their schemas up to this admin-tools version: run it again after upgrading the images, it applies only
# the new schema versions.
#   POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, SQL_PASSWORD (read by temporal-sql-tool itself),
#   DBNAME (default temporal), VISIBILITY_DBNAME (default temporal_visibility): the server's names.
set -eu
: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS}" "${POSTGRES_USER:?set POSTGRES_USER}" "${SQL_PASSWORD:?set SQL_PASSWORD}"
SCHEMA=/etc/temporal/schema/postgresql/v12

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"
}

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db=${pair%%:*}
  schema=${pair#*:}
  # The one failure to let pass: on a re-run the database exists. Anything else fails the next step.
  sql --db "$db" create || echo "database $db exists already"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$SCHEMA/$schema/versioned"
done
echo "Temporal schema is up to date"
