#!/usr/bin/env bash
# TFTP throughput, Trustline against tftpd-hpa, in one run: CLIENTS
# concurrent clients each fetch a CTL-sized (~5 KB) and a config-sized
# (~8 KB) file ROUNDS times, from `trustline tftp serve` and from Debian's
# in.tftpd (started here as the current user on a loopback port, stopped
# at the end). Prints transfers per second for both and the ratio.
# usage: bench/tftp.sh [BUILD_DIR] (default: build-release, Release build)
# env: CLIENTS (1000), ROUNDS (5), BLKSIZE (0: no option, 512-byte blocks),
#      PORT (33500: Trustline PORT, tftpd-hpa PORT+10)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-release}
clients=${CLIENTS:-1000}
rounds=${ROUNDS:-5}
blksize=${BLKSIZE:-0}
port=${PORT:-33500}
hpa_port=$((port + 10))
tftpd=${TFTPD:-/usr/sbin/in.tftpd}

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTL_SANITIZE=OFF \
	>/dev/null
cmake --build "$build" -j2 --target trustline tftp_load_bench >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
mkdir -m 755 "$work/files"
head -c 5120 /dev/urandom >"$work/files/CTLFile.tlv"
head -c 8192 /dev/urandom >"$work/files/SEP001122334455.cnf.xml.sgn"
chmod 644 "$work/files"/*
files=(CTLFile.tlv SEP001122334455.cnf.xml.sgn)

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

wait_udp() { # port
	for ((i = 0; i < 50; i++)); do
		ss -Hlun "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	echo "nothing listens on UDP $1" >&2
	return 1
}

cpu_of() { # pid: user+sys clock ticks of the process and its children
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"
}

run_load() { # port label
	"$build/bench/tftp_load_bench" 127.0.0.1 "$1" "$work/files" \
		"$clients" "$rounds" "$blksize" "${files[@]}"
}

"$build/trustline" tftp serve --root "$work/files" --address 127.0.0.1 \
	--port "$port" --no-http --rate 0 2>"$work/tl.log" &
tl_pid=$!
pids+=("$tl_pid")
wait_udp "$port"

"$tftpd" --foreground --listen --user "$(id -un)" \
	--address "127.0.0.1:$hpa_port" --secure "$work/files" 2>"$work/hpa.log" &
hpa_pid=$!
pids+=("$hpa_pid")
wait_udp "$hpa_port"

hz=$(getconf CLK_TCK)
echo "tftp bench: $clients clients x $rounds rounds x ${#files[@]} files" \
	"(5 KB + 8 KB), blksize ${blksize/#0/512 (no option)}"

c0=$(cpu_of "$tl_pid")
tl_out=$(run_load "$port")
c1=$(cpu_of "$tl_pid")
echo "trustline: $tl_out cpu $(awk -v a="$c0" -v b="$c1" -v h="$hz" \
	'BEGIN { printf "%.2f s", (b - a) / h }')"

c0=$(cpu_of "$hpa_pid")
hpa_out=$(run_load "$hpa_port")
c1=$(cpu_of "$hpa_pid")
echo "tftpd-hpa: $hpa_out cpu $(awk -v a="$c0" -v b="$c1" -v h="$hz" \
	'BEGIN { printf "%.2f s (children reaped)", (b - a) / h }')"

tl_rate=$(sed -E 's/.* rate ([0-9.]+)\/s.*/\1/' <<<"$tl_out")
hpa_rate=$(sed -E 's/.* rate ([0-9.]+)\/s.*/\1/' <<<"$hpa_out")
awk -v a="$tl_rate" -v b="$hpa_rate" 'BEGIN {
	printf "ratio: trustline %.0f/s vs tftpd-hpa %.0f/s = %.1fx (goal 3x)\n",
		a, b, (b > 0 ? a / b : 0) }'
