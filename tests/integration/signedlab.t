#!/bin/bash
# signedlab.t - the lab's signed zones (tests/lab/lab.sh LAB_SIGN,
# tests/lab/sign.sh), checked with kdig and ldns tools, without the probe:
# NSD, Knot and BIND each serve a zone signed now; the expired zone's RRSIGs
# lie in the past; the wrong-key zone's signatures carry the ZSK's tag; a
# rollover site publishes the new ZSK; the unsigned site has no RRSIG; the
# DS anchor is the digest of the KSK the sites serve. Needs root and
# `ip netns`; skips otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 2

# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
is() { if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got '$1', want '$2'"; fi; }

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces)"
	exit 0
fi
. tests/lab/lab.sh
if ! lab_usable; then
	echo "1..0 # SKIP needs a working 'ip netns'"
	exit 0
fi
for c in nsd knotd named kdig ldns-signzone ldns-key2ds; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP $c not installed (make deps)"; exit 0; }
done
LAB_TRAP=0
trap 'lab_down' EXIT
trap 'lab_down; exit 130' INT
trap 'lab_down; exit 143' TERM

# site: 1 NSD valid, 2 Knot expired, 3 BIND wrongkey, 4 NSD unsigned,
# 5 Knot valid + new ZSK, 6 BIND valid, 7 NSD otherksk
LAB_SIGN=("" valid expired wrongkey none valid valid otherksk)
LAB_NEWKEY[5]=1
lab_up 7
ok $? "lab_up 7 with signed sites"
now=$(date -u +%Y%m%d%H%M%S)

# dig SITE TYPE: the answer section's records (owner ttl class type rdata).
dig_site() {
	lab_exec_vantage kdig @"$(lab_link_addr "$1" ipv4)" +dnssec +norec +time=2 +retry=1 \
		+noall +answer "$LAB_ZONE" "$2" 2>/dev/null
}
# RRSIG fields of the SOA answer: expiration and key tag.
sig_of() { dig_site "$1" SOA | awk '$4 == "RRSIG" && $5 == "SOA" {print $9, $11; exit}'; }
tags_of() { # key tags of the DNSKEY set, ascending
	local f
	f=$(mktemp "$LAB_DIR/keys.XXXXXX")
	dig_site "$1" DNSKEY | awk '$4 == "DNSKEY"' >"$f"
	# ldns-key2ds (-f: any key, not only SEP ones) prints the DS, whose
	# first rdata field is the key tag
	while read -r line; do
		printf '%s\n' "$line" >"$f.one"
		ldns-key2ds -f -n -2 "$f.one" 2>/dev/null | awk '{print $5}'
	done <"$f" | sort -n | tr '\n' ' ' | sed 's/ $//'
	rm -f "$f" "$f.one"
}
ksk=$(cat "$LAB_KEYS/ksk.tag")
zsk=$(cat "$LAB_KEYS/zsk.tag")
zsk2=$(cat "$LAB_KEYS/zsk2.tag")
other=$(cat "$LAB_KEYS/other.tag")
sorted() { printf '%s\n' "$@" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

for i in 1 5 6; do
	read -r exp tag <<<"$(sig_of "$i")"
	ok "$([ -n "$exp" ] && [ "$exp" \> "$now" ] && echo 0 || echo 1)" \
		"site $i (${LAB_SERVER[$i]}): SOA signed, expiring in the future" "expiration '$exp', now $now"
	is "$tag" "$zsk" "site $i: the SOA is signed by the ZSK"
done
read -r exp tag <<<"$(sig_of 2)"
ok "$([ -n "$exp" ] && [ "$exp" \< "$now" ] && echo 0 || echo 1)" \
	"site 2 (knot): the SOA's RRSIG expired" "expiration '$exp', now $now"
read -r exp tag <<<"$(sig_of 3)"
is "$tag" "$zsk" "site 3 (bind, wrong key): the signature claims the ZSK's tag"
is "$(sig_of 4)" "" "site 4: unsigned, no RRSIG"

is "$(tags_of 1)" "$(sorted "$ksk" "$zsk")" "site 1: DNSKEY set is KSK + ZSK"
is "$(tags_of 5)" "$(sorted "$ksk" "$zsk" "$zsk2")" "site 5: the rollover's new ZSK published there"
is "$(tags_of 6)" "$(sorted "$ksk" "$zsk")" "site 6: no new ZSK elsewhere"
is "$(tags_of 7)" "$(sorted "$other" "$zsk")" "site 7: a KSK the anchor does not know"

# The anchor: the DS of the KSK as site 1 serves it.
dig_site 1 DNSKEY | awk '$4 == "DNSKEY" && $5 == 257' >"$LAB_DIR/ksk.served"
want=$(awk '{print $4, $5, $6, $7, $8}' "$LAB_DS")
got=$(ldns-key2ds -n -2 "$LAB_DIR/ksk.served" | awk '{print $4, $5, $6, $7, $8}')
is "$got" "$want" "LAB_DS is the digest of the served KSK"
is "$(awk '$3 == "DNSKEY" {print $4}' "$LAB_DNSKEY")" 257 "LAB_DNSKEY holds the KSK's DNSKEY"

lab_down
echo "1..$n"
[ "$failed" -eq 0 ]
