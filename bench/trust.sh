#!/usr/bin/env bash
# Trust-file verification speed against the raw RSA-2048 verify rate of
# OpenSSL on this machine, measured in the same run.
#   bench/trust.sh [BUILD_DIR] [SECONDS]
# BUILD_DIR defaults to build-bench-trust (a Release build made here).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench-trust}
secs=${2:-3}
if [ ! -x "$build/bench/trust_verify_bench" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$build" -j2 --target trust_verify_bench >/dev/null
fi
out=$(TL_SRC=$top "$build/bench/trust_verify_bench" "$secs")
raw=$(openssl speed -seconds "$secs" rsa2048 2>/dev/null |
	awk '/^rsa 2048 bits/ { print $NF }')
echo "$out"
echo "openssl_rsa2048_verify_per_s $raw"
echo "$out" | awk -v raw="$raw" '
	/_per_s/ { printf "ratio %s/openssl %.2f\n", $1, $2 / raw }'
