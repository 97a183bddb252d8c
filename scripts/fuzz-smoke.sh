#!/usr/bin/env bash
# Bounded fuzzing smoke run: every cargo-fuzz target of fuzz/ for N seconds
# (default 20), one at a time, niced. Exits non-zero if any target crashes
# (libFuzzer leaves the input in fuzz/artifacts/<target>/).
#
#   scripts/fuzz-smoke.sh            # 20 s per target
#   scripts/fuzz-smoke.sh 60         # 60 s per target
#   FUZZ_TARGETS="v1_json" scripts/fuzz-smoke.sh 120
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# nightly-only flags (-Zsanitizer, -Cpasses=sancov-module); see docs/fuzzing.md.
set -euo pipefail

secs="${1:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1
# Override with FUZZ_SANITIZER=address for AddressSanitizer (slower; the code
# under test has no unsafe, so the default is none).
sanitizer="${FUZZ_SANITIZER:-none}"
targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"

nice -n 10 cargo fuzz build --sanitizer "$sanitizer"

failed=()
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  echo "fuzz-smoke: $t for ${secs}s" >&2
  if ! nice -n 10 cargo fuzz run --sanitizer "$sanitizer" "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -print_final_stats=1 "${dict[@]}"; then
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz-smoke: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz-smoke: no crash in $(echo $targets | wc -w) targets" >&2
