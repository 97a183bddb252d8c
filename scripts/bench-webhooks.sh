#!/usr/bin/env bash
# Webhooks benchmark (issue 20), against a release keyward on a fresh store
# and a local receiver (python, answers 200 and counts POSTs), loopback only:
#  (a) POST /v1/studies req/s and p99 (wrk) with 0 hooks, then with HOOKS
#      `study.created` hooks to the receiver, alternating ROUNDS times, twice:
#      first on a node started with `--webhooks-deliver false` (the request
#      path alone: each study's transaction writes its event, nothing is
#      delivered during the run), then on a delivering node (the request path
#      plus the worker delivering HOOKS POSTs per study on the same cores);
#      after each hooked run on the delivering node the script waits for the
#      backlog (at most RUN_DRAIN s) and prints the delivery rate, then
#      deletes the hooks, which drops what is still pending with them, so the
#      next run starts on a quiet worker;
#  (b) deliveries per second: N studies created back to back, then the time
#      until all N × HOOKS deliveries reached the receiver.
#
#   scripts/bench-webhooks.sh [HOOKS=10] [ROUNDS=2] [DURATION=10] [CONNECTIONS=16] [THREADS=2] [N=300] [RUN_DRAIN=20] [DRAIN_TIMEOUT=120]
#
# Needs: wrk (apt-get install wrk), python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
HOOKS=${HOOKS:-10}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
N=${N:-300}
RUN_DRAIN=${RUN_DRAIN:-20}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

[ -n "${NO_BUILD:-}" ] || cargo build --release -p keyward >&2
BIN=${BIN:-target/release/keyward}
DIR=$(mktemp -d)
SERVER_PID=
RECV_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null || true
  [ -n "${KEEP_DIR:-}" ] && echo "kept $DIR" >&2 || rm -rf "$DIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
RPORT=$(free_port)

# The receiver: 200 to every POST, GET /count answers how many it got.
cat >"$DIR/receiver.py" <<'PY'
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            count += 1
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$DIR/receiver.py" "$RPORT" &
RECV_PID=$!
received() { curl -fs "http://127.0.0.1:$RPORT/count"; }

# start_server true|false: keyward on the store, delivering webhooks or not.
start_server() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  $BIN serve --data-dir "$DIR" --listen "127.0.0.1:$PORT" --webhooks-allow-private --webhooks-allow-http \
    --webhooks-deliver "$1" >"$DIR/server.out" 2>"$DIR/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "keyward did not start:" >&2; cat "$DIR/server.err" >&2; exit 1; }
}
start_server false
# The server made the store; one Enterprise workspace, its rate limit at the
# CLI's maximum override (10 000 000/min), one key with every scope.
$BIN admin --data-dir "$DIR" bench-seed --keys 1 --out "$DIR/keys.txt" >&2
export KEY; KEY=$(head -n1 "$DIR/keys.txt")
for _ in $(seq 1 50); do received >/dev/null 2>&1 && break; sleep 0.1; done

API=http://127.0.0.1:$PORT
hook_ids=()
subscribe() {
  for _ in $(seq 1 "$HOOKS"); do
    hook_ids+=("$(curl -fsS -X POST "$API/v1/hooks" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
      -d "{\"target_url\":\"http://127.0.0.1:$RPORT/hook\",\"event\":\"study.created\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
  done
}
unsubscribe() {
  for id in "${hook_ids[@]}"; do curl -fsS -o /dev/null -X DELETE "$API/v1/hooks/$id" -H "Authorization: Bearer $KEY"; done
  hook_ids=()
}
settle() {
  local ticks prev now; ticks=$(getconf CLK_TCK)
  prev=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
  for _ in $(seq 1 60); do
    sleep 1
    now=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    [ $(( (now - prev) * 100 )) -lt $(( ticks * 3 )) ] && return 0
    prev=$now
  done
  echo "note: the server was still busy after 60 s" >&2
}
# wrk → "rps p50_ms p99_ms requests non2xx"
measure() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/load/post_study.lua "$API/v1/studies")
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
n = int(re.search(r"(\d+) requests in", out).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{rps:.0f} {ms('50%'):.3f} {ms('99%'):.3f} {n} {int(m.group(1)) if m else 0}")
PY
}
# Wait until the receiver has $1 POSTs (or RUN_DRAIN s); prints seconds waited.
drain_until() {
  python3 - "$1" "$RPORT" "$RUN_DRAIN" <<'PY'
import sys, time, urllib.request
want, port, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
t0 = time.monotonic()
while True:
    got = int(urllib.request.urlopen(f"http://127.0.0.1:{port}/count").read())
    if got >= want or time.monotonic() - t0 > limit:
        print(f"{time.monotonic() - t0:.2f} {got}"); break
    time.sleep(0.05)
PY
}

# rounds DELIVER: ROUNDS alternations of 0 and HOOKS hooks on a node
# started with --webhooks-deliver DELIVER.
rounds() {
  local deliver=$1 r rps p50 p99 n bad before t0 want waited got t1 rate
  start_server "$deliver"
  echo
  echo "--webhooks-deliver $deliver"
  printf "%-6s %-8s %10s %9s %9s %9s   %s\n" round hooks "req/s" "p50 ms" "p99 ms" requests "drain after the run"
  zero=(); hooked=()
  settle
  for r in $(seq 1 "$ROUNDS"); do
    read -r rps p50 p99 n bad < <(measure)
    [ "$bad" = 0 ] || { echo "FAIL: $bad non-2xx answers" >&2; exit 1; }
    printf "%-6s %-8s %10s %9s %9s %9s\n" "$r" 0 "$rps" "$p50" "$p99" "$n"
    zero+=("$rps $p99")
    subscribe
    settle
    before=$(received); t0=$(date +%s.%N)
    read -r rps p50 p99 n bad < <(measure)
    [ "$bad" = 0 ] || { echo "FAIL: $bad non-2xx answers" >&2; exit 1; }
    if [ "$deliver" = true ]; then
      want=$((before + n * HOOKS))
      read -r waited got < <(drain_until "$want")
      t1=$(date +%s.%N)
      rate=$(python3 -c "print(f'{($got - $before) / ($t1 - $t0):.0f}')")
      printf "%-6s %-8s %10s %9s %9s %9s   %s of %s deliveries, %.1f s after the run; %s/s since its start\n" \
        "$r" "$HOOKS" "$rps" "$p50" "$p99" "$n" "$((got - before))" "$((n * HOOKS))" "$waited" "$rate"
    else
      got=$(received)
      [ "$got" = "$before" ] || { echo "FAIL: a node with --webhooks-deliver false delivered" >&2; exit 1; }
      printf "%-6s %-8s %10s %9s %9s %9s   (not delivering)\n" "$r" "$HOOKS" "$rps" "$p50" "$p99" "$n"
    fi
    hooked+=("$rps $p99")
    unsubscribe
    settle
  done
  python3 - "${zero[*]}" "${hooked[*]}" <<'PY'
import statistics, sys
z = [float(x) for x in sys.argv[1].split()]; h = [float(x) for x in sys.argv[2].split()]
zr, zp, hr, hp = z[0::2], z[1::2], h[0::2], h[1::2]
print(f"req/s with hooks : without = {statistics.median(hr)/statistics.median(zr):.3f} "
      f"(runs without {min(zr):.0f}–{max(zr):.0f}, with {min(hr):.0f}–{max(hr):.0f}); "
      f"p99 {min(zp):.2f}–{max(zp):.2f} ms without, {min(hp):.2f}–{max(hp):.2f} ms with")
PY
}
rounds false
rounds true

# (b) N events, delivered to HOOKS hooks each.
subscribe
settle
python3 - "$PORT" "$RPORT" "$N" "$HOOKS" "$DRAIN_TIMEOUT" <<'PY'
import http.client, os, sys, time, urllib.request
port, rport, n, hooks, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
count = lambda: int(urllib.request.urlopen(f"http://127.0.0.1:{rport}/count").read())
before = count()
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": "Bearer " + os.environ["KEY"], "Content-Type": "application/json"}
t0 = time.monotonic()
for _ in range(n):
    c.request("POST", "/v1/studies", body='{"name":"bench"}', headers=h)
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
t1 = time.monotonic()
want = n * hooks
while (got := count() - before) < want and time.monotonic() - t1 < limit:
    time.sleep(0.02)
t2 = time.monotonic()
# From the first event (the worker delivers while they are created) until
# the last delivery arrived.
print(f"deliveries: {got} of {want} ({n} events x {hooks} hooks) in {t2 - t0:.2f} s "
      f"({n} studies created in {t1 - t0:.2f} s, the last delivery {t2 - t1:.2f} s later): "
      f"{got / (t2 - t0):.0f} deliveries/s")
sys.exit(0 if got >= want else "FAIL: not all deliveries arrived in time")
PY
