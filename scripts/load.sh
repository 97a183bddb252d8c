#!/usr/bin/env bash
# Load test: a release keyward on an empty store, many keys with a very high
# rpm override, and wrk measuring /healthz and authenticated /v1/me
# alternately in one run; prints requests/s, p50/p99 and their ratio, a
# half-load latency run, resident memory, and checks that the usage log
# recorded every /v1/me request.
#
#   scripts/load.sh [KEYS=100000] [ROUNDS=3] [DURATION=10] [CONNECTIONS=64] [THREADS=2]
#
# Needs: wrk (apt-get install wrk), python3. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-100000}
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

printf "%-8s %-12s %10s %9s %9s\n" round endpoint "req/s" "p50 ms" "p99 ms"
h_all=(); m_all=()
for r in $(seq 1 "$ROUNDS"); do
  # The same requests (Authorization header included) to both endpoints:
  # the client's cost per request is the same on both sides of the ratio.
  read -r h_rps h_p50 h_p99 _ _ < <(measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/healthz")
  read -r m_rps m_p50 m_p99 n bad < <(measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/v1/me")
  sent=$((sent + n))
  [ "$bad" = 0 ] || { echo "FAIL: $bad non-2xx/errors on /v1/me" >&2; exit 1; }
  printf "%-8s %-12s %10s %9s %9s\n" "$r" /healthz "$h_rps" "$h_p50" "$h_p99"
  printf "%-8s %-12s %10s %9s %9s\n" "$r" /v1/me "$m_rps" "$m_p50" "$m_p99"
  h_all+=("$h_rps"); m_all+=("$m_rps")
done
ratio=$(python3 -c "
import statistics,sys
h=statistics.median([float(x) for x in '${h_all[*]}'.split()]); m=statistics.median([float(x) for x in '${m_all[*]}'.split()])
print(f'{m/h:.3f} (median /v1/me {m:.0f} req/s vs median /healthz {h:.0f} req/s)')")
echo "ratio /v1/me : /healthz = $ratio"

# Half of the maximum rate, paced per connection, for latency.
half=$(python3 -c "import statistics; print(int(statistics.median([float(x) for x in '${m_all[*]}'.split()])/2))")
delay=$(python3 -c "print(max(1, round($CONNECTIONS * 1000 / max($half,1))))")
read -r q_rps q_p50 q_p99 n _ < <(DELAY_MS=$delay measure -s scripts/load/rotate.lua "http://127.0.0.1:$PORT/v1/me")
sent=$((sent + n))
echo "half load (~$half req/s target, paced): $q_rps req/s, p50 ${q_p50} ms, p99 ${q_p99} ms"

rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "resident memory with $KEYS keys known: $((rss_kb / 1024)) MB now, $((hwm_kb / 1024)) MB at peak (full-rate rounds)"

# Graceful stop flushes every record; then count what the usage log holds.
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=
recorded=$(python3 - "$DIR/keyward.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT COUNT(*) FROM usage_records WHERE route = '/v1/me'").fetchone()[0])
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
