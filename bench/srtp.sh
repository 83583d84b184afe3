#!/usr/bin/env bash
# SRTP per-packet cost in the phone's media path (media_srtp_* wrapper and
# the media session's per-packet steps) against libsrtp2's raw
# srtp_protect + srtp_unprotect, measured in the same run; 160-byte G.711
# payloads, as 20 ms packets carry. Goal: session/raw at most 1.2.
#   bench/srtp.sh [BUILD_DIR] [SECONDS_PER_SUITE]
# BUILD_DIR defaults to build-bench-media (a Release build made here).
# Prints the figures, then "goal met" or "goal missed" for each suite;
# exits 0 either way (a benchmark reports, it does not gate).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench-media}
secs=${2:-3}
if [ ! -x "$build/bench/srtp_bench" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DTL_WERROR=OFF >/dev/null
	cmake --build "$build" -j2 --target srtp_bench >/dev/null
fi
out=$("$build/bench/srtp_bench" "$secs")
echo "$out"
echo "$out" | awk '
	$2 == "ratio_session_raw" {
		printf "%s session/raw %.3f: goal (<= 1.2) %s\n", $1, $3,
			($3 <= 1.2 ? "met" : "missed")
	}'
