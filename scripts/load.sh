#!/usr/bin/env bash
# Load test: a release keyward on an empty store, many keys with a very high
# rpm override, and wrk measuring /healthz and authenticated /v1/me
# alternately in one run; prints requests/s, p50/p99 and their ratio, a
# half-load latency run, resident memory, and checks that the usage log
# recorded every /v1/me request.
#
#   scripts/load.sh [KEYS=100000] [ACTIVE_KEYS=$KEYS] [ROUNDS=3] [DURATION=10] [CONNECTIONS=64] [THREADS=2]
#
# Every key is used once while warming (all KEYS are then known and
# cached); the measured rounds rotate over the first ACTIVE_KEYS of them.
#
# Needs: wrk (apt-get install wrk), python3. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-100000}
ACTIVE_KEYS=${ACTIVE_KEYS:-$KEYS}
[ "$ACTIVE_KEYS" -le "$KEYS" ] || ACTIVE_KEYS=$KEYS
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18181}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release -p keyward >&2
BIN=target/release/keyward
DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${KEEP_DIR:-}" ] && echo "kept $DIR" >&2 || rm -rf "$DIR"
}
trap cleanup EXIT

echo "seeding $KEYS keys..." >&2
$BIN admin --data-dir "$DIR" bench-seed --keys "$KEYS" --out "$DIR/keys.txt" >&2

if curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  echo "something already answers on 127.0.0.1:$PORT; stop it or set PORT=" >&2
  exit 1
fi
$BIN serve --data-dir "$DIR" --listen "127.0.0.1:$PORT" >"$DIR/server.out" 2>"$DIR/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# Something else answering on the port would be measured instead: make sure
# the server started here is the one that is up.
kill -0 "$SERVER_PID" 2>/dev/null || { echo "keyward did not start:" >&2; cat "$DIR/server.err" >&2; exit 1; }

export KEYS_FILE="$DIR/keys.txt"
sent=0
# Wait (up to 60 s) until the server has used less than 3% of a core over
# a second: work left over from the previous round (the usage writer
# draining its channel, rollups catching up, last-used times) would
# otherwise run during the next round and be charged to the other endpoint.
settle() {
  local ticks=$(getconf CLK_TCK) prev now
  prev=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
  for _ in $(seq 1 60); do
    sleep 1
    now=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    [ $(( (now - prev) * 100 )) -lt $(( ticks * 3 )) ] && return 0
    prev=$now
  done
  echo "note: the server was still busy after 60 s" >&2
}
# wrk output → "rps p50_ms p99_ms requests"
measure() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
n = int(re.search(r"(\d+) requests in", out).group(1))
bad = int(re.search(r"non2xx_or_errors: (\d+)", out).group(1)) if "non2xx_or_errors" in out else 0
print(f"{rps:.0f} {ms('50%'):.3f} {ms('99%'):.3f} {n} {bad}")
PY
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

# Graceful stop flushes every record; then count what the usage log holds.
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=
recorded=$(python3 - "$DIR/keyward.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT COUNT(*) FROM usage_log l JOIN usage_endpoints e ON e.n = l.endpoint WHERE e.route = '/v1/me'").fetchone()[0])
PY
)
# wrk counts answered requests; requests cut off when a run ended may have
# been served and recorded too (at most one per connection per run).
slack=$(( CONNECTIONS * (ROUNDS + 2) ))
echo "usage log: $recorded /v1/me records for $sent answered requests"
if [ "$recorded" -lt "$sent" ] || [ "$recorded" -gt $((sent + slack)) ]; then
  echo "FAIL: usage records do not match the requests sent" >&2
  exit 1
fi
echo "OK: no usage record missing"
