#!/usr/bin/env bash
# Shared helpers for the integration tests (tests/integ/*.sh) and the
# benchmark scripts (bench/*.sh). Source it:
#
#   . "$TL_SRC/tests/integ/lib.sh"     (or relative to the script)
#
# Everything runs on loopback, every wait is bounded, and every process
# started with tl_start is stopped when the script exits (trap on EXIT, INT,
# TERM): TERM to its process group, a bounded wait, then KILL.
#
#   tl_tmpdir                  print the script's scratch directory (made
#                              when this file is sourced, removed on exit;
#                              TL_KEEP_TMP=1 keeps it)
#   tl_free_port BASE [N] [SPAN]  print the first port P in [BASE, BASE+SPAN)
#                              (SPAN 100) such that P..P+N-1 are unused on
#                              TCP and UDP and not handed out before by this
#                              script
#   tl_wait_port PROTO HOST PORT SECONDS
#                              wait until a TCP port listens / a UDP port is
#                              bound (ss -lnt / ss -lnu); 1 on timeout
#   tl_start NAME CMD...       start CMD in the background in its own
#                              process group, output to $(tl_tmpdir)/NAME.log
#                              (scripts run without job control, no set -m:
#                              the pid is then the group's id)
#   tl_pid NAME / tl_log NAME  its pid / its log file
#   tl_alive NAME              0 while it runs
#   tl_stop NAME               stop it; returns its exit status
#   tl_stop_all                stop every started process (runs on exit)
#   tl_deadline SECONDS        end the whole script (TERM) after SECONDS
#   tl_fail MSG                print "FAIL: MSG" and the tails of the logs,
#                              exit 1
#   tl_pass MSG / tl_check_fail MSG   count one check
#   tl_assert_eq EXPECTED ACTUAL MSG  count one check, 1 when they differ
#   tl_check MSG CMD...        count one check: passes when CMD exits 0
#   tl_summary                 print "N passed, N failed"; 1 if any failed
#   tl_sipp NAME SIPP-ARGS...  run SIPp bounded (TL_SIPP_TIMEOUT s, 60),
#                              without stdin, logs in $(tl_tmpdir)/NAME.*
#   tl_stunnel_conf OUT ACCEPT_PORT CONNECT CA [CERT KEY [RESUME]]
#                              write a stunnel client config from
#                              tests/sipp/stunnel-client.conf.in
#
# Run directly (bash tests/integ/lib.sh) it tests itself.

# Sourced twice: keep the first state.
if [ -z "${TL_LIB_LOADED:-}" ]; then
TL_LIB_LOADED=1

TL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${TL_SRC:=$(cd "$TL_LIB_DIR/../.." && pwd)}"
: "${TL_STOP_WAIT:=5}"
: "${TL_SIPP_TIMEOUT:=60}"
TL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tl-integ.XXXXXX") || {
	echo "FAIL: cannot create a scratch directory" >&2
	exit 1
}
TL_NAMES=()
declare -A TL_PIDS=()
TL_PASSED=0
TL_FAILED=0
TL_DEADLINE_PID=

tl_tmpdir() {
	mkdir -p "$TL_TMP" && printf '%s\n' "$TL_TMP"
}

# Ports in use on this host, one per line (local side of every TCP and UDP
# socket, listening or not).
tl__ports_in_use() {
	ss -Hantu 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }'
}

tl_free_port() {
	local base=${1:?tl_free_port BASE [N] [SPAN]} n=${2:-1} span=${3:-100}
	local used p i ok
	if ! [[ "$base" =~ ^[0-9]+$ && "$n" =~ ^[0-9]+$ && "$span" =~ ^[0-9]+$ ]]; then
		echo "tl_free_port: not a number" >&2
		return 2
	fi
	used=$(
		tl__ports_in_use
		cat "$TL_TMP/.ports" 2>/dev/null
	)
	used=" $(printf '%s\n' "$used" | sort -un | tr '\n' ' ') "
	for ((p = base; p + n <= base + span && p + n <= 65536; p++)); do
		ok=1
		for ((i = 0; i < n; i++)); do
			if [[ "$used" == *" $((p + i)) "* ]]; then
				ok=0
				break
			fi
		done
		if [ $ok = 1 ]; then
			for ((i = 0; i < n; i++)); do
				echo $((p + i)) >>"$TL_TMP/.ports"
			done
			echo "$p"
			return 0
		fi
	done
	echo "tl_free_port: no $n free port(s) in [$base, $((base + span)))" >&2
	return 1
}

tl_wait_port() {
	local proto=${1:?} host=${2:?} port=${3:?} secs=${4:?} flags i max
	case "$proto" in
	tcp | TCP) flags=-Hlnt ;;
	udp | UDP) flags=-Hlnu ;;
	*)
		echo "tl_wait_port: protocol is tcp or udp, not $proto" >&2
		return 2
		;;
	esac
	[[ "$secs" =~ ^[0-9]+$ ]] || return 2
	max=$((secs * 10))
	for ((i = 0; i <= max; i++)); do
		if ss $flags "sport = :$port" 2>/dev/null |
			awk -v h="$host" -v p="$port" '
				{ a = $4; sub(/%[^:]*:/, ":", a) }
				a == h ":" p || a == "0.0.0.0:" p || a == "*:" p ||
				a == "[::]:" p || a == "[" h "]:" p { f = 1 }
				END { exit !f }'; then
			return 0
		fi
		sleep 0.1
	done
	echo "tl_wait_port: nothing bound to $proto $host:$port after ${secs}s" >&2
	return 1
}

tl_start() {
	local name=${1:?tl_start NAME CMD...}
	shift
	[ $# -gt 0 ] || {
		echo "tl_start: no command for $name" >&2
		return 2
	}
	if [ -n "${TL_PIDS[$name]:-}" ]; then
		echo "tl_start: $name already started" >&2
		return 2
	fi
	# setsid: its own process group, so that stopping it also stops the
	# children it forks (Kamailio's workers, stunnel's).
	setsid "$@" </dev/null >"$TL_TMP/$name.log" 2>&1 &
	TL_PIDS[$name]=$!
	TL_NAMES+=("$name")
	echo "${TL_PIDS[$name]}" >"$TL_TMP/$name.pid"
}

tl_pid() {
	printf '%s\n' "${TL_PIDS[${1:?}]:-}"
}

tl_log() {
	printf '%s\n' "$TL_TMP/${1:?}.log"
}

tl_alive() {
	local pid=${TL_PIDS[${1:?}]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

tl_stop() {
	local name=${1:?} pid rc i max
	pid=${TL_PIDS[$name]:-}
	[ -n "$pid" ] || return 0
	unset "TL_PIDS[$name]"
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	max=$((TL_STOP_WAIT * 10))
	for ((i = 0; i < max; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "tl_stop: $name ($pid) ignored TERM for ${TL_STOP_WAIT}s, KILL" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
	fi
	# Leftover members of its group (children that outlived the leader).
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	return $rc
}

tl_stop_all() {
	local i
	for ((i = ${#TL_NAMES[@]} - 1; i >= 0; i--)); do
		tl_stop "${TL_NAMES[$i]}" || true
	done
	TL_NAMES=()
}

# Stop the deadline watcher: its process group, or the process itself
# when it has not made the group yet (a test that fails at once), then the
# group it may have made meanwhile.
tl__deadline_stop() {
	[ -n "$TL_DEADLINE_PID" ] || return 0
	kill -TERM -- "-$TL_DEADLINE_PID" 2>/dev/null || {
		kill -TERM "$TL_DEADLINE_PID" 2>/dev/null
		kill -TERM -- "-$TL_DEADLINE_PID" 2>/dev/null
	}
	TL_DEADLINE_PID=
}

tl_deadline() {
	local secs=${1:?} me=$$
	tl__deadline_stop
	# Its own process group, so that the sleep goes with it; the sleep
	# holds no descriptor of the caller's (a pipe, perhaps, that a
	# reader would wait on until the sleep ends).
	setsid bash -c 'sleep "$1" </dev/null >/dev/null 2>&1
		echo "FAIL: deadline of $1 s reached" >&2
		kill -TERM "$2"' tl-deadline "$secs" "$me" </dev/null >/dev/null &
	TL_DEADLINE_PID=$!
}

tl__cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	tl__deadline_stop
	tl_stop_all
	if [ "${TL_KEEP_TMP:-0}" = 1 ]; then
		echo "scratch directory kept: $TL_TMP" >&2
	else
		rm -rf "$TL_TMP"
	fi
	exit $rc
}
trap tl__cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tl_fail() {
	local n
	echo "FAIL: $*" >&2
	for n in "${TL_NAMES[@]}"; do
		if [ -s "$TL_TMP/$n.log" ]; then
			echo "--- last lines of $n.log" >&2
			tail -n 15 "$TL_TMP/$n.log" >&2
		fi
	done
	exit 1
}

tl_pass() {
	TL_PASSED=$((TL_PASSED + 1))
	echo "ok: $*"
}

tl_check_fail() {
	TL_FAILED=$((TL_FAILED + 1))
	echo "not ok: $*" >&2
}

tl_assert_eq() {
	local want=$1 got=$2
	shift 2
	if [ "$want" = "$got" ]; then
		tl_pass "$*"
		return 0
	fi
	tl_check_fail "$* (expected '$want', got '$got')"
	return 1
}

tl_check() {
	local msg=${1:?tl_check MSG CMD...}
	shift
	if "$@"; then
		tl_pass "$msg"
		return 0
	fi
	tl_check_fail "$msg"
	return 1
}

tl_summary() {
	echo "$TL_PASSED passed, $TL_FAILED failed"
	[ "$TL_FAILED" -eq 0 ] && [ "$TL_PASSED" -gt 0 ]
}

# SIPp in the foreground, never interactive, never longer than
# TL_SIPP_TIMEOUT seconds; screen output, errors and statistics in the
# scratch directory under NAME.
# A phone agent's JSON status, through its control socket: prints the
# value of a Python expression on it (the status is `s`), nothing when the
# phone does not answer.
tl_phone_js() { # SOCKET EXPR
	"${TL_BIN:?}" phone ctl "$1" status json 2>/dev/null |
		python3 -c "import json,sys; s=json.load(sys.stdin); print($2)" \
			2>/dev/null
}

# Waits up to SECONDS for tl_phone_js SOCKET EXPR to print VALUE.
tl_phone_wait_js() { # SOCKET EXPR VALUE SECONDS
	local i
	for i in $(seq $(($4 * 10))); do
		[ "$(tl_phone_js "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

tl_sipp() {
	local name=${1:?tl_sipp NAME SIPP-ARGS...} rc
	shift
	(
		cd "$TL_TMP" || exit 2
		exec timeout -k 2 "$TL_SIPP_TIMEOUT" sipp -nostdin \
			-trace_err -error_file "$TL_TMP/$name.errors" \
			-trace_screen -screen_file "$TL_TMP/$name.screen" "$@" \
			>"$TL_TMP/$name.out" 2>&1
	)
	rc=$?
	if [ $rc -ne 0 ] && [ -s "$TL_TMP/$name.errors" ]; then
		head -c 2000 "$TL_TMP/$name.errors" | sed "s/^/$name: /" >&2
		echo >&2
	fi
	return $rc
}

tl_stunnel_conf() {
	local out=${1:?} accept=${2:?} connect=${3:?} ca=${4:?}
	local cert=${5:-} key=${6:-} resume=${7:-no} tmpl
	tmpl="$TL_SRC/tests/sipp/stunnel-client.conf.in"
	[ -r "$tmpl" ] || {
		echo "tl_stunnel_conf: cannot read $tmpl" >&2
		return 2
	}
	sed -e "s|@ACCEPT@|127.0.0.1:$accept|g" -e "s|@CONNECT@|$connect|g" \
		-e "s|@CA_FILE@|$ca|g" -e "s|@RESUME@|$resume|g" \
		-e "s|@PID_FILE@|$out.pid|g" "$tmpl" |
		if [ -n "$cert" ]; then
			sed -e "s|^;@CLIENT_CERT@ ||" -e "s|@CERT_FILE@|$cert|g" \
				-e "s|@KEY_FILE@|$key|g"
		else
			grep -v '^;@CLIENT_CERT@'
		fi >"$out.tmp" && mv "$out.tmp" "$out"
}

fi # TL_LIB_LOADED

# Self-test: bash tests/integ/lib.sh
tl__selftest() {
	local d p q rc pid
	tl_deadline 120
	d=$(tl_tmpdir)
	tl_check "scratch directory exists" test -d "$d"

	p=$(tl_free_port 34900 3 40) || tl_fail "no free port"
	q=$(tl_free_port 34900 1 40) || tl_fail "no free port"
	tl_check "a free port is in range" test "$p" -ge 34900 -a "$p" -lt 35000
	tl_check "ports handed out are not handed out again" \
		test "$q" -lt "$p" -o "$q" -ge $((p + 3))
	tl_check "a malformed base is refused" \
		bash -c '! tl_free_port x 2>/dev/null'

	# Nothing listens yet: a bounded wait gives up.
	tl_check "waiting for a closed port times out" \
		bash -c "! tl_wait_port tcp 127.0.0.1 $p 1 2>/dev/null"

	# A TCP listener (openssl s_server) and a UDP one (a SIPp UAS).
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/k.pem" -out "$d/c.pem" -days 1 -subj /CN=127.0.0.1 \
		2>/dev/null || tl_fail "openssl req"
	tl_start tcp openssl s_server -accept "127.0.0.1:$p" -cert "$d/c.pem" \
		-key "$d/k.pem" -quiet
	tl_check "TCP port listens" tl_wait_port tcp 127.0.0.1 "$p" 10
	tl_check "log file is made" test -f "$(tl_log tcp)"
	tl_check "the process runs" tl_alive tcp
	if command -v sipp >/dev/null; then
		cp "$TL_SRC/tests/sipp/users.csv" "$d/users.csv"
		tl_start udp env -C "$d" sipp \
			-sf "$TL_SRC/tests/sipp/registrar_uas.xml" -inf users.csv \
			-infindex users.csv 0 -i 127.0.0.1 -p "$((p + 1))" -nostdin
		tl_check "UDP port bound" tl_wait_port udp 127.0.0.1 "$((p + 1))" 10
		tl_check "OPTIONS answered through tl_sipp" \
			tl_sipp opt -sf "$TL_SRC/tests/sipp/options.xml" \
			-inf "$TL_SRC/tests/sipp/users.csv" -i 127.0.0.1 \
			-p "$((p + 2))" -m 1 -timeout 10 "127.0.0.1:$((p + 1))"
		tl_check "REGISTER with digest through tl_sipp" \
			tl_sipp reg -sf "$TL_SRC/tests/sipp/register_auth.xml" \
			-inf "$TL_SRC/tests/sipp/users.csv" -i 127.0.0.1 \
			-p "$((p + 2))" -m 3 -timeout 10 "127.0.0.1:$((p + 1))"
		tl_check "a wrong password is refused" \
			tl_sipp bad -sf \
			"$TL_SRC/tests/sipp/register_wrong_password.xml" \
			-inf "$TL_SRC/tests/sipp/users.csv" -i 127.0.0.1 \
			-p "$((p + 2))" -m 1 -timeout 10 "127.0.0.1:$((p + 1))"
	fi

	if command -v sipp >/dev/null; then
		# The retransmission scenario must fail against a server that
		# processes the copy (the SIPp registrar keeps no transactions).
		tl_check "register_retrans.xml fails against a stateless peer" \
			bash -c "! TL_SIPP_TIMEOUT=20 tl_sipp retx-neg -sf \
			'$TL_SRC/tests/sipp/register_retrans.xml' \
			-inf '$TL_SRC/tests/sipp/users.csv' -i 127.0.0.1 \
			-p $((p + 2)) -t u1 -nr -m 1 -timeout 10 \
			127.0.0.1:$((p + 1)) 2>/dev/null"
		tl_stop udp || true
	fi
	if command -v kamailio >/dev/null && command -v stunnel >/dev/null; then
		tl__selftest_kamailio "$d"
	else
		echo "kamailio or stunnel missing: reference registrar checks skipped"
	fi

	pid=$(tl_pid tcp)
	tl_stop tcp
	rc=$?
	tl_check "stopped process is gone" bash -c "! kill -0 $pid 2>/dev/null"
	tl_assert_eq 143 "$rc" "exit status of a process ended by TERM"

	# A process that ignores TERM is killed after TL_STOP_WAIT.
	TL_STOP_WAIT=1
	tl_start stubborn bash -c 'trap "" TERM; sleep 30 & wait; sleep 30'
	pid=$(tl_pid stubborn)
	sleep 0.2
	tl_stop stubborn 2>/dev/null
	tl_check "a process ignoring TERM is killed" \
		bash -c "! kill -0 $pid 2>/dev/null"
	TL_STOP_WAIT=5

	tl_check "stunnel config renders" tl_stunnel_conf "$d/st.conf" \
		"$q" 127.0.0.1:5061 "$d/c.pem" "$d/c.pem" "$d/k.pem"
	tl_check "client certificate lines kept" grep -q "^cert = $d/c.pem" \
		"$d/st.conf"
	tl_stunnel_conf "$d/st2.conf" "$q" 127.0.0.1:5061 "$d/c.pem"
	tl_check "client certificate lines dropped" \
		bash -c "! grep -q '^cert' '$d/st2.conf'"

	tl_assert_eq a a "tl_assert_eq passes on equal values"
	(tl_assert_eq a b "x" >/dev/null 2>&1)
	tl_assert_eq 1 $? "tl_assert_eq returns 1 on different values"

	# The checks above ran in this shell: the counters are ours.
	tl_summary
}

# The SIPp scenarios against the reference registrar (Kamailio from
# bench/kamailio, transaction-stateful, mutual TLS) over UDP, TCP and TLS
# through stunnel, kept-open and one connection per call.
tl__selftest_kamailio() {
	local d=$1 k s sc tr cmd
	local sipp_dir="$TL_SRC/tests/sipp" users="$TL_SRC/tests/sipp/users.csv"
	k=$(tl_free_port 34940 2 30) || tl_fail "no free port"
	s=$(tl_free_port 34970 2 30) || tl_fail "no free port"
	cmd=$("$TL_SRC/bench/kamailio/setup" --sip-port "$k" --tm --mtls \
		--mem tlsf --debug -1 "$d/kam") || tl_fail "kamailio setup"
	eval "tl_start kamailio $cmd"
	tl_check "Kamailio listens on UDP" tl_wait_port udp 127.0.0.1 "$k" 20
	tl_check "Kamailio listens on TLS" \
		tl_wait_port tcp 127.0.0.1 $((k + 1)) 20
	tl_stunnel_conf "$d/kam-st.conf" "$s" "127.0.0.1:$((k + 1))" \
		"$d/kam/ca.crt" "$d/kam/client.crt" "$d/kam/client.key"
	tl_start kam-stunnel stunnel "$d/kam-st.conf"
	tl_check "stunnel listens" tl_wait_port tcp 127.0.0.1 "$s" 10
	for tr in u1 t1 tls; do
		for sc in register_auth register_refresh options \
			register_wrong_password register_bench; do
			if [ $tr = tls ]; then
				tl_check "Kamailio: $sc over TLS (stunnel, mutual)" \
					tl_sipp "kam-$sc-$tr" -sf "$sipp_dir/$sc.xml" \
					-inf "$users" -i 127.0.0.1 -p $((s + 1)) -t t1 \
					-m 2 -timeout 20 "127.0.0.1:$s"
			else
				tl_check "Kamailio: $sc over $tr" \
					tl_sipp "kam-$sc-$tr" -sf "$sipp_dir/$sc.xml" \
					-inf "$users" -i 127.0.0.1 -p $((s + 1)) -t "$tr" \
					-m 2 -timeout 20 "127.0.0.1:$k"
			fi
		done
	done
	tl_check "Kamailio: one TLS connection per registration" \
		tl_sipp kam-tn -sf "$sipp_dir/register_auth.xml" -inf "$users" \
		-i 127.0.0.1 -p $((s + 1)) -t tn -max_socket 1024 -m 20 -r 20 \
		-timeout 30 "127.0.0.1:$s"
	tl_check "Kamailio (transaction-stateful): retransmissions absorbed" \
		tl_sipp kam-retx -sf "$sipp_dir/register_retrans.xml" \
		-inf "$users" -i 127.0.0.1 -p $((s + 1)) -t u1 -nr -m 2 \
		-timeout 20 "127.0.0.1:$k"
	tl_stop kam-stunnel || true
	tl_stop kamailio || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	export -f tl_free_port tl__ports_in_use tl_wait_port tl_sipp
	export TL_TMP
	tl__selftest
fi
