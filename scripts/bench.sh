#!/usr/bin/env bash
# Load benchmark: builds credstore in release mode, seeds a fresh database with 100,000
# credentials (bench-seed), starts the server and a reference server (bench-baseline) on
# 127.0.0.1 and drives both with wrk at 8 and 64 connections. Prints a table of
# requests/s, p50/p99 latency and the ratio to the baseline, the server's peak RSS and
# start-up time, and writes the same to target/bench-report.md. See docs/performance.md.
#
# Settings (environment): BENCH_DURATION (10s), BENCH_CONNECTIONS ("8 64"),
# BENCH_THREADS (2), BENCH_CREDENTIALS (100000), BENCH_PORT (18052; the baseline uses
# the next port, the growing server the one after), BENCH_KEEP=1 keeps the data directory,
# BENCH_SKIP_BUILD=1 uses the binaries already built, BENCH_GROW (20000) credentials
# created through the API on a fresh server in the grow phase, in wrk runs of
# BENCH_GROW_SLICE (1s), BENCH_POSTGRES=0 skips the PostgreSQL phase (the same data
# copied into a throwaway cluster of scripts/pg.sh; one instance, then two).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-"8 64"}
THREADS=${BENCH_THREADS:-2}
CREDENTIALS=${BENCH_CREDENTIALS:-100000}
PORT=${BENCH_PORT:-18052}
BASELINE_PORT=$((PORT + 1))
GROW_PORT=$((PORT + 2))
GROW=${BENCH_GROW:-20000}
GROW_SLICE=${BENCH_GROW_SLICE:-1s}
HOST=127.0.0.1
REPORT=target/bench-report.md
LUA=scripts/bench/wrk.lua

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] || die "wrk is missing: apt-get install -y wrk"
    say "installing wrk"
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || die "curl is missing"

if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
    say "using the binaries already in target/release (BENCH_SKIP_BUILD=1)"
else
    say "building (release)"
    # credstore and the workspace member bench/ (bench-seed, bench-baseline).
    cargo build --release --locked --workspace --bins
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/credstore-bench.XXXXXX")
SERVER_PID=""
BASELINE_PID=""
GROW_PID=""
PG_PIDS=""
PG_DIR=""
cleanup() {
    for pid in $SERVER_PID $BASELINE_PID $GROW_PID $PG_PIDS; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$PG_DIR" ]; then
        scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ADMIN_PASSWORD=${CREDSTORE_ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}
USER_PASSWORD=bench-password
export CREDSTORE_ADMIN_PASSWORD=$ADMIN_PASSWORD

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say "seeding $CREDENTIALS credentials into $WORK/data"
target/release/bench-seed --data-dir "$WORK/data" --credentials "$CREDENTIALS" \
    --user-password "$USER_PASSWORD" >"$WORK/seed.out"
fact() { sed -n "s/^$1=//p" "$WORK/seed.out"; }
for key in credentials bench_user bench_user_visible detail_id first_id last_id org_id ssh_type_id seed_seconds credential_seconds; do
    [ -n "$(fact "$key")" ] || die "bench-seed did not report $key"
done
BENCH_USER=$(fact bench_user)

# Polls URL until it answers 200; at most 3000 tries (about 30 s).
wait_ok() {
    local url=$1 i
    for ((i = 0; i < 3000; i++)); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" = 200 ]; then
            return 0
        fi
        sleep 0.01
    done
    return 1
}

say "starting bench-baseline on $HOST:$BASELINE_PORT"
target/release/bench-baseline "$HOST:$BASELINE_PORT" >"$WORK/baseline.log" 2>&1 &
BASELINE_PID=$!
wait_ok "http://$HOST:$BASELINE_PORT/" || die "bench-baseline did not answer"

say "starting credstore on $HOST:$PORT"
START_NS=$(date +%s%N)
target/release/credstore serve --bind "$HOST:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_ok "http://$HOST:$PORT/api/v2/ping/" || { tail -20 "$WORK/server.log" >&2; die "credstore did not answer /api/v2/ping/"; }
STARTUP_MS=$((($(date +%s%N) - START_NS) / 1000000))

API="http://$HOST:$PORT"
token_of() {
    curl -s -u "$1:$2" -H 'Content-Type: application/json' -d '{"scope":"write"}' \
        "$API/api/v2/tokens/" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p'
}
ADMIN_TOKEN=$(token_of admin "$ADMIN_PASSWORD")
USER_TOKEN=$(token_of "$BENCH_USER" "$USER_PASSWORD")
[ -n "$ADMIN_TOKEN" ] && [ -n "$USER_TOKEN" ] || die "could not create tokens"
ADMIN_BASIC="Basic $(printf '%s' "admin:$ADMIN_PASSWORD" | base64 -w0)"
# A browser's session for the web interface's credentials page: the sign-in form's CSRF
# cookie, then the session cookie its post sets.
JAR="$WORK/cookies"
curl -s -c "$JAR" -o /dev/null "$API/login/"
CSRF=$(awk '$6 == "csrftoken" { print $7 }' "$JAR")
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "username=admin" \
    --data-urlencode "password=$ADMIN_PASSWORD" --data-urlencode "csrf_token=$CSRF" "$API/login/"
SESSION=$(awk '$6 == "awx_sessionid" { print $7 }' "$JAR")
[ -n "$SESSION" ] || die "could not sign in to the web interface"
WEB_COOKIE="Cookie: csrftoken=$CSRF; awx_sessionid=$SESSION"
WEB_PAGE="/credentials/?order_by=-modified"

DETAIL="/api/v2/credentials/$(fact detail_id)/"
LIST="/api/v2/credentials/?name__icontains=prod&order_by=-modified"

# One request per scenario first: a benchmark of error answers would be meaningless.
check() {
    local want=$1 got
    shift
    got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
    [ "$got" = "$want" ] || die "sanity request answered $got, expected $want: $*"
}
check 200 -H "Authorization: Bearer $ADMIN_TOKEN" "$API$DETAIL"
check 200 -H "Authorization: $ADMIN_BASIC" "$API$DETAIL"
check 200 -H "Authorization: Bearer $ADMIN_TOKEN" "$API$LIST"
check 200 -H "Authorization: Bearer $USER_TOKEN" "$API$LIST"
check 201 -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench-sanity\",\"organization\":$(fact org_id),\"credential_type\":$(fact ssh_type_id),\"inputs\":{\"username\":\"u\",\"password\":\"p\"}}" \
    "$API/api/v2/credentials/"
check 200 -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"description":"sanity"}' "$API/api/v2/credentials/$(fact first_id)/"
RENDER="/api/v2/credentials/$(fact detail_id)/render/"
check 200 -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"purpose":"sanity"}' "$API$RENDER"
check 200 -H "$WEB_COOKIE" "$API$WEB_PAGE"

# Waits (at most 60 s) until the server is idle: requests still queued when wrk stops are
# served after it, and would otherwise be charged to the next scenario.
settle() {
    local a b i
    for ((i = 0; i < 120; i++)); do
        a=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
        sleep 0.5
        b=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
        [ $((b - a)) -lt 5 ] && return 0
    done
    say "server still busy after 60 s"
}

# Result rows: "scenario|connections|requests/s|p50 ms|p99 ms|errors".
ROWS=()
# One row "scenario|connections|requests/s|p50 ms|p99 ms|errors" from the BENCH lines of
# WANT wrk runs on standard input, added up: requests and errors summed, the longest
# duration, the worst p50 and p99. Fails when a run gave no line.
summarize() {
    awk -v name="$1" -v c="$2" -v want="$3" '/^BENCH / {
          for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          req += v["requests"]; if (v["duration_us"] > dur) dur = v["duration_us"]
          if (v["p50_us"] > p50) p50 = v["p50_us"]; if (v["p99_us"] > p99) p99 = v["p99_us"]
          errors += v["non2xx"] + v["socket_errors"]; n++ }
        END { if (n != want) exit 1
              if (req == 0) { p50s = "none done"; p99s = "none done" }
              else { p50s = sprintf("%.2f", p50 / 1000); p99s = sprintf("%.2f", p99 / 1000) }
              printf "%s|%s|%.1f|%s|%s|%d", name, c, req / (dur / 1e6), p50s, p99s, errors }'
}
run() {
    local name=$1 conns=$2 url=$3
    shift 3
    local out row
    say "$name, $conns connections, $DURATION"
    out=$(wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout 30s "$@" -s "$LUA" "$url" -- "${WRK_ARGS[@]}")
    row=$(summarize "$name" "$conns" 1 <<<"$out") || die "wrk gave no result for $name: $out"
    ROWS+=("$row")
    settle
}

for c in $CONNECTIONS; do
    WRK_ARGS=(get)
    run baseline-before "$c" "http://$HOST:$BASELINE_PORT/"
    run detail-token "$c" "$API$DETAIL" -H "Authorization: Bearer $ADMIN_TOKEN"
    run detail-basic "$c" "$API$DETAIL" -H "Authorization: $ADMIN_BASIC"
    run list-superuser "$c" "$API$LIST" -H "Authorization: Bearer $ADMIN_TOKEN"
    run list-1pct-user "$c" "$API$LIST" -H "Authorization: Bearer $USER_TOKEN"
    # Requests that differ, as real clients send them: no answer cache can serve these.
    WRK_ARGS=(random-detail "$(fact first_id)" "$(fact last_id)")
    run detail-random-id "$c" "$API/" -H "Authorization: Bearer $ADMIN_TOKEN"
    WRK_ARGS=(random-list "$(fact org_id)")
    run list-random-filter "$c" "$API/" -H "Authorization: Bearer $ADMIN_TOKEN"
    WRK_ARGS=(post "c$c" "$(fact org_id)" "$(fact ssh_type_id)")
    run create "$c" "$API/api/v2/credentials/" -H "Authorization: Bearer $ADMIN_TOKEN"
    WRK_ARGS=(patch "c$c" "$(fact first_id)" "$(fact last_id)")
    run patch "$c" "$API/" -H "Authorization: Bearer $ADMIN_TOKEN"
    # One credential rendered again and again, each render with its audit entry.
    WRK_ARGS=(render)
    run render "$c" "$API$RENDER" -H "Authorization: Bearer $ADMIN_TOKEN"
    # The web interface's credentials page, rendered from scratch every time.
    WRK_ARGS=(get)
    run web-credentials "$c" "$API$WEB_PAGE" -H "$WEB_COOKIE"
    WRK_ARGS=(get)
    run baseline-after "$c" "http://$HOST:$BASELINE_PORT/"
done

RSS_KB=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status")
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# The grow phase: a server started on an empty data directory, as a team starts one, and
# grown through its own API (no restart, no bulk load) by 8 connections creating Machine
# credentials spread over 20 organizations, in wrk runs of GROW_SLICE. Each run is one
# "grow" line (creates, rate, bytes the server wrote per create: WAL, database file and
# answers together, from wchar in /proc/PID/io); the report compares the first tenth
# of the creates with the last.
say "grow phase: $GROW credentials through the API on a fresh server"
GROW_API="http://$HOST:$GROW_PORT"
target/release/credstore serve --bind "$HOST:$GROW_PORT" --data-dir "$WORK/grow" >"$WORK/grow.log" 2>&1 &
GROW_PID=$!
wait_ok "$GROW_API/api/v2/ping/" || { tail -20 "$WORK/grow.log" >&2; die "the growing credstore did not answer"; }
GROW_TOKEN=$(curl -s -u "admin:$ADMIN_PASSWORD" -H 'Content-Type: application/json' -d '{"scope":"write"}' \
    "$GROW_API/api/v2/tokens/" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
[ -n "$GROW_TOKEN" ] || die "could not create a token on the growing server"
GROW_ORGS=""
for i in $(seq 20); do
    org=$(curl -s -H "Authorization: Bearer $GROW_TOKEN" -H 'Content-Type: application/json' \
        -d "{\"name\":\"grow-org-$i\"}" "$GROW_API/api/v2/organizations/" | sed -n 's/^{"id": *\([0-9]*\).*/\1/p')
    [ -n "$org" ] || die "could not create organization grow-org-$i"
    GROW_ORGS="$GROW_ORGS${GROW_ORGS:+,}$org"
done
GROW_TYPE=$(curl -s -H "Authorization: Bearer $GROW_TOKEN" "$GROW_API/api/v2/credential_types/?namespace=ssh" |
    sed -n 's/.*"results": *\[{"id": *\([0-9]*\).*/\1/p')
[ -n "$GROW_TYPE" ] || die "could not find the Machine credential type"
GROW_LINES=()
grown=0
slice=0
while [ "$grown" -lt "$GROW" ]; do
    slice=$((slice + 1))
    written_before=$(awk '/^wchar/ { print $2 }' "/proc/$GROW_PID/io")
    out=$(wrk -t"$THREADS" -c8 -d"$GROW_SLICE" --timeout 30s -H "Authorization: Bearer $GROW_TOKEN" \
        -s "$LUA" "$GROW_API/" -- post "g$slice" "$GROW_ORGS" "$GROW_TYPE")
    written_after=$(awk '/^wchar/ { print $2 }' "/proc/$GROW_PID/io")
    line=$(grep '^BENCH ' <<<"$out") || die "wrk gave no result for grow slice $slice: $out"
    GROW_LINES+=("$line written=$((written_after - written_before)) before=$grown")
    grown=$((grown + $(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")))
done
GROW_WAL=$(stat -c %s "$WORK/grow/credstore.db-wal" 2>/dev/null || echo 0)
kill "$GROW_PID" 2>/dev/null || true
wait "$GROW_PID" 2>/dev/null || true
GROW_PID=""
# "first|last|bytes per create|errors": creates/s over the slices that hold the first and
# the last tenth of the creates.
GROW_FIGURES=$(printf '%s\n' "${GROW_LINES[@]}" | awk -v total="$grown" '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n = v["requests"]; s = v["duration_us"] / 1e6; b = v["before"]
      if (b < total / 10) { fn += n; fs += s }
      if (b + n > total * 9 / 10) { ln += n; ls += s }
      bytes += v["written"]; all += n; errors += v["non2xx"] + v["socket_errors"] }
    END { printf "%.1f|%.1f|%.0f|%d", fn / fs, ln / ls, bytes / all, errors }')
IFS='|' read -r GROW_FIRST GROW_LAST GROW_BYTES GROW_ERRORS <<<"$GROW_FIGURES"
ROWS+=("grow-first-tenth|8|$GROW_FIRST|-|-|$GROW_ERRORS")
ROWS+=("grow-last-tenth|8|$GROW_LAST|-|-|$GROW_ERRORS")

# The PostgreSQL phase: the seeded data copied by `credstore migrate-data` into a throwaway
# cluster, served by one instance, then by two behind the same database. The two-instance
# rows run one wrk per instance at the same time (half the connections each) and add
# their requests. While the two instances create, pg_locks is sampled for backends that
# wait for a lock.
PG_ROWS=0
LOCK_WAITS="-"
# Two wrk runs at once, one per instance; one result row for both.
run_pair() {
    local name=$1 conns=$2 first=$3 second=$4
    shift 4
    local half=$((conns / 2)) out_a="$WORK/pair-a.out" out_b="$WORK/pair-b.out" line
    local args_a=("${WRK_ARGS[@]}") args_b=("${WRK_ARGS[@]}")
    # Creates from the two runs need names of their own (the tag is the second argument).
    case ${WRK_ARGS[0]} in post*) args_a[1]="${WRK_ARGS[1]}a"; args_b[1]="${WRK_ARGS[1]}b" ;; esac
    say "$name, $conns connections over two instances, $DURATION"
    wrk -t1 -c"$half" -d"$DURATION" --timeout 30s "$@" -s "$LUA" "$first" -- "${args_a[@]}" >"$out_a" &
    local wrk_a=$!
    wrk -t1 -c"$half" -d"$DURATION" --timeout 30s "$@" -s "$LUA" "$second" -- "${args_b[@]}" >"$out_b" &
    local wrk_b=$!
    if [ -n "${SAMPLE_LOCKS:-}" ]; then
        local samples=0 waiting=0 n
        while kill -0 "$wrk_a" 2>/dev/null; do
            n=$(psql -X -A -t "$PG_URL" -c "SELECT count(*) FROM pg_locks WHERE NOT granted" 2>/dev/null || echo 0)
            samples=$((samples + 1))
            waiting=$((waiting + ${n:-0}))
            sleep 0.2
        done
        LOCK_WAITS=$(awk -v w="$waiting" -v s="$samples" 'BEGIN { if (s) printf "%.2f", w / s; else print "-" }')
    fi
    wait "$wrk_a" "$wrk_b"
    line=$(cat "$out_a" "$out_b" | summarize "$name" "$conns" 2) || die "wrk gave no result for $name"
    ROWS+=("$line")
    settle
}
if [ "${BENCH_POSTGRES:-1}" = 1 ]; then
    # Outside $WORK (mode 0700): as root the cluster runs as another user.
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/credstore-bench-pg.XXXXXX")
    chmod 755 "$PG_DIR"
    say "PostgreSQL phase: starting a throwaway cluster"
    PG_URL=$(scripts/pg.sh start "$PG_DIR" | tail -1)
    say "copying the seeded data into PostgreSQL (credstore migrate-data)"
    target/release/credstore migrate-data --from "sqlite://$WORK/data/credstore.db" --to "$PG_URL" \
        >"$WORK/migrate.log" 2>&1 || { tail -20 "$WORK/migrate.log" >&2; die "migrate-data failed"; }
    PG_PORT_A=$((PORT + 3))
    PG_PORT_B=$((PORT + 4))
    target/release/credstore serve --bind "$HOST:$PG_PORT_A" --data-dir "$WORK/data" --database-url "$PG_URL" \
        >"$WORK/pg-a.log" 2>&1 &
    SERVER_PID=$!
    PG_PIDS="$SERVER_PID"
    wait_ok "http://$HOST:$PG_PORT_A/api/v2/ping/" || { tail -20 "$WORK/pg-a.log" >&2; die "credstore on PostgreSQL did not answer"; }
    API="http://$HOST:$PG_PORT_A"
    PG_TOKEN=$(token_of admin "$ADMIN_PASSWORD")
    [ -n "$PG_TOKEN" ] || die "could not create a token on PostgreSQL"
    WRK_ARGS=(random-detail "$(fact first_id)" "$(fact last_id)")
    run pg-detail-random-id 8 "$API/" -H "Authorization: Bearer $PG_TOKEN"
    WRK_ARGS=(random-list "$(fact org_id)")
    run pg-list-random-filter 8 "$API/" -H "Authorization: Bearer $PG_TOKEN"
    WRK_ARGS=(post pg1 "$(fact org_id)" "$(fact ssh_type_id)")
    run pg-create 8 "$API/api/v2/credentials/" -H "Authorization: Bearer $PG_TOKEN"

    target/release/credstore serve --bind "$HOST:$PG_PORT_B" --data-dir "$WORK/data" --database-url "$PG_URL" \
        >"$WORK/pg-b.log" 2>&1 &
    PG_PIDS="$PG_PIDS $!"
    wait_ok "http://$HOST:$PG_PORT_B/api/v2/ping/" || { tail -20 "$WORK/pg-b.log" >&2; die "the second instance did not answer"; }
    WRK_ARGS=(random-detail "$(fact first_id)" "$(fact last_id)")
    run_pair pg2-detail-random-id 8 "$API/" "http://$HOST:$PG_PORT_B/" -H "Authorization: Bearer $PG_TOKEN"
    # Creates into different organizations from the two instances (spread over 20).
    WRK_ARGS=(post pg2 "$(seq -s, "$(fact org_id)" $(($(fact org_id) + 19)))" "$(fact ssh_type_id)")
    SAMPLE_LOCKS=1 run_pair pg2-create 8 "$API/api/v2/credentials/" "http://$HOST:$PG_PORT_B/api/v2/credentials/" \
        -H "Authorization: Bearer $PG_TOKEN"
    PG_ROWS=1
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Baseline per connection count: the mean of the runs before and after.
baseline_of() {
    printf '%s\n' "${ROWS[@]}" | awk -F'|' -v c="$1" \
        '$2 == c && $1 ~ /^baseline/ { s += $3; n++ } END { if (n) printf "%.1f", s / n; else print 0 }'
}
# Target per scenario: "ratio:X" (to the baseline) or "abs:X" (requests/s).
target_of() {
    case $1 in
        detail-token) echo ratio:0.40 ;;
        detail-basic) echo ratio:0.35 ;;
        list-superuser | list-1pct-user) echo ratio:0.15 ;;
        detail-random-id) echo ratio:0.30 ;;
        pg-detail-random-id | pg2-detail-random-id) echo ratio:0.15 ;;
        pg-create | pg2-create) echo abs:1000 ;;
        list-random-filter) echo ratio:0.05 ;;
        create | patch | render | grow-first-tenth) echo abs:2000 ;;
        grow-last-tenth) echo "grow:$GROW_FIRST" ;;
        web-credentials) echo p50ms:100 ;;
        *) echo none ;;
    esac
}

{
    echo "# credstore load benchmark"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); revision: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "- machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
    echo "- wrk -t$THREADS, $DURATION per run, over loopback; server and wrk share the cores"
    echo "- data: $(fact credentials) credentials (seeded in $(fact seed_seconds) s, credentials $(fact credential_seconds) s); $BENCH_USER sees $(fact bench_user_visible)"
    echo "- detail: GET $DETAIL; list: GET $LIST (page of 25); render: POST $RENDER; web-credentials: GET $WEB_PAGE (a signed-in browser's page of 25)"
    echo "- grow-first-tenth / grow-last-tenth: creates/s through the API on a server started empty, over the runs that hold the first and the last tenth of $grown creates (8 connections, 20 organizations)"
    echo "- pg-*: the same data copied into PostgreSQL (migrate-data), one instance; pg2-*: two instances on the same database, one wrk per instance at once (4 connections each), requests added"
    echo "- detail-random-id: a random credential id each request; list-random-filter: a random name__icontains of three digits, half with an organization filter, in a random order (issue 24's targets: ratio 0.30 and 0.05)"
    echo
    echo "| scenario | conns | req/s | p50 ms | p99 ms | ratio to baseline | errors | target | result |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
    FAILED=0
    for row in "${ROWS[@]}"; do
        IFS='|' read -r name conns rps p50 p99 errors <<<"$row"
        base=$(baseline_of "$conns")
        ratio=$(awk -v r="$rps" -v b="$base" 'BEGIN { if (b > 0) printf "%.3f", r / b; else print "-" }')
        tgt=$(target_of "$name")
        verdict="-"
        case $tgt in
            ratio:*) goal=${tgt#ratio:}; shown="ratio >= $goal"
                verdict=$(awk -v x="$ratio" -v g="$goal" 'BEGIN { print (x >= g) ? "pass" : "FAIL" }') ;;
            abs:*) goal=${tgt#abs:}; shown=">= $goal req/s"
                verdict=$(awk -v x="$rps" -v g="$goal" 'BEGIN { print (x >= g) ? "pass" : "FAIL" }') ;;
            grow:*) goal=$(awk -v f="${tgt#grow:}" 'BEGIN { g = f * 0.8; if (g < 2000) g = 2000; printf "%.0f", g }')
                shown=">= 2000 req/s and 0.8 of the first tenth"
                verdict=$(awk -v x="$rps" -v g="$goal" 'BEGIN { print (x >= g) ? "pass" : "FAIL" }') ;;
            p50ms:*) goal=${tgt#p50ms:}; shown="p50 <= $goal ms"
                verdict=$(awk -v x="$p50" -v g="$goal" 'BEGIN { print (x <= g) ? "pass" : "FAIL" }') ;;
            *) shown="-" ;;
        esac
        if [ "$errors" != 0 ] && [ "$verdict" != "-" ]; then verdict="FAIL (errors)"; fi
        case $verdict in FAIL*) FAILED=$((FAILED + 1)) ;; esac
        echo "| $name | $conns | $rps | $p50 | $p99 | $ratio | $errors | $shown | $verdict |"
    done
    RSS_MB=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }')
    RSS_OK=$(awk -v m="$RSS_MB" 'BEGIN { print (m <= 150) ? "pass" : "FAIL" }')
    START_OK=$([ "$STARTUP_MS" -le 1000 ] && echo pass || echo FAIL)
    [ "$RSS_OK" = pass ] || FAILED=$((FAILED + 1))
    [ "$START_OK" = pass ] || FAILED=$((FAILED + 1))
    echo
    echo "| measure | value | target | result |"
    echo "|---|---:|---|---|"
    echo "| peak RSS (VmHWM) after all runs | $RSS_MB MB | <= 150 MB | $RSS_OK |"
    echo "| start-up with $(fact credentials) credentials (spawn to ping 200) | $STARTUP_MS ms | <= 1000 ms | $START_OK |"
    GROW_KB=$(awk -v b="$GROW_BYTES" 'BEGIN { printf "%.1f", b / 1024 }')
    GROW_OK=$(awk -v k="$GROW_KB" 'BEGIN { print (k <= 16) ? "pass" : "FAIL" }')
    [ "$GROW_OK" = pass ] || FAILED=$((FAILED + 1))
    echo "| written by the server per create in the grow phase (WAL, database, answer) | $GROW_KB KB | <= 16 KB | $GROW_OK |"
    echo "| WAL file at the end of the grow phase | $((GROW_WAL / 1048576)) MB | - | - |"
    if [ "$PG_ROWS" = 1 ]; then
        echo "| PostgreSQL: backends waiting for a lock while two instances create (mean of samples) | $LOCK_WAITS | - | - |"
    fi
    echo
    echo "Grow phase ($grown credentials on a fresh server, $GROW_SLICE per wrk run): creates/s per run:"
    echo
    printf '%s\n' "${GROW_LINES[@]}" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s%.0f", (NR > 1 ? ", " : ""), v["requests"] / (v["duration_us"] / 1e6) } END { print "" }'
    echo
    echo "Rows failing a target: $FAILED."
} >"$REPORT"

cat "$REPORT"
say "report written to $REPORT"
