# What the benchmark scripts (load.sh, bench-webhooks.sh) share; sourced.
# Expects SERVER_PID to be the keyward server under test once it started.

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

# BIN: the release binary, built first unless NO_BUILD is set (BIN= names another).
release_binary() {
  [ -n "${NO_BUILD:-}" ] || cargo build --release -p keyward >&2
  BIN=${BIN:-target/release/keyward}
}

# Wait for $SERVER_PID's /healthz on $1 (base URL, up to 10 s), then make
# sure the server started here is the one that answers (something else on
# the port would be measured instead); $2 is its stderr file.
wait_until_up() {
  for _ in $(seq 1 100); do curl -fs "$1/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "keyward did not start:" >&2; cat "$2" >&2; exit 1; }
}

# Wait (up to 60 s) until the server has used less than 3% of a core over
# a second: work left over from the previous run (the usage writer
# draining its channel, rollups catching up, last-used times, deliveries)
# would otherwise run during the next one and be charged to it.
settle() {
  local ticks prev now
  ticks=$(getconf CLK_TCK)
  prev=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
  for _ in $(seq 1 60); do
    sleep 1
    now=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    [ $(( (now - prev) * 100 )) -lt $(( ticks * 3 )) ] && return 0
    prev=$now
  done
  echo "note: the server was still busy after 60 s" >&2
}

# wrk's output ($1) → "rps p50_ms p99_ms requests bad": bad is the Lua
# script's `non2xx_or_errors:` line when it prints one, else wrk's
# "Non-2xx or 3xx responses" count.
wrk_summary() {
  python3 - "$1" <<'PY'
import re, sys
out = sys.argv[1]
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
n = int(re.search(r"(\d+) requests in", out).group(1))
m = re.search(r"non2xx_or_errors: (\d+)", out) or re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{rps:.0f} {ms('50%'):.3f} {ms('99%'):.3f} {n} {int(m.group(1)) if m else 0}")
PY
}
