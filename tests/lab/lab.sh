# shellcheck shell=bash
# lab.sh - a local DNS anycast lab in network namespaces (source it; bash).
#
# Topology (N sites, N >= 1; `make run` uses 2, the scenario tests 3+):
#
#            vantage ns (the probe runs here; no default route)
#        s1 /        s2 |        s3 \          one veth pair per site
#   198.51.100.4/30  .8/30        .12/30      vantage .4i+1, site .4i+2
#   2001:db8:ff01::/64  ff02::/64  ff03::/64  vantage ::1,    site ::2
#      site 1 ns     site 2 ns    site 3 ns
#        lo: 192.0.2.53/32 and 2001:db8:53::53/128 on EVERY site
#        a real DNS server bound to the service and link addresses, :53
#
# The vantage namespace has one host route per family for the service
# addresses, via one site's link; that route is the catchment, and
# lab_catchment moves it (per family). Sites answer from the service address;
# the reply goes back over their own link (connected route). rp_filter is
# off everywhere, so a late reply from the old site is still delivered.
#
# Default servers and identities (override before lab_up, see below):
#   site 1  NSD   nsid "arn1"  hostname.bind/id.server "sthlm-1"  serial 2024010101
#   site 2  Knot  nsid "lhr1"  hostname.bind/id.server "lon-1"    serial 2024010102
#   site 3  BIND  nsid "fra1"  id.server "fra1", hostname.bind "fra-1" (BIND's
#                 NSID is its server-id)                          serial 2024010103
#   site 4+ cycle nsd/knot/bind, nsid "siteN", identity "site-N"
# Zone example.test: SOA, NS, ns1 A/AAAA (the service addresses), and
# `site.example.test TXT "<nsid or siteN>"`.
#
# Per-site overrides (bash arrays indexed by site number, set before lab_up):
#   LAB_SERVER[i]=nsd|knot|bind   LAB_NSID[i]=STRING ("" = NSID off)
#   LAB_IDENTITY[i]=STRING ("" = no identity configured)
#   LAB_SERIAL[i]=N   LAB_ZONE_EXTRA[i]="records appended to the zone file"
#   LAB_TTL[i]=N  IP TTL and IPv6 hop limit of the site's packets (default
#     64 - 3*i, as if the site were 3*i hops away: hop_limit hints the site)
#   LAB_ZONE_STATE[i]=ok|refused|servfail  (default ok) refused: the site's
#     server is configured for another zone (other.test), so it answers
#     REFUSED for example.test; servfail: example.test is configured but its
#     zone file does not load, so the server answers SERVFAIL. lab_wait_site
#     waits for that status instead of NOERROR.
#   LAB_SIGN[i]=none|valid|expired|wrongkey|otherksk (default none): the
#     site serves the zone signed by tests/lab/sign.sh's sign_zone in that
#     mode (valid: signatures for 7 days; expired: expired a day ago;
#     wrongkey: RRsets other than DNSKEY signed with the wrong private key
#     under the ZSK's tag; otherksk: a DNSKEY set the anchor does not know).
#     All sites share one set of keys, made in lab_up when a site signs.
#   LAB_NEWKEY[i]=1  the site also publishes the rollover's new ZSK (zsk2).
#
# DNS over TLS and HTTPS: LAB_TLS=1 (before lab_up) makes every BIND site
#   also serve DoT on port 853 and DoH (HTTP/2, /dns-query) on port 443 of
#   the service addresses, with one certificate (dns.test, 192.0.2.53,
#   2001:db8:53::53) made by tests/lib/mkcerts.sh; LAB_TLS_CA is then its
#   CA file. NSD and Knot sites serve plain DNS only.
#
# Functions (return 0 or 1; messages on stderr prefixed "lab: "):
#   lab_up NSITES            build everything, start servers, wait until every
#                            site answers on its link addresses and the
#                            service addresses answer via site 1 (catchment)
#   lab_down                 kill everything started, delete namespaces and
#                            the temp dir; idempotent; installed as the
#                            EXIT/INT/TERM trap by lab_up unless LAB_TRAP=0
#   lab_exec_vantage CMD...  run CMD in the vantage namespace
#   lab_exec_site SITE CMD...
#   lab_catchment SITE|none [ipv4|ipv6|both]   move (or remove) the route
#   lab_catchment_of ipv4|ipv6                 print the site (or "none")
#   lab_kill_site_server SITE    stop that site's DNS server (and wait)
#   lab_start_site_server SITE   (re)start it and wait until it answers
#   lab_wait_site SITE           readiness: kdig to its link addresses
#   lab_site_silent SITE on|off  on: the site sends nothing back to the vantage
#                            (a dead or hung host: no answer, no ICMP, no TCP
#                            RST), so queries time out; off: normal again
#   lab_link_addr SITE ipv4|ipv6 print the site's link address
#   lab_cleanup_stale        delete namespaces of crashed runs of this lab
# Variables after lab_up: LAB_VANTAGE (namespace), LAB_SITE_NS[i], LAB_DIR,
#   LAB_PID[i] (server PID), LAB_NSITES, LAB_SVC4, LAB_SVC6, LAB_ZONE;
#   when a site signs: LAB_KEYS (the key directory, sign.sh's layout),
#   LAB_DS (the trust anchor: the KSK's DS) and LAB_DNSKEY (the KSK's
#   DNSKEY), key tags in $LAB_KEYS/{ksk,zsk,zsk2,other}.tag.
#
# Needs root, iproute2 with netns, nsd, knotd, named, kdig; ldnsutils to sign. Addresses are
# only from the documentation ranges; nothing touches the host namespace
# (veth pairs are created directly inside the lab namespaces).

LAB_PREFIX=${LAB_PREFIX:-aplab}
LAB_SVC4=192.0.2.53
LAB_SVC6=2001:db8:53::53
LAB_ZONE=example.test
declare -ga LAB_SITE_NS LAB_PID LAB_SERVER LAB_NSID LAB_IDENTITY LAB_SERIAL LAB_TTL \
	LAB_ZONE_EXTRA LAB_ZONE_STATE LAB_SIGN LAB_NEWKEY
LAB_NSITES=0
LAB_KEYS=
LAB_DS=
LAB_DNSKEY=
# shellcheck source=tests/lab/sign.sh
. "$(dirname "${BASH_SOURCE[0]}")/sign.sh"
LAB_VANTAGE=
LAB_DIR=
LAB_TLS=${LAB_TLS:-0}
LAB_TLS_CA=
LAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)

lab_log() { echo "lab: $*" >&2; }

# True when we can create namespaces (root and a working `ip netns`).
lab_usable() {
	[ "$(id -u)" -eq 0 ] || return 1
	command -v ip >/dev/null || return 1
	local t="${LAB_PREFIX}-probe-$$"
	ip netns add "$t" 2>/dev/null || return 1
	ip netns del "$t" 2>/dev/null
	return 0
}

lab_link_addr() {
	local i=$1 fam=${2:-ipv4}
	if [ "$fam" = ipv6 ]; then
		printf '2001:db8:ff%02x::2\n' "$i"
	else
		echo "198.51.100.$((4 * i + 2))"
	fi
}

lab_vantage_addr() {
	local i=$1 fam=${2:-ipv4}
	if [ "$fam" = ipv6 ]; then
		printf '2001:db8:ff%02x::1\n' "$i"
	else
		echo "198.51.100.$((4 * i + 1))"
	fi
}

lab_exec_vantage() { ip netns exec "$LAB_VANTAGE" "$@"; }
lab_exec_site() {
	local i=$1
	shift
	ip netns exec "${LAB_SITE_NS[$i]}" "$@"
}

# Kill every process left in namespace $1 (all of them were started by this
# lab: nothing else can enter a namespace whose name carries our PID).
lab_kill_ns_pids() {
	local ns=$1 pids n
	for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] && return 0
		# shellcheck disable=SC2086 # one PID per word
		if [ "$n" -lt 10 ]; then
			kill $pids 2>/dev/null
		else
			kill -9 $pids 2>/dev/null
		fi
		sleep 0.1
	done
	return 1
}

lab_del_ns() {
	local ns=$1
	ip netns list 2>/dev/null | grep -q "^$ns\b" || return 0
	lab_kill_ns_pids "$ns"
	ip netns del "$ns" 2>/dev/null
}

# Namespaces of this lab whose creating shell is gone (a crashed run).
lab_cleanup_stale() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' |
		grep -E "^${LAB_PREFIX}-[0-9]+-(v|s[0-9]+)$"); do
		pid=${ns#"${LAB_PREFIX}-"}
		pid=${pid%%-*}
		[ "$pid" = "$$" ] && continue
		kill -0 "$pid" 2>/dev/null && continue
		lab_log "removing stale namespace $ns"
		lab_del_ns "$ns"
	done
	local d
	for d in "${TMPDIR:-/tmp}/${LAB_PREFIX}"-[0-9]*.??????; do
		[ -d "$d" ] || continue
		pid=${d##*/"${LAB_PREFIX}"-}
		pid=${pid%%.*}
		case $pid in "" | *[!0-9]*) continue ;; esac
		[ "$pid" = "$$" ] && continue
		kill -0 "$pid" 2>/dev/null && continue
		lab_log "removing stale directory $d"
		rm -rf "$d"
	done
}

lab_defaults() {
	local i=$1 kinds=(nsd knot bind)
	local names=("" arn1 lhr1 fra1) idents=("" sthlm-1 lon-1 fra-1)
	[ -n "${LAB_SERVER[$i]+x}" ] || LAB_SERVER[$i]=${kinds[$(((i - 1) % 3))]}
	if [ -z "${LAB_NSID[$i]+x}" ]; then
		if [ "$i" -le 3 ]; then LAB_NSID[$i]=${names[$i]}; else LAB_NSID[$i]=site$i; fi
	fi
	if [ -z "${LAB_IDENTITY[$i]+x}" ]; then
		if [ "$i" -le 3 ]; then LAB_IDENTITY[$i]=${idents[$i]}; else LAB_IDENTITY[$i]=site-$i; fi
	fi
	[ -n "${LAB_SERIAL[$i]+x}" ] || LAB_SERIAL[$i]=$((2024010100 + i))
	[ -n "${LAB_TTL[$i]+x}" ] || LAB_TTL[$i]=$((64 - 3 * i))
	[ -n "${LAB_ZONE_EXTRA[$i]+x}" ] || LAB_ZONE_EXTRA[$i]=
	[ -n "${LAB_ZONE_STATE[$i]+x}" ] || LAB_ZONE_STATE[$i]=ok
	[ -n "${LAB_SIGN[$i]+x}" ] || LAB_SIGN[$i]=none
	[ -n "${LAB_NEWKEY[$i]+x}" ] || LAB_NEWKEY[$i]=0
}

# The zone site $1's server is configured for (LAB_ZONE_STATE refused: another).
lab_served_zone() {
	if [ "${LAB_ZONE_STATE[$1]}" = refused ]; then echo other.test; else echo "$LAB_ZONE"; fi
}

# The status site $1 gives for LAB_ZONE SOA once it is up.
lab_site_status() {
	case ${LAB_ZONE_STATE[$1]} in
	refused) echo REFUSED ;;
	servfail) echo SERVFAIL ;;
	*) echo NOERROR ;;
	esac
}

lab_write_zone() {
	local i=$1 f=$2
	local label=${LAB_NSID[$i]:-site$i}
	cat >"$f" <<EOF
\$ORIGIN $(lab_served_zone "$i").
\$TTL 300
@	SOA	ns1 hostmaster ${LAB_SERIAL[$i]} 3600 900 604800 300
@	NS	ns1
ns1	A	$LAB_SVC4
ns1	AAAA	$LAB_SVC6
site	TXT	"$label"
${LAB_ZONE_EXTRA[$i]}
EOF
	# An unknown type: every server rejects the file and leaves the zone unloaded.
	[ "${LAB_ZONE_STATE[$i]}" = servfail ] && echo "broken	NOSUCHTYPE	x" >>"$f"
	if [ "${LAB_SIGN[$i]}" != none ] && [ "$(lab_served_zone "$i")" = "$LAB_ZONE" ]; then
		if [ -z "$LAB_KEYS" ]; then
			command -v ldns-signzone >/dev/null || { lab_log "missing ldns-signzone"; return 1; }
			LAB_KEYS=$LAB_DIR/keys
			sign_keys "$LAB_KEYS" "$LAB_ZONE" || { lab_log "cannot make keys"; return 1; }
			LAB_DS=$LAB_KEYS/ds
			LAB_DNSKEY=$LAB_KEYS/dnskey
		fi
		mv "$f" "$f.in" &&
			sign_zone "$LAB_KEYS" "$f.in" "$f" "$LAB_ZONE" "${LAB_SIGN[$i]}" "${LAB_NEWKEY[$i]}" ||
			{ lab_log "site $i: cannot sign the zone"; return 1; }
	fi
	return 0
}

lab_write_nsd() {
	local i=$1 d=$2
	{
		echo "server:"
		echo "  ip-address: $LAB_SVC4"
		echo "  ip-address: $LAB_SVC6"
		echo "  ip-address: $(lab_link_addr "$i" ipv4)"
		echo "  ip-address: $(lab_link_addr "$i" ipv6)"
		echo "  port: 53"
		echo "  server-count: 1"
		echo "  username: \"\""
		echo "  chroot: \"\""
		echo "  zonesdir: \"$d\""
		echo "  database: \"\""
		echo "  pidfile: \"$d/nsd.pid\""
		echo "  xfrdfile: \"$d/xfrd.state\""
		echo "  xfrdir: \"$d\""
		echo "  zonelistfile: \"$d/zone.list\""
		echo "  logfile: \"$d/server.log\""
		echo "  verbosity: 1"
		if [ -n "${LAB_IDENTITY[$i]}" ]; then
			echo "  identity: \"${LAB_IDENTITY[$i]}\""
		else
			echo "  hide-identity: yes"
		fi
		[ -n "${LAB_NSID[$i]}" ] && echo "  nsid: \"ascii_${LAB_NSID[$i]}\""
		echo "remote-control:"
		echo "  control-enable: no"
		echo "zone:"
		echo "  name: $(lab_served_zone "$i")"
		echo "  zonefile: \"$d/zone\""
	} >"$d/nsd.conf"
}

lab_write_knot() {
	local i=$1 d=$2
	{
		echo "server:"
		echo "    rundir: \"$d\""
		echo "    pidfile: \"$d/knot.pid\""
		echo "    listen: [ \"$LAB_SVC4@53\", \"$LAB_SVC6@53\", \"$(lab_link_addr "$i" ipv4)@53\", \"$(lab_link_addr "$i" ipv6)@53\" ]"
		# Knot defaults both to the host name; "" turns them off.
		echo "    identity: \"${LAB_IDENTITY[$i]}\""
		echo "    nsid: \"${LAB_NSID[$i]}\""
		echo "    udp-workers: 1"
		echo "    tcp-workers: 1"
		echo "    background-workers: 1"
		echo "control:"
		echo "    listen: \"$d/knot.sock\""
		echo "database:"
		echo "    storage: \"$d\""
		echo "log:"
		echo "  - target: \"$d/server.log\""
		echo "    any: info"
		echo "template:"
		echo "  - id: default"
		echo "    storage: \"$d\""
		echo "    zonefile-sync: -1"
		echo "    journal-content: none"
		echo "zone:"
		echo "  - domain: $(lab_served_zone "$i")"
		echo "    file: \"$d/zone\""
	} >"$d/knot.conf"
}

lab_write_bind() {
	local i=$1 d=$2
	{
		if [ "$LAB_TLS" = 1 ]; then
			echo "tls lab { cert-file \"$LAB_DIR/certs/good.pem\";" \
				"key-file \"$LAB_DIR/certs/good.key\"; session-tickets yes; };"
			echo "http doh { endpoints { \"/dns-query\"; }; };"
		fi
		echo "options {"
		echo "  directory \"$d\";"
		echo "  pid-file \"$d/named.pid\";"
		echo "  session-keyfile \"$d/session.key\";"
		echo "  managed-keys-directory \"$d\";"
		echo "  listen-on port 53 { $LAB_SVC4; $(lab_link_addr "$i" ipv4); };"
		echo "  listen-on-v6 port 53 { $LAB_SVC6; $(lab_link_addr "$i" ipv6); };"
		if [ "$LAB_TLS" = 1 ]; then
			echo "  listen-on port 853 tls lab { $LAB_SVC4; };"
			echo "  listen-on-v6 port 853 tls lab { $LAB_SVC6; };"
			echo "  listen-on port 443 tls lab http doh { $LAB_SVC4; };"
			echo "  listen-on-v6 port 443 tls lab http doh { $LAB_SVC6; };"
		fi
		echo "  recursion no;"
		echo "  dnssec-validation no;"
		# BIND's NSID is its server-id (also id.server); hostname.bind is
		# the separate `hostname` option.
		if [ -n "${LAB_NSID[$i]}" ]; then
			echo "  server-id \"${LAB_NSID[$i]}\";"
		else
			echo "  server-id none;"
		fi
		if [ -n "${LAB_IDENTITY[$i]}" ]; then
			echo "  hostname \"${LAB_IDENTITY[$i]}\";"
		else
			echo "  hostname none;"
		fi
		echo "};"
		echo "controls { };"
		echo "zone \"$(lab_served_zone "$i")\" { type primary; file \"$d/zone\"; };"
	} >"$d/named.conf"
}

# Starts site $1's server in the background (PID in LAB_PID[$1]).
lab_spawn_server() {
	local i=$1 d="$LAB_DIR/site$1" ns=${LAB_SITE_NS[$1]}
	case ${LAB_SERVER[$i]} in
	nsd)
		ip netns exec "$ns" nsd -d -c "$d/nsd.conf" >>"$d/stderr.log" 2>&1 &
		;;
	knot)
		ip netns exec "$ns" knotd -c "$d/knot.conf" >>"$d/stderr.log" 2>&1 &
		;;
	bind)
		ip netns exec "$ns" named -g -c "$d/named.conf" >>"$d/stderr.log" 2>&1 &
		;;
	*)
		lab_log "site $i: unknown server '${LAB_SERVER[$i]}'"
		return 1
		;;
	esac
	LAB_PID[$i]=$!
}

# Readiness: site $1 answers example.test SOA with NOERROR (REFUSED or
# SERVFAIL per LAB_ZONE_STATE) on both its link addresses,
# asked from the vantage namespace. Polls for up to ${2:-15} seconds.
lab_wait_site() {
	local i=$1 secs=${2:-15} a ok n=0 want
	want=$(lab_site_status "$i")
	while [ "$n" -lt $((secs * 10)) ]; do
		ok=1
		for a in $(lab_link_addr "$i" ipv4) $(lab_link_addr "$i" ipv6); do
			lab_exec_vantage kdig @"$a" +time=1 +retry=0 +norec \
				"$LAB_ZONE" SOA 2>/dev/null | grep -q "status: $want" ||
				{ ok=0; break; }
		done
		[ "$ok" = 1 ] && return 0
		if [ -n "${LAB_PID[$i]}" ] && ! kill -0 "${LAB_PID[$i]}" 2>/dev/null; then
			lab_log "site $i: ${LAB_SERVER[$i]} died; log:"
			tail -n 20 "$LAB_DIR/site$i/stderr.log" "$LAB_DIR/site$i/server.log" >&2 2>/dev/null
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	lab_log "site $i: ${LAB_SERVER[$i]} not answering after ${secs}s"
	tail -n 20 "$LAB_DIR/site$i/stderr.log" "$LAB_DIR/site$i/server.log" >&2 2>/dev/null
	return 1
}

lab_kill_site_server() {
	local i=$1 pid=${LAB_PID[$1]} n=0
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	LAB_PID[$i]=
	# NSD's xfrd and server children, if any outlived the parent.
	lab_kill_ns_pids "${LAB_SITE_NS[$i]}"
}

# lab_site_silent SITE on|off: a blackhole route in the site for the
# vantage's link addresses drops everything the site sends back (answers,
# ICMP errors, TCP SYN-ACK and RST) while queries still reach it.
lab_site_silent() {
	local i=$1 how=${2:-on} ns=${LAB_SITE_NS[$1]}
	[ -n "$ns" ] || { lab_log "lab_site_silent: no site '$i'"; return 1; }
	case $how in on) ;; off)
		ip -n "$ns" route del blackhole "$(lab_vantage_addr "$i" ipv4)/32" 2>/dev/null
		ip -n "$ns" -6 route del blackhole "$(lab_vantage_addr "$i" ipv6)/128" 2>/dev/null
		return 0
		;;
	*)
		lab_log "lab_site_silent: on or off, not '$how'"
		return 1
		;;
	esac
	ip -n "$ns" route replace blackhole "$(lab_vantage_addr "$i" ipv4)/32" &&
		ip -n "$ns" -6 route replace blackhole "$(lab_vantage_addr "$i" ipv6)/128"
}

lab_start_site_server() {
	local i=$1
	lab_kill_site_server "$i"
	lab_spawn_server "$i" || return 1
	lab_wait_site "$i"
}

# lab_probe_conf FILE [TIMEOUT [TAG_LINE...]]: the probe config of the demo
# and the lab tests: both service addresses over UDP and TCP, the zone's SOA
# and both identities; TIMEOUT (1s) per attempt, extra [tags] lines.
lab_probe_conf() {
	local file=$1 timeout=${2:-1s}
	shift
	[ $# -gt 0 ] && shift
	{
		printf '[probe]\ntimeout = %s\nretries = 0\n' "$timeout"
		printf 'identity = hostname.bind id.server\n\n[tags]\ndc = lab\n'
		[ $# -gt 0 ] && printf '%s\n' "$@"
		cat <<EOF

[target lab-anycast]
server = $LAB_SVC4
server = $LAB_SVC6
transport = udp tcp
query = $LAB_ZONE SOA
EOF
	} >"$file"
}

# lab_catchment SITE|none [ipv4|ipv6|both]: route the service address(es)
# in the vantage namespace via SITE's link (or remove the route: "none").
lab_catchment() {
	local i=$1 fam=${2:-both}
	case $fam in ipv4 | ipv6 | both) ;; *)
		lab_log "lab_catchment: bad family '$fam'"
		return 1
		;;
	esac
	if [ "$i" != none ] && { [ "$i" -lt 1 ] || [ "$i" -gt "$LAB_NSITES" ]; }; then
		lab_log "lab_catchment: no site '$i'"
		return 1
	fi
	if [ "$fam" != ipv6 ]; then
		if [ "$i" = none ]; then
			ip -n "$LAB_VANTAGE" route del "$LAB_SVC4/32" 2>/dev/null
		else
			ip -n "$LAB_VANTAGE" route replace "$LAB_SVC4/32" \
				via "$(lab_link_addr "$i" ipv4)" dev "s$i" || return 1
		fi
	fi
	if [ "$fam" != ipv4 ]; then
		if [ "$i" = none ]; then
			ip -n "$LAB_VANTAGE" -6 route del "$LAB_SVC6/128" 2>/dev/null
		else
			ip -n "$LAB_VANTAGE" -6 route replace "$LAB_SVC6/128" \
				via "$(lab_link_addr "$i" ipv6)" dev "s$i" || return 1
		fi
	fi
	# A route change does not flush the neighbour cache or sockets; nothing
	# else to do: the next packet takes the new route.
	return 0
}

lab_catchment_of() {
	local fam=${1:-ipv4} dev
	if [ "$fam" = ipv6 ]; then
		dev=$(ip -n "$LAB_VANTAGE" -6 route show "$LAB_SVC6/128" | grep -o 'dev s[0-9]*')
	else
		dev=$(ip -n "$LAB_VANTAGE" route show "$LAB_SVC4/32" | grep -o 'dev s[0-9]*')
	fi
	if [ -n "$dev" ]; then echo "${dev#dev s}"; else echo none; fi
}

lab_sysctl() {
	local ns=$1
	local ttl=${2:-64}
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.forwarding=0 \
		net.ipv4.ip_default_ttl="$ttl" net.ipv6.conf.all.hop_limit="$ttl" \
		net.ipv6.conf.default.hop_limit="$ttl" >/dev/null
}

lab_up() {
	local n=${1:-2} i ns d c a
	if [ "$n" -lt 1 ] || [ "$n" -gt 60 ]; then
		lab_log "lab_up: NSITES must be 1..60"
		return 1
	fi
	if [ -n "$LAB_VANTAGE" ]; then
		lab_log "lab_up: already up ($LAB_VANTAGE)"
		return 1
	fi
	for c in ip kdig; do
		command -v "$c" >/dev/null || { lab_log "missing $c"; return 1; }
	done
	lab_cleanup_stale
	if [ "${LAB_TRAP:-1}" = 1 ]; then
		trap 'lab_down' EXIT
		trap 'lab_down; trap - INT; kill -INT $$' INT
		trap 'lab_down; exit 143' TERM
	fi
	LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/${LAB_PREFIX}-$$.XXXXXX") || return 1
	chmod 755 "$LAB_DIR"
	LAB_NSITES=$n
	if [ "$LAB_TLS" = 1 ]; then
		MKCERTS_SAN_EXTRA="IP:$LAB_SVC4,IP:$LAB_SVC6" \
			"$LAB_LIB/mkcerts.sh" "$LAB_DIR/certs" ||
			{ lab_log "mkcerts.sh failed"; lab_down; return 1; }
		LAB_TLS_CA=$LAB_DIR/certs/ca.pem
	fi
	LAB_VANTAGE="${LAB_PREFIX}-$$-v"
	ip netns add "$LAB_VANTAGE" || { lab_down; return 1; }
	lab_sysctl "$LAB_VANTAGE"
	ip -n "$LAB_VANTAGE" link set lo up
	for ((i = 1; i <= n; i++)); do
		lab_defaults "$i"
		ns="${LAB_PREFIX}-$$-s$i"
		LAB_SITE_NS[$i]=$ns
		ip netns add "$ns" || { lab_down; return 1; }
		lab_sysctl "$ns" "${LAB_TTL[$i]}"
		ip -n "$ns" link set lo up
		ip -n "$LAB_VANTAGE" link add "s$i" type veth peer name v0 netns "$ns" ||
			{ lab_down; return 1; }
		ip -n "$LAB_VANTAGE" addr add "$(lab_vantage_addr "$i" ipv4)/30" dev "s$i"
		ip -n "$LAB_VANTAGE" addr add "$(lab_vantage_addr "$i" ipv6)/64" dev "s$i" nodad
		ip -n "$LAB_VANTAGE" link set "s$i" up
		ip -n "$ns" addr add "$(lab_link_addr "$i" ipv4)/30" dev v0
		ip -n "$ns" addr add "$(lab_link_addr "$i" ipv6)/64" dev v0 nodad
		ip -n "$ns" link set v0 up
		ip -n "$ns" addr add "$LAB_SVC4/32" dev lo
		ip -n "$ns" addr add "$LAB_SVC6/128" dev lo nodad
		d="$LAB_DIR/site$i"
		mkdir -p "$d"
		lab_write_zone "$i" "$d/zone" || { lab_down; return 1; }
		case ${LAB_SERVER[$i]} in
		nsd) lab_write_nsd "$i" "$d" ;;
		knot) lab_write_knot "$i" "$d" ;;
		bind) lab_write_bind "$i" "$d" ;;
		esac
		lab_spawn_server "$i" || { lab_down; return 1; }
	done
	for ((i = 1; i <= n; i++)); do
		lab_wait_site "$i" || { lab_down; return 1; }
	done
	lab_catchment 1 both || { lab_down; return 1; }
	for a in "$LAB_SVC4" "$LAB_SVC6"; do
		lab_exec_vantage kdig @"$a" +time=2 +retry=2 +norec "$LAB_ZONE" SOA \
			2>/dev/null | grep -q 'status: NOERROR' ||
			{ lab_log "service address $a not answering"; lab_down; return 1; }
	done
	lab_log "up: vantage $LAB_VANTAGE, $n sites ($(
		for ((i = 1; i <= n; i++)); do
			printf '%s%s=%s' "$([ "$i" -gt 1 ] && echo ' ')" "${LAB_SERVER[$i]}" "${LAB_NSID[$i]:-site$i}"
		done
	)), catchment site 1"
	return 0
}

lab_down() {
	local i
	for ((i = LAB_NSITES; i >= 1; i--)); do
		[ -n "${LAB_PID[$i]}" ] && lab_kill_site_server "$i"
		[ -n "${LAB_SITE_NS[$i]}" ] && lab_del_ns "${LAB_SITE_NS[$i]}"
		LAB_SITE_NS[$i]=
	done
	[ -n "$LAB_VANTAGE" ] && lab_del_ns "$LAB_VANTAGE"
	LAB_VANTAGE=
	LAB_NSITES=0
	if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
		rm -rf "$LAB_DIR"
	fi
	LAB_DIR=
	LAB_KEYS=
	LAB_DS=
	LAB_DNSKEY=
	return 0
}
