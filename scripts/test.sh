#!/usr/bin/env bash
# Runs every test: unit and property tests and the HTTP integration tests (each on its own
# temporary SQLite database, including the AWX conformance replay); then every integration
# test again on PostgreSQL — a throwaway cluster started here (scripts/pg.sh), one fresh
# database per test app — together with the two-instance and migrate-data tests; then the
# real-client scenario (awx CLI, awxkit and the awx.awx collection in a Python venv against
# a release build); then the README's own run command and curl example
# (scripts/readme-check.sh).
#   CREDSTORE_TEST_POSTGRES=postgres://...  use that server instead of starting one
#   CREDSTORE_SKIP_CLIENTS=1                leave out the client scenario when offline
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
cargo test --locked --all-targets "$@"
sqlite_seconds=$((SECONDS - start))

if [ -z "${CREDSTORE_TEST_POSTGRES:-}" ]; then
    pg_dir=$(mktemp -d /tmp/credstore-pg.XXXXXX)
    trap 'scripts/pg.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
    CREDSTORE_TEST_POSTGRES=$(scripts/pg.sh start "$pg_dir")
    export CREDSTORE_TEST_POSTGRES
fi
start=$SECONDS
if ! cargo test --locked --test '*' "$@"; then
    # What the server said and how full its disk was, for a failure that is the server's.
    if [ -n "${pg_dir:-}" ]; then
        tail -n 40 "$pg_dir/server.log" >&2 || true
        df -h "$pg_dir" >&2 || true
    fi
    exit 1
fi
postgres_seconds=$((SECONDS - start))
echo "test suite: SQLite pass ${sqlite_seconds}s, PostgreSQL pass ${postgres_seconds}s"

if [ "${CREDSTORE_SKIP_CLIENTS:-0}" != "1" ]; then
    bash tests/clients/run.sh
fi

# The README's run command and curl example, as a newcomer types them.
bash scripts/readme-check.sh
