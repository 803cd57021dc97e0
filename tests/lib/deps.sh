#!/bin/sh
# Installs the Debian packages a make target needs, when missing:
#   deps.sh build   compiler and libraries (make, make install)
#   deps.sh demo    build + the DNS servers of the lab (make run)
#   deps.sh test    everything make check, asan, fuzz and bench use
# Needs root (or sudo) only when something is missing. DNS and database
# servers installed here are for the tests and the demo, which start their
# own instances on loopback or in namespaces: the system services Debian
# enables for them are stopped and disabled again, so that installing
# anycast-probe's test tools never leaves a resolver, an InfluxDB or a
# Prometheus listening on the machine.
set -e
BUILD="build-essential pkg-config libldns-dev libinih-dev libseccomp-dev"
BUILD="$BUILD libssl-dev libnghttp2-dev" # DoT, DoH
DEMO="$BUILD nsd knot knot-dnsutils iproute2 procps"
TEST="$DEMO libcmocka-dev perl bind9 bind9-dnsutils influxdb curl man-db
 clang libclang-rt-14-dev valgrind dnsperf tcpdump tshark prometheus"
TEST="$TEST openssl python3-h2" # TLS test certificates, lying DoH server
TEST="$TEST ldnsutils" # signing the lab's zones (ldns-signzone)
TEST="$TEST dns-root-data" # the root's DS for conf/rssac047.conf
# service:package, for the servers installed here
SERVICES="nsd:nsd knot:knot named:bind9 influxdb:influxdb prometheus:prometheus
 prometheus-node-exporter:prometheus"
case "${1:-test}" in
build) PKGS=$BUILD ;;
demo) PKGS=$DEMO ;;
test) PKGS=$TEST ;;
*) echo "usage: $0 build|demo|test" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: no.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	$SUDO debconf-set-selections
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	for sp in $SERVICES; do
		s=${sp%%:*}
		case " $missing " in
		*" ${sp#*:} "*) ;;
		*) continue ;; # it was there before: not ours to touch
		esac
		if systemctl list-unit-files "$s.service" >/dev/null 2>&1; then
			echo "deps: stopping and disabling the $s service (the tests run their own)" >&2
			$SUDO systemctl disable --now "$s.service" >/dev/null 2>&1 || true
		fi
	done
fi
