#!/bin/bash
# tests/bench/dnssec.sh PROBE_BINARY: what DNSSEC costs (issue 11).
#
# 1. The pass alone: tests/bench/dnssec_pass.c runs dnssec_round on the
#    lab's captured replies (tests/fixtures/dnssec, ECDSA P-256) and prints
#    CPU per row: cold (nothing remembered: every signature verified) and
#    the steady state (signature checks remembered across rows and rounds).
# 2. The probe end to end: in a private network namespace (root), Knot (one
#    UDP worker) serves dnssec.test signed by tests/lab/sign.sh on
#    127.0.1.1..127.0.1.$NADDR; the probe runs --once DNSSEC_RUNS times per
#    variant, each round NADDR addresses x (dnssec.test SOA + NNAMES names
#    nI.dnssec.test A) over UDP:
#      plain     dnssec = no
#      do        dnssec = yes (DO bit, RRSIG fields), no trust anchor
#      anchored  dnssec = yes, trust_anchor (+ one DNSKEY row per address)
#    CPU is user+sys of the whole process from wait4() (tests/bench/rusage.c),
#    start-up included; the table shows medians per query row.
# Env: DNSSEC_NADDR=50 DNSSEC_NAMES=20 DNSSEC_RUNS=5 DNSSEC_RATE=20000.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=${1:-$ROOT/build/anycast-probe}
NADDR=${DNSSEC_NADDR:-50}
NNAMES=${DNSSEC_NAMES:-20}
RUNS=${DNSSEC_RUNS:-5}
RATE=${DNSSEC_RATE:-20000}
LIB=$(dirname "$PROBE")/libprobe.a

die() { echo "dnssec.sh: $*" >&2; exit 2; }
[ -x "$PROBE" ] || die "no probe binary at $PROBE"
[ -f "$LIB" ] || die "no $LIB next to the probe (make)"
W=$(mktemp -d /tmp/anycast-dnssec.XXXXXX) || die "mktemp failed"
NS=acpdnssec$$
KNOT=""
cleanup() {
	[ -n "$KNOT" ] && kill "$KNOT" 2>/dev/null && wait "$KNOT" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- 1. the pass alone
# shellcheck disable=SC2046 # pkg-config prints several words
cc -std=c11 -D_GNU_SOURCE -O2 -I"$ROOT/include" -o "$W/dnssec_pass" \
	"$ROOT/tests/bench/dnssec_pass.c" "$LIB" $(pkg-config --libs ldns inih libseccomp openssl libnghttp2) ||
	die "cannot build dnssec_pass.c"
first=$("$W/dnssec_pass" "$ROOT/tests/fixtures/dnssec" 1 50 cold) || die "dnssec_pass failed"
steady=$("$W/dnssec_pass" "$ROOT/tests/fixtures/dnssec" 100 50) || die "dnssec_pass failed"
echo "DNSSEC pass alone (dnssec_round on groups of DNSKEY + SOA + NXDOMAIN rows):"
printf '| %-34s | %14s |\n' "round" "CPU per row"
printf '| %-34s | %14s |\n' "---" "---:"
printf '| %-34s | %11s us |\n' "cold (every signature verified)" "$(echo "$first" | awk '{print $2}')"
printf '| %-34s | %11s us |\n' "steady state (checks remembered)" "$(echo "$steady" | awk '{print $2}')"
echo

# --- 2. the probe end to end
if [ "$(id -u)" -ne 0 ]; then
	echo "end to end: SKIP (needs root: network namespace)"
	exit 0
fi
for t in ip knotd kdig ldns-signzone; do
	command -v "$t" >/dev/null || die "missing $t (make deps)"
done
cc -O2 -o "$W/rusage" "$ROOT/tests/bench/rusage.c" || die "cannot build rusage.c"
ip netns add "$NS" || die "ip netns add failed"
NX="ip netns exec $NS"
$NX ip link set lo up || die "cannot bring lo up"

. "$ROOT/tests/lab/sign.sh"
mkdir -p "$W/knot/db"
{
	printf '$ORIGIN dnssec.test.\n$TTL 3600\n'
	printf '@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 127.0.1.1\n'
	awk -v n="$NNAMES" 'BEGIN { for (i = 0; i < n; i++) printf "n%d A 192.0.2.%d\n", i, i % 254 + 1 }'
} >"$W/zone.in"
sign_keys "$W/keys" dnssec.test >/dev/null 2>&1 || die "sign_keys failed"
sign_zone "$W/keys" "$W/zone.in" "$W/knot/dnssec.test.zone" dnssec.test valid ||
	die "sign_zone failed"
listen=""
for i in $(seq 1 "$NADDR"); do listen="$listen${listen:+, }127.0.1.$i@53"; done
cat >"$W/knot/knot.conf" <<EOF
server:
    rundir: "$W/knot"
    listen: [ $listen ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$W/knot/db"
template:
  - id: default
    storage: "$W/knot"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: dnssec.test
    file: "dnssec.test.zone"
EOF
$NX knotd -c "$W/knot/knot.conf" >"$W/knot/log" 2>&1 &
KNOT=$!
ready=0
for _ in $(seq 1 100); do
	$NX kdig @127.0.1.$NADDR +dnssec +short +timeout=1 +retry=0 dnssec.test SOA 2>/dev/null |
		grep -q '^SOA 13' && { ready=1; break; }
	sleep 0.1
done
[ $ready = 1 ] || { cat "$W/knot/log" >&2; die "Knot did not answer"; }

conf() { # conf FILE VARIANT
	{
		printf '[probe]\ntimeout = 2s\nretries = 0\nidentity =\nnsid = no\nrate = %s\n' "$RATE"
		[ "$2" != plain ] && printf 'dnssec = yes\n'
		printf '\n[target bench]\ntransport = udp\n'
		[ "$2" = anchored ] && printf 'zone = dnssec.test\ntrust_anchor = %s\n' "$W/keys/ds"
		for i in $(seq 1 "$NADDR"); do printf 'server = 127.0.1.%d\n' "$i"; done
		printf 'query = dnssec.test SOA\n'
		for i in $(seq 0 $((NNAMES - 1))); do printf 'query = n%d.dnssec.test A\n' "$i"; done
	} >"$1"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "Probe end to end (--once, $NADDR addresses x $((NNAMES + 1)) queries, UDP, $RUNS runs, medians):"
printf '| %-9s | %5s | %12s | %13s | %8s |\n' variant rows "CPU per row" "vs plain" "secure"
printf '| %-9s | %5s | %12s | %13s | %8s |\n' --- ---: ---: ---: ---:
base=""
for v in plain do anchored; do
	conf "$W/$v.conf" "$v"
	if ! "$PROBE" -c "$W/$v.conf" --check-config >/dev/null 2>"$W/$v.check"; then
		printf '| %-9s | %5s | %12s | %13s | %8s |\n' "$v" - "n/a" "n/a" -
		sed 's/^/  # /' "$W/$v.check" | head -3
		continue
	fi
	: >"$W/$v.cpu"
	rows=0 secure=0
	for _ in $(seq 1 "$RUNS"); do
		read -r _wall cpu _rss _rc < <($NX "$W/rusage" "$W/$v.out" "$W/$v.err" \
			"$PROBE" --once -c "$W/$v.conf")
		rows=$(grep -c '^dns_anycast,' "$W/$v.out")
		secure=$(grep -c ',dnssec=secure[, ]' "$W/$v.out")
		[ "$rows" -gt 0 ] && awk -v c="$cpu" -v r="$rows" 'BEGIN { printf "%.2f\n", c / r }' >>"$W/$v.cpu"
	done
	per=$(median <"$W/$v.cpu")
	[ -z "$base" ] && base=$per
	extra=$(awk -v p="$per" -v b="$base" 'BEGIN { printf "%+.2f us", p - b }')
	printf '| %-9s | %5s | %9s us | %13s | %8s |\n' "$v" "$rows" "$per" "$extra" "$secure"
done
