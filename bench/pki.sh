#!/usr/bin/env bash
# LSC issuance rate against the raw ECDSA P-256 signing rate of OpenSSL on
# this machine, measured in the same run (the issuance goal: at least 70%).
#   bench/pki.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# BUILD_DIR defaults to build-bench-pki (a Release build made here, no
# sanitizers). Rates are per CPU-second on both sides (`openssl speed`
# counts user CPU time; the bench counts user + system time), so other
# work on a shared machine skews neither. Each round measures OpenSSL, the
# file CA and the token CA back to back; the best round of each is kept
# and every round is printed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-bench-pki}
secs=${2:-3}
rounds=${3:-3}
if [ ! -x "$build/bench/pki_issue_bench" ]; then
	# (warnings stay warnings here: a benchmark build must not stop on
	# another module's -O2-only diagnostics; CI builds with -Werror)
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTL_WERROR=OFF \
		>/dev/null
	cmake --build "$build" -j2 --target pki_issue_bench >/dev/null
fi
best_raw=0 best_file=0 best_token=0
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }
for r in $(seq "$rounds"); do
	raw=$(openssl speed -seconds "$secs" ecdsap256 2>/dev/null |
		awk '/ecdsa \(nistp256\)/ { print $(NF - 1) }')
	file=$("$build/bench/pki_issue_bench" file "$secs" | awk '{ print $5 }')
	token=$("$build/bench/pki_issue_bench" token "$secs" | awk '{ print $5 }')
	echo "round $r: openssl_ecdsap256_sign_per_s $raw issue_file_ca_per_s $file issue_token_ca_per_s $token"
	best_raw=$(max "$best_raw" "$raw")
	best_file=$(max "$best_file" "$file")
	best_token=$(max "$best_token" "$token")
done
echo "openssl_ecdsap256_sign_per_s $best_raw"
echo "lsc_issue_file_ca_per_s $best_file"
echo "lsc_issue_token_ca_per_s $best_token"
awk -v raw="$best_raw" -v f="$best_file" -v t="$best_token" 'BEGIN {
	printf "ratio file_ca/openssl %.2f (goal 0.70)\n", f / raw
	printf "ratio token_ca/openssl %.2f\n", t / raw
}'
