#!/bin/bash
# make bench: the probe against dnsperf and against the wire (issue 5).
#
# usage: tests/bench/bench.sh [PROBE_BINARY]     (default build/anycast-probe)
#   BENCH_SIZES="1000 10000 50000"  queries per round (multiples of 100)
#   BENCH_RUNS=3                    runs per size; the table shows medians
#   BENCH_RATE=20000                probe rate = and dnsperf -Q
#   BENCH_KEEP=1                    keep the work directory (configs, pcaps)
#
# Needs root: everything runs in a private network namespace with only lo up.
# Knot (one UDP worker) serves bench.test there on 127.0.1.1..127.0.1.100
# port 53 (all of 127/8 is local on lo). A round of S queries is 100
# addresses x S/100 names (nI.bench.test A): 1k = 100 x 10, 10k = 100 x 100,
# 50k = 100 x 500. The probe runs --once with rate = BENCH_RATE, timeout 2s,
# retries 0, identity empty, nsid = no (it still sends EDNS0, so dnsperf gets
# -e). dnsperf (one client, one thread) sends the same S lines, in the same
# order, once (-n 1) at -Q BENCH_RATE to 127.0.1.1, the same Knot.
#
# CPU is user+sys from wait4() (tests/bench/rusage.c, microsecond
# resolution), peak RSS is ru_maxrss; both include start-up. q/s is queries
# divided by wall time of the whole process (start-up and final wait
# included), so it is the same yardstick for both tools. tcpdump records lo
# during both tools' runs (same load on the two cores); tshark's dns.time on
# the probe's responses is the wire RTT. "probe-wire" compares the
# distributions (median of the probe's query_time_ms minus the median of
# dns.time, same for p99); a second table pairs each probe row with its own
# response on the wire (server + name are unique within a round).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=${1:-${PROBE:-$ROOT/build/anycast-probe}}
SIZES=${BENCH_SIZES:-1000 10000 50000}
RUNS=${BENCH_RUNS:-3}
RATE=${BENCH_RATE:-20000}
NADDR=100

die() { echo "bench: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || { echo "bench: SKIP: needs root (network namespace)"; exit 0; }
[ -x "$PROBE" ] || die "no probe binary at $PROBE (run make first)"
missing=""
for t in ip:iproute2 knotd:knot kdig:knot-dnsutils dnsperf:dnsperf \
	tcpdump:tcpdump tshark:tshark cc:build-essential; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
[ -z "$missing" ] || die "missing tools; apt-get install$missing" \
	"(tshark: preseed wireshark-common/install-setuid false)"
for s in $SIZES; do
	case $s in *[!0-9]*) die "BENCH_SIZES: '$s' is not a number" ;; esac
	[ $((s % NADDR)) -eq 0 ] && [ "$s" -gt 0 ] ||
		die "BENCH_SIZES: $s is not a positive multiple of $NADDR"
done
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;; esac

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

cc -O2 -o "$W/rusage" "$ROOT/tests/bench/rusage.c" || die "cannot build rusage.c"
ip netns add "$NS" || die "ip netns add failed"
$NX ip link set lo up || die "cannot bring lo up in $NS"

# --- Knot: one zone, enough names for the largest round
maxnames=0
for s in $SIZES; do
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
	$NX tcpdump -i lo -n -s 256 -B 65536 -U --time-stamp-precision=nano -w "$1" 'udp and port 53' 2>"$1.err" &
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
		for _ in $(seq 1 100); do
			tcpdump -r "$1" -n 2>/dev/null | grep -q "bench-end" && break
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
	printf '%s\n' "$@" | grep -v nan | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'
}

# One tshark pass over a capture: "$1.tsv" holds, per DNS packet,
# time, is-response, src, dst, name, dns.time (responses only). Prints
# "queries responses max_per_ms max_gap_ms": what went out and came back on
# the wire, the largest number of queries in any 1 ms (pacing at RATE should
# give about RATE/1000), and the longest pause between two queries.
wire() {
	tshark -r "$1" -n -Y 'dns && !(dns.qry.name contains "bench-end")' -T fields \
		-e frame.time_relative -e dns.flags.response -e ip.src -e ip.dst \
		-e dns.qry.name -e dns.time 2>/dev/null >"$1.tsv"
	awk '$2 == 0 { q++; b = int($1 * 1000); if (++per[b] > mx) mx = per[b]
		if (q > 1 && $1 - last > gap) gap = $1 - last; last = $1 }
	$2 == 1 { r++ }
	END { printf "%d %d %d %.1f\n", q, r, mx, gap * 1000 }' "$1.tsv"
}
pct() { awk -v n="$1" -v k="$2" 'BEGIN { printf "%.2f", 100 * k / n }'; }
sub_() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, a / b }'; }

# --- one size: configs, then RUNS x (probe, dnsperf), then a table row
declare -A R
run_size() {
	local s=$1 names=$((s / NADDR)) d="$W/s$s" run i
	mkdir -p "$d"
	{
		printf '[probe]\nrate = %s\ntimeout = 2s\nretries = 0\n' "$RATE"
		printf 'identity =\nnsid = no\n\n[target bench]\nport = 53\ntransport = udp\n'
		for i in $(seq 1 $NADDR); do printf 'server = 127.0.1.%d\n' "$i"; done
		for i in $(seq 0 $((names - 1))); do printf 'query = n%d.bench.test A\n' "$i"; done
	} >"$d/probe.conf"
	"$PROBE" --check-config -c "$d/probe.conf" >/dev/null 2>"$d/check.err" ||
		die "probe rejects its config: $(head -3 "$d/check.err")"
	# The same name list, once per address, in the probe's order.
	for _ in $(seq 1 $NADDR); do
		for i in $(seq 0 $((names - 1))); do printf 'n%d.bench.test A\n' "$i"; done
	done >"$d/dnsperf.data"

	local -a pq dq pc dc pr dr pa da md pd pm pp pmed p99 wmed w99 \
		pwq pwr dwq dwr pburst dburst pgap dgap drops
	local p q wall cpu rss rc rows ok ps ws pair wp wd
	for run in $(seq 1 "$RUNS"); do
		p="$d/p$run" q="$d/d$run"

		cap_start "$p.pcap"
		read -r wall cpu rss rc < <($NX "$W/rusage" "$p.out" "$p.err" \
			"$PROBE" --once -c "$d/probe.conf")
		cap_stop "$p.pcap" wait
		drops+=("$CAP_DROPS")
		[ "$rc" -le 1 ] || die "probe exited $rc: $(head -3 "$p.err")"
		rows=$(grep -c '^dns_anycast,' "$p.out")
		ok=$(grep -c ',result=success' "$p.out")
		[ "$rows" -eq "$s" ] || echo "bench: warning: $s queries, $rows rows" >&2
		pq+=("$(div "$s" "$wall" %.0f)")
		pc+=("$(div "$cpu" "$s" %.2f)")
		pr+=("$rss")
		pa+=("$(pct "$s" "$ok")")

		# RTTs in microseconds, "server name rtt": probe rows, wire.
		read -r -a wp < <(wire "$p.pcap")
		pwq+=("${wp[0]}") pwr+=("${wp[1]}") pburst+=("${wp[2]}") pgap+=("${wp[3]}")
		perl -ne '/,server=([^,]+).*?,domain=([^,]+).*?,result=success.* .*?\bquery_time_ms=([0-9.]+)/ and
			printf "%s %s %.3f\n", $1, $2, $3 * 1000' "$p.out" >"$p.rtt"
		awk -F '\t' '$2 == 1 && $6 != "" { printf "%s %s %.3f\n", $3, $5, $6 * 1e6 }' \
			"$p.pcap.tsv" >"$p.wire"
		read -r -a ps < <(awk '{ print $3 }' "$p.rtt" | stats)
		read -r -a ws < <(awk '{ print $3 }' "$p.wire" | stats)
		pmed+=("${ps[0]}") p99+=("${ps[1]}") wmed+=("${ws[0]}") w99+=("${ws[1]}")
		md+=("$(sub_ "${ps[0]}" "${ws[0]}")")
		pd+=("$(sub_ "${ps[1]}" "${ws[1]}")")
		read -r -a pair < <(awk 'NR == FNR { w[$1 " " $2] = $3; next }
			($1 " " $2) in w { print $3 - w[$1 " " $2] }' "$p.wire" "$p.rtt" | stats)
		pm+=("${pair[0]}") pp+=("${pair[1]}")
		R[pairn$s]="${R[pairn$s]:-}${R[pairn$s]:+ }${pair[2]}"
		rm -f "$p.pcap" "$p.pcap.tsv"

		cap_start "$q.pcap"
		read -r wall cpu rss rc < <($NX "$W/rusage" "$q.out" "$q.err" \
			dnsperf -s 127.0.1.1 -p 53 -d "$d/dnsperf.data" -n 1 \
			-Q "$RATE" -t 2 -e -c 1 -T 1 -q 1000)
		cap_stop "$q.pcap" wait
		[ "$rc" -eq 0 ] || die "dnsperf exited $rc: $(head -3 "$q.err")"
		ok=$(awk '/Queries completed:/ { print $3 }' "$q.out")
		dq+=("$(div "$s" "$wall" %.0f)")
		dc+=("$(div "$cpu" "$s" %.2f)")
		dr+=("$rss")
		da+=("$(pct "$s" "${ok:-0}")")
		read -r -a wd < <(wire "$q.pcap")
		dwq+=("${wd[0]}") dwr+=("${wd[1]}") dburst+=("${wd[2]}") dgap+=("${wd[3]}")
		rm -f "$q.pcap" "$q.pcap.tsv"
	done

	local mpc mdc
	mpc=$(med "${pc[@]}")
	mdc=$(med "${dc[@]}")
	printf '%6s | %9s | %11s | %10s | %12s | %5s | %9s | %11s | %13s | %13s | %10s\n' \
		"$s" "$(med "${pq[@]}")" "$(med "${dq[@]}")" "$mpc" "$mdc" \
		"$(div "$mpc" "$mdc" %.2f)" \
		"$(div "$(med "${pr[@]}")" 1024 %.1fM)" "$(div "$(med "${dr[@]}")" 1024 %.1fM)" \
		"$(med "${pa[@]}")/$(med "${da[@]}")" "$(med "${md[@]}")" "$(med "${pd[@]}")"
	R[rtt$s]=$(printf '%6s | %15s | %15s | %17s | %13s | %13s | %9s | %9s' "$s" \
		"$(med "${pmed[@]}")/$(med "${p99[@]}")" "$(med "${wmed[@]}")/$(med "${w99[@]}")" \
		"$(med "${pm[@]}")/$(med "${pp[@]}")" \
		"$(med "${pwq[@]}")/$(med "${pwr[@]}")" "$(med "${dwq[@]}")/$(med "${dwr[@]}")" \
		"$(med "${pburst[@]}")/$(med "${dburst[@]}")" "$(med "${pgap[@]}")/$(med "${dgap[@]}")")
	R[runs$s]="probe answered% ${pa[*]}; dnsperf answered% ${da[*]};" 
	R[runs$s]+=" probe us/q ${pc[*]}; dnsperf us/q ${dc[*]}; tcpdump drops ${drops[*]}"
}

echo "anycast-probe bench: $(nproc) cores, $(uname -r), $($PROBE -V 2>&1 | head -1)," \
	"$(knotd -V 2>&1 | head -1), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')"
echo "Knot (1 UDP worker) on 127.0.1.1-100:53 in a netns; round = 100 addresses x" \
	"size/100 names, UDP, $RATE q/s, timeout 2s, retries 0, nsid no," \
	"no identity; dnsperf: same names to 127.0.1.1, -e -c1 -T1 -q1000;" \
	"medians of $RUNS runs; CPU = user+sys incl. start-up; q/s = queries / wall"
printf '%6s | %9s | %11s | %10s | %12s | %5s | %9s | %11s | %13s | %13s | %10s\n' \
	size "probe q/s" "dnsperf q/s" "probe us/q" "dnsperf us/q" ratio \
	"probe RSS" "dnsperf RSS" "answered% p/d" "med p-w RTT us" "p99 p-w us"
for s in $SIZES; do run_size "$s"; done
echo
echo "Wire detail (RTT us; probe = its query_time_ms, wire = tshark dns.time; paired ="
echo "each probe row minus its own response's dns.time; q/r = queries/responses seen"
echo "on the wire; burst = most queries sent in one ms (smooth = $((RATE / 1000))); gap = longest"
echo "pause between two queries, ms). p = probe, d = dnsperf."
printf '%6s | %15s | %15s | %17s | %13s | %13s | %9s | %9s\n' size "probe med/p99" \
	"wire med/p99" "paired med/p99" "p wire q/r" "d wire q/r" "burst p/d" "gap p/d"
for s in $SIZES; do echo "${R[rtt$s]}"; done
echo
for s in $SIZES; do echo "$s per run: ${R[runs$s]}"; done
