#!/bin/bash
# make bench: the probe against dnsperf and against the wire (issues 5, 9).
#
# usage: tests/bench/bench.sh [PROBE_BINARY [BASELINE_BINARY]]
#   PROBE_BINARY defaults to build/anycast-probe. With BASELINE_BINARY both
#   run in the same bench, interleaved run by run (same load), one table
#   row each ("new" and "base"), against the same dnsperf runs.
#
#   BENCH_SIZES="1000 10000 50000"  queries per round (multiples of 100)
#   BENCH_RUNS=3                    runs per measurement; medians shown
#   BENCH_RATE=20000                probe rate = and dnsperf -Q
#   BENCH_LOW_RATE=2000             the default rate: CPU, system calls and
#                                   wake-ups per query there (at LOW_SIZE)
#   BENCH_LOW_SIZE                  10000 when in BENCH_SIZES, else the first
#   BENCH_BIG                       service-mode round size (memory, tail):
#                                   100000, or the largest of BENCH_SIZES when
#                                   BENCH_SIZES is set (so CI's
#                                   BENCH_SIZES=1000 stays fast); 0 skips
#   BENCH_ROUNDS=3                  rounds of BENCH_BIG in one process
#   BENCH_SVC_IDENTITY="hostname.bind id.server"   identity = of that round
#   BENCH_TCP_SIZE=1000             TCP round (system calls per query)
#   BENCH_MIX=1                     the mixed UDP + blocked TCP round; 0 skips
#   BENCH_FAST_RATE=200000          send_lag_ms honesty, at FAST_SIZE = the
#                                   largest of BENCH_SIZES, at most 50000
#   BENCH_CALLGRIND=1               user instructions per query (valgrind)
#   BENCH_ONLY="svc mix"            only these of: udp (the BENCH_SIZES
#                                   rounds) low svc tcp mix fast
#   BENCH_KEEP=1                    keep the work directory (configs, pcaps)
#
# Needs root: everything runs in a private network namespace with only lo up.
# Knot (one UDP worker) serves bench.test there on 127.0.1.1..127.0.1.100
# port 53 (all of 127/8 is local on lo). A round of S queries is 100
# addresses x S/100 names (nI.bench.test A): 1k = 100 x 10, 10k = 100 x 100,
# 50k = 100 x 500. The probe runs --once with timeout 2s, retries 0,
# identity empty, nsid = no (it still sends EDNS0, so dnsperf gets -e),
# self_metrics = yes. dnsperf (one client, one thread) sends the same S
# lines, in the same order, once (-n 1) to 127.0.1.1, the same Knot.
#
# What each number is (and how it is measured):
# - CPU (us/q) is user+sys from wait4() (tests/bench/rusage.c, microsecond
#   resolution) divided by the queries; peak RSS is ru_maxrss; both include
#   start-up. q/s is queries divided by wall time of the whole process
#   (start-up and final wait included), the same yardstick for both tools.
# - sys/q: every system call (tracepoint raw_syscalls:sys_enter, counted by
#   the kernel through perf_event_open in rusage.c, from exec to exit, all
#   threads) per query; start-up included, so small rounds read high.
#   wake/q: voluntary context switches (the process slept and was woken)
#   per query, from wait4(). sockets: socket() calls in the whole run (UDP
#   source-port pool churn shows here). These three are counts, not times:
#   they do not suffer from the noise of a shared machine.
# - Ir/q: user-space instructions per query under callgrind (probe and
#   dnsperf, BENCH_LOW_SIZE queries at BENCH_RATE). Deterministic where CPU
#   time is noisy; kernel work is not in it (sys/q covers that). Under
#   valgrind neither tool keeps the pacing, so it is the work per query,
#   not the behaviour at the rate.
# - RTT: tcpdump records lo during the runs; tshark's dns.time on the
#   probe's responses is the wire RTT. "p-w RTT" compares the distributions
#   (median of the probe's query_time_ms minus the median of dns.time, same
#   for p99); the wire table also pairs each probe row with its own response
#   on the wire (server + name are unique within a round).
# - svc BIG x ROUNDS: the probe in service mode (stdin triggers, as under
#   Telegraf; identity = hostname.bind id.server so the instance analysis
#   runs; Knot answers both), driven by rusage.c: one newline per round,
#   then it reads the probe's stdout until the self_metrics line (each
#   round's last) and takes VmRSS and VmHWM from /proc/PID/status. "HWM r1/..":
#   the peak RSS after each round; flat means the last equals the first.
#   "tail": the CLOCK_REALTIME of the read() that returned the round's last
#   byte minus the pcap (realtime) timestamp of the round's last reply on
#   the wire: the time from the last answer to the round's lines all
#   written AND read by a reader, so an upper bound (it includes the pipe
#   wake-up of the reader). Medians over the rounds. When some query timed
#   out (answered < 100%) the round ends at that timeout, not at the last
#   answer, and the tail is marked "*" (it then includes the wait).
# - paced (with low): tests/bench/paced.c does LOW_SIZE units of fixed work
#   (a UDP datagram to its own loopback socket and back) woken every ms, at
#   RATE and at LOW_RATE; the ratio of its CPU per unit is what any paced
#   program pays on this machine for sleeping between bursts (cold caches),
#   printed under the low-rate target with dnsperf's ratio.
# - tcp: TCP_SIZE queries over TCP to the same Knot (one TCP worker), sys/q
#   against dnsperf -m tcp (which pipelines on one connection).
# - mix: the probe's hold on TCP must not hold UDP back. The config lists
#   first a TCP target of 600 queries to 127.0.2.1, where a listener accepts
#   connections into its backlog and never reads (so every TCP job holds a
#   descriptor until its 500 ms timeout), then the 1,000 UDP queries of the
#   1k round, all at BENCH_RATE, under ulimit -n 256 (the TCP jobs cannot
#   all be open at once). "UDP done": the last UDP query on the wire minus
#   the round's first packet, in the mixed round and in a round of the UDP
#   target alone. Not delayed: mixed <= alone + 600/rate + 20 ms.
# - fast: FAST_SIZE queries at BENCH_FAST_RATE, more than the probe can
#   send. "achieved" = queries on the wire / (last - first query); "late" =
#   how much later the last query went out than the pacing asked for (wire
#   span minus (queries - 1) / rate): the worst send lag is at least that,
#   so an honest send_lag_ms (self_metrics) is >= it.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=${1:-${PROBE:-$ROOT/build/anycast-probe}}
BASE=${2:-}
SIZES=${BENCH_SIZES:-1000 10000 50000}
RUNS=${BENCH_RUNS:-3}
RATE=${BENCH_RATE:-20000}
LOW_RATE=${BENCH_LOW_RATE:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
TCP_SIZE=${BENCH_TCP_SIZE:-1000}
MIX=${BENCH_MIX:-1}
FAST_RATE=${BENCH_FAST_RATE:-200000}
CALLGRIND=${BENCH_CALLGRIND:-1}
NADDR=100
MIX_TCP=600
MIX_NOFILE=256

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "bench: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "bench: SKIP: needs root (network namespace)"; exit 0; }
[ -x "$PROBE" ] || die "no probe binary at $PROBE (run make first)"
[ -z "$BASE" ] || [ -x "$BASE" ] || die "no baseline binary at $BASE"
PROBE=$(readlink -f "$PROBE")
[ -z "$BASE" ] || BASE=$(readlink -f "$BASE")
missing=""
for t in ip:iproute2 knotd:knot kdig:knot-dnsutils dnsperf:dnsperf \
	tcpdump:tcpdump tshark:tshark cc:build-essential perl:perl; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
if [ "$CALLGRIND" = 1 ] && ! command -v valgrind >/dev/null 2>&1; then
	missing="$missing valgrind"
fi
[ -z "$missing" ] || die "missing tools; apt-get install$missing" \
	"(tshark: preseed wireshark-common/install-setuid false)"
maxsize=0
for s in $SIZES; do
	case $s in *[!0-9]*) die "BENCH_SIZES: '$s' is not a number" ;; esac
	[ $((s % NADDR)) -eq 0 ] && [ "$s" -gt 0 ] ||
		die "BENCH_SIZES: $s is not a positive multiple of $NADDR"
	[ "$s" -gt $maxsize ] && maxsize=$s
done
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;; esac
LOW_SIZE=${BENCH_LOW_SIZE:-}
if [ -z "$LOW_SIZE" ]; then
	LOW_SIZE=${SIZES%% *}
	for s in $SIZES; do [ "$s" = 10000 ] && LOW_SIZE=10000; done
fi
if [ -n "${BENCH_BIG:-}" ]; then
	BIG=$BENCH_BIG
elif [ -n "${BENCH_SIZES:-}" ]; then
	BIG=$maxsize
else
	BIG=100000
fi
FAST_SIZE=$maxsize
[ "$FAST_SIZE" -gt 50000 ] && FAST_SIZE=50000
for v in LOW_SIZE BIG TCP_SIZE; do
	s=${!v}
	case $s in '' | *[!0-9]*) die "$v: '$s' is not a number" ;; esac
	[ $((s % NADDR)) -eq 0 ] || die "$v: $s is not a multiple of $NADDR"
done

# The binaries: label and path.
BINS=(new)
declare -A BIN=([new]=$PROBE)
if [ -n "$BASE" ]; then
	BINS+=(base)
	BIN[base]=$BASE
else
	BINS=(probe)
	BIN=([probe]=$PROBE)
fi

W=$(mktemp -d /tmp/anycast-bench.XXXXXX) || die "mktemp failed"
NS=acpbench$$
PIDS=""
cleanup() {
	local p
	for p in $PIDS; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: work directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
NX="ip netns exec $NS"

cc -O2 -Wall -o "$W/rusage" "$ROOT/tests/bench/rusage.c" || die "cannot build rusage.c"
cc -O2 -Wall -o "$W/paced" "$ROOT/tests/bench/paced.c" || die "cannot build paced.c"
# Tracepoint IDs, read here: "ip netns exec" mounts a sysfs without tracefs.
# The first two are the table's sys/q and sock; the rest are the "system
# calls by name" block.
EV_NAMES=(all socket sendto sendmsg sendmmsg recvfrom recvmsg recvmmsg epoll_wait
	epoll_pwait epoll_ctl close bind setsockopt getsockopt connect
	timerfd_settime write read)
EV=()
for tp in raw_syscalls/sys_enter "${EV_NAMES[@]:1}"; do
	[ "$tp" = raw_syscalls/sys_enter ] || tp=syscalls/sys_enter_$tp
	id=""
	for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		[ -r "$d/events/$tp/id" ] && id=$(cat "$d/events/$tp/id") && break
	done
	EV+=(-e "${tp#*/}=${id:-0}")
done
ip netns add "$NS" || die "ip netns add failed"
$NX ip link set lo up || die "cannot bring lo up in $NS"

# --- Knot: one zone, enough names for the largest round
maxnames=$MIX_TCP
for s in $SIZES $BIG $LOW_SIZE $TCP_SIZE; do
	[ $((s / NADDR)) -gt $maxnames ] && maxnames=$((s / NADDR))
done
listen=""
for i in $(seq 1 $NADDR); do listen="$listen${listen:+, }127.0.1.$i@53"; done
mkdir -p "$W/knot/db"
{
	printf '$ORIGIN bench.test.\n$TTL 3600\n'
	printf '@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 127.0.1.1\n'
	awk -v n="$maxnames" 'BEGIN { for (i = 0; i < n; i++)
		printf "n%d A 192.0.2.%d\n", i, i % 254 + 1 }'
} >"$W/knot/bench.test.zone"
cat >"$W/knot/knot.conf" <<EOF
server:
    rundir: "$W/knot"
    pidfile: "$W/knot/knot.pid"
    listen: [ $listen ]
    identity: "bench-knot"
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
    zonefile-load: whole
    journal-content: none
zone:
  - domain: bench.test
    file: "bench.test.zone"
EOF
$NX knotd -c "$W/knot/knot.conf" >"$W/knot/log" 2>&1 &
PIDS="$PIDS $!"
ready=0
for _ in $(seq 1 100); do
	if $NX kdig @127.0.1.$NADDR -p 53 +short +timeout=1 +retry=0 \
		"n$((maxnames - 1)).bench.test" A 2>/dev/null | grep -q '^192\.0\.2\.'; then
		ready=1
		break
	fi
	sleep 0.1
done
[ $ready = 1 ] || { cat "$W/knot/log" >&2; die "Knot did not answer"; }

# --- helpers
# tcpdump on lo, in the background; returns once it is capturing.
TCPDUMP_PID=""
cap_start() {
	local filter=${2:-udp and port 53}
	$NX tcpdump -i lo -n -s 256 -B 65536 -U --time-stamp-precision=nano -w "$1" "$filter" 2>"$1.err" &
	TCPDUMP_PID=$!
	PIDS="$PIDS $TCPDUMP_PID"
	for _ in $(seq 1 200); do
		grep -q 'listening on' "$1.err" 2>/dev/null && return 0
		sleep 0.02
	done
	die "tcpdump did not start: $(cat "$1.err")"
}
# Stops tcpdump; sets CAP_DROPS to how many packets the kernel dropped. With a
# second argument, first waits until tcpdump has written everything: it is
# still draining its ring when the tool exits. A marker query goes out last;
# once it is in the file (-U writes each packet), so is every earlier one.
cap_stop() {
	if [ $# -gt 1 ]; then
		$NX kdig @127.0.1.1 -p 53 +timeout=1 +retry=0 bench-end.bench.test A >/dev/null 2>&1
		# The name is in the packet as plain label bytes; the file's
		# tail is enough (decoding it all each time is slow).
		for _ in $(seq 1 100); do
			tail -c 2048 "$1" 2>/dev/null | grep -aq "bench-end" && break
			sleep 0.1
		done
	fi
	kill -INT "$TCPDUMP_PID" 2>/dev/null
	wait "$TCPDUMP_PID" 2>/dev/null
	PIDS=${PIDS/ $TCPDUMP_PID/}
	CAP_DROPS=$(awk '/dropped by kernel/ { print $1; f = 1 } END { if (!f) print "?" }' "$1.err")
}
# Median (nearest rank) and p99 of numbers on stdin: "median p99 count".
stats() {
	sort -g | awk '{ v[NR] = $1 }
	END {
		if (NR == 0) { print "nan nan 0"; exit }
		m = int((NR + 1) / 2); p = int(NR * 0.99); if (p < NR * 0.99) p++
		printf "%.1f %.1f %d\n", v[m], v[p], NR
	}'
}
# Median of the numbers given as arguments ("nan" ignored).
med() {
	printf '%s\n' "$@" | grep -v '^nan$' | grep . | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'
}
# One tshark pass over a capture: "$1.tsv" holds, per DNS packet,
# time, is-response, src, dst, name, dns.time (responses only). Prints
# "queries responses max_per_ms max_gap_ms span_ms": what went out and came
# back on the wire, the largest number of queries in any 1 ms (pacing at
# RATE should give about RATE/1000), the longest pause between two queries
# and the time from the first query to the last.
wire() {
	tshark -r "$1" -n -Y 'dns && !(dns.qry.name contains "bench-end")' -T fields \
		-e frame.time_relative -e dns.flags.response -e ip.src -e ip.dst \
		-e dns.qry.name -e dns.time 2>/dev/null >"$1.tsv"
	awk '$2 == 0 { q++; b = int($1 * 1000); if (++per[b] > mx) mx = per[b]
		if (q == 1) first = $1
		if (q > 1 && $1 - last > gap) gap = $1 - last; last = $1 }
	$2 == 1 { r++ }
	END { printf "%d %d %d %.1f %.3f\n", q, r, mx, gap * 1000, (last - first) * 1000 }' "$1.tsv"
}
pct() { awk -v n="$1" -v k="$2" 'BEGIN { printf "%.2f", 100 * k / n }'; }
sub_() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.1f", a - b }'; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf f, a / b }'; }

# Results: R[scenario|who|metric] = the runs' values, space separated.
declare -A R
add() { R[$1]="${R[$1]:-}${R[$1]:+ }$2"; }
# shellcheck disable=SC2086
mk() { med ${R[$1]:-nan}; }

# Runs one tool under rusage; sets M_* (wall cpu rss rc nvcsw nivcsw sys sock).
# usage: measure OUT_PREFIX [rusage options --] CMD...
measure() {
	local p=$1 line
	shift
	line=$($NX "$W/rusage" -x "${EV[@]}" "$@")
	read -r M_wall M_cpu M_rss M_rc M_nvcsw M_nivcsw M_sys M_sock _ <<<"$line"
	read -r -a M_EV <<<"$line"
	M_EV=("${M_EV[@]:6}")
	[ -n "${M_rc:-}" ] || die "rusage failed for $*: $(cat "$p.err" 2>/dev/null | head -3)"
}
# Records what measure found under key $1 ("scenario|tool"), $2 queries.
record() {
	local k=$1 s=$2
	add "$k|qps" "$(div "$s" "$M_wall" %.0f)"
	add "$k|cpu" "$(div "$M_cpu" "$s" %.2f)"
	add "$k|rss" "$M_rss"
	add "$k|sys" "$(div "$M_sys" "$s" %.2f)"
	add "$k|wake" "$(div "$M_nvcsw" "$s" %.3f)"
	add "$k|sock" "$M_sock"
	local i
	for i in "${!M_EV[@]}"; do add "$k|ev$i" "$(div "${M_EV[$i]}" "$s" %.3f)"; done
}
# Rows, successes and the self_metrics line of a probe output file.
probe_out() {
	P_rows=$(grep -c '^dns_anycast,' "$1")
	P_ok=$(grep -c '^dns_anycast,.*,result=success' "$1")
	P_lag=$(grep '^dns_anycast_probe' "$1" | tail -1 |
		sed -n 's/.*send_lag_ms=\([0-9.e+-]*\).*/\1/p')
	P_lag=${P_lag:-nan}
}

# A probe config: FILE RATE NAMES [probe lines] [target lines].
probe_conf() {
	local f=$1 rate=$2 names=$3 i
	{
		printf '[probe]\nrate = %s\ntimeout = 2s\nretries = 0\n' "$rate"
		printf 'nsid = no\nself_metrics = yes\n'
		printf '%b' "${4:-identity =\n}"
		printf '\n%b' "${5:-}"
		printf '\n[target bench]\nport = 53\ntransport = udp\n'
		for i in $(seq 1 $NADDR); do printf 'server = 127.0.1.%d\n' "$i"; done
		for i in $(seq 0 $((names - 1))); do printf 'query = n%d.bench.test A\n' "$i"; done
	} >"$f"
	"$PROBE" --check-config -c "$f" >/dev/null 2>"$f.err" ||
		die "probe rejects its config: $(head -3 "$f.err")"
}
# dnsperf's input: the same names, once per address, in the probe's order.
dnsperf_data() {
	local names=$1 i
	for _ in $(seq 1 $NADDR); do
		for i in $(seq 0 $((names - 1))); do printf 'n%d.bench.test A\n' "$i"; done
	done >"$2"
}

# --- a UDP round: RUNS x (each binary, dnsperf), captured, RTT compared
# usage: udp_scenario NAME SIZE RATE
udp_scenario() {
	local sc=$1 s=$2 rate=$3 names=$(($2 / NADDR)) d="$W/$1" run who
	local p q wp wd ps ws pair
	mkdir -p "$d"
	probe_conf "$d/probe.conf" "$rate" "$names"
	dnsperf_data "$names" "$d/dnsperf.data"
	note "$sc: $s queries at $rate q/s, $RUNS runs"
	for run in $(seq 1 "$RUNS"); do
		for who in "${BINS[@]}"; do
			p="$d/$who$run"
			cap_start "$p.pcap"
			measure "$p" "$p.out" "$p.err" "${BIN[$who]}" --once -c "$d/probe.conf"
			cap_stop "$p.pcap" wait
			add "$sc|$who|drops" "$CAP_DROPS"
			[ "$M_rc" -le 1 ] || die "$who exited $M_rc: $(head -3 "$p.err")"
			record "$sc|$who" "$s"
			probe_out "$p.out"
			[ "$P_rows" -eq "$s" ] || note "warning: $who: $s queries, $P_rows rows"
			add "$sc|$who|ans" "$(pct "$s" "$P_ok")"
			add "$sc|$who|lag" "$P_lag"

			# RTTs in microseconds, "server name rtt": probe rows, wire.
			read -r -a wp < <(wire "$p.pcap")
			add "$sc|$who|wq" "${wp[0]}"
			add "$sc|$who|wr" "${wp[1]}"
			add "$sc|$who|burst" "${wp[2]}"
			add "$sc|$who|gap" "${wp[3]}"
			add "$sc|$who|span" "${wp[4]}"
			perl -ne '/,server=([^,]+).*?,domain=([^,]+).*?,result=success.* .*?\bquery_time_ms=([0-9.]+)/ and
				printf "%s %s %.3f\n", $1, $2, $3 * 1000' "$p.out" >"$p.rtt"
			awk -F '\t' '$2 == 1 && $6 != "" { printf "%s %s %.3f\n", $3, $5, $6 * 1e6 }' \
				"$p.pcap.tsv" >"$p.wire"
			read -r -a ps < <(awk '{ print $3 }' "$p.rtt" | stats)
			read -r -a ws < <(awk '{ print $3 }' "$p.wire" | stats)
			add "$sc|$who|pmed" "${ps[0]}"
			add "$sc|$who|p99" "${ps[1]}"
			add "$sc|$who|wmed" "${ws[0]}"
			add "$sc|$who|w99" "${ws[1]}"
			add "$sc|$who|md" "$(sub_ "${ps[0]}" "${ws[0]}")"
			add "$sc|$who|pd" "$(sub_ "${ps[1]}" "${ws[1]}")"
			read -r -a pair < <(awk 'NR == FNR { w[$1 " " $2] = $3; next }
				($1 " " $2) in w { print $3 - w[$1 " " $2] }' "$p.wire" "$p.rtt" | stats)
			add "$sc|$who|pm" "${pair[0]}"
			add "$sc|$who|pp" "${pair[1]}"
			rm -f "$p.pcap" "$p.pcap.tsv"
		done

		q="$d/d$run"
		cap_start "$q.pcap"
		measure "$q" "$q.out" "$q.err" dnsperf -s 127.0.1.1 -p 53 -d "$d/dnsperf.data" \
			-n 1 -Q "$rate" -t 2 -e -c 1 -T 1 -q 1000
		cap_stop "$q.pcap" wait
		[ "$M_rc" -eq 0 ] || die "dnsperf exited $M_rc: $(head -3 "$q.err")"
		record "$sc|dnsperf" "$s"
		add "$sc|dnsperf|ans" "$(pct "$s" "$(awk '/Queries completed:/ { print $3 }' "$q.out")")"
		read -r -a wd < <(wire "$q.pcap")
		add "$sc|dnsperf|wq" "${wd[0]}"
		add "$sc|dnsperf|wr" "${wd[1]}"
		add "$sc|dnsperf|burst" "${wd[2]}"
		add "$sc|dnsperf|gap" "${wd[3]}"
		rm -f "$q.pcap" "$q.pcap.tsv"
	done
	SCEN+=("$sc")
	R[$sc|desc]="udp $s @$rate"
	R[$sc|size]=$s
	R[$sc|rate]=$rate
}

# --- user instructions per query under callgrind (SIZE at RATE)
callgrind_scenario() {
	local sc=$1 s=$2 rate=$3 d="$W/$1" who f ir
	[ "$CALLGRIND" = 1 ] || return 0
	note "callgrind: $s queries at $rate q/s"
	for who in "${BINS[@]}" dnsperf; do
		f="$d/cg.$who"
		if [ "$who" = dnsperf ]; then
			$NX valgrind --tool=callgrind --callgrind-out-file="$f" dnsperf \
				-s 127.0.1.1 -p 53 -d "$d/dnsperf.data" -n 1 -Q "$rate" -t 2 -e \
				-c 1 -T 1 -q 1000 >"$f.out" 2>"$f.err"
		else
			$NX valgrind --tool=callgrind --callgrind-out-file="$f" \
				"${BIN[$who]}" --once -c "$d/probe.conf" >"$f.out" 2>"$f.err"
		fi
		ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$f" 2>/dev/null)
		R[$sc|$who|ir]=$(div "${ir:-nan}" "$s" %.0f)
	done
}

# --- service mode: ROUNDS rounds of BIG queries in one process
svc_scenario() {
	local sc=svc s=$BIG names=$((BIG / NADDR)) d="$W/svc" who p r rss hwm trig done_ t
	local -a hw tails
	[ "$s" -gt 0 ] || return 0
	mkdir -p "$d"
	probe_conf "$d/probe.conf" "$RATE" "$names" "identity = ${BENCH_SVC_IDENTITY-hostname.bind id.server}\n"
	dnsperf_data "$names" "$d/dnsperf.data"
	note "svc: $ROUNDS rounds of $s queries at $RATE q/s in service mode"
	for who in "${BINS[@]}"; do
		p="$d/$who"
		cap_start "$p.pcap" 'udp and src port 53'
		measure "$p" -r "$ROUNDS" -R "$p.rounds" -m dns_anycast_probe \
			"$p.out" "$p.err" "${BIN[$who]}" -c "$d/probe.conf"
		cap_stop "$p.pcap" wait
		[ "$M_rc" -eq 0 ] || die "$who (service) exited $M_rc: $(head -3 "$p.err")"
		record "$sc|$who" $((s * ROUNDS))
		probe_out "$p.out"
		add "$sc|$who|ans" "$(pct "$P_rows" "$P_ok")"
		add "$sc|$who|drops" "$CAP_DROPS"
		# Reply times (realtime, s) against each round's window.
		tcpdump -r "$p.pcap" -n -tt --time-stamp-precision=nano 2>/dev/null |
			awk '!/bench-end/ { print $1 }' >"$p.replies"
		# Timeouts per round, from each round's self_metrics line.
		awk '/^dns_anycast_probe/ { n = 0
			if (match($0, /[ ,]timeouts=[0-9]+/)) n = substr($0, RSTART + 10, RLENGTH - 10) + 0
			print n }' "$p.out" >"$p.timeouts"
		hw=() tails=()
		local clean=() all=() to
		while read -r r rss hwm trig done_; do
			hw+=("$(div "$hwm" 1024 %.1f)")
			t=$(awk -v a="$trig" -v b="$done_" '
				{ if ($1 * 1e9 >= a && $1 * 1e9 <= b) last = $1 }
				END { if (last) printf "%.1f", (b / 1e9 - last) * 1000; else print "nan" }' "$p.replies")
			to=$(sed -n "${r}p" "$p.timeouts")
			if [ "${to:-1}" = 0 ]; then
				clean+=("$t")
				tails+=("$t")
			else
				tails+=("$t*")
			fi
			all+=("$t")
		done <"$p.rounds"
		[ "${#hw[@]}" -eq "$ROUNDS" ] || note "warning: $who: ${#hw[@]} of $ROUNDS rounds finished"
		R[$sc|$who|hwm]=$(
			IFS=/
			echo "${hw[*]}"
		)
		R[$sc|$who|hwm1]=${hw[0]:-nan}
		R[$sc|$who|hwmn]=${hw[$((${#hw[@]} - 1))]:-nan}
		# The median over the rounds without a timeout (a timeout ends a
		# round at its expiry, not at the last answer); "*" when every
		# round had one (then the tail includes waiting for it).
		if [ "${#clean[@]}" -gt 0 ]; then
			R[$sc|$who|tail]=$(med "${clean[@]}")
		else
			R[$sc|$who|tail]=$(med "${all[@]}")
			R[$sc|$who|tailmark]="*"
		fi
		R[$sc|$who|tails]="${tails[*]}"
		rm -f "$p.pcap"
	done
	measure "$d/d" "$d/d.out" "$d/d.err" dnsperf -s 127.0.1.1 -p 53 -d "$d/dnsperf.data" \
		-n 1 -Q "$RATE" -t 2 -e -c 1 -T 1 -q 1000
	record "$sc|dnsperf" "$s"
	add "$sc|dnsperf|ans" "$(pct "$s" "$(awk '/Queries completed:/ { print $3 }' "$d/d.out")")"
	SCEN+=("$sc")
	R[$sc|desc]="svc ${s}x$ROUNDS @$RATE"
	[ -n "${BENCH_SVC_IDENTITY-x}" ] || R[$sc|desc]="${R[$sc|desc]} noid"
}

# --- TCP: system calls per query
tcp_scenario() {
	local sc=tcp s=$TCP_SIZE names=$((TCP_SIZE / NADDR)) d="$W/tcp" run who p
	[ "$s" -gt 0 ] || return 0
	mkdir -p "$d"
	probe_conf "$d/probe.conf" "$RATE" "$names"
	sed -i 's/^transport = udp$/transport = tcp/' "$d/probe.conf"
	dnsperf_data "$names" "$d/dnsperf.data"
	note "tcp: $s queries at $RATE q/s, $RUNS runs"
	for run in $(seq 1 "$RUNS"); do
		for who in "${BINS[@]}"; do
			p="$d/$who$run"
			measure "$p" "$p.out" "$p.err" "${BIN[$who]}" --once -c "$d/probe.conf"
			[ "$M_rc" -le 1 ] || die "$who (tcp) exited $M_rc: $(head -3 "$p.err")"
			record "$sc|$who" "$s"
			probe_out "$p.out"
			add "$sc|$who|ans" "$(pct "$s" "$P_ok")"
		done
		measure "$d/d$run" "$d/d$run.out" "$d/d$run.err" dnsperf -m tcp -s 127.0.1.1 -p 53 \
			-d "$d/dnsperf.data" -n 1 -Q "$RATE" -t 2 -e -c 1 -T 1 -q 1000
		record "$sc|dnsperf" "$s"
		add "$sc|dnsperf|ans" "$(pct "$s" "$(awk '/Queries completed:/ { print $3 }' "$d/d$run.out")")"
	done
	SCEN+=("$sc")
	R[$sc|desc]="tcp $s @$RATE"
}

# --- mixed: TCP jobs stuck at the descriptor limit, UDP must not wait
# "first_ms last_udp_ms" of a capture, relative to its first packet.
udp_done() {
	tcpdump -r "$1" -n -tt --time-stamp-precision=nano 2>/dev/null | awk '
		/bench-end/ { next }
		{ t = $1; if (!n++) first = t }
		$5 ~ /^127\.0\.1\.[0-9]+\.53:$/ { last = t }
		END { if (n && last) printf "%.1f\n", (last - first) * 1000; else print "nan" }'
}
mix_scenario() {
	local sc=mix d="$W/mix" run who p i bh
	[ "$MIX" = 1 ] || return 0
	mkdir -p "$d"
	local tcp="[target blocked]\nserver = 127.0.2.1\nport = 53\ntransport = tcp\ntimeout = 500ms\n"
	for i in $(seq 0 $((MIX_TCP - 1))); do tcp="${tcp}query = n$i.bench.test A\n"; done
	probe_conf "$d/mixed.conf" "$RATE" 10 'identity =\n' "$tcp"
	probe_conf "$d/alone.conf" "$RATE" 10
	# The listener that accepts (the kernel does, into the backlog) and
	# never reads: each TCP job holds its descriptor until it times out.
	$NX perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(LocalAddr => "127.0.2.1:53",
			Listen => 4096, ReuseAddr => 1) or die "listen: $!\n";
		$| = 1; print "ready\n"; sleep 3600;' >"$d/bh.out" 2>"$d/bh.err" &
	bh=$!
	PIDS="$PIDS $bh"
	for _ in $(seq 1 100); do
		grep -qs ready "$d/bh.out" && break
		sleep 0.05
	done
	grep -qs ready "$d/bh.out" || die "blackhole listener: $(cat "$d/bh.err")"
	note "mix: $MIX_TCP blocked TCP + 1000 UDP queries, ulimit -n $MIX_NOFILE, $RUNS runs"
	for run in $(seq 1 "$RUNS"); do
		for who in "${BINS[@]}"; do
			for m in mixed alone; do
				p="$d/$who$m$run"
				cap_start "$p.pcap" 'port 53'
				$NX bash -c 'ulimit -n "$1" && shift && exec "$@"' _ "$MIX_NOFILE" \
					"$W/rusage" "$p.out" "$p.err" "${BIN[$who]}" --once -c "$d/$m.conf" \
					>"$p.ru" || die "$who ($m) did not run"
				cap_stop "$p.pcap" wait
				read -r M_wall _ _ M_rc _ <"$p.ru"
				[ "$M_rc" -le 1 ] || die "$who ($m) exited $M_rc: $(head -3 "$p.err")"
				add "$sc|$who|$m" "$(udp_done "$p.pcap")"
				probe_out "$p.out"
				add "$sc|$who|${m}rows" "$P_rows"
				rm -f "$p.pcap"
			done
		done
	done
	kill "$bh" 2>/dev/null
	wait "$bh" 2>/dev/null
	PIDS=${PIDS/ $bh/}
	SCEN+=("$sc")
	R[$sc|desc]="mix ${MIX_TCP}tcp+1000udp"
}

# --- print
num() { [ "$1" = nan ] && echo "-" || echo "$1"; }
mib() { [ "$1" = nan ] && echo "-" || div "$1" 1024 %.1fM; }
row() {
	printf '%-18s | %-5s | %9s | %9s | %8s | %8s | %5s | %7s | %7s | %13s | %8s | %8s | %11s | %11s | %5s | %13s | %s\n' "$@"
}
# The cells of scenario $1 for binary $2.
print_row() {
	local sc=$1 who=$2 k="$1|$2" dk="$1|dnsperf" cpu dcpu extra="" v
	cpu=$(mk "$k|cpu")
	dcpu=$(mk "$dk|cpu")
	case $sc in
	low)
		v=$(div "$cpu" "$(mk "$MIDSC|$who|cpu")" %.2f)
		extra="us/q vs @$RATE: ${v}x"
		;;
	svc)
		extra="HWM MiB r1/..: ${R[$k|hwm]:-nan}; tail ms: ${R[$k|tail]:-nan}${R[$k|tailmark]:-}"
		extra="$extra (rounds: ${R[$k|tails]:-}; * = had timeouts)"
		;;
	mix)
		extra="UDP done ms: mixed $(mk "$k|mixed"), alone $(mk "$k|alone")"
		extra="$extra; rows $(mk "$k|mixedrows")/$(mk "$k|alonerows")"
		;;
	fast)
		v=$(awk -v sp="$(mk "$k|span")" -v q="$(mk "$k|wq")" -v r="$FAST_RATE" \
			'BEGIN { if (sp > 0) printf "achieved %.0f q/s, late %.1f ms", (q - 1) / sp * 1000, sp - (q - 1) / r * 1000; else print "nan" }')
		extra="$v; send_lag_ms $(mk "$k|lag")"
		;;
	esac
	row "${R[$sc|desc]}" "$who" "$(num "$(mk "$k|qps")")" "$(num "$(mk "$dk|qps")")" \
		"$(num "$cpu")" "$(num "$dcpu")" "$(num "$(div "$cpu" "$dcpu" %.2f)")" \
		"$(mib "$(mk "$k|rss")")" "$(mib "$(mk "$dk|rss")")" \
		"$(num "$(mk "$k|ans")")/$(num "$(mk "$dk|ans")")" \
		"$(num "$(mk "$k|md")")" "$(num "$(mk "$k|pd")")" \
		"$(num "$(mk "$k|sys")")/$(num "$(mk "$dk|sys")")" \
		"$(num "$(mk "$k|wake")")/$(num "$(mk "$dk|wake")")" \
		"$(num "$(mk "$k|sock")")" \
		"$(num "${R[$k|ir]:-nan}")/$(num "${R[$dk|ir]:-nan}")" "$extra"
}
# Target checks: "what | target | value per binary"
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {
	if (v == "nan" || v == "" || v == "-") { print "n/a"; exit }
	ok = op == "le" ? v + 0 <= t + 0 : v + 0 >= t + 0
	print ok ? "PASS" : "FAIL" }'; }
target() {
	local what=$1 tgt=$2 op=$3 who out="" v
	local -a vs=()
	shift 3
	for who in "${BINS[@]}"; do
		v=$("$@" "$who")
		vs+=("$v")
		out="$out$(printf ' | %-5s %8s %-4s' "$who" "$v" "$(verdict "$v" "$tgt" "$op")")"
	done
	[ "${#vs[@]}" -lt 2 ] || out="$out | new/base $(div "${vs[0]}" "${vs[1]}" %.2f)"
	printf '%-44s | %-8s%s\n' "$what" "$([ "$op" = le ] && echo "<=" || echo ">=") $tgt" "$out"
}
t_ratio() { div "$(mk "$MIDSC|$1|cpu")" "$(mk "$MIDSC|dnsperf|cpu")" %.2f; }
t_low() { div "$(mk "low|$1|cpu")" "$(mk "$MIDSC|$1|cpu")" %.2f; }
t_rss() { echo "${R[svc|$1|hwm1]:-nan}"; }
t_flat() { sub_ "${R[svc|$1|hwmn]:-nan}" "${R[svc|$1|hwm1]:-nan}"; }
t_tail() { echo "${R[svc|$1|tail]:-nan}"; }  # "*" cases: see the row
t_tcp() { mk "tcp|$1|sys"; }
t_mix() { sub_ "$(mk "mix|$1|mixed")" "$(mk "mix|$1|alone")"; }
t_rtt() { mk "$MIDSC|$1|md"; }
t_lag() {
	awk -v sp="$(mk "fast|$1|span")" -v q="$(mk "fast|$1|wq")" -v r="$FAST_RATE" -v lag="$(mk "fast|$1|lag")" \
		'BEGIN { late = sp - (q - 1) / r * 1000; if (lag == "nan" || late <= 0) print "nan"; else printf "%.2f", lag / late }'
}

# --- run everything (BENCH_ONLY="udp low svc tcp mix fast" picks some)
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
SCEN=()
want udp || SIZES=""
want low || CALLGRIND=0
want svc || BIG=0
want tcp || TCP_SIZE=0
want mix || MIX=0
for s in $SIZES; do udp_scenario "udp$s" "$s" "$RATE"; done
# MIDSC: the LOW_SIZE round at RATE, the reference for the low-rate ratio.
MIDSC=mid
for s in $SIZES; do [ "$s" = "$LOW_SIZE" ] && MIDSC=udp$s; done
if want low; then
	[ "$MIDSC" = mid ] && udp_scenario mid "$LOW_SIZE" "$RATE"
	udp_scenario low "$LOW_SIZE" "$LOW_RATE"
	# The machine's own price of pacing (tests/bench/paced.c): the same
	# fixed UDP work per unit, woken every ms, at both rates, RUNS times.
	pa=() pb=()
	for _ in $(seq 1 "$RUNS"); do
		pa+=("$($NX "$W/paced" "$LOW_SIZE" "$RATE")")
		pb+=("$($NX "$W/paced" "$LOW_SIZE" "$LOW_RATE")")
	done
	R[paced|hi]=$(med "${pa[@]}")
	R[paced|lo]=$(med "${pb[@]}")
	callgrind_scenario "$MIDSC" "$LOW_SIZE" "$RATE"
fi
svc_scenario
tcp_scenario
mix_scenario
want fast && udp_scenario fast "$FAST_SIZE" "$FAST_RATE"

echo "anycast-probe bench: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"$(knotd -V 2>&1 | head -1), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')"
for who in "${BINS[@]}"; do echo "  $who = ${BIN[$who]} ($("${BIN[$who]}" -V 2>&1 | head -1))"; done
echo "Knot (1 UDP worker) on 127.0.1.1-100:53 in a netns; round = 100 addresses x" \
	"size/100 names, timeout 2s, retries 0, nsid no, no identity (svc: identity on)," \
	"self_metrics; dnsperf: same names to 127.0.1.1, -e -c1 -T1 -q1000;" \
	"medians of $RUNS runs; CPU = user+sys incl. start-up; q/s = queries / wall;" \
	"sys/q, wake/q: system calls and voluntary context switches per query" \
	"(p = probe, d = dnsperf); sock = socket() calls; Ir/q: callgrind user" \
	"instructions per query. Method: tests/bench/bench.sh's opening comment."
echo
row scenario bin "probe q/s" "dnsperf q/s" "probe us/q" "dnsperf us/q" ratio \
	"probe RSS" "dnsperf RSS" "answered% p/d" "med p-w RTT us" "p99 p-w us" \
	"sys/q p/d" "wake/q p/d" sock "Ir/q p/d" notes
for sc in "${SCEN[@]}"; do
	for who in "${BINS[@]}"; do print_row "$sc" "$who"; done
done
echo
echo "Targets (issue 9), per binary:"
target "CPU/query @$RATE vs dnsperf ($LOW_SIZE q)" 0.70 le t_ratio
target "CPU/query @$LOW_RATE vs @$RATE ($LOW_SIZE q)" 1.3 le t_low
if want low; then
	# The same ratio for dnsperf and for a fixed unit of UDP work paced
	# like the probe (paced.c): what sleeping between bursts costs here.
	printf '%-44s | %-8s | dnsperf  %6s      | paced.c  %6s (%s vs %s us/unit)\n' \
		"  baselines, same ratio, same run" "" \
		"$(div "$(mk "low|dnsperf|cpu")" "$(mk "$MIDSC|dnsperf|cpu")" %.2f)" \
		"$(div "${R[paced|lo]:-nan}" "${R[paced|hi]:-nan}" %.2f)" \
		"${R[paced|lo]:-nan}" "${R[paced|hi]:-nan}"
fi
[ "$BIG" -gt 0 ] && target "peak RSS MiB, one round of $BIG" 16 le t_rss
[ "$BIG" -gt 0 ] && target "peak RSS growth MiB, round 1 to $ROUNDS" 1.0 le t_flat
[ "$BIG" -gt 0 ] && target "last answer to lines read, ms ($BIG q)" 50 le t_tail
[ "$TCP_SIZE" -gt 0 ] && target "TCP system calls/query ($TCP_SIZE q)" 8 le t_tcp
[ "$MIX" = 1 ] && target "UDP delay by blocked TCP, ms" \
	"$(awk -v n=$MIX_TCP -v r="$RATE" 'BEGIN { printf "%.0f", n / r * 1000 + 20 }')" le t_mix
target "RTT probe - wire, median us ($LOW_SIZE q)" 2 le t_rtt
target "send_lag_ms / wire lateness @$FAST_RATE" 0.8 ge t_lag
echo
echo "Wire detail (RTT us; probe = its query_time_ms, wire = tshark dns.time; paired ="
echo "each probe row minus its own response's dns.time; q/r = queries/responses seen"
echo "on the wire; burst = most queries sent in one ms (smooth = rate/1000); gap = longest"
echo "pause between two queries, ms). p = probe, d = dnsperf."
printf '%-18s | %-5s | %15s | %15s | %17s | %13s | %13s | %9s | %11s\n' scenario bin "probe med/p99" \
	"wire med/p99" "paired med/p99" "p wire q/r" "d wire q/r" "burst p/d" "gap p/d"
for sc in "${SCEN[@]}"; do
	[ -n "${R[$sc|size]:-}" ] || continue
	for who in "${BINS[@]}"; do
		k="$sc|$who" dk="$sc|dnsperf"
		printf '%-18s | %-5s | %15s | %15s | %17s | %13s | %13s | %9s | %11s\n' "${R[$sc|desc]}" "$who" \
			"$(mk "$k|pmed")/$(mk "$k|p99")" "$(mk "$k|wmed")/$(mk "$k|w99")" \
			"$(mk "$k|pm")/$(mk "$k|pp")" "$(mk "$k|wq")/$(mk "$k|wr")" \
			"$(mk "$dk|wq")/$(mk "$dk|wr")" "$(mk "$k|burst")/$(mk "$dk|burst")" \
			"$(mk "$k|gap")/$(mk "$dk|gap")"
	done
done
echo
echo "System calls per query by name (medians; all = every system call; shown when >= 0.005):"
for sc in "${SCEN[@]}"; do
	for who in "${BINS[@]}" dnsperf; do
		[ -n "${R[$sc|$who|ev0]:-}" ] || continue
		line=""
		for i in "${!EV_NAMES[@]}"; do
			v=$(mk "$sc|$who|ev$i")
			awk -v v="$v" 'BEGIN { exit !(v != "nan" && v >= 0.005) }' &&
				line="$line ${EV_NAMES[$i]}=$v"
		done
		printf '  %-20s %-7s%s\n' "${R[$sc|desc]}" "$who" "$line"
	done
done
echo
echo "Per run (the medians' inputs):"
for sc in "${SCEN[@]}"; do
	for who in "${BINS[@]}" dnsperf; do
		[ -n "${R[$sc|$who|cpu]:-}" ] || continue
		echo "  ${R[$sc|desc]} $who: us/q ${R[$sc|$who|cpu]}; answered% ${R[$sc|$who|ans]:-}; tcpdump drops ${R[$sc|$who|drops]:-n/a}"
	done
done

# --- other helpers' benches: each takes the probe binary as $1 and prints a
# small table; absent ones are skipped quietly.
hook_rc=0
for h in telegraf-peer tls dnssec; do
	f="$ROOT/tests/bench/$h.sh"
	[ -f "$f" ] || continue
	echo
	echo "== tests/bench/$h.sh =="
	bash "$f" "$PROBE"
	rc=$?
	[ $rc -eq 0 ] || { note "$h.sh exited $rc"; hook_rc=1; }
done
exit $hook_rc
