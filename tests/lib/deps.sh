#!/bin/sh
# Installs the Debian packages that building and testing need, when missing.
# Needs root (or sudo) only when something is missing.
set -e
PKGS="build-essential pkg-config libldns-dev libinih-dev libcmocka-dev perl
 nsd knot knot-dnsutils bind9 bind9-dnsutils influxdb curl iproute2 procps
 clang libclang-rt-14-dev valgrind dnsperf tcpdump tshark"
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
