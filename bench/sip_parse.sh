#!/usr/bin/env bash
# SIP parser throughput (messages/s and ns/message, one core) for two
# REGISTERs with digest credentials (RFC 3665 §2.1 F3, and a Cisco 88xx
# phone's with its long Contact and Supported) and an INVITE with SDP,
# each parsed and read as the registrar / call control reads it, on a Release
# build (CMake Release: -O3, no sanitizers). The goal is >= 1,000,000
# REGISTER/s on one core.
# Each figure is given as the mean of 20 rounds and as the best round.
#   bench/sip_parse.sh [BUILD_DIR] [SECONDS]
# BUILD_DIR defaults to build-sipcodec-rel (a Release build made here).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-sipcodec-rel}
secs=${2:-3}
if [ ! -x "$build/bench/sip_parse_bench" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target sip_parse_bench >/dev/null
out=$("$build/bench/sip_parse_bench" "$secs")
echo "$out"
echo "$out" | awk '
	/^sip_parse_register_.*_per_s/ && !/best/ {
		sub(/^sip_parse_/, "", $1); sub(/_per_s$/, "", $1)
		mean[$1] = $2
	}
	/^sip_parse_register_.*_best_per_s/ {
		sub(/^sip_parse_/, "", $1); sub(/_best_per_s$/, "", $1)
		best[$1] = $2
	}
	END {
		for (k in mean) {
			printf "goal_1M_per_s %s mean:%s best_round:%s\n", k,
				(mean[k] >= 1000000 ? "met" : "NOT-met"),
				(best[k] >= 1000000 ? "met" : "NOT-met")
		}
	}'
