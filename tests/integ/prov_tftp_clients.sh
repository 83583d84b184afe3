#!/usr/bin/env bash
# Real TFTP clients (curl, tftp-hpa, atftp) and `trustline tftp get` against
# `trustline tftp serve` on loopback: byte-identical files, refused
# traversal and writes, bounded timeouts. Ports 33100-33139.
set -euo pipefail
: "${TL_BIN:?TL_BIN must name the trustline binary}"

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

fail() {
	echo "FAIL: $*" >&2
	for f in "$work"/srv*.log; do
		[ -f "$f" ] && sed 's/^/  server: /' "$f" >&2
	done
	exit 1
}
pass() { echo "ok: $*"; }

root=$work/root
mkdir -p "$root/firmware"
head -c 5000 /dev/urandom >"$root/CTLFile.tlv"
head -c 8192 /dev/urandom >"$root/SEP001122334455.cnf.xml"
head -c 1048577 /dev/urandom >"$root/firmware/P003-8-12-00.sbn"
: >"$root/empty.bin"
echo secret >"$work/secret.txt"
ln -s ../secret.txt "$root/escape"

# Start a server on the first free port of a few; sets port and pid.
start_server() { # addr first-port log
	local addr=$1 p=$2 log=$3 i
	for ((i = 0; i < 10; i++, p += 2)); do
		"$TL_BIN" tftp serve --root "$root" --address "$addr" \
			--port "$p" --no-http --rate 0 2>"$log" &
		local sp=$!
		for ((w = 0; w < 50; w++)); do
			if grep -q "^tftp $p" "$log" 2>/dev/null; then
				pids+=("$sp")
				port=$p
				return 0
			fi
			kill -0 "$sp" 2>/dev/null || break
			sleep 0.1
		done
		kill "$sp" 2>/dev/null || true
		wait "$sp" 2>/dev/null || true
	done
	return 1
}

start_server 127.0.0.1 33100 "$work/srv4.log" || fail "server did not start"
P=$port
files=(CTLFile.tlv SEP001122334455.cnf.xml firmware/P003-8-12-00.sbn empty.bin)

# curl: plain (512-byte blocks) and --tftp-blksize 1428. curl 7.88 fails
# on an empty file with any server (getpeername after a one-packet
# transfer), so the empty file is left to the other clients.
for f in "${files[@]:0:3}"; do
	rm -f "$work/out"
	timeout 60 curl -sS -o "$work/out" "tftp://127.0.0.1:$P/$f" ||
		fail "curl $f"
	cmp -s "$work/out" "$root/$f" || fail "curl $f differs"
	rm -f "$work/out"
	timeout 60 curl -sS --tftp-blksize 1428 -o "$work/out" \
		"tftp://127.0.0.1:$P/$f" || fail "curl blksize $f"
	cmp -s "$work/out" "$root/$f" || fail "curl blksize $f differs"
done
pass "curl (plain and blksize 1428)"

# tftp-hpa
for f in "${files[@]}"; do
	rm -f "$work/out"
	(cd "$work" && timeout 60 tftp 127.0.0.1 "$P" -m binary \
		-c get "$f" out) >"$work/hpa.err" 2>&1 ||
		fail "tftp-hpa $f: $(cat "$work/hpa.err")"
	grep -q "Error" "$work/hpa.err" && fail "tftp-hpa $f: $(cat "$work/hpa.err")"
	cmp -s "$work/out" "$root/$f" || fail "tftp-hpa $f differs"
done
pass "tftp-hpa"

# atftp with blksize and (when it knows it) windowsize.
atftp_opts=(--option "blksize 1024" --option "tsize")
# (grep -c reads all its input: grep -q would SIGPIPE the producer, which
# pipefail reports as a failure.)
if [ "$(strings "$(command -v atftp)" | grep -c windowsize)" -gt 0 ]; then
	atftp_opts+=(--option "windowsize 4")
fi
for f in "${files[@]}"; do
	rm -f "$work/out"
	timeout 60 atftp "${atftp_opts[@]}" -g -r "$f" -l "$work/out" \
		127.0.0.1 "$P" >"$work/atftp.err" 2>&1 ||
		fail "atftp $f: $(cat "$work/atftp.err")"
	cmp -s "$work/out" "$root/$f" || fail "atftp $f differs"
done
pass "atftp (${atftp_opts[*]})"

# trustline tftp get: windows, JSON.
for w in 1 4 16; do
	for f in "${files[@]}"; do
		rm -f "$work/out"
		timeout 60 "$TL_BIN" tftp get "127.0.0.1:$P" "$f" \
			-o "$work/out" --blksize 1428 --windowsize "$w" \
			--tsize >/dev/null || fail "tftp get $f window $w"
		cmp -s "$work/out" "$root/$f" || fail "tftp get $f differs"
	done
done
json=$("$TL_BIN" tftp get "127.0.0.1:$P" CTLFile.tlv -o "$work/out" \
	--blksize 512 --windowsize 4 --tsize --json)
grep -q '"bytes":5000' <<<"$json" || fail "json: $json"
grep -q '"windowsize":4' <<<"$json" || fail "json: $json"
# RFC 2349: the server's tsize is the file's size
grep -q '"tsize":5000' <<<"$json" || fail "json tsize: $json"
"$TL_BIN" tftp get "127.0.0.1:$P" CTLFile.tlv >"$work/out" ||
	fail "tftp get to stdout"
cmp -s "$work/out" "$root/CTLFile.tlv" || fail "stdout differs"
pass "trustline tftp get"

# Refusals: traversal, symlink escape, absolute, write, missing.
rm -f "$work/out"
if timeout 20 curl -sS --path-as-is -o "$work/out" \
	"tftp://127.0.0.1:$P/../secret.txt" 2>/dev/null; then
	fail "curl traversal succeeded"
fi
[ -s "$work/out" ] && fail "curl traversal wrote data"
for name in ../secret.txt escape /etc/passwd sub/../../secret.txt; do
	out=$(cd "$work" && timeout 20 tftp 127.0.0.1 "$P" -m binary \
		-c get "$name" refused 2>&1 || true)
	grep -q "Error code 2" <<<"$out" || fail "tftp-hpa $name: $out"
	set +e
	err=$("$TL_BIN" tftp get "127.0.0.1:$P" "$name" -o "$work/out2" \
		2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "tftp get $name: rc $rc"
	grep -q "server error 2" <<<"$err" || fail "tftp get $name: $err"
	[ -e "$work/out2" ] && fail "tftp get $name left a file"
done
out=$(cd "$work" && timeout 20 tftp 127.0.0.1 "$P" -m binary \
	-c put "$root/CTLFile.tlv" upload.bin 2>&1 || true)
grep -q "Error code 2" <<<"$out" || fail "tftp-hpa put: $out"
[ -e "$root/upload.bin" ] && fail "a write request created a file"
out=$(cd "$work" && timeout 20 tftp 127.0.0.1 "$P" -m binary \
	-c get nothere.bin x 2>&1 || true)
grep -q "Error code 1" <<<"$out" || fail "tftp-hpa missing: $out"
set +e
err=$("$TL_BIN" tftp get "127.0.0.1:$P" nothere.bin -o "$work/out3" 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "server error 1" <<<"$err" ||
	fail "tftp get missing: $rc $err"
pass "refusals (traversal, symlink, absolute, write, missing)"

# A server that does not answer: bounded retries.
start=$(date +%s)
set +e
"$TL_BIN" tftp get 127.0.0.1:33139 CTLFile.tlv -o "$work/out4" \
	--timeout 100 --retries 2 2>"$work/to.err"
rc=$?
set -e
end=$(date +%s)
[ "$rc" = 1 ] || fail "timeout rc $rc"
((end - start <= 5)) || fail "timeout took $((end - start)) s"
pass "client timeout bounded ($(cat "$work/to.err"))"

# Bad command lines: one-line errors, usage exit code.
set +e
"$TL_BIN" tftp get 2>/dev/null
[ $? = 2 ] || fail "usage exit code"
"$TL_BIN" tftp get 127.0.0.1:99999 x 2>"$work/e" && fail "bad port accepted"
grep -q "bad or unknown server" "$work/e" || fail "bad port message"
"$TL_BIN" tftp get 127.0.0.1:$P x --blksize 4 2>"$work/e" && fail "blksize 4"
"$TL_BIN" tftp serve --root "$work/nope" --port 0 --no-http 2>"$work/e" &&
	fail "missing root accepted"
grep -q "root" "$work/e" || fail "missing root message"
set -e
"$TL_BIN" tftp --help | grep -q "usage: trustline tftp" || fail "--help"
pass "command-line errors"

# IPv6 loopback, when the host has it.
if start_server ::1 33120 "$work/srv6.log"; then
	timeout 30 "$TL_BIN" tftp get "[::1]:$port" CTLFile.tlv \
		-o "$work/out6" --blksize 1428 --windowsize 4 ||
		fail "IPv6 tftp get"
	cmp -s "$work/out6" "$root/CTLFile.tlv" || fail "IPv6 differs"
	rm -f "$work/out6"
	timeout 30 curl -sS -g -o "$work/out6" \
		"tftp://[::1]:$port/CTLFile.tlv" || fail "IPv6 curl"
	cmp -s "$work/out6" "$root/CTLFile.tlv" || fail "IPv6 curl differs"
	pass "IPv6"
else
	echo "skip: no IPv6 loopback"
fi

# A wildcard listen address answers from the address each request was sent
# to (IP_PKTINFO): checked in a private network namespace that holds only
# its own loopback, so nothing listens outside it.
if command -v ip >/dev/null && unshare -rn true 2>/dev/null; then
	out=$(timeout 30 unshare -rn bash -c '
		set -e
		ip link set lo up
		"$1" tftp serve --root "$2" --address 0.0.0.0 --port 33130 \
			--no-http --rate 0 2>"$3.log" >/dev/null &
		sp=$!
		trap "kill $sp 2>/dev/null; wait $sp 2>/dev/null || true" EXIT
		for ((i = 0; i < 50; i++)); do
			grep -q "^tftp 33130" "$3.log" 2>/dev/null && break
			sleep 0.1
		done
		"$1" tftp get 127.0.0.2:33130 CTLFile.tlv -o "$3" \
			--timeout 200 --retries 2
		# A refusal comes from the asked address too.
		"$1" tftp get 127.0.0.3:33130 nothere.bin -o "$3.x" \
			--timeout 200 --retries 2 2>&1 | grep "server error 1"
	' wildcard "$TL_BIN" "$root" "$work/outw" 2>&1) ||
		fail "wildcard listen, request to 127.0.0.2: $out"
	cmp -s "$work/outw" "$root/CTLFile.tlv" || fail "wildcard differs"
	pass "wildcard listen answers from the request's address"
else
	echo "skip: no private network namespace (unshare -rn)"
fi

# Thousands of concurrent transfers on the server's one event loop: 2000
# clients at once, each fetching the CTL and a config, every byte checked.
load=${TL_BUILD:-}/bench/tftp_load_bench
if [ -n "${TL_BUILD:-}" ] && [ -x "$load" ]; then
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	out=$(timeout 120 "$load" 127.0.0.1 "$P" "$root" 2000 1 0 \
		CTLFile.tlv SEP001122334455.cnf.xml) ||
		fail "2000 concurrent clients: $out"
	grep -q "transfers 4000 failed 0" <<<"$out" || fail "load: $out"
	pass "2000 concurrent clients ($out)"
elif [ -n "${TL_BUILD:-}" ]; then
	# the build makes bench/ with every test: its absence is a failure
	fail "no load generator $load in TL_BUILD"
else
	echo "skip: TL_BUILD unset, no load generator"
fi

# SIGTERM: clean exit 0.
kill -TERM "${pids[0]}"
set +e
wait "${pids[0]}"
rc=$?
set -e
[ "$rc" = 0 ] || fail "server exit status $rc after SIGTERM"
pids=("${pids[@]:1}")
pass "clean shutdown"
echo "PASS prov_tftp_clients"
