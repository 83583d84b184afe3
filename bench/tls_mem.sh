#!/usr/bin/env bash
# Memory benchmark: N phones registered to `trustline serve`, each on its
# own TLS connection (mutual TLS) from its own loopback source address
# (127.1.x.y), kept open; prints the server's resident memory before and
# after, the memory per connection and the extrapolation to 100,000
# connections (goal: under 2 GiB).
#
#   bench/tls_mem.sh [--phones N] [--base-port P]
#     --phones N     connections (default 3000, at most 60000); above
#                    4000 the site's trustline.conf gets [net] max_conns
#                    (N + 100) and the open-file limit is raised to fit
#     --base-port P  ports used: P..P+7 (default 38800)
#   Environment: TL_BIN (default build/trustline).
#
# Phone i registers line 4000 + i/8 (nonsecure profile, 8 contacts per
# line, the registrar's limit), digest MD5, through bench/tls_mem_client.py
# (Python asyncio, 64 handshakes at a time); all phones present the same
# client certificate. RSS is VmRSS of the server from /proc.
set -uo pipefail

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

phones=3000
base=38800
while [ $# -gt 0 ]; do
	case "$1" in
	--phones) phones=${2:?}; shift 2 ;;
	--base-port) base=${2:?}; shift 2 ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0 ;;
	*) echo "tls_mem.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ "$phones" =~ ^[0-9]+$ ]] && [ "$phones" -gt 0 ] && [ "$phones" -le 60000 ] || {
	echo "tls_mem.sh: --phones must be 1-60000" >&2
	exit 2
}
# one socket per phone in the server and in the client, plus slack
need=$((phones + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	ulimit -n "$need" 2>/dev/null || {
		echo "tls_mem.sh: $phones phones need 'ulimit -n $need' (hard limit $(ulimit -Hn))" >&2
		exit 2
	}
fi
T=${TL_BIN:-$TL_SRC/build/trustline}
D=$(tl_tmpdir)
site=$D/site
tl_deadline $((300 + phones / 10))

rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

p=$(tl_free_port "$base" 8 200) || exit 1
"$T" init --site "$site" --base-port "$p" >"$D/init.log" 2>&1 || {
	bench_note "init failed"
	exit 1
}
sed -i 's/^digest = .*/digest = md5,sha256/' "$site/trustline.conf"
if [ "$phones" -gt 4000 ]; then
	# trustline.conf [net]: the default limit is 4096 connections
	sed -i "s/^\[net\]\$/[net]\nmax_conns = $((phones + 100))/" \
		"$site/trustline.conf"
fi
lines=$(((phones + 7) / 8))
bench_note "creating $lines lines"
for ((i = 0; i < lines; i++)); do
	mac=$(printf '0011%08X' "$i")
	"$T" device add --site "$site" --mac "$mac" >/dev/null &&
		"$T" line add --site "$site" --dn $((4000 + i)) --device "$mac" \
			--user $((4000 + i)) --password "secret$((4000 + i))" \
			>/dev/null || {
		bench_note "line $i failed"
		exit 1
	}
done
mkdir -p "$D/mic"
"$T" mfg issue --site "$site" --mac 001100000000 --out "$D/mic" >/dev/null ||
	exit 1
tl_start serve "$T" serve --site "$site" --no-tftp --no-http
tl_wait_port tcp 127.0.0.1 $((p + 1)) 20 || exit 1
sleep 1
pid=$(tl_pid serve)
rss0=$(rss_kib "$pid")
t0=$(date +%s.%N)
tl_start phones python3 "$BENCH_DIR/tls_mem_client.py" 127.0.0.1 \
	$((p + 1)) "$site/pki/ca.crt" "$D/mic/SEP001100000000.crt" \
	"$D/mic/SEP001100000000.key" 4000 "$phones" secret 600 "$D/stop"
for _ in $(seq $((600 + phones / 5))); do
	grep -q '^registered' "$(tl_log phones)" && break
	tl_alive phones || break
	sleep 0.5
done
t1=$(date +%s.%N)
result=$(grep '^registered' "$(tl_log phones)")
sleep 2
rss1=$(rss_kib "$pid")
# TLS_MEM_MALLOC_STATS=1: glibc's malloc_stats() of the server (heap in
# use against heap held) into its log, through gdb
if [ "${TLS_MEM_MALLOC_STATS:-0}" = 1 ]; then
	timeout 60 gdb -p "$pid" -batch -ex 'call (void)malloc_stats()' \
		>/dev/null 2>&1
	sleep 0.5
	grep -A3 "^Total (incl. mmap)" "$(tl_log serve)" | sed 's/^/malloc: /'
fi
conns=$(ss -Htn state established "( sport = :$((p + 1)) )" | wc -l)
touch "$D/stop"
tl_stop phones >/dev/null 2>&1
tl_stop serve >/dev/null 2>&1
ok=$(echo "$result" | awk '{ print $2 }')
per=$(bench_div $((rss1 - rss0)) "${ok:-0}" 1)
echo "phones: $phones asked, ${result:-none registered}, $conns TLS connections open at the server"
echo "time to connect and register all: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"
echo "server RSS: $((rss0 / 1024)) MiB before, $((rss1 / 1024)) MiB after"
echo "per registered TLS connection: $per KiB"
echo "extrapolated to 100,000: $(bench_div "$(bench_div "$per" 1 3)" 10.48576 2) GiB + $((rss0 / 1024)) MiB base (goal < 2 GiB)"
