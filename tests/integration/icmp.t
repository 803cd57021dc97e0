#!/bin/bash
# icmp.t - forged ICMP port-unreachable messages against the probe, in the
# anycast lab (issue 10: "ICMP errors count only when the quoted packet
# carries the query's ID and question").
#
# As in attack.t, the probe (vantage namespace) has two targets: `victim`,
# the anycast service 192.0.2.53 whose catchment is site 1, and `bait`, a
# socket in site 2 (port 5353) that only notes the source port of each query.
# Site 1's DNS server is stopped and replaced by the attacker's UDP socket on
# 192.0.2.53:53, which never answers (and, being bound, keeps the kernel from
# sending real port-unreachables): every victim query times out. The attacker
# also holds a raw ICMP socket on 192.0.2.53 and forges ICMPv4 type 3 code 3
# messages to the probe's address on site 1's link, quoting an IPv4+UDP
# header (probe address:PORT -> 192.0.2.53:53) and a DNS query header and
# question. Rounds (timeout 2s, retries 0, self_metrics on):
#  0  quiet: nothing forged; the baseline for dropped_replies.
#  a  all 65,536 IDs with a WRONG question (wrong.example.test SOA), to the
#     port of the victim's query (the attacker sits at the site, so it sees
#     it: the worst case, the question check is all that is left) and to the
#     port the bait learnt this round, sweep after sweep until the round's
#     timeout. Expect every victim row result=timeout, none ended by an ICMP
#     error (`connection refused` or any other error).
#  b  control, blind as in attack.t: a wrong question, to the port the bait
#     learnt and to every port the bait has seen so far (4,096 IDs each). The
#     probe's dropped_replies must rise above the quiet round's in at least one
#     round, so the forged ICMP demonstrably reaches the probe's sockets (the
#     test cannot pass because nothing arrived); phase a's rounds must show it
#     too.
#  c  positive control: all IDs with the RIGHT question (example.test SOA) to
#     the victim's port: the victim rows must end as `connection refused`,
#     proving the forged messages are well-formed enough to count.
# On a build that matched ICMP errors by ID (and destination) only, phase a
# ends the victim queries as "connection refused" (seen by removing the
# question memcmp from errq_entry in src/tr_udp.c; see the commit message).
#
# Needs root, `ip netns`, python3; skips otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
probe=${ANYCAST_PROBE:-$root/build/anycast-probe}
PHASES=${ICMP_PHASES:-"0 a a a a b b b c c"}

# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces, raw sockets)"
	exit 0
fi
# shellcheck source=tests/lab/lab.sh
. tests/lab/lab.sh
if ! lab_usable; then
	echo "1..0 # SKIP needs root and a working 'ip netns'"
	exit 0
fi
for c in nsd knotd named kdig perl python3; do
	if ! command -v "$c" >/dev/null; then
		echo "1..0 # SKIP $c not installed (make deps)"
		exit 0
	fi
done
[ -x "$probe" ] || { echo "1..0 # SKIP no probe binary ($probe)"; exit 0; }

T=$(mktemp -d /tmp/icmp.XXXXXX)
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
probe_addr=$(lab_vantage_addr 1 ipv4) # the probe's address towards site 1

# The bait: logs "PORT" per query to bait.log; answers nothing.
ip netns exec "${LAB_SITE_NS[2]}" perl -MIO::Socket::INET -e '
	my ($addr, $log) = @ARGV;
	my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 5353,
		Proto => "udp") or die "bait: $!";
	open(my $l, ">>", $log) or die; $l->autoflush(1);
	open(my $r, ">", "$log.ready"); close $r;
	my $end = time + 120;
	while (time < $end) {
		my $rin = ""; vec($rin, fileno($s), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, 0.5);
		$s->recv(my $buf, 4096) // next;
		print $l $s->peerport, "\n";
	}' "$bait_addr" "$T/bait.log" &
PIDS+=($!)

# The attacker, in site 1 on 192.0.2.53. Per victim query it reads the
# round's phase ($T/phase: "ROUND PHASE"), waits (at most 0.5 s) for the
# bait's port of that round, forges, and logs to stats:
# "ROUND PHASE VICTIM_PORT BAIT_PORT PACKETS SWEEPS".
ip netns exec "${LAB_SITE_NS[1]}" python3 - "$LAB_SVC4" "$probe_addr" \
	"$T/phase" "$T/bait.log" "$T/stats" "$T/stop" "$T/att.ready" <<'EOF' &
import os, select, socket, struct, sys, time

svc, probe, phasefile, baitlog, stats, stop, ready = sys.argv[1:]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((svc, 53))
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
raw.bind((svc, 0))
raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
src, dst = socket.inet_aton(probe), socket.inet_aton(svc)

def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"

def csum_words(b):
    if len(b) % 2:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))

def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s

def template(port, name):
    # DNS query (ID 0) as quoted: header, question, then an OPT record.
    dns = (struct.pack("!6H", 0, 0x0100, 1, 0, 0, 1) + qname(name)
           + struct.pack("!HH", 6, 1) + b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0))
    udph = struct.pack("!4H", port, 53, 8 + len(dns), 0)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udph) + len(dns), 0,
                      0x4000, 64, 17, 0, src, dst)
    iph = iph[:10] + struct.pack("!H", 0xFFFF & ~fold(csum_words(iph))) + iph[12:]
    quoted = iph + udph + dns
    base = csum_words(struct.pack("!BBHI", 3, 3, 0, 0) + quoted)
    return quoted, base, 28   # the DNS ID sits at offset 28 of quoted

def sweep(port, name, ids, deadline):
    quoted, base, off = template(port, name)
    sent = 0
    head, tail = quoted[:off], quoted[off + 2:]
    for i in ids:
        c = 0xFFFF & ~fold(base + i)
        pkt = struct.pack("!BBHI", 3, 3, c, 0) + head + struct.pack("!H", i) + tail
        try:
            raw.sendto(pkt, (probe, 0))
            sent += 1
        except OSError:
            time.sleep(0.001)
        if (i & 1023) == 0 and time.monotonic() > deadline:
            break
    return sent

def bait_ports():
    try:
        with open(baitlog) as f:
            return [int(l) for l in f if l.strip()]
    except OSError:
        return []

open(ready, "w").close()
end = time.monotonic() + 120
while time.monotonic() < end and not os.path.exists(stop):
    if not select.select([udp], [], [], 0.2)[0]:
        continue
    buf, (addr, vport) = udp.recvfrom(4096)
    t0 = time.monotonic()
    with open(phasefile) as f:
        rnd, phase = f.read().split()
    rnd = int(rnd)
    while len(bait_ports()) < rnd and time.monotonic() < t0 + 0.5:
        time.sleep(0.005)
    seen = bait_ports()
    bport = seen[rnd - 1] if len(seen) >= rnd else 0
    deadline = t0 + 1.6   # the probe's timeout is 2 s
    pkts = sweeps = 0
    if phase == "a":
        ports = [vport] + ([bport] if bport and bport != vport else [])
        while time.monotonic() < deadline:
            for p in ports:
                pkts += sweep(p, "wrong.example.test", range(65536), deadline)
            sweeps += 1
    elif phase == "b":
        for p in sorted(set(seen)):
            pkts += sweep(p, "wrong.example.test", range(0, 65536, 16), deadline)
        sweeps = 1
    elif phase == "c":
        while time.monotonic() < deadline:
            pkts += sweep(vport, "example.test", range(65536), deadline)
            sweeps += 1
    with open(stats, "a") as f:
        f.write("%d %s %d %d %d %d\n" % (rnd, phase, vport, bport, pkts, sweeps))
EOF
PIDS+=($!)

ready=1
for _ in $(seq 500); do
	[ -e "$T/bait.log.ready" ] && [ -e "$T/att.ready" ] && { ready=0; break; }
	sleep 0.01
done
ok $ready "bait and attacker are listening"

cat >"$T/p.conf" <<EOF
[probe]
timeout = 2s
retries = 0
identity =
self_metrics = yes

[target victim]
server = $LAB_SVC4
query = example.test SOA

[target bait]
server = $bait_addr
port = 5353
query = bait.example.test A
EOF

# The probe, driven by stdin lines; each round has 3 lines (2 rows, 1 self).
exec 3> >(lab_exec_vantage "$probe" -c "$T/p.conf" >"$T/out" 2>"$T/err")
PIDS+=($!)
r=0
rounds_ok=0
for ph in $PHASES; do
	r=$((r + 1))
	echo "$r $ph" >"$T/phase"
	echo >&3
	got=0
	for _ in $(seq 1000); do
		[ "$(wc -l <"$T/out")" -ge $((3 * r)) ] &&
			[ "$(wc -l <"$T/stats" 2>/dev/null || echo 0)" -ge "$r" ] && { got=1; break; }
		sleep 0.01
	done
	[ $got -eq 1 ] && rounds_ok=$((rounds_ok + 1))
done
: >"$T/stop"
exec 3>&-
ok $((rounds_ok != r)) "$r rounds ran ($rounds_ok with all lines and the attacker's report)" "$(cat "$T/err")"

# Verdict, round by round: phase, ports, packets, the victim row's result
# and error, dropped_replies of the round's self line.
verdict=$(perl -e '
	my ($out, $stats) = @ARGV;
	my @l = do { open(my $f, "<", $out) or die; <$f> };
	my @v = grep { /^dns_anycast,target=victim,/ } @l;
	my @d = map { /\bdropped_replies=(\d+)i/ ? $1 : -1 } grep { /^dns_anycast_probe\b/ } @l;
	my @s = map { [split] } do { open(my $f, "<", $stats) or die; <$f> };
	my (%bad, %drop, %cnt, %refused);
	my ($base, $pkts) = (undef, 0);
	my @diag;
	for my $i (0 .. $#s) {
		my ($rnd, $ph, $vp, $bp, $np, $sw) = @{$s[$i]};
		my $row = $v[$i] // "";
		my ($res) = $row =~ /\bresult="?(\w+)/;
		my ($err) = $row =~ /\berror="([^"]*)"/;
		$res //= "none"; $err //= "";
		my $dr = $d[$i] // -1;
		$base = $dr if $ph eq "0";
		$cnt{$ph}++;
		$bad{$ph}++ if $res ne "timeout";
		$refused{$ph}++ if $err eq "connection refused";
		$drop{$ph}++ if defined $base && $dr > $base;
		$pkts += $np if $ph eq "a";
		push @diag, sprintf("round %d phase %s: victim port %d, bait port %d, %d ICMPs in %d sweeps; victim %s%s; dropped_replies %d",
			$rnd, $ph, $vp, $bp, $np, $sw, $res, $err ne "" ? " ($err)" : "", $dr);
	}
	printf "%d %d %d %d %d %d %d %d %d %d %d\n", $cnt{0} // 0, $base // -1,
		$cnt{a} // 0, $bad{a} // 0, $drop{a} // 0, $pkts,
		$cnt{b} // 0, $bad{b} // 0, $drop{b} // 0,
		$cnt{c} // 0, $refused{c} // 0;
	print map { "$_\n" } @diag;
' "$T/out" "$T/stats")
read -r n0 base na bada dropa pktsa nb badb dropb nc refc <<<"$(head -1 <<<"$verdict")"
details=$(tail -n +2 <<<"$verdict")
ok $((n0 < 1 || base != 0)) "quiet round: victim timed out and no dropped replies (dropped_replies $base)"
ok $((na < 1 || pktsa < 65536 * na)) "phase a: all 65,536 IDs forged at least once a round ($pktsa ICMPs over $na rounds)"
ok $((bada != 0)) "phase a: wrong question quoted: 0 of $na victim rows ended by ICMP, all timeouts ($bada not)"
ok $((dropa != na)) "phase a: the forged ICMPs reached the probe and were dropped ($dropa of $na rounds raised dropped_replies)"
ok $((badb != 0)) "phase b: blind forgeries to the bait's ports: all $nb victim rows timeouts ($badb not)"
ok $((nb < 1 || dropb < 1)) "phase b: dropped_replies rose in at least one round ($dropb of $nb)"
ok $((nc < 1 || refc != nc)) "phase c: right question quoted: $refc of $nc victim rows ended as connection refused"
printf '%s\n' "$details" | sed 's/^/# /'

echo "1..$n"
[ "$failed" -eq 0 ]
