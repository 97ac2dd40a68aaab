#!/usr/bin/env bash
# Real-client end-to-end test: the awx CLI, the awxkit library and the awx.awx
# collection, at the versions the spec targets, against a freshly started
# release build of credstore. Run from anywhere: `bash tests/clients/run.sh`.
#
# The last line printed is always "N passed, M failed" (the CI reads it), and
# the exit code is non-zero if any step failed or the setup did not get as far
# as running them (that counts as one failure).
#
# Environment:
#   PYTHON         interpreter to build the venv from (default: python3)
#   CREDSTORE_BIN  a server binary to test instead of building one (debugging)
#   CREDSTORE_LOG  server log filter (default: debug; the log is kept at
#                  target/clients-e2e/server.log for reading after a failure)
set -euo pipefail
cd "$(dirname "$0")/../.."

# Pinned to what the spec was checked against: ansible 12.3.0 is the release
# that bundles awx.awx 24.6.1. awxkit still imports pkg_resources, which
# setuptools 81 removed. ansible-runner runs the credentials `credstore render
# --runner-dir` writes (tests/clients/use_credentials.py); prometheus-client parses
# the metrics and schemathesis drives the API from its OpenAPI document
# (tests/clients/operability.py); selenium drives Debian's Chromium through the web
# interface (tests/clients/web_ui.py).
REQUIREMENTS=('awxkit==24.6.1' 'ansible==12.3.0' 'setuptools<81' 'ansible-runner==2.4.3' 'prometheus-client==0.23.1' 'schemathesis==4.32.5' 'selenium==4.51.0')
VENV=target/clients-venv
OUT=target/clients-e2e

summary=""
server_pid=""
tmp=""

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}

finish() {
    local rc=$?
    stop_server
    if [ -n "$tmp" ]; then
        [ -f "$tmp/server.log" ] && cp "$tmp/server.log" "$OUT/server.log"
        rm -rf "$tmp"
    fi
    # Whatever went wrong before the scenario ran still has to end with the
    # summary line, as one failed step.
    if [ -z "$summary" ]; then
        summary="0 passed, 1 failed"
        [ "$rc" -eq 0 ] && rc=1
    fi
    echo "$summary"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

die() {
    echo "clients e2e: $*" >&2
    exit 1
}

command -v ssh-keygen >/dev/null || die "ssh-keygen is needed (Debian: openssh-client)"
mkdir -p "$OUT"

# --- the clients ------------------------------------------------------------
# The venv is reused only if it has exactly the pinned versions, so a bump of
# the pins above rebuilds it and a half-finished install is never trusted.
venv_complete() {
    [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/awx" ] && [ -x "$VENV/bin/ansible-playbook" ] &&
        "$VENV/bin/python" - "${REQUIREMENTS[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
from packaging.requirements import Requirement  # ansible-core depends on packaging
for spec in sys.argv[1:]:
    req = Requirement(spec)
    if not req.specifier.contains(version(req.name), prereleases=True):
        sys.exit(1)
import awxkit.cli  # importable, not just listed
import ansible_collections.awx.awx
import ansible_runner
import prometheus_client
import schemathesis
import selenium.webdriver
EOF
}

if ! venv_complete; then
    echo "clients e2e: creating $VENV" >&2
    "${PYTHON:-python3}" -m venv --clear "$VENV" || die "could not create a venv (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}" || die "pip install failed"
    venv_complete || die "the venv at $VENV is still incomplete after pip install"
fi

# --- the server -------------------------------------------------------------
if [ -n "${CREDSTORE_BIN:-}" ]; then
    server_bin="$CREDSTORE_BIN"
else
    cargo build --release --locked || die "cargo build --release failed"
    server_bin=target/release/credstore
fi

tmp="$(mktemp -d -t credstore-clients.XXXXXX)"
port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
host="http://127.0.0.1:$port"
# A fixed prefix: a random value starting with '-' would be read as an option by argparse
# (the scenario's and the awx CLI's).
password="pw-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))')"

# NO_COLOR keeps ANSI escapes out of the log file.
NO_COLOR=1 CREDSTORE_ADMIN_PASSWORD="$password" CREDSTORE_LOG="${CREDSTORE_LOG:-debug}" \
    "$server_bin" serve --bind "127.0.0.1:$port" --data-dir "$tmp/data" \
    >"$tmp/server.log" 2>&1 &
server_pid=$!

# A fresh data dir means migrations and key generation first; give it time,
# but stop waiting as soon as the process is gone.
ready=""
for _ in $(seq 1 120); do
    kill -0 "$server_pid" 2>/dev/null || break
    if "$VENV/bin/python" -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).status != 200)' \
        "$host/api/v2/ping/" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.5
done
if [ -z "$ready" ]; then
    tail -n 30 "$tmp/server.log" >&2 || true
    die "the server did not answer 200 on $host/api/v2/ping/"
fi
echo "clients e2e: credstore on $host (log: $OUT/server.log)" >&2

# --- the scenario -------------------------------------------------------------
scenario_rc=0
"$VENV/bin/python" tests/clients/scenario.py --host "$host" --username admin --password "$password" \
    --summary-file "$tmp/summary" --credstore-bin "$server_bin" || scenario_rc=$?
if [ -s "$tmp/summary" ]; then
    summary="$(cat "$tmp/summary")"
fi
exit "$scenario_rc"
