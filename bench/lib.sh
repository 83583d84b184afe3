#!/usr/bin/env bash
# Helpers for the benchmark scripts (bench/*.sh). Source it after setting
# nothing; it sources tests/integ/lib.sh (scratch directory, process start
# and stop, port waits, SIPp runner) and adds:
#
#   bench_tree PID...          PID and all its descendants, one per line
#   bench_cpu_ticks PID...     utime + stime (clock ticks, /proc/PID/stat)
#                              summed over the PIDs and their descendants;
#                              each process's figure covers all its threads
#   bench_ticks_to_s TICKS     seconds, 3 decimals
#   bench_users_csv OUT N      SIPp injection file for users 1001..1000+N
#                              (user;password;credentials;wrong credentials)
#   bench_sipp_count FILE WHAT successful or failed call count from a SIPp
#                              screen file (tl_sipp writes NAME.screen)
#   bench_div A B [SCALE]      A / B with SCALE decimals (awk), "-" if B is 0
#                              or either is "-"
#   bench_note MSG             a line on stderr, prefixed with the script name
#
# Every load is bounded: SIPp runs with -m (calls), -timeout (seconds) and
# tl_sipp's own time limit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${TL_SRC:=$(cd "$BENCH_DIR/.." && pwd)}"
# shellcheck source=../tests/integ/lib.sh
. "$TL_SRC/tests/integ/lib.sh"

BENCH_CLK_TCK=$(getconf CLK_TCK)

bench_note() {
	echo "$(basename "$0"): $*" >&2
}

bench_tree() {
	local pid
	# "pid ppid" of every process; comm may hold spaces: take the fields
	# after the last ')'.
	local table
	table=$(for f in /proc/[0-9]*/stat; do
		local s
		s=$(cat "$f" 2>/dev/null) || continue
		local rest=${s##*) }
		set -- $rest
		echo "${f//[^0-9]/} $2"
	done)
	for pid in "$@"; do
		[ -d "/proc/$pid" ] || continue
		awk -v root="$pid" '
			{ kids[$2] = kids[$2] " " $1 }
			END {
				queue = root; n = 1; out[1] = root
				while (queue != "") {
					split(queue, q, " "); queue = ""
					for (i in q) {
						m = split(kids[q[i]], k, " ")
						for (j = 1; j <= m; j++) {
							out[++n] = k[j]; queue = queue " " k[j]
						}
					}
				}
				for (i = 1; i <= n; i++) print out[i]
			}' <<<"$table"
	done | sort -un
}

bench_cpu_ticks() {
	local total=0 pid s rest
	for pid in $(bench_tree "$@"); do
		s=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		rest=${s##*) }
		# After the comm field: state is field 3, utime 14, stime 15
		# (proc(5)); in "rest" they are words 12 and 13.
		set -- $rest
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

bench_ticks_to_s() {
	awk -v t="${1:?}" -v hz="$BENCH_CLK_TCK" 'BEGIN { printf "%.3f\n", t / hz }'
}

bench_div() {
	local a=${1:?} b=${2:?} scale=${3:-3}
	if [ "$a" = - ] || [ "$b" = - ]; then
		echo -
		return
	fi
	awk -v a="$a" -v b="$b" -v s="$scale" \
		'BEGIN { if (b == 0) print "-"; else printf "%.*f\n", s, a / b }'
}

bench_users_csv() {
	local out=${1:?} n=${2:?} i
	{
		echo SEQUENTIAL
		for ((i = 1001; i < 1001 + n; i++)); do
			printf '%s;secret%s;[authentication username=%s password=secret%s];[authentication username=%s password=wrong%s]\n' \
				$i $i $i $i $i $i
		done
	} >"$out.tmp" && mv "$out.tmp" "$out"
}

bench_sipp_count() {
	local file=${1:?} what=${2:?} pat
	case "$what" in
	successful) pat='Successful call' ;;
	failed) pat='Failed call' ;;
	*) return 2 ;;
	esac
	awk -v p="$pat" 'index($0, p) { v = $NF } END { print (v == "" ? 0 : v) }' \
		"$file" 2>/dev/null || echo 0
}
