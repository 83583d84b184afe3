#!/usr/bin/env bash
# Enrolments per second in null auth mode, over the CAPF protocol and over
# EST, beside `openssl speed ecdsap256` signing measured in the same run
# (the goal: 1,000 LSCs per second on a 2-core machine). Each enrolment is
# a full session: TLS handshake, phone key generation, LSC issued by the
# site CA (file key), recorded in SQLite, audited. Clients run on the same
# machine and share its cores; their CPU is counted from their start.
#   bench/capf.sh [BUILD_DIR] [SECONDS] [CLIENTS] [SERVERS]
# BUILD_DIR defaults to build-capf-bench (a Release build made here, no
# sanitizers). SERVERS server processes (default 2: one per core).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-capf-bench}
secs=${2:-5}
clients=${3:-8}
servers=${4:-2}
if [ ! -x "$build/bench/capf_enroll_bench" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTL_WERROR=OFF \
		>/dev/null
	cmake --build "$build" -j2 --target capf_enroll_bench >/dev/null
fi
B=$build/bench/capf_enroll_bench
raw=$(openssl speed -seconds "$secs" ecdsap256 2>/dev/null |
	awk '/ecdsa \(nistp256\)/ { print $(NF - 1) }')
echo "openssl_ecdsap256_sign_per_s $raw"
"$B" engine "$secs" 1 1 | awk '{
	printf "engine_enrol_per_s %s (no TLS; %s per CPU-second)\n", $6, $10 }'
# est_der: EST clients that keep the new LSC as checked DER instead of
# decoding it into an X509 (est_cli_conf.lsc_der_only)
for run in "capf rsa" "capf ec" "est rsa" "est ec" "est ec der"; do
	set -- $run
	mode=$1 key=$2 der=${3:-}
	for s in 1 "$servers"; do
		line=$("$B" "$mode" "$secs" "$clients" "$s" "$key" $der)
		echo "$line" | awk -v k="$key" -v s="$s" -v d="${der:+_der}" '{
			ok = $3 > 0 ? $3 : 1
			printf "%s%s_enrol_per_s %s (tls key %s, %d server " \
			       "process(es), %s ok, %s failed; server " \
			       "%s per CPU-second, client CPU %s s; CPU per " \
			       "enrolment: server %.3f ms, client %.3f ms)\n",
			       $2, d, $6, k, s, $3, $4, $12, $10,
			       $8 * 1000 / ok, $10 * 1000 / ok }'
	done
done
