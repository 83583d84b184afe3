#!/usr/bin/env bash
# Boot storm: N phone agents (`trustline phone --fleet N`, one process)
# booting at once from cold against one `trustline serve` on the same
# machine: TFTP (CTL, signed config), verification, and registration;
# with --secure also CAPF (an LSC per phone, the config then fetched
# encrypted to it) and mutual-TLS registration. Prints the time until all
# are registered and phones per second, with the CPU seconds of the site
# and of the fleet.
#
#   bench/boot_storm.sh [options]
#     --phones N       phones (default 1000)
#     --secure         encrypted devices: CAPF install + TLS (default:
#                      nonsecure devices, signed config, UDP)
#     --workers W      boot threads in the fleet (default 8)
#     --timeout S      give up after S seconds (default 120)
#     --base-port P    the site's 7 ports from P (default: free in
#                      39800-39990)
#     --sync           phones fsync their state files (default: not in
#                      a fleet; one disk for all would be measured)
#     --flash DIR      where the phones keep their state (their "flash";
#                      default: a fresh directory on /dev/shm when it is
#                      writable, else the scratch directory). Thousands of
#                      simulated phones creating small files on the host's
#                      disk measure its inode allocator, not the site: a
#                      real phone writes its own flash.
#     --no-prebuild    the site builds each config at the first request
#                      (default: it builds all when it starts, and the
#                      phones boot once that is done; its time is printed)
#     --json           one JSON object at the end
#   Environment: TL_BIN (default build/trustline; use a release build).
#
# The devices and lines are written into the site database with sqlite3 in
# one transaction (the CLI would take a process per device); every phone
# then registers with digest credentials of its own.
set -u
# A scratch directory of its own (other runs may clean /tmp/tl-integ.*).
export TMPDIR=${TMPDIR:-/tmp}/tl-boot-storm
mkdir -p "$TMPDIR"
. "$(dirname "$0")/../tests/integ/lib.sh"

T=${TL_BIN:-build/trustline}
N=1000
SECURE=false
WORKERS=8
TIMEOUT=120
BASE=
JSON=false
SYNC=
FLASH=
NO_PREBUILD=false
while [ $# -gt 0 ]; do
	case $1 in
	--phones) N=$2; shift ;;
	--secure) SECURE=true ;;
	--workers) WORKERS=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--base-port) BASE=$2; shift ;;
	--json) JSON=true ;;
	--sync) SYNC=--sync ;;
	--flash) FLASH=$2; shift ;;
	--no-prebuild) NO_PREBUILD=true ;;
	-h | --help)
		sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "boot_storm: unknown option $1" >&2
		exit 2
		;;
	esac
	shift
done
tl_deadline $((TIMEOUT + 300))
command -v sqlite3 >/dev/null || tl_fail "sqlite3 is needed"
D=$(tl_tmpdir)
P=${BASE:-$(tl_free_port 39800 7 190)} || tl_fail "no free ports"
site=$D/site
if [ -z "$FLASH" ]; then
	FLASH=$D
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		FLASH=$(mktemp -d /dev/shm/tl-boot-storm.XXXXXX) ||
			tl_fail "no directory on /dev/shm"
		# removed on every exit, then lib.sh's own cleanup
		trap 'rc=$?; rm -rf "$FLASH"; (exit $rc); tl__cleanup' EXIT
	fi
fi
"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init: $(tail -n 3 "$D/init.log")"
"$T" cluster mode mixed --site "$site" >/dev/null || tl_fail "cluster mode"
# Every phone connects from 127.0.0.1: lift the per-address connection
# limit (default 128) and the total (default 4096) for the secure storm.
sed -i "/^\[net\]/a max_conns = $((N + 1000))\nmax_conns_per_ip = $((N + 1000))" \
	"$site/trustline.conf"
profile=nonsecure
capf="0, 0"
if $SECURE; then
	profile=encrypted
	capf="2, 1" # null string, install
fi

# N devices 0000B0000000.. and lines 20000000.., password pw<dn>.
python3 - "$N" "$profile" "$capf" >"$D/seed.sql" <<'PY'
import hashlib, sys, time
n, prof, capf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
now = int(time.time())
print("BEGIN;")
for i in range(n):
    mac = "0000B%07X" % i
    dn = "2%07d" % i
    pw = "pw" + dn
    a = "%s:trustline:%s" % (dn, pw)
    md5 = hashlib.md5(a.encode()).hexdigest()
    sha = hashlib.sha256(a.encode()).hexdigest()
    print("INSERT INTO devices(mac,name,profile,capf_auth_mode,capf_op,"
          "created,updated) VALUES('%s','SEP%s','%s',%s,%d,%d);"
          % (mac, mac, prof, capf, now, now))
    print("INSERT INTO lines(dn,device,line_index,auth_user,realm,ha1_md5,"
          "ha1_sha256,created,updated) VALUES('%s','%s',1,'%s','trustline',"
          "'%s','%s',%d,%d);" % (dn, mac, dn, md5, sha, now, now))
print("UPDATE meta SET generation = generation + 1;")
print("COMMIT;")
PY
sqlite3 "$site/trustline.db" <"$D/seed.sql" || tl_fail "seeding the store"

# The fleet needs the shared password: every phone gets --password per
# line from a file of DN=PW lines would be long; the fleet passes one
# password per phone through its MAC index instead (see below).
tl_start serve "$T" serve --site "$site" $($NO_PREBUILD && echo --no-prebuild)
tl_wait_port udp 127.0.0.1 $((P + 2)) 30 || tl_fail "serve: no TFTP"
tl_wait_port tcp 127.0.0.1 $((P + 1)) 30 || tl_fail "serve: no TLS"
tl_wait_port tcp 127.0.0.1 $((P + 4)) 30 || tl_fail "serve: no CAPF"
# The site builds every device's config files when it starts, as Cisco's
# TFTP service does: the phones boot once it is done (--no-prebuild
# measures a site that builds each at the first request instead).
pre="not built at start"
if ! $NO_PREBUILD; then
	for ((i = 0; i < 10 * (TIMEOUT + 60); i++)); do
		grep -q "config files of [0-9]* devices built" "$(tl_log serve)" &&
			break
		sleep 0.1
	done
	pre=$(sed -n 's/.*config files of \([0-9]*\) devices built in \([0-9.]*\) s.*/\1 devices in \2 s/p' \
		"$(tl_log serve)")
	[ -n "$pre" ] || tl_fail "serve: the config files were not built"
fi
sleep 1

cpu() { # pid: utime+stime in clock ticks of the process and its threads
	awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
spid=$(tl_pid serve)
s0=$(cpu "$spid")
t0=$(date +%s.%N)
tl_start fleet "$T" phone --fleet "$N" --mac 0000B0000000 \
	--tftp "127.0.0.1:$((P + 2))" --state "$FLASH/fleet" \
	--password-from-dn pw --workers "$WORKERS" --exit-registered \
	--timeout "$TIMEOUT" --expires 3600 $SYNC
fpid=$(tl_pid fleet)
f_cpu=0
while tl_alive fleet; do
	# an exited, not yet reaped fleet reads as 0: keep the last figure
	c=$(cpu "$fpid")
	[ "$c" -gt "$f_cpu" ] && f_cpu=$c
	sleep 0.2
done
t1=$(date +%s.%N)
s1=$(cpu "$spid")
hz=$(getconf CLK_TCK)
log=$(tl_log fleet)
booted=$(sed -n 's/^fleet: \([0-9]*\) booted in \([0-9.]*\) s.*/\1 \2/p' "$log")
reg=$(sed -n 's/^fleet: \([0-9]*\)\/[0-9]* registered in \([0-9.]*\) s (\([0-9.]*\) phones\/s).*/\1 \2 \3/p' "$log")
# the fleet's own count (getrusage) when all are registered
fc=$(sed -n 's/^fleet: .* registered in .*, CPU \([0-9.]*\) s$/\1/p' "$log")
timeout_line=$(grep "^fleet: timeout" "$log" || true)
read -r nb tb <<<"${booted:-0 0}"
read -r nr tr rate <<<"${reg:-0 0 0}"
site_cpu=$(awk -v a="$s0" -v b="$s1" -v h="$hz" 'BEGIN{printf "%.2f", (b-a)/h}')
fleet_cpu=$(awk -v a="$f_cpu" -v h="$hz" 'BEGIN{printf "%.2f", a/h}')
[ -n "$fc" ] && fleet_cpu=$fc
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
kind=nonsecure-udp
$SECURE && kind=secure-capf-tls
if $JSON; then
	printf '{"bench":"boot_storm","kind":"%s","phones":%s,"booted":%s,' \
		"$kind" "$N" "$nb"
	printf '"boot_s":%s,"registered":%s,"registered_s":%s,' "$tb" "$nr" "$tr"
	printf '"phones_per_s":%s,"site_cpu_s":%s,"fleet_cpu_s":%s,' \
		"$rate" "$site_cpu" "$fleet_cpu"
	printf '"wall_s":%s,"workers":%s,"configs_at_start":"%s"}\n' \
		"$wall" "$WORKERS" "$pre"
else
	echo "boot storm ($kind): $N phones, $WORKERS boot threads"
	echo "  site: config files at start: $pre (before the phones start)"
	echo "  booted (TFTP, CTL, config$($SECURE && echo ', CAPF')): $nb in $tb s"
	echo "  registered: $nr in $tr s from the start: $rate phones/s"
	[ -n "$timeout_line" ] && echo "  $timeout_line"
	echo "  CPU: site $site_cpu s, fleet $fleet_cpu s; wall $wall s"
	echo "  goal: 10000 phones registered in < 30 s (333 phones/s)"
fi
[ "$nr" = "$N" ]
