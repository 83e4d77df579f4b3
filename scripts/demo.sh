#!/usr/bin/env bash
# The main job: a local silo serving a real workload through the CLI, on embedded defaults.
#  1. builds, starts one silo on localhost (gateway 30000) and waits until it listens;
#  2. memoizes, encrypted, a SHA-256 listing of the .NET SDK folder (a real, slow command) from two
#     concurrent CLI invocations for a fresh key: the command runs once, both print the same listing;
#  3. reads it again (a hit), shows `info`, round-trips a 64 MiB file byte for byte (same SHA-256);
#  4. stops the silo.
# Data goes to files under $WORK; timings and progress go to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${WORK:-$(mktemp -d -t osc-demo.XXXXXX)}"
SDK_DIR="${SDK_DIR:-$(dirname "$(readlink -f "$(command -v dotnet)")")/sdk}"
export OSC_CONFIG_DIR="${OSC_CONFIG_DIR:-$WORK/config}"   # where the CLI keeps its per-user secret for this demo

say() { printf '[demo] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }

say "building (Release)"
dotnet build OrleansSecureCache.sln -c Release -v quiet -nologo >&2
SILO=(dotnet src/Silo/bin/Release/net10.0/OrleansSecureCache.Silo.dll)
OSC=(dotnet src/Cli/bin/Release/net10.0/osc.dll)

say "starting a local silo (logs: $WORK/silo.log)"
"${SILO[@]}" >"$WORK/silo.log" 2>&1 &
SILO_PID=$!
trap 'kill "$SILO_PID" 2>/dev/null || true; wait "$SILO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 360); do
  grep -q "listening" "$WORK/silo.log" && break
  kill -0 "$SILO_PID" 2>/dev/null || { cat "$WORK/silo.log" >&2; exit 1; }
  sleep 0.5
done
grep -q "listening" "$WORK/silo.log" || { say "the silo did not start"; exit 1; }
say "silo up: $(grep -o 'listening.*' "$WORK/silo.log" | head -n 1)"

KEY="sdk-sha256-$(date +%s%N)"
LISTING="cd '$SDK_DIR' && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo run >> '$WORK/runs'"
say "memoizing a SHA-256 listing of $SDK_DIR, encrypted, from two concurrent invocations (key $KEY)"
start=$(now)
"${OSC[@]}" memoize --encrypt --key "$KEY" -- sh -c "$LISTING" >"$WORK/listing.1" &
first=$!
"${OSC[@]}" memoize --encrypt --key "$KEY" -- sh -c "$LISTING" >"$WORK/listing.2" &
second=$!
wait "$first" "$second"
say "miss (both invocations): $(elapsed "$start"); the command ran $(wc -l <"$WORK/runs") time(s)"
cmp -s "$WORK/listing.1" "$WORK/listing.2" && say "both printed the same listing ($(wc -l <"$WORK/listing.1") files)"

start=$(now)
"${OSC[@]}" memoize --encrypt --key "$KEY" -- sh -c "$LISTING" >"$WORK/listing.3"
say "hit: $(elapsed "$start"); the command ran $(wc -l <"$WORK/runs") time(s) in all"
cmp -s "$WORK/listing.1" "$WORK/listing.3" && say "the hit is byte-identical"
"${OSC[@]}" info --encrypt --key "$KEY" >&2

say "round-tripping a 64 MiB file, encrypted"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
start=$(now)
"${OSC[@]}" set --encrypt --key "$KEY-file" <"$WORK/big.bin"
say "set: $(elapsed "$start")"
start=$(now)
"${OSC[@]}" get --encrypt --key "$KEY-file" >"$WORK/big.out"
say "get: $(elapsed "$start")"
if [ "$(sha256sum <"$WORK/big.bin")" = "$(sha256sum <"$WORK/big.out")" ]; then
  say "64 MiB round trip byte-identical (sha256 $(sha256sum <"$WORK/big.out" | cut -c1-16)...)"
else
  say "64 MiB round trip DIFFERS"; exit 1
fi
say "done; outputs in $WORK"
