#!/bin/sh
# Prepares the moto server used by tests/api/lookup_aws.rs (plugins.md §5.1): creates, or
# reuses when it already works, a Python virtual environment holding `moto[server]` (which
# brings boto3). CI runs this once before `cargo test`; the test also runs it itself.
#
#   tests/lookups/moto.sh            # venv at target/moto-venv
#   CREDSTORE_MOTO_VENV=/some/dir tests/lookups/moto.sh
#
# Needs python3 with the venv module and access to PyPI (or a local wheel mirror via pip's own
# PIP_INDEX_URL / PIP_FIND_LINKS). Exits non-zero when the venv cannot be made.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${CREDSTORE_MOTO_VENV:-$root/target/moto-venv}
mkdir -p "$(dirname "$venv")"

# Two test processes may prepare the venv at the same time: take a lock when flock exists.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
fi

works() {
    [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import boto3, moto' >/dev/null 2>&1
}

if works; then
    exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet 'moto[server]>=5,<6' boto3
works || {
    echo "moto.sh: $venv has no working moto_server" >&2
    exit 1
}
