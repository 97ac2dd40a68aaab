#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, from Debian's packages.
#   scripts/pg.sh start DIR   initialises DIR, starts a server on a free loopback port and
#                             prints its URL (postgres://credstore@127.0.0.1:PORT/postgres)
#   scripts/pg.sh stop DIR    stops it (the caller removes DIR)
# PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user
# (created by the package) or `nobody`. Durability is off: the data is disposable.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}

bindir=""
for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/initdb" ]; then bindir=$candidate; break; fi
done
if [ -z "$bindir" ] && [ "$cmd" = start ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    # A fresh Debian machine: the server comes from Debian's packages.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$candidate/initdb" ]; then bindir=$candidate; break; fi
    done
fi
if [ -z "$bindir" ]; then
    initdb_path=$(command -v initdb || true)
    [ -n "$initdb_path" ] || { echo "pg.sh: PostgreSQL server binaries not found" >&2; exit 1; }
    bindir=$(dirname "$(readlink -f "$initdb_path")")
fi

as_owner() {
    if [ "$(id -u)" = "0" ]; then
        local user=postgres
        id -u postgres >/dev/null 2>&1 || user=nobody
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" = "0" ]; then
        owner=postgres
        id -u postgres >/dev/null 2>&1 || owner=nobody
        chown "$owner" "$dir"
        chmod 700 "$dir"
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$dir/data" -U credstore -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=256MB" \
        start >/dev/null
    echo "postgres://credstore@127.0.0.1:$port/postgres"
    ;;
stop)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
