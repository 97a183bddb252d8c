#!/usr/bin/env bash
# End-to-end OpenAPI conformance: start `keyward serve --demo` on an empty
# store, sign in as the printed demo admin, create an API key through the
# admin API, lift its rate limit with the operator CLI, run
# scripts/schemathesis.sh against it, and stop the server.
#
#   scripts/conformance.sh [BINARY]      (default target/release/keyward; build it first)
#
# Env: PORT (default 18182); everything scripts/schemathesis.sh reads.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/release/keyward}
PORT=${PORT:-18182}
BASE="http://127.0.0.1:$PORT"
[ -x "$BIN" ] || { echo "no keyward binary at $BIN: cargo build --release -p keyward" >&2; exit 2; }

DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

# The fuzzer sends thousands of invalid requests on purpose: keep
# auto-revocation from revoking its key half-way. GitHub's key set is never
# fetched from outside (traffic stays on 127.0.0.1): the fuzzer cannot sign
# a report anyway.
"$BIN" serve --demo --data-dir "$DIR" --listen "127.0.0.1:$PORT" \
  --auto-revoke-min-errors 1000000000 \
  --github-secret-scanning-keys-url "http://127.0.0.1:9/no-keys" >"$DIR/server.out" 2>"$DIR/server.err" &
SERVER_PID=$!

for _ in $(seq 1 100); do
  curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.out" "$DIR/server.err" >&2; exit 1; }
  sleep 0.1
done
curl -fs "$BASE/healthz" >/dev/null

EMAIL=$(sed -n 's/^email: //p' "$DIR/server.out")
PASSWORD=$(sed -n 's/^password: //p' "$DIR/server.out")
[ -n "$EMAIL" ] && [ -n "$PASSWORD" ] || { echo "serve --demo printed no credentials" >&2; cat "$DIR/server.out" >&2; exit 1; }

# Sign in: the session cookie goes to a cookie jar, the CSRF token and the
# workspace id come from the JSON answer.
python3 -c 'import json,sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' "$EMAIL" "$PASSWORD" \
  | curl -fsS -c "$DIR/cookies" -H 'Content-Type: application/json' --data-binary @- "$BASE/api/session" >"$DIR/session.json"
CSRF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$DIR/session.json")
WS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["workspaces"][0]["id"])' "$DIR/session.json")

curl -fsS -b "$DIR/cookies" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
  --data '{"name":"schemathesis"}' "$BASE/api/workspaces/$WS/api-keys" >"$DIR/key.json"
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$DIR/key.json")

"$BIN" admin workspace set-rate-limit "$WS" 1000000 --data-dir "$DIR" >/dev/null

status=0
scripts/schemathesis.sh "$BASE" "$KEY" || status=$?

# A clean stop (SIGTERM) must work too; the server's log is shown on failure.
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || { echo "keyward did not exit cleanly" >&2; status=1; }
SERVER_PID=
if [ "$status" -ne 0 ]; then
  echo "--- keyward stderr (last 50 lines)" >&2
  tail -n 50 "$DIR/server.err" >&2 || true
fi
exit "$status"
