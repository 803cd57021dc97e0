# shellcheck shell=bash
# sign.sh - DNSSEC keys and signed zones with ldns-keygen and ldns-signzone,
# for the lab (lab.sh sources it) and the reply fixtures
# (tests/fixtures/make-dnssec-replies.sh). Source it; bash. Needs ldnsutils.
#
# sign_keys DIR ZONE
#   makes ECDSA P-256 (algorithm 13) keys for ZONE in DIR, each as
#   DIR/NAME.key and DIR/NAME.private, its key tag in DIR/NAME.tag:
#     ksk    the key signing key; the trust anchor points at it
#     zsk    the zone signing key
#     zsk2   a second ZSK: the new key of a rollover (pre-published)
#     other  a KSK the anchor does not know
#     wrong  zsk's public half with zsk2's private half: signatures that
#            carry zsk's key tag but do not verify with it ("a signature
#            made with the wrong key")
#   and the trust anchors: DIR/ds (ksk's DS, SHA-256) and DIR/dnskey (ksk's
#   DNSKEY), zone-file format.
# sign_zone DIR IN OUT ZONE MODE [NEWKEY]
#   writes OUT, zone file IN signed with DIR's keys as MODE says:
#     valid    ksk + zsk, signatures from 1 h ago for SIGN_LIFETIME seconds
#              (default 7 days)
#     expired  ksk + zsk, signatures that expired a day ago
#     wrongkey ksk signs the DNSKEY set, "wrong" every other RRset
#     otherksk other + zsk: a DNSKEY set the anchor does not match
#     none     IN unchanged
#   NEWKEY=1 publishes zsk2 in the DNSKEY set (not signing with it).
#   SIGN_NOW (Unix seconds, default now) fixes the clock for fixtures.
# Returns 0 or 1 (ldns tools' messages on stderr).

sign_keys() {
	local dir=$1 zone=$2 n base
	mkdir -p "$dir" || return 1
	for n in ksk zsk zsk2 other; do
		if [ "$n" = ksk ] || [ "$n" = other ]; then
			base=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k "$zone") || return 1
		else
			base=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 "$zone") || return 1
		fi
		mv "$dir/$base.key" "$dir/$n.key" && mv "$dir/$base.private" "$dir/$n.private" || return 1
		rm -f "$dir/$base.ds"
		echo "$((10#${base##*+}))" >"$dir/$n.tag"
	done
	cp "$dir/zsk.key" "$dir/wrong.key" && cp "$dir/zsk2.private" "$dir/wrong.private" || return 1
	ldns-key2ds -n -2 "$dir/ksk.key" >"$dir/ds" || return 1
	cp "$dir/ksk.key" "$dir/dnskey"
}

sign_zone() {
	local dir=$1 in=$2 out=$3 zone=$4 mode=$5 newkey=${6:-0}
	local now=${SIGN_NOW:-$(date +%s)} life=${SIGN_LIFETIME:-604800}
	local inc=$((now - 3600)) exp=$((now + life)) tmp="$out.unsigned"
	local keys=("$dir/ksk" "$dir/zsk")
	case $mode in
	none)
		[ "$in" = "$out" ] || cp "$in" "$out"
		return
		;;
	valid) ;;
	expired) inc=$((now - 30 * 86400)) exp=$((now - 86400)) ;;
	otherksk) keys=("$dir/other" "$dir/zsk") ;;
	wrongkey) keys=("$dir/ksk" "$dir/wrong") ;;
	*)
		echo "sign_zone: unknown mode '$mode'" >&2
		return 1
		;;
	esac
	cp "$in" "$tmp" || return 1
	[ "$newkey" = 1 ] && cat "$dir/zsk2.key" >>"$tmp"
	# Without -A ldns-signzone signs the DNSKEY set with the KSK only.
	ldns-signzone -o "$zone" -i "$inc" -e "$exp" -f "$out" "$tmp" "${keys[@]}" ||
		return 1
	rm -f "$tmp"
}
