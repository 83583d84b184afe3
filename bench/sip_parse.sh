#!/usr/bin/env bash
# SIP parser throughput (messages/s and ns/message, one core) for a
# REGISTER with digest credentials and an INVITE with SDP, on a Release
# (-O2, no sanitizers) build. The goal is >= 1,000,000 REGISTER/s.
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
	/^sip_parse_register_per_s/ { mean = $2 }
	/^sip_parse_register_best_per_s/ { best = $2 }
	END {
		printf "goal_register_1M_per_s mean:%s best_round:%s\n",
			(mean >= 1000000 ? "met" : "NOT-met"),
			(best >= 1000000 ? "met" : "NOT-met")
	}'
