#!/usr/bin/env bash
# Runs every test: unit tests, property tests and the HTTP integration tests, each
# integration test on its own temporary SQLite database.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets "$@"
