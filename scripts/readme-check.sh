#!/usr/bin/env bash
# The README's front door, tried as a newcomer would. The commands are read from README.md
# itself, never copied here: the first line of the first ```sh block under "## Run it" is
# the run command, the first line there starting with `curl ` is the example request.
# In a fresh copy of the tree (tracked files as they are now, no data dir) it runs the run
# command, waits for GET /api/v2/ping/, runs the curl example and checks its answer (a
# JSON page of managed credential types), then sends SIGTERM and expects exit status 0
# within 10 seconds. The copy builds into this tree's target/ so that only credstore
# itself is recompiled.
#   README_CHECK_TIMEOUT  seconds to wait for the first ping, build included (default 1200)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

die() {
    echo "readme check: $*" >&2
    exit 1
}

section=$(awk '/^## Run it/ {on = 1; next} /^## / {on = 0} on' README.md)
[ -n "$section" ] || die 'README.md has no "## Run it" section'
run_cmd=$(printf '%s\n' "$section" | awk '/^```sh/ {getline; print; exit}')
curl_cmd=$(printf '%s\n' "$section" | grep -m1 '^curl ' || true)
[ -n "$run_cmd" ] || die 'no ```sh block under "## Run it" in README.md'
[ -n "$curl_cmd" ] || die 'no curl example under "## Run it" in README.md'
echo "readme check: run command: $run_cmd"
echo "readme check: example:     $curl_cmd"

work=$(mktemp -d /tmp/credstore-readme.XXXXXX)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A fresh tree: what git tracks (and new files it would track), without target/ or data.
mkdir "$work/tree"
git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$work/tree"
[ ! -e "$work/tree/credstore-data" ] || die "the copy already holds a data dir"

port_url=http://127.0.0.1:8052
if curl -s -o /dev/null "$port_url/api/v2/ping/"; then
    die "something already answers on $port_url; stop it first"
fi

# bash runs a lone simple command in place (exec), and `cargo run` replaces itself with
# the program on Unix, so the signal below reaches the server itself.
(cd "$work/tree" && CARGO_TARGET_DIR="$repo/target" exec bash -c "$run_cmd") \
    >"$work/server.log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + ${README_CHECK_TIMEOUT:-1200}))
until curl -fs -o /dev/null "$port_url/api/v2/ping/"; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        tail -n 30 "$work/server.log" >&2
        die "the run command exited before the server answered ping"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 30 "$work/server.log" >&2
        die "no answer on $port_url/api/v2/ping/ after ${README_CHECK_TIMEOUT:-1200}s"
    fi
    sleep 1
done
echo "readme check: the server answers ping"

answer=$(cd "$work/tree" && bash -c "$curl_cmd") || die "the curl example failed"
printf '%s' "$answer" | python3 -c '
import json, sys
page = json.load(sys.stdin)
results = page["results"]
assert results and page["count"] >= len(results), "no credential types listed"
assert all(t["managed"] for t in results), "an unmanaged type in the managed list"
' || die "the curl example answered something else: ${answer:0:300}"
echo "readme check: the curl example answers the managed credential types"

kill -TERM "$server_pid"
for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
    die "the server was still running 10 s after SIGTERM"
fi
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" -eq 0 ] || {
    tail -n 20 "$work/server.log" >&2
    die "the server exited with status $status after SIGTERM (expected 0)"
}
[ -s "$work/tree/credstore-data/credstore.db" ] || die "the server kept no database in ./credstore-data"
echo "readme check: SIGTERM stopped the server with status 0; README commands work"
