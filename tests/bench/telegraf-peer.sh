#!/bin/bash
# telegraf-peer.sh: the probe beside Telegraf's own [[inputs.dns_query]]
# (issue 13), both run by the real Telegraf (make telegraf), in the anycast
# lab (tests/lab/lab.sh).
#
# usage: tests/bench/telegraf-peer.sh PROBE_BINARY
#   PEER_ROUNDS=5   rounds of 1,000 queries measured per tool
#   PEER_KEEP=1     keep the work directory
#
# 1. CPU per query: a round is 1,000 queries (hN.example.test A, N = 1..500,
#    to the lab's IPv4 and IPv6 service address, UDP). Telegraf runs in the
#    vantage namespace with interval = 2s, either [[inputs.dns_query]]
#    (servers x domains, timeout 2s) or [[inputs.execd]] running the probe
#    (STDIN, identity off, NSID on, retries 0), and [[outputs.file]]. After
#    the first round is written, utime+stime of each process is read from
#    /proc/PID/stat, again after PEER_ROUNDS more rounds; the difference over
#    the queries is the CPU per query. For the probe, Telegraf's own CPU
#    (parsing our lines) is counted too.
# 2. What each reports in the lab's failure scenarios (one UDP SOA query to
#    the IPv4 service address; dns_query through `telegraf --once`, the probe
#    through `--once`, the same lines it gives under Telegraf), and the RD
#    bit of their queries on the wire (tcpdump + tshark).
# Needs root (network namespaces), the lab's servers, tcpdump and tshark.
# Prints two tables (markdown). Exit 0 also when skipped (says why).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=${1:-}
ROUNDS=${PEER_ROUNDS:-5}
[ -n "$PROBE" ] && [ -x "$PROBE" ] || { echo "usage: $0 PROBE_BINARY" >&2; exit 2; }
PROBE=$(readlink -f "$PROBE")
[ "$(id -u)" -eq 0 ] || { echo "telegraf-peer: SKIP: needs root (network namespaces)"; exit 0; }
TG=$("$ROOT/tests/lib/telegraf.sh" path 2>/dev/null) ||
	{ echo "telegraf-peer: SKIP: Telegraf not built (make telegraf)"; exit 0; }
for c in tcpdump tshark nsd knotd named kdig; do
	command -v "$c" >/dev/null || { echo "telegraf-peer: SKIP: $c missing (make deps)"; exit 0; }
done
# shellcheck source=tests/lab/lab.sh
. "$ROOT/tests/lab/lab.sh"
lab_usable || { echo "telegraf-peer: SKIP: cannot create network namespaces"; exit 0; }

W=$(mktemp -d /tmp/telegraf-peer.XXXXXX)
chmod 0755 "$W"
tgpid=
stop_tg() { [ -n "$tgpid" ] && kill "$tgpid" 2>/dev/null && wait "$tgpid" 2>/dev/null; tgpid=; }
# shellcheck disable=SC2034 # read by lab_up
LAB_TRAP=0
trap 'stop_tg; lab_down; [ -n "${PEER_KEEP:-}" ] || rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

# Site 1 NSD (NSID arn1), site 2 Knot without NSID (hostname.bind lon-1),
# site 3 BIND configured for another zone (REFUSED for example.test).
# 500 A records for the CPU rounds on every site.
extra=""
for ((i = 1; i <= 500; i++)); do extra+="h$i	A	192.0.2.$((i % 250 + 1))"$'\n'; done
LAB_NSID[2]=""
LAB_ZONE_STATE[3]=refused
for i in 1 2 3; do LAB_ZONE_EXTRA[$i]=$extra; done
lab_up 3 >/dev/null || { echo "telegraf-peer: lab_up failed" >&2; exit 1; }

count() { local n; n=$(grep -c -e "$1" "$2" 2>/dev/null) || n=0; echo "$n"; }
wait_rows() { # wait_rows FILE N: until FILE has N lines (60 s at most)
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(count '' "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "telegraf-peer: $1: $(count '' "$1") lines, want $2" >&2
	return 1
}
ticks() { # ticks PID: utime + stime of the process (all its threads)
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

domains=$(for ((i = 1; i <= 500; i++)); do printf '"h%d.%s",' "$i" "$LAB_ZONE"; done)
domains="[${domains%,}]"
agent() {
	printf '[agent]\n  interval = "2s"\n  round_interval = false\n  flush_interval = "1s"\n'
	printf '  omit_hostname = true\n  logfile = "%s"\n' "$1"
	printf '[[outputs.file]]\n  files = ["%s"]\n  data_format = "influx"\n' "$2"
}

# --- 1. CPU per query ---------------------------------------------------------
{
	agent "$W/dnsq.log" "$W/dnsq.lp"
	cat <<EOF
[[inputs.dns_query]]
  servers = ["$LAB_SVC4", "$LAB_SVC6"]
  domains = $domains
  record_type = "A"
  timeout = "2s"
EOF
} >"$W/dnsq.conf"
{
	printf '[probe]\ntimeout = 2s\nretries = 0\nidentity =\n\n[target lab]\n'
	printf 'server = %s\nserver = %s\ntransport = udp\n' "$LAB_SVC4" "$LAB_SVC6"
	for ((i = 1; i <= 500; i++)); do printf 'query = h%d.%s A\n' "$i" "$LAB_ZONE"; done
} >"$W/probe.conf"
{
	agent "$W/execd.log" "$W/execd.lp"
	cat <<EOF
[[inputs.execd]]
  command = ["$PROBE", "-c", "$W/probe.conf"]
  signal = "STDIN"
  restart_delay = "1s"
  data_format = "influx"
EOF
} >"$W/execd.conf"

# measure NAME: prints "tg_ticks probe_ticks answered" over ROUNDS rounds
measure() {
	local n=$1 lp="$W/$1.lp" t0 t1 p0=0 p1=0 ppid=
	: >"$lp"
	# ip execs Telegraf: $! is Telegraf itself
	ip netns exec "$LAB_VANTAGE" "$TG" --config "$W/$n.conf" >"$W/$n.stdout" 2>&1 &
	tgpid=$!
	wait_rows "$lp" 1000 || return 1
	[ "$n" = execd ] && ppid=$(cat "/proc/$tgpid/task/"*/children 2>/dev/null | tr ' ' '\n' | grep . | head -n1)
	t0=$(ticks "$tgpid")
	[ -n "$ppid" ] && p0=$(ticks "$ppid")
	wait_rows "$lp" $((1000 * (ROUNDS + 1))) || return 1
	t1=$(ticks "$tgpid")
	[ -n "$ppid" ] && p1=$(ticks "$ppid")
	stop_tg
	echo "$((t1 - t0)) $((p1 - p0)) $(head -n $((1000 * (ROUNDS + 1))) "$lp" | tail -n $((1000 * ROUNDS)) | grep -c 'result=success')"
}
read -r dq_tg _ dq_ok < <(measure dnsq) || exit 1
read -r ex_tg ex_pr ex_ok < <(measure execd) || exit 1
Q=$((1000 * ROUNDS))
us() { awk -v t="$1" -v hz="$HZ" -v q="$Q" 'BEGIN { printf "%.1f us", t / hz * 1e6 / q }'; }
echo
echo "CPU per query: $ROUNDS rounds of 1,000 UDP queries (2 addresses x 500 names), Telegraf interval 2s, /proc/PID/stat ticks of 1/$HZ s"
echo
echo "| tool | answered | Telegraf CPU/query | probe CPU/query | total CPU/query |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| inputs.dns_query | $dq_ok / $Q | $(us "$dq_tg") | - | $(us "$dq_tg") |"
echo "| anycast-probe (inputs.execd) | $ex_ok / $Q | $(us "$ex_tg") | $(us "$ex_pr") | $(us $((ex_tg + ex_pr))) |"

# --- 2. failure scenarios -----------------------------------------------------
# s_conf QNAME: dns_query's config and the probe's for one SOA query
s_conf() {
	{
		printf '[agent]\n  omit_hostname = true\n  logfile = "%s"\n' "$W/s.log"
		printf '[[outputs.file]]\n  files = ["%s"]\n  data_format = "influx"\n' "$W/s.lp"
		printf '[[inputs.dns_query]]\n  servers = ["%s"]\n  domains = ["%s"]\n' "$LAB_SVC4" "$1"
		printf '  record_type = "SOA"\n  timeout = "1s"\n'
	} >"$W/s.conf"
	printf '[probe]\ntimeout = 1s\nretries = 0\n\n[target lab]\nserver = %s\ntransport = udp\nquery = %s SOA\n' \
		"$LAB_SVC4" "$1" >"$W/sp.conf"
}

# what NAME in a line: tags and fields worth a column
fieldsof() {
	perl -ne 'chomp; my ($head, $f) = /^((?:[^ \\]|\\.)+) (.*) \d+$/ or next;
		next if $head =~ /domain=(hostname\.bind|id\.server)/;
		my (undef, @t) = split /(?<!\\),/, $head;
		my %t = map { split /=/, $_, 2 } @t;
		my %f = $f =~ /([a-z_]+)=("(?:[^"\\]|\\.)*"|[^,]*)/g;
		my @o = ("result=$t{result}");
		push @o, "rcode=$t{rcode}" if $t{rcode};
		push @o, "query_time_ms " . (exists $f{query_time_ms} ? ($f{query_time_ms} == 0 ? "= 0" : "> 0") : "absent");
		push @o, "instance=$t{instance}" if $t{instance};
		push @o, "serial=" . ($f{serial} =~ s/i$//r) if exists $f{serial};
		push @o, "error=$f{error}" if exists $f{error};
		print join(" ", @o), "\n"; last;'
}
scenario() { # scenario LABEL QNAME
	local label=$1 q=$2 dq pr log
	s_conf "$q"
	: >"$W/s.lp"
	: >"$W/s.log"
	lab_exec_vantage timeout 20 "$TG" --config "$W/s.conf" --once >/dev/null 2>&1
	dq=$(fieldsof <"$W/s.lp")
	log=$(grep -o 'E! \[inputs.dns_query\].*' "$W/s.log" | head -n1 |
		sed 's/^E! \[inputs.dns_query\] Error in plugin: /E! /; s/ from [0-9.]* after SOA query for .*//')
	pr=$(lab_exec_vantage "$PROBE" --once -c "$W/sp.conf" 2>/dev/null | fieldsof)
	echo "| $label | ${dq:-no row} | ${log:--} | ${pr:-no row} |"
}
echo
echo "What each reports (one UDP SOA query to $LAB_SVC4; probe identity = hostname.bind id.server)"
echo
echo "| scenario | inputs.dns_query row | its log | anycast-probe row |"
echo "| --- | --- | --- | --- |"
lab_catchment 1 both
scenario "answer (site 1, NSID arn1)" "$LAB_ZONE"
scenario "NXDOMAIN (site 1)" "nx.$LAB_ZONE"
lab_catchment 2 both
scenario "answer, no NSID (site 2)" "$LAB_ZONE"
lab_catchment 3 both
scenario "REFUSED (site 3)" "$LAB_ZONE"
lab_catchment 1 both
lab_site_silent 1 on
scenario "timeout (site 1 silent)" "$LAB_ZONE"
lab_site_silent 1 off
lab_catchment none ipv4
scenario "no route (network unreachable)" "$LAB_ZONE"
lab_catchment 1 both

# The RD bit of each tool's query, on the wire.
rd() { # rd CMD...: the RD flag of the first query CMD sends
	local p
	: >"$W/rd.err"
	ip netns exec "$LAB_VANTAGE" tcpdump -i s1 -U -w "$W/rd.pcap" udp port 53 >/dev/null 2>"$W/rd.err" &
	p=$!
	for ((i = 0; i < 100; i++)); do grep -q 'listening on' "$W/rd.err" && break; sleep 0.05; done
	"$@" >/dev/null 2>&1
	for ((i = 0; i < 40; i++)); do
		[ "$(tshark -r "$W/rd.pcap" -Y 'dns.flags.response == 0' 2>/dev/null | wc -l)" -ge 1 ] && break
		sleep 0.05
	done
	kill "$p"
	wait "$p" 2>/dev/null
	tshark -r "$W/rd.pcap" -Y 'dns.flags.response == 0 && dns.qry.class == 1' -T fields \
		-e dns.flags.recdesired -e dns.opt.code 2>/dev/null | head -n1
}
s_conf "$LAB_ZONE"
read -r dq_rd dq_opt < <(rd lab_exec_vantage timeout 20 "$TG" --config "$W/s.conf" --once)
read -r pr_rd pr_opt < <(rd lab_exec_vantage "$PROBE" --once -c "$W/sp.conf")
echo "| query on the wire | RD=${dq_rd:-?}, EDNS options: ${dq_opt:-none} | - | RD=${pr_rd:-?}, EDNS options: ${pr_opt:-none} (3 = NSID) |"
