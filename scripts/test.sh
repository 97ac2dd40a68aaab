#!/usr/bin/env bash
# Runs every test: unit and property tests, the HTTP integration tests (each on its own
# temporary SQLite database, including the AWX conformance replay), then the real-client
# scenario (awx CLI, awxkit and the awx.awx collection in a Python venv against a release
# build). Set CREDSTORE_SKIP_CLIENTS=1 to leave out the client scenario when offline.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets "$@"
if [ "${CREDSTORE_SKIP_CLIENTS:-0}" != "1" ]; then
    bash tests/clients/run.sh
fi
