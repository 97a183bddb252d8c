#!/usr/bin/env bash
# Load test: a release keyward on an empty store, many keys with a very high
# rpm override, and wrk measuring /healthz and authenticated /v1/me
# alternately in one run; prints requests/s, p50/p99 and their ratio, a
# half-load latency run, resident memory, checks that the usage log
# recorded every /v1/me request, and prints the bytes per usage record
# (the store's growth over the seeded store, after a checkpoint, divided by
# the records; issue 25).
#
#   scripts/load.sh [KEYS=100000] [ACTIVE_KEYS=$KEYS] [ROUNDS=3] [DURATION=10] [CONNECTIONS=64] [THREADS=2]
#
# Every key is used once while warming (all KEYS are then known and
# cached); the measured rounds rotate over the first ACTIVE_KEYS of them.
#
# Needs: wrk (apt-get install wrk), python3. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/bench.sh
: "${KEYS:=100000}" "${ACTIVE_KEYS:=$KEYS}" "${ROUNDS:=3}" "${DURATION:=10}" "${CONNECTIONS:=64}" "${THREADS:=2}"
: "${PORT:=18181}"
[ "$ACTIVE_KEYS" -le "$KEYS" ] || ACTIVE_KEYS=$KEYS
release_binary
DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${KEEP_DIR:-}" ] && echo "kept $DIR" >&2 || rm -rf "$DIR"
}
trap cleanup EXIT

if curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  echo "something already answers on 127.0.0.1:$PORT; stop it or set PORT=" >&2
  exit 1
fi
start_server() {
  $BIN serve --data-dir "$DIR" --listen "127.0.0.1:$PORT" >>"$DIR/server.out" 2>>"$DIR/server.err" &
  SERVER_PID=$!
  wait_until_up "http://127.0.0.1:$PORT" "$DIR/server.err"
}
# A graceful stop flushes every usage record and closes the store.
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }
# "records bytes": the /v1/me usage records, and the store's size (database + WAL)
# after a full checkpoint with no other connection open.
store_size() {
  python3 - "$DIR/keyward.db" <<'PY'
import os, sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect(path)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
try:
    n = db.execute("SELECT COUNT(*) FROM usage_log l JOIN usage_endpoints e ON e.n = l.endpoint WHERE e.route = '/v1/me'").fetchone()[0]
except sqlite3.OperationalError:
    # A store from before the compact log (BIN= an older build, to compare
    # both formats in one session): its records are in usage_records.
    n = db.execute("SELECT COUNT(*) FROM usage_records WHERE route = '/v1/me'").fetchone()[0]
db.close()
print(n, sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s)))
PY
}

# Only `serve` makes a store (SPEC §8); the admin command then seeds it.
start_server
echo "seeding $KEYS keys..." >&2
$BIN admin --data-dir "$DIR" bench-seed --keys "$KEYS" --out "$DIR/keys.txt" >&2
stop_server
read -r _ seeded_bytes < <(store_size)
start_server

export KEYS_FILE="$DIR/keys.txt"
sent=0
# wrk → "rps p50_ms p99_ms requests non2xx_or_errors"
measure() {
  wrk_summary "$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")"
}

echo "warming: every key once" >&2
read -r _ _ _ n bad < <(DURATION=$(( KEYS / 20000 + 3 )) measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/v1/me")
sent=$((sent + n))
if [ "$ACTIVE_KEYS" -lt "$KEYS" ]; then
  head -n "$ACTIVE_KEYS" "$DIR/keys.txt" >"$DIR/active.txt"
  export KEYS_FILE="$DIR/active.txt"
fi
echo "measuring with $ACTIVE_KEYS of $KEYS keys in rotation" >&2

printf "%-8s %-12s %10s %9s %9s %16s\n" round endpoint "req/s" "p50 ms" "p99 ms" "server CPU/req"
h_all=(); m_all=(); hc_all=(); mc_all=()
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# Server CPU per request in µs: from the start of a round until the server
# is quiet again, so work a round leaves behind is charged to it.
per_req() { python3 -c "print(f'{($2 - $1) * 1e6 / $(getconf CLK_TCK) / max($3, 1):.1f}')"; }
settle
for r in $(seq 1 "$ROUNDS"); do
  # The same requests (Authorization header included) to both endpoints:
  # the client's cost per request is the same on both sides of the ratio.
  c0=$(cpu_ticks)
  read -r h_rps h_p50 h_p99 h_n _ < <(measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/healthz")
  settle
  c1=$(cpu_ticks)
  read -r m_rps m_p50 m_p99 n bad < <(measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/v1/me")
  settle
  c2=$(cpu_ticks)
  sent=$((sent + n))
  [ "$bad" = 0 ] || { echo "FAIL: $bad non-2xx/errors on /v1/me" >&2; exit 1; }
  h_cpu=$(per_req "$c0" "$c1" "$h_n"); m_cpu=$(per_req "$c1" "$c2" "$n")
  printf "%-8s %-12s %10s %9s %9s %13s us\n" "$r" /healthz "$h_rps" "$h_p50" "$h_p99" "$h_cpu"
  printf "%-8s %-12s %10s %9s %9s %13s us\n" "$r" /v1/me "$m_rps" "$m_p50" "$m_p99" "$m_cpu"
  h_all+=("$h_rps"); m_all+=("$m_rps"); hc_all+=("$h_cpu"); mc_all+=("$m_cpu")
done
ratio=$(python3 -c "
import statistics,sys
h=statistics.median([float(x) for x in '${h_all[*]}'.split()]); m=statistics.median([float(x) for x in '${m_all[*]}'.split()])
print(f'{m/h:.3f} (median /v1/me {m:.0f} req/s vs median /healthz {h:.0f} req/s)')")
echo "ratio /v1/me : /healthz = $ratio"
python3 -c "
import statistics
h=statistics.median([float(x) for x in '${hc_all[*]}'.split()]); m=statistics.median([float(x) for x in '${mc_all[*]}'.split()])
print(f'server CPU per request (medians, deferred work included): /v1/me {m:.1f} us, /healthz {h:.1f} us, ratio {h/m:.3f}')"

# Half of the maximum rate, for latency. wrk is closed-loop: each
# connection waits DELAY_MS, sends, waits for the answer. A connection's
# cycle is then DELAY_MS plus the answer's latency and the client's own
# time, so a short calibration run measures that overhead and the delay is
# set to leave exactly the cycle that half the rate needs.
half=$(python3 -c "import statistics; print(int(statistics.median([float(x) for x in '${m_all[*]}'.split()])/2))")
cycle_ms=$(python3 -c "print($CONNECTIONS * 1000 / max($half, 1))")
settle
read -r c_rps _ _ n _ < <(DURATION=3 DELAY_MS=$cycle_ms measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/v1/me")
sent=$((sent + n))
delay=$(python3 -c "
overhead = $CONNECTIONS * 1000 / max($c_rps, 1) - $cycle_ms
print(f'{max(0.0, $cycle_ms - max(overhead, 0.0)):.3f}')")
settle
read -r q_rps q_p50 q_p99 n _ < <(DELAY_MS=$delay measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/v1/me")
sent=$((sent + n))
echo "half load ($half req/s wanted; $CONNECTIONS connections, ${delay} ms between answer and next request): $q_rps req/s, p50 ${q_p50} ms, p99 ${q_p99} ms"

rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "resident memory with $KEYS keys known: $((rss_kb / 1024)) MB now, $((hwm_kb / 1024)) MB at peak (full-rate rounds)"

stop_server
read -r recorded bytes < <(store_size)
# wrk counts answered requests; requests cut off when a run ended may have
# been served and recorded too (at most one per connection per run).
slack=$(( CONNECTIONS * (ROUNDS + 2) ))
echo "usage log: $recorded /v1/me records for $sent answered requests"
python3 -c "
n, b, s = $recorded, $bytes, $seeded_bytes
per = (b - s) / max(n, 1)
open('$DIR/per_record', 'w').write(f'{per:.0f}')
print(f'bytes per usage record: {per:.0f} (store {b / 1e6:.1f} MB after a checkpoint, {s / 1e6:.1f} MB of it '
      f'seeded keys before the first request; {b / max(n, 1):.0f} with them)')"
if [ "$recorded" -lt "$sent" ] || [ "$recorded" -gt $((sent + slack)) ]; then
  echo "FAIL: usage records do not match the requests sent" >&2
  exit 1
fi
echo "OK: no usage record missing"
echo "summary: ratio /v1/me : /healthz = ${ratio%% *}, bytes per usage record $(cat "$DIR/per_record")"
