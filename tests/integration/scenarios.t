#!/usr/bin/perl
# scenarios.t - the anycast failures operators meet (issue 3, scenarios 1-9),
# each checked with exact assertions on the probe's rows, in the lab of
# tests/lab/lab.sh (network namespaces; needs root, skips without it).
#
# One lab, six sites, all on 192.0.2.53 and 2001:db8:53::53:
#   1 NSD   nsid arn1, hostname.bind sthlm-1, serial 2024010101, big TXT
#   2 Knot  nsid lhr1, hostname.bind lon-1,   serial 2023123100 (old zone), big TXT
#   3 BIND  nsid fra1, hostname.bind fra-1, id.server fra1, big TXT
#   4 NSD   nsid ams1, example.test not served: REFUSED
#   5 Knot  nsid cdg1, example.test does not load: SERVFAIL
#   6 BIND  NSID off, hostname.bind waw-1, id.server empty
# The lab runs in a bash child that sources lab.sh and executes one command
# per line from us (lab_catchment, lab_kill_site_server, ...), answering
# "@@rc N". When this script ends, also by dying, that bash reads EOF and its
# EXIT trap (lab_down) removes everything. The probe runs in the vantage
# namespace through a two-line wrapper (`exec ip netns exec NS PROBE "$@"`,
# which keeps the PID, so /proc/PID is the probe's).
#
# BIND rate-limits CHAOS answers to 3 per second per /24 (its built-in _bind
# view): rounds that ask site 3 or 6 for hostname.bind over UDP stay few.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IO::Select;
use POSIX qw(WNOHANG _exit);
use Test::More;
use Time::HiRes qw(time sleep);
use Probe;
use LabShell;

my $root = "$FindBin::Bin/../..";
my $OWNER = $$;   # the END block below stops the lab only in this process
if ($> != 0) {
	print "1..0 # SKIP needs root (network namespaces)\n";
	exit 0;
}
for my $c (qw(ip nsd knotd named kdig)) {
	if (system("command -v $c >/dev/null 2>&1") != 0) {
		print "1..0 # SKIP $c not installed (make deps)\n";
		exit 0;
	}
}
if (system('bash', '-c', ". '$root/tests/lab/lab.sh' && lab_usable") != 0) {
	print "1..0 # SKIP needs a working 'ip netns' (container without CAP_SYS_ADMIN?)\n";
	exit 0;
}
my $real_probe = probe_bin();
if (!-x $real_probe) {
	print "1..0 # SKIP probe binary $real_probe not built\n";
	exit 0;
}
alarm 170;
$SIG{ALRM} = sub { die "scenarios.t: watchdog timed out\n" };
$SIG{INT} = $SIG{TERM} = sub { die "scenarios.t: interrupted\n" };

my $dir = tempdir('scenarios.XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;

lab_init($dir, $root);

END {
	my $rc = $?;
	if ($$ == $OWNER) {
		for my $h (@Probe::RUNNING) {
			next unless $h->{pid};
			kill 'KILL', $h->{pid};
			waitpid($h->{pid}, 0);
			$h->{pid} = undef;
		}
		lab_stop();
	}
	$? = $rc;
}

my $POSITIVE = sub { $_[0] > 0 };

# --- the probe inside the lab --------------------------------------------------

my %conf_base = (timeout => '300ms', retries => 1,
    identity => 'hostname.bind id.server');

sub conf
{
	my ($name, %o) = @_;
	my %probe = (%conf_base, %{ $o{probe} // {} });
	return make_conf("$dir/$name.conf", probe => \%probe,
	    targets => [ { name => 'lab', server => $o{server} // ['192.0.2.53',
		'2001:db8:53::53'], transport => $o{transport} // 'udp tcp',
		query => $o{query} // ['example.test SOA'] } ]);
}

# once(CONF, NAME): one --once round; returns (result, rows).
sub once
{
	my ($conf, $name) = @_;
	my $res = run_probe(args => ['--once', '-c', $conf], timeout => 15);
	my @rows = lp_parse_all($res->{out}, $name);
	return ($res, @rows);
}

# A long-running probe, driven by newlines on stdin as Telegraf does.
# round(P, PER, NAME): one newline, wait for PER more lines; returns the rows.
sub round
{
	my ($p, $per, $name) = @_;
	my $want = $p->n_lines + $per;
	$p->send("\n");
	my $got = $p->wait_for(10, sub { $_[0]->n_lines >= $want });
	my @l = ($p->lines)[$want - $per .. $p->n_lines - 1];
	my @rows = grep { defined } map { eval { lp_parse($_->{text}) } } @l;
	if (!$got || @rows != $per) {
		fail("$name: $per rows");
		diag("got:\n" . join('', map { "  $_->{text}\n" } @l)
		    . "stderr:\n" . $p->stderr);
	}
	return @rows;
}

# --- the lab ---------------------------------------------------------------------

my $big = join("\n", map { sprintf('big TXT "%s-%02d"', 'x' x 100, $_) } 1 .. 8);
lab_start(<<"EOS");
for i in 1 2 3; do LAB_ZONE_EXTRA[\$i]='$big'; done
LAB_SERIAL[2]=2023123100
LAB_NSID[4]=ams1; LAB_IDENTITY[4]=ams-1; LAB_ZONE_STATE[4]=refused
LAB_NSID[5]=cdg1; LAB_IDENTITY[5]=par-1; LAB_ZONE_STATE[5]=servfail
LAB_NSID[6]=; LAB_IDENTITY[6]=waw-1
EOS
my $t_up = time;
lab_ok('lab_up 6', 'lab_up 6 (NSD, Knot, BIND, REFUSED, SERVFAIL, NSID-off sites)')
    or BAIL_OUT('lab did not start');
note(sprintf('lab up in %.1f s', time - $t_up));
my (undef, $vantage) = lab('echo "$LAB_VANTAGE"');
my (undef, $labpid) = lab('echo $$');
write_file("$dir/probe", "#!/bin/sh\nexec ip netns exec '$vantage' '$real_probe' \"\$@\"\n");
chmod 0755, "$dir/probe";
$ENV{ANYCAST_PROBE} = "$dir/probe";

my %v4 = (family => 'ipv4');
my %v6 = (family => 'ipv6');
my %soa = (domain => 'example.test');
my %hb = (domain => 'hostname.bind');
my %ids = (domain => 'id.server');

# --- 1. catchment moves between rounds; 2. IPv4 and IPv6 on different sites ---
{
	my $conf = conf('s1');   # 2 addresses x udp/tcp x (SOA, hostname.bind, id.server)
	my $PER = 12;
	lab_ok('lab_catchment 1 both');
	my $p = spawn_probe('-c', $conf);
	my @r1 = round($p, $PER, 's1 round 1');
	my @r2 = round($p, $PER, 's1 round 2');
	rows_ok(\@r1, '1: round 1 on site 1: instance arn1 (nsid), instance_changed=false',
	    $PER, {}, tags => { result => 'success', instance => 'arn1',
		instance_source => 'nsid' },
	    fields => { instance_changed => ['bool', 0], nsid => ['string', 'arn1'] });
	rows_ok(\@r2, '1: round 2, same site: instance_changed=false', $PER, {},
	    tags => { instance => 'arn1' }, fields => { instance_changed => ['bool', 0] });
	lab_ok('lab_catchment 2 both', '1: catchment moves to site 2 (both families)');
	my @r3 = round($p, $PER, 's1 round 3');
	rows_ok(\@r3, '1: round 3: instance lhr1 and instance_changed=true on every row',
	    $PER, {}, tags => { result => 'success', instance => 'lhr1',
		instance_source => 'nsid' },
	    fields => { instance_changed => ['bool', 1], nsid => ['string', 'lhr1'] });
	rows_ok(\@r3, '1: round 3 hostname.bind rows say lon-1', 4, {%hb},
	    fields => { identity => ['string', 'lon-1'] });
	my @r4 = round($p, $PER, 's1 round 4');
	rows_ok(\@r4, '1: round 4, same site: instance_changed=false again', $PER, {},
	    tags => { instance => 'lhr1' }, fields => { instance_changed => ['bool', 0] });

	# 2: IPv6 moves back to site 1, IPv4 stays on site 2.
	lab_ok('lab_catchment 1 ipv6', '2: ipv6 catchment to site 1 (ipv4 stays on 2)');
	my @r5 = round($p, $PER, 's1 round 5');
	rows_ok(\@r5, '2: ipv4 rows: site 2 (lhr1, hop_limit 58 on udp), unchanged', 6, {%v4},
	    tags => { instance => 'lhr1', instance_source => 'nsid' },
	    fields => { instance_changed => ['bool', 0], nsid => ['string', 'lhr1'] });
	rows_ok(\@r5, '2: ipv6 rows: site 1 (arn1), instance_changed=true', 6, {%v6},
	    tags => { instance => 'arn1', instance_source => 'nsid' },
	    fields => { instance_changed => ['bool', 1], nsid => ['string', 'arn1'] });
	rows_ok(\@r5, '2: udp hop_limit names the site per family: ipv4 58', 3,
	    { %v4, transport => 'udp' }, fields => { hop_limit => ['int', 58] });
	rows_ok(\@r5, '2: udp hop_limit: ipv6 61', 3, { %v6, transport => 'udp' },
	    fields => { hop_limit => ['int', 61] });
	rows_ok(\@r5, '2: identity per family: ipv4 lon-1', 2, { %v4, %hb },
	    fields => { identity => ['string', 'lon-1'] });
	rows_ok(\@r5, '2: identity per family: ipv6 sthlm-1', 2, { %v6, %hb },
	    fields => { identity => ['string', 'sthlm-1'] });
	$p->close_stdin;
	is($p->wait_exit(2), 0, '1/2: probe exits 0 on stdin EOF');
	is($p->partial, '', '1/2: no partial line');
}

# --- 3. a site's server dies; then the route moves away (failover) ---------------
{
	my $conf = conf('s3');
	my $PER = 12;
	lab_ok('lab_catchment 2 both');
	my $p = spawn_probe('-c', $conf);
	my @r1 = round($p, $PER, 's3 round 1');
	rows_ok(\@r1, '3: before: site 2 answers', $PER, {},
	    tags => { result => 'success', instance => 'lhr1' });

	# The process dies, the host lives: ICMP port unreachable / TCP RST.
	lab_ok('lab_kill_site_server 2', '3: site 2 server killed');
	my $t = time;
	my @r2 = round($p, $PER, 's3 round 2');
	my $el = time - $t;
	rows_ok(\@r2, '3: server dead, host up: error "connection refused", no timing, no rcode, no instance',
	    $PER, {}, tags => { result => 'error', rcode => undef, instance => undef },
	    fields => { result_code => ['int', 2], attempts => ['int', 1],
		error => ['string', 'connection refused'], query_time_ms => undef,
		rcode_value => undef, instance_changed => undef });
	ok($el < 0.25, sprintf('3: refused round ends at once (%.3f s < 0.25 s, timeout 300ms)', $el));

	# The whole site goes silent (dead host): timeouts, attempts counted.
	lab_ok('lab_site_silent 2 on', '3: site 2 silent (no answers, no ICMP)');
	$t = time;
	my @r3 = round($p, $PER, 's3 round 3');
	$el = time - $t;
	rows_ok(\@r3, '3: silent site: timeout, attempts=2, no query_time_ms, no rcode, no instance',
	    $PER, {}, tags => { result => 'timeout', rcode => undef, instance => undef },
	    fields => { result_code => ['int', 1], attempts => ['int', 2],
		query_time_ms => undef, rcode_value => undef, error => undef,
		instance_changed => undef });
	ok($el >= 0.6 && $el < 1.5,
	    sprintf('3: the round took 2 attempts x 300ms (%.3f s)', $el));

	# Failover: the route moves to site 1.
	lab_ok('lab_catchment 1 both', '3: failover: catchment to site 1');
	my @r4 = round($p, $PER, 's3 round 4');
	rows_ok(\@r4, '3: after failover: success with the new instance arn1, instance_changed=true',
	    $PER, {}, tags => { result => 'success', rcode => 'NOERROR', instance => 'arn1' },
	    fields => { query_time_ms => ['float', $POSITIVE], attempts => ['int', 1],
		instance_changed => ['bool', 1] });
	my @r5 = round($p, $PER, 's3 round 5');
	rows_ok(\@r5, '3: next round: arn1, instance_changed=false', $PER, {},
	    tags => { instance => 'arn1' }, fields => { instance_changed => ['bool', 0] });
	$p->close_stdin;
	is($p->wait_exit(2), 0, '3: probe exits 0');
	lab_ok('lab_site_silent 2 off');
	lab_ok('lab_start_site_server 2', '3: site 2 restarted');
}

# --- 4. a site serves an old zone ------------------------------------------------
{
	my $conf = conf('s4', probe => { identity => '' });
	lab_ok('lab_catchment 1 ipv4 && lab_catchment 2 ipv6', '4: ipv4 -> site 1, ipv6 -> site 2');
	my ($res, @rows) = once($conf, '4: old zone round');
	is($res->{rc}, 0, '4: exit 0');
	rows_ok(\@rows, '4: site 1 (arn1) serves serial 2024010101', 2, {%v4},
	    tags => { result => 'success', instance => 'arn1' },
	    fields => { serial => ['int', 2024010101] });
	rows_ok(\@rows, '4: site 2 (lhr1) lags: serial 2023123100, over udp and tcp', 2, {%v6},
	    tags => { result => 'success', instance => 'lhr1' },
	    fields => { serial => ['int', 2023123100] });
}

# --- 5. a site answers REFUSED / SERVFAIL ------------------------------------------
{
	my $conf = conf('s5');
	lab_ok('lab_catchment 4 ipv4 && lab_catchment 5 ipv6',
	    '5: ipv4 -> site 4 (REFUSED), ipv6 -> site 5 (SERVFAIL)');
	my ($res, @rows) = once($conf, '5: refused/servfail round');
	# SPEC: exit 0 when every query got a DNS answer; REFUSED is one.
	is($res->{rc}, 0, "5: --once exits 0 (every query got a DNS answer)");
	my %err = (result_code => ['int', 2], query_time_ms => ['float', $POSITIVE],
	    attempts => ['int', 1], answers => ['int', 0], serial => undef);
	rows_ok(\@rows, '5: REFUSED: result=error, rcode REFUSED, timing kept, instance ams1',
	    2, { %v4, %soa }, tags => { result => 'error', rcode => 'REFUSED',
		instance => 'ams1', instance_source => 'nsid' },
	    fields => { %err, rcode_value => ['int', 5], error => ['string', 'rcode REFUSED'] });
	rows_ok(\@rows, '5: SERVFAIL: result=error, rcode SERVFAIL, timing kept, instance cdg1',
	    2, { %v6, %soa }, tags => { result => 'error', rcode => 'SERVFAIL',
		instance => 'cdg1', instance_source => 'nsid' },
	    fields => { %err, rcode_value => ['int', 2], error => ['string', 'rcode SERVFAIL'] });
	rows_ok(\@rows, '5: the identity queries still succeed on both sites', 8,
	    { domain => qr/^(hostname\.bind|id\.server)$/ },
	    tags => { result => 'success', rcode => 'NOERROR' },
	    fields => { error => undef, identity => ['string', qr/^(ams-1|par-1)$/] });
}

# --- 6. no route for IPv6 ------------------------------------------------------
{
	my $conf = conf('s6', probe => { timeout => '2s', retries => 1 });
	lab_ok('lab_catchment 1 ipv4 && lab_catchment none ipv6', '6: ipv6 route removed');
	my ($res, @rows) = once($conf, '6: no ipv6 route');
	is($res->{rc}, 1, '6: --once exits 1');
	ok($res->{elapsed} < 1.0, sprintf(
	    '6: the round does not wait for the 2 s x 2 timeout (%.3f s < 1 s)', $res->{elapsed}));
	rows_ok(\@rows, '6: ipv6 rows: error "network unreachable" at once, attempts=1, no timing',
	    6, {%v6}, tags => { result => 'error', rcode => undef, instance => undef },
	    fields => { result_code => ['int', 2], attempts => ['int', 1],
		error => ['string', 'network unreachable'], query_time_ms => undef });
	rows_ok(\@rows, '6: ipv4 rows unaffected: success via site 1', 6, {%v4},
	    tags => { result => 'success', instance => 'arn1' },
	    fields => { query_time_ms => ['float', $POSITIVE], error => undef });
	lab_ok('lab_catchment 1 ipv6');
}

# --- 7. truncated UDP answer ---------------------------------------------------
{
	my $small = conf('s7', probe => { identity => '', edns_size => 512 },
	    query => ['big.example.test TXT']);
	my $large = conf('s7b', probe => { identity => '', edns_size => 1232 },
	    query => ['big.example.test TXT']);
	for my $s ([1, 'arn1', 'NSD'], [2, 'lhr1', 'Knot'], [3, 'fra1', 'BIND']) {
		my ($site, $nsid, $sw) = @$s;
		lab_ok("lab_catchment $site both");
		my ($res, @rows) = once($small, "7: $sw edns_size 512");
		rows_ok(\@rows, "7: $sw: udp answer truncated: tc=true, 0 answers, NOERROR, <= 512 bytes",
		    2, { transport => 'udp' },
		    tags => { result => 'success', rcode => 'NOERROR', instance => $nsid },
		    fields => { tc => ['bool', 1], answers => ['int', 0],
			response_bytes => ['int', sub { $_[0] <= 512 }] });
		rows_ok(\@rows, "7: $sw: the tcp row carries the full answer: 8 TXT, tc=false",
		    2, { transport => 'tcp' },
		    tags => { result => 'success', instance => $nsid },
		    fields => { tc => ['bool', 0], answers => ['int', 8],
			response_bytes => ['int', sub { $_[0] > 8 * 104 }] });
	}
	my ($res, @rows) = once($large, '7: edns_size 1232');
	rows_ok(\@rows, '7: with edns_size 1232 (the default) the same udp answer fits (tc=false, 8 answers)',
	    2, { transport => 'udp' }, fields => { tc => ['bool', 0], answers => ['int', 8] });
}

# --- 8. identity answers that differ from NSID -----------------------------------
{
	my $on = conf('s8', server => ['192.0.2.53']);
	my $off = conf('s8b', server => ['192.0.2.53'], probe => { nsid => 'no' });
	lab_ok('lab_catchment 2 ipv4', '8: ipv4 -> site 2 (Knot: nsid lhr1, identity lon-1)');
	my ($res, @rows) = once($on, '8: nsid on, site 2');
	rows_ok(\@rows, '8: NSID wins on every row that carries it (instance lhr1, source nsid)',
	    6, {}, tags => { instance => 'lhr1', instance_source => 'nsid' },
	    fields => { nsid => ['string', 'lhr1'] });
	rows_ok(\@rows, '8: the identity rows report their own answer lon-1 in `identity`', 4,
	    { domain => qr/^(hostname\.bind|id\.server)$/ },
	    fields => { identity => ['string', 'lon-1'], nsid => ['string', 'lhr1'] });
	rows_ok(\@rows, '8: SOA rows carry no identity field', 2, {%soa},
	    fields => { identity => undef });

	($res, @rows) = once($off, '8: nsid no, site 2');
	rows_ok(\@rows, '8: nsid=no: SOA rows take the round\'s hostname.bind (lon-1)', 2, {%soa},
	    tags => { instance => 'lon-1', instance_source => 'hostname.bind' },
	    fields => { nsid => undef });
	rows_ok(\@rows, '8: nsid=no: id.server rows use their own answer', 2, {%ids},
	    tags => { instance => 'lon-1', instance_source => 'id.server' });

	lab_ok('lab_catchment 3 ipv4', '8: ipv4 -> site 3 (BIND: hostname.bind fra-1, id.server fra1)');
	($res, @rows) = once($off, '8: nsid no, site 3');
	rows_ok(\@rows, '8: hostname.bind comes before id.server: SOA rows say fra-1', 2, {%soa},
	    tags => { instance => 'fra-1', instance_source => 'hostname.bind' });
	rows_ok(\@rows, '8: id.server rows: fra1 from their own answer', 2, {%ids},
	    tags => { instance => 'fra1', instance_source => 'id.server' },
	    fields => { identity => ['string', 'fra1'] });

	lab_ok('lab_catchment 6 ipv4', '8: ipv4 -> site 6 (BIND, NSID off, id.server empty)');
	($res, @rows) = once($on, '8: site without NSID');
	rows_ok(\@rows, '8: no NSID: SOA and hostname.bind rows say waw-1 from hostname.bind',
	    4, { domain => qr/^(example\.test|hostname\.bind)$/ },
	    tags => { instance => 'waw-1', instance_source => 'hostname.bind' },
	    fields => { nsid => undef });
	# An empty id.server answer falls back to the round's hostname.bind
	# (was lost before bc6fed5: rows were reset before later ones resolved).
	rows_ok(\@rows, '8: empty id.server answer: instance from the round\'s hostname.bind',
	    2, {%ids}, tags => { instance => 'waw-1', instance_source => 'hostname.bind' },
	    fields => { identity => undef });
	lab_ok('lab_catchment 1 both');
}

# --- 9. long run: 200 rounds as Telegraf drives them, catchment flips --------------
{
	my $conf = conf('s9');
	my $PER = 12;
	my $ROUNDS = 200;
	my $EVERY = 5;
	lab_ok('lab_catchment 1 both');
	my $p = spawn_probe('-c', $conf);
	my ($site, $flips, $caught) = (1, 0, 0);
	my (@bad_count, @bad_inst, @bad_changed, @bad_result, @bad_parse);
	my (%at20, %at200);
	my $t0 = time;
	for my $r (1 .. $ROUNDS) {
		my $flip = $r > 1 && ($r - 1) % $EVERY == 0;
		if ($flip) {
			$site = 3 - $site;
			my ($rc) = lab("lab_catchment $site both");
			die "lab_catchment failed\n" if $rc;
			$flips++;
		}
		my $want = $p->n_lines + $PER;
		$p->send("\n");
		$p->wait_for(10, sub { $_[0]->n_lines >= $want });
		# A whole round is flushed at once: nothing beyond PER lines.
		my @l = ($p->lines)[$want - $PER .. $p->n_lines - 1];
		push @bad_count, "round $r: " . scalar(@l) . " lines" if @l != $PER;
		my $inst = $site == 1 ? 'arn1' : 'lhr1';
		my $n_changed = 0;
		for my $line (@l) {
			my $row = eval { lp_parse($line->{text}) };
			if (!$row) { push @bad_parse, "round $r: $@"; next; }
			push @bad_result, "round $r: $row->{line}"
			    if ($row->{tags}{result} // '') ne 'success';
			push @bad_inst, "round $r: $row->{line}"
			    if ($row->{tags}{instance} // '') ne $inst;
			my $c = $row->{fields}{instance_changed};
			if (!$c || $c->{value} != ($flip ? 1 : 0)) {
				push @bad_changed, "round $r (flip: " . ($flip ? 'yes' : 'no')
				    . "): $row->{line}";
			}
			$n_changed++ if $c && $c->{value};
		}
		$caught++ if $flip && $n_changed == $PER;
		if ($r == 20 || $r == $ROUNDS) {
			open(my $fh, '<', "/proc/$p->{pid}/status") or die "status: $!\n";
			my %kb = map { /^(Vm\w+):\s+(\d+) kB/ ? ($1 => $2) : () } <$fh>;
			close $fh;
			if ($r == 20) { %at20 = %kb; } else { %at200 = %kb; }
		}
	}
	my $el = time - $t0;
	ok(!@bad_parse, "9: $ROUNDS rounds: every line parses strictly")
	    or diag(join("\n", @bad_parse[0 .. ($#bad_parse > 4 ? 4 : $#bad_parse)]));
	ok(!@bad_count, "9: every round complete: exactly $PER rows each")
	    or diag(join("\n", @bad_count[0 .. ($#bad_count > 4 ? 4 : $#bad_count)]));
	ok(!@bad_result, '9: every row result=success')
	    or diag(join("\n", @bad_result[0 .. ($#bad_result > 4 ? 4 : $#bad_result)]));
	ok(!@bad_inst, '9: every row names the site the route points to')
	    or diag(join("\n", @bad_inst[0 .. ($#bad_inst > 4 ? 4 : $#bad_inst)]));
	ok(!@bad_changed, '9: instance_changed=true exactly on flip rounds')
	    or diag(join("\n", @bad_changed[0 .. ($#bad_changed > 4 ? 4 : $#bad_changed)]));
	is($caught, $flips, "9: every flip caught ($flips flips)");
	is($flips, int(($ROUNDS - 1) / $EVERY), '9: the flips happened');
	# No leak: the heap and mappings do not grow at all, and RSS stays flat
	# (the probe touches its ID tables at start-up, so random message IDs do
	# not back new pages round after round): allow 512 KiB of noise.
	is($at200{VmData} // -1, $at20{VmData} // -2, sprintf(
	    '9: VmData flat: %s kB at round 20 and at round %d', $at20{VmData} // '?', $ROUNDS));
	ok(defined $at20{VmRSS} && defined $at200{VmRSS} && $at200{VmRSS} - $at20{VmRSS} < 512,
	    sprintf('9: RSS flat: %s kB at round 20, %s kB at round %d (< 512 KiB growth)',
		$at20{VmRSS} // '?', $at200{VmRSS} // '?', $ROUNDS));
	note(sprintf('9: %d rounds in %.1f s', $ROUNDS, $el));
	my $t = time;
	$p->close_stdin;
	is($p->wait_exit(1.5), 0, sprintf('9: exits 0 on stdin EOF (%.2f s)', time - $t));
	is($p->partial, '', '9: no partial line');
	my @e = grep { !/^[EWID]! / } split /\n/, $p->stderr;
	ok(!@e, '9: stderr lines carry E!/W!/I!/D! prefixes') or diag(join("\n", @e));
	unlike($p->stderr, qr/^[EW]! /m, '9: no errors or warnings on stderr')
	    or diag($p->stderr);
}

# --- nothing left behind ---------------------------------------------------------
lab_stop();
my @left = grep { /^aplab-\Q$labpid\E-/ } map { (split ' ')[0] } `ip netns list`;
is("@left", '', 'lab removed: no namespaces left');

done_testing();
