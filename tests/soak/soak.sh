#!/bin/bash
# soak.sh PROBE: `make soak` (not part of make check). A long run of the
# probe in the anycast lab (3 sites) while the lab misbehaves: catchments
# flip between sites every few seconds (per family, at random), site 2's
# server is killed and restarted every ~15 s, and one target is a server
# that trickles its TCP answers (tests/lib/liar.pl). Rounds of ~2,050
# queries (UDP and TCP, IPv4 and IPv6) run back to back until SOAK_SECONDS (default 300) pass or
# SOAK_QUERIES rows (default 1,000,000) are written; soak-driver.pl checks
# rows per round, line syntax, RSS, descriptors and the exit. Needs root.
set -u
cd "$(dirname "$0")/../.." || exit 2
probe=$(realpath "${1:-build/anycast-probe}")
SOAK_SECONDS=${SOAK_SECONDS:-300}
SOAK_QUERIES=${SOAK_QUERIES:-1000000}
if [ "$(id -u)" -ne 0 ]; then
	echo "soak: needs root (network namespaces)" >&2
	exit 2
fi
# shellcheck source=tests/lab/lab.sh
. tests/lab/lab.sh
lab_usable || { echo "soak: no working ip netns" >&2; exit 2; }
T=$(mktemp -d /tmp/soak.XXXXXX)
CHAOS=
LIAR=
cleanup() {
	: >"$T/stop"
	[ -n "$CHAOS" ] && { kill "$CHAOS" 2>/dev/null; wait "$CHAOS" 2>/dev/null; }
	exec 4>&- 2>/dev/null
	[ -n "$LIAR" ] && { kill "$LIAR" 2>/dev/null; wait "$LIAR" 2>/dev/null; }
	lab_down
	rm -rf "$T"
}
# shellcheck disable=SC2034 # read by lab_up
LAB_TRAP=0
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# 1000 names that exist on every site, so rows are successes when all is well.
extra=$(for i in $(seq 1000); do printf 'q%d\tA\t192.0.2.%d\n' "$i" $((i % 250 + 1)); done)
# shellcheck disable=SC2034 # read by lab_up
LAB_ZONE_EXTRA=([1]="$extra" [2]="$extra" [3]="$extra")
lab_up 3 || exit 1

# The trickling server, inside the vantage namespace (its own loopback).
exec 4> >(exec ip netns exec "$LAB_VANTAGE" perl tests/lib/liar.pl --mode trickle >"$T/liar.out" 2>"$T/liar.err")
LIAR=$!
for _ in $(seq 500); do grep -q '^READY' "$T/liar.out" 2>/dev/null && break; sleep 0.01; done
liar_port=$(sed -n 's/^READY \([0-9]*\).*/\1/p' "$T/liar.out")
[ -n "$liar_port" ] || { echo "soak: liar did not start" >&2; cat "$T/liar.err" >&2; exit 1; }

{
	echo "[probe]"
	echo "timeout = 500ms"
	echo "retries = 0"
	echo "rate = 20000"
	echo "self_metrics = no"
	echo
	echo "[target anycast]"
	echo "server = $LAB_SVC4"
	echo "server = $LAB_SVC6"
	echo "transport = udp"
	for i in $(seq 1000); do echo "query = q$i.example.test A"; done
	echo "query = example.test SOA"
	echo
	echo "[target anycast-tcp]"
	echo "server = $LAB_SVC4"
	echo "server = $LAB_SVC6"
	echo "transport = tcp"
	echo "identity ="
	for i in $(seq 20); do echo "query = q$i.example.test A"; done
	echo
	echo "[target trickle]"
	echo "server = 127.0.0.1"
	echo "port = $liar_port"
	echo "transport = tcp"
	echo "identity ="
	echo "query = trickle.liar.test TXT"
} >"$T/soak.conf"

# The chaos: catchment flips every 3 s, site 2 killed and restarted every
# fifth flip. Stops when $T/stop appears.
(
	k=0
	while [ ! -e "$T/stop" ]; do
		lab_catchment $((RANDOM % 3 + 1)) ipv4 >/dev/null 2>&1
		lab_catchment $((RANDOM % 3 + 1)) ipv6 >/dev/null 2>&1
		k=$((k + 1))
		if [ $((k % 5)) -eq 0 ]; then
			lab_kill_site_server 2 >/dev/null 2>&1
			sleep 2
			lab_start_site_server 2 >/dev/null 2>&1
		fi
		sleep 3
	done
) &
CHAOS=$!

echo "# soak: up to ${SOAK_SECONDS}s or $SOAK_QUERIES rows; lab of 3 sites, trickle server on port $liar_port"
ip netns exec "$LAB_VANTAGE" perl tests/soak/soak-driver.pl "$probe" "$T/soak.conf" \
	"$SOAK_SECONDS" "$SOAK_QUERIES"
rc=$?
exit $rc
