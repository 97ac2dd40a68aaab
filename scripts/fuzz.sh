#!/usr/bin/env bash
# The long fuzz run of the query-string → filter → SQL path and of the JSON body parsers
# (tests/api/query_language.rs, long_fuzz_of_filters_and_bodies): structured and arbitrary
# query strings against every list, arbitrary JSON against every create endpoint, on a
# real app over SQLite; any 5xx or panic fails it and prints the request. Not part of CI.
#   scripts/fuzz.sh [SECONDS]     default 600
set -euo pipefail
cd "$(dirname "$0")/.."
export CREDSTORE_FUZZ_SECONDS=${1:-600}
cargo test --release --locked --test api query_language::long_fuzz_of_filters_and_bodies \
    -- --ignored --exact --nocapture
