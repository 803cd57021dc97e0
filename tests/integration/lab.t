#!/bin/bash
# lab.t - the anycast lab (tests/lab/lab.sh) and the probe inside it.
#
# Builds a 3-site lab (NSD, Knot, BIND on the same 192.0.2.53 and
# 2001:db8:53::53), checks with kdig that each family's catchment follows
# the vantage route independently, that a site's server can be stopped and
# started, then runs `anycast-probe --once` in the vantage namespace before
# and after a catchment move (every row's instance must be the site's NSID),
# runs the `make run` demo briefly, and checks nothing is left behind.
# Needs root and working `ip netns`; otherwise skips. $ANYCAST_PROBE names the
# binary (default build/anycast-probe); probe tests skip when it is missing.
set -u
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
probe=${ANYCAST_PROBE:-$root/build/anycast-probe}

n=0
failed=0
ok() { # ok COND-STATUS NAME [DIAG]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
	fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
is() { # is GOT WANT NAME
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got '$1', want '$2'"; fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces)"
	exit 0
fi
# shellcheck source=tests/lab/lab.sh
. tests/lab/lab.sh
if ! lab_usable; then
	echo "1..0 # SKIP needs root and a working 'ip netns' (container without CAP_SYS_ADMIN?)"
	exit 0
fi
for c in nsd knotd named kdig; do
	if ! command -v "$c" >/dev/null; then
		echo "1..0 # SKIP $c not installed (make deps)"
		exit 0
	fi
done

# shellcheck disable=SC2034 # read by lab_up
LAB_TRAP=0
trap 'lab_down' EXIT
trap 'lab_down; exit 130' INT
trap 'lab_down; exit 143' TERM

nsid_of() { # nsid_of ADDR [kdig options]
	local a=$1
	shift
	lab_exec_vantage kdig @"$a" +nsid +time=1 +retry=0 "$@" "$LAB_ZONE" SOA 2>/dev/null |
		sed -n 's/^;; NSID: [0-9A-Fa-f]* "\(.*\)"$/\1/p'
}
chaos() { # chaos ADDR NAME
	lab_exec_vantage kdig @"$1" +short +time=1 +retry=0 CH TXT "$2" 2>/dev/null | tr -d '"'
}

lab_up 3
ok $? "lab_up 3"
vantage=$LAB_VANTAGE
sites=("${LAB_SITE_NS[@]}")
pids=("${LAB_PID[@]}")
is "$(ip netns list | grep -c "^${LAB_PREFIX}-$$-")" 4 "4 namespaces (vantage + 3 sites)"

is "$(nsid_of "$LAB_SVC4")" arn1 "ipv4 udp lands on site 1 (NSD, nsid arn1)"
is "$(nsid_of "$LAB_SVC6" +tcp)" arn1 "ipv6 tcp lands on site 1"
is "$(chaos "$LAB_SVC4" hostname.bind)" sthlm-1 "site 1 hostname.bind"
is "$(chaos "$LAB_SVC6" id.server)" sthlm-1 "site 1 id.server over ipv6"

lab_catchment 2 ipv4
ok $? "lab_catchment 2 ipv4"
is "$(nsid_of "$LAB_SVC4")" lhr1 "ipv4 now lands on site 2 (Knot, nsid lhr1)"
is "$(nsid_of "$LAB_SVC6")" arn1 "ipv6 still on site 1 (families independent)"
is "$(chaos "$LAB_SVC4" hostname.bind)" lon-1 "site 2 hostname.bind"
is "$(lab_catchment_of ipv4)/$(lab_catchment_of ipv6)" 2/1 "lab_catchment_of"

lab_catchment 3 ipv6
is "$(nsid_of "$LAB_SVC6")" fra1 "ipv6 on site 3 (BIND, nsid = server-id fra1)"
is "$(chaos "$LAB_SVC6" hostname.bind)/$(chaos "$LAB_SVC6" id.server)" fra-1/fra1 \
	"site 3 hostname.bind differs from id.server"
is "$(lab_exec_vantage kdig @"$LAB_SVC6" +short "$LAB_ZONE" SOA | awk '{print $3}')" \
	2024010103 "site 3 serves its own serial"

lab_kill_site_server 2
ok $? "lab_kill_site_server 2"
out=$(lab_exec_vantage kdig @"$LAB_SVC4" +time=1 +retry=0 "$LAB_ZONE" SOA 2>&1)
echo "$out" | grep -q 'status: NOERROR'
ok $((!$?)) "no answer via site 2 while its server is down"
lab_start_site_server 2
ok $? "lab_start_site_server 2"
is "$(nsid_of "$LAB_SVC4")" lhr1 "site 2 answers again"

lab_catchment none ipv6
is "$(lab_catchment_of ipv6)" none "lab_catchment none ipv6 removes the route"
lab_exec_vantage kdig @"$LAB_SVC6" +time=1 +retry=0 "$LAB_ZONE" SOA >/dev/null 2>&1
ok $((!$?)) "ipv6 service unreachable without a route"

# The probe inside the lab.
lab_catchment 1 both
conf="$LAB_DIR/probe.conf"
lab_probe_conf "$conf"

# check_round SITE-NSID: run one round, every row names that instance.
check_round() {
	local want=$1 out rc rows bad
	out=$(lab_exec_vantage "$probe" --once -c "$conf" 2>"$LAB_DIR/stderr")
	rc=$?
	ok $rc "probe --once exits 0 (catchment $want)" "$(cat "$LAB_DIR/stderr")"
	rows=$(printf '%s\n' "$out" | grep -c '^dns_anycast,')
	# 2 addresses x 2 transports x (SOA + hostname.bind + id.server)
	is "$rows" 12 "12 rows (catchment $want)"
	bad=$(printf '%s\n' "$out" | grep '^dns_anycast,' | grep -v ",instance=${want}[, ]")
	ok "$([ -z "$bad" ] && echo 0 || echo 1)" "every row has instance=$want" "$bad"
	for f in ipv4 ipv6; do
		for t in udp tcp; do
			printf '%s\n' "$out" | grep ",family=$f," | grep ",transport=$t," |
				grep ",domain=$LAB_ZONE," | grep -q ',result=success,'
			ok $? "$f $t SOA row is a success (catchment $want)"
		done
	done
}
if [ -x "$probe" ]; then
	check_round arn1
	lab_catchment 2 both
	check_round lhr1
else
	skip "probe binary $probe not built"
fi

lab_down
ok $? "lab_down"
is "$(ip netns list | grep -c "^${LAB_PREFIX}-$$-")" 0 "no lab namespaces left"
alive=
for p in "${pids[@]}" "${LAB_PID[@]}"; do
	[ -n "$p" ] || continue
	# A zombie reparented to a non-reaping PID 1 (containers) is not alive.
	if [ -e "/proc/$p" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$p/stat" 2>/dev/null; then
		alive="$alive $p"
	fi
done
is "$alive" "" "no server processes left"
is "$( [ -n "${LAB_DIR:-}" ] && echo dir || echo none)" none "temp dir removed"
ok "$( [ -e "/run/netns/$vantage" ] || [ -e "/run/netns/${sites[0]}" ] && echo 1 || echo 0)" \
	"namespace files gone"

# The `make run` demo, shortened: it must show both instances and the change.
if [ -x "$probe" ]; then
	out=$(tests/lab/demo.sh --rounds 4 "$probe" 2>"${TMPDIR:-/tmp}/lab.t.$$.err")
	rc=$?
	err=$(cat "${TMPDIR:-/tmp}/lab.t.$$.err")
	rm -f "${TMPDIR:-/tmp}/lab.t.$$.err"
	ok $rc "demo.sh --rounds 4 exits 0" "$err"
	echo "$out" | grep -q ',instance=arn1,' && echo "$out" | grep -q ',instance=lhr1,'
	ok $? "demo shows both instances"
	changed=$(echo "$out" | grep "instance_changed=true")
	ok "$( [ -n "$changed" ] && ! echo "$changed" | grep -qv ",instance=lhr1," && echo 0 || echo 1)" \
		"instance_changed=true appears, only on rows of the new instance" "$changed"
	pairs=0
	for p in "192.0.2.53,family=ipv4,transport=udp" "192.0.2.53,family=ipv4,transport=tcp" \
		"2001:db8:53::53,family=ipv6,transport=udp" "2001:db8:53::53,family=ipv6,transport=tcp"; do
		echo "$changed" | grep -q "server=$p," && pairs=$((pairs + 1))
	done
	k=$(echo "$changed" | grep -c .)
	ok "$( [ "$pairs" -eq 4 ] && [ "$k" -le 12 ] && echo 0 || echo 1)" \
		"instance_changed=true for every server/transport, in one round only" "$changed"
	echo "$err" | grep -q 'moving catchment to site 2'
	ok $? "demo says when it moves the catchment"
	stale=
	for ns in $(ip netns list | awk "{print \$1}" | grep "^${LAB_PREFIX}-[0-9]*-"); do
		p=${ns#"${LAB_PREFIX}-"}
		kill -0 "${p%%-*}" 2>/dev/null || stale="$stale $ns"
	done
	is "$stale" "" "demo left no namespaces"
else
	skip "demo: probe binary $probe not built"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
