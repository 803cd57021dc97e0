#!/bin/bash
# DNS over TLS and DNS over HTTPS: CPU per query and handshake time, with
# TLS session resumption on and off, side by side with kdig (Knot's client)
# on the same queries against the same BIND in the same run.
#
# usage: tests/bench/tls.sh PROBE_BINARY      (bench.sh calls it)
#   BENCH_TLS_N=1000    queries per case
#
# BIND 9.18 serves DoT and DoH on 127.0.0.1 (tests/lib/Servers.pm,
# start_bind_tls: certificates made now by tests/lib/mkcerts.sh). Each case
# sends the same query (example.test SOA IN, EDNS, NSID) N times:
#   conn/query  a new connection for every query, the way the probe makes
#               one per server and round: N rounds of one query. Resumption
#               on: the session of the last round is offered (the probe's
#               default); off: ANYCAST_PROBE_TLS_RESUME=no, a full
#               handshake every time. kdig: one kdig run with the N queries,
#               a connection each (whether it resumes, kdig does not say).
#   1 conn      all N queries on one connection (the probe pipelines them;
#               kdig +keepopen sends them one after another).
# Until the scheduler drives tls/https (the transports' ops are done; the
# lead wires them), the probe side runs build/tests/drive_tr: the same
# transport code, the same loop, without the scheduler (its rounds are back
# to back). CPU is user+sys from wait4() (tests/bench/rusage.c) over the
# whole process, start-up included, divided by N. Handshake and query times
# are medians of what the transport reported (tls_handshake_ns, rtt_ns);
# kdig prints neither, so its column has only CPU and wall time.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=${1:-$ROOT/build/anycast-probe}
N=${BENCH_TLS_N:-1000}
DRIVE=$(dirname "$PROBE")/tests/drive_tr

die() { echo "bench tls: $*" >&2; exit 2; }
[ -x "$DRIVE" ] || die "no $DRIVE (make unit builds it)"
command -v kdig >/dev/null || die "kdig missing (knot-dnsutils)"
command -v named >/dev/null || die "named missing (bind9)"
case $N in '' | *[!0-9]* | 0) die "BENCH_TLS_N must be a positive number" ;; esac

W=$(mktemp -d /tmp/anycast-bench-tls.XXXXXX) || die "mktemp failed"
BINDPID=""
cleanup() {
	[ -n "$BINDPID" ] && kill "$BINDPID" 2>/dev/null && wait "$BINDPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cc -O2 -o "$W/rusage" "$ROOT/tests/bench/rusage.c" || die "cannot build rusage.c"

# BIND, held by a Perl process that stops it when its stdin closes.
mkfifo "$W/ctl"
perl -I"$ROOT/tests/lib" -MServers=start_bind_tls -e '
	my $s = start_bind_tls();
	open(my $o, ">", $ARGV[0]) or die;
	print $o "$s->{dot} $s->{doh} $s->{ca}\n"; close $o;
	1 while <STDIN>;' "$W/ports" <"$W/ctl" >"$W/bind.log" 2>&1 &
BINDPID=$!
exec 9>"$W/ctl"
for _ in $(seq 1 300); do [ -s "$W/ports" ] && break; sleep 0.05; done
[ -s "$W/ports" ] || die "BIND did not start: $(cat "$W/bind.log")"
read -r DOT DOH CA <"$W/ports"
Q="example.test SOA IN"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

# run NAME ENV CMD...: prints "cpu_us_per_query wall_ms_total"
run() {
	local name=$1 env=$2
	shift 2
	read -r wall cpu _ rc < <(env $env "$W/rusage" "$W/$name.out" "$W/$name.err" "$@")
	[ "$rc" = 0 ] || echo "bench tls: $name exited $rc: $(head -3 "$W/$name.err")" >&2
	echo "$(awk -v c="$cpu" -v n="$N" 'BEGIN { printf "%.0f", c / n }') $(awk -v w="$wall" 'BEGIN { printf "%.0f", w * 1000 }')"
}

# probe_case NAME ENV ARGS...: CPU/query, wall, answered, handshake and
# query time medians (ms), resumed count
probe_case() {
	local name=$1 env=$2
	shift 2
	local r
	r=$(run "$name" "$env" "$DRIVE" "$@")
	local ok hs qt res
	ok=$(grep -c ' err=0 ' "$W/$name.out")
	hs=$(grep -o 'tls_handshake_ns=[0-9]*' "$W/$name.out" | cut -d= -f2 |
		awk '!seen[$0]++' | median)
	qt=$(grep -o 'rtt_ns=[0-9]*' "$W/$name.out" | cut -d= -f2 | median)
	res=$(grep -c 'tls_resumed=1' "$W/$name.out")
	echo "$r $ok $hs $qt $res"
}

ms() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.3f", v / 1e6 }'; }

printf '%-6s %-12s %-14s %9s %9s %7s %9s %9s %8s\n' transport case client \
	"cpu_us/q" "wall_ms" answered "hs_ms" "query_ms" resumed
line() { printf '%-6s %-12s %-14s %9s %9s %7s %9s %9s %8s\n' "$@"; }

for tr in tls https; do
	if [ $tr = tls ]; then port=$DOT; kflag=+tls; else port=$DOH; kflag=+https; fi
	base=(-t $tr -s 127.0.0.1 -p "$port" -c "$CA" -T 5000)
	for resume in yes no; do
		read -r cpu wall ok hs qt res < <(probe_case "$tr-conn-$resume" \
			"ANYCAST_PROBE_TLS_RESUME=$resume" "${base[@]}" -r "$N" "$Q")
		line $tr conn/query "probe resume=$resume" "$cpu" "$wall" "$ok" \
			"$(ms "$hs")" "$(ms "$qt")" "$res"
	done
	qs=()
	for _ in $(seq 1 "$N"); do qs+=(example.test SOA); done
	read -r cpu wall < <(run "$tr-kdig-conn" "" kdig @127.0.0.1 -p "$port" \
		$kflag +tls-ca="$CA" +nsid +time=5 +retry=0 "${qs[@]}")
	ok=$(grep -c 'status: NOERROR' "$W/$tr-kdig-conn.out")
	line $tr conn/query "kdig" "$cpu" "$wall" "$ok" - - -
	read -r cpu wall ok hs qt res < <(probe_case "$tr-one" "" "${base[@]}" \
		-r 1 -x "$N" "$Q")
	line $tr "1 conn" "probe pipelined" "$cpu" "$wall" "$ok" "$(ms "$hs")" \
		"$(ms "$qt")" "$res"
	read -r cpu wall < <(run "$tr-kdig-one" "" kdig @127.0.0.1 -p "$port" \
		$kflag +keepopen +tls-ca="$CA" +nsid +time=5 +retry=0 "${qs[@]}")
	ok=$(grep -c 'status: NOERROR' "$W/$tr-kdig-one.out")
	line $tr "1 conn" "kdig keepopen" "$cpu" "$wall" "$ok" - - -
done
