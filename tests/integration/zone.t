#!/usr/bin/perl
# zone.t - zone health per instance (issue 11): freshness against a
# reference, DNSSEC, expected rcodes; in the lab of tests/lab/lab.sh
# (network namespaces; needs root, skips without it), zones signed with
# ldns-signzone (tests/lab/sign.sh), a DS file as the trust anchor.
#
# One lab, seven sites; 1 and 2 share the service addresses 192.0.2.53 and
# 2001:db8:53::53 (the catchment picks one), the others are asked on their
# own link addresses (198.51.100.4i+2):
#   1 NSD   site A: valid signatures (7 days), serial N+1
#   2 Knot  site B: signatures expired a day ago, serial N
#   3 BIND  signed with the wrong key (the ZSK's tag), serial N+1
#   4 NSD   unsigned, serial 2^32 - 1
#   5 Knot  valid, and a new ZSK published here only (a rollover), N+1
#   6 BIND  the reference primary: valid, serial N+1
#   7 NSD   the reference of the wrap-around target: unsigned, serial 1
# Every config has `identity =` (no CHAOS rows) and self_metrics = yes: the
# dns_anycast_probe line ends each round. The lab runs in a bash child as
# in scenarios.t. Also checks conf/rssac047.conf with --check-config only.
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
my $OWNER = $$;
my $real_probe = probe_bin();

# --- the shipped RSSAC047 profile: parsed and checked, never sent to -------
SKIP: {
	skip "probe binary $real_probe not built", 3 unless -x $real_probe;
	my $res = run_probe(args => ['-c', "$root/conf/rssac047.conf", '--check-config'],
	    timeout => 10);
	is($res->{rc}, 0, 'conf/rssac047.conf: --check-config exits 0')
	    or diag($res->{err});
	my $letters = () = $res->{out} =~ /^\[target [a-m]\.root-servers\.net\]/mg;
	is($letters, 13, 'conf/rssac047.conf: 13 root server letters');
	like($res->{out}, qr/^timeout = 4s\n.*^retries = 0\n.*^dnssec = yes\n/ms,
	    'conf/rssac047.conf: 4 s timeout, no retries, DNSSEC');
}

if ($> != 0) {
	done_testing();
	print "# SKIP lab part: needs root (network namespaces)\n";
	exit 0;
}
for my $c (qw(ip nsd knotd named kdig ldns-signzone)) {
	if (system("command -v $c >/dev/null 2>&1") != 0) {
		done_testing();
		print "# SKIP lab part: $c not installed (make deps)\n";
		exit 0;
	}
}
if (!-x $real_probe
    || system('bash', '-c', ". '$root/tests/lab/lab.sh' && lab_usable") != 0) {
	done_testing();
	print "# SKIP lab part: no probe binary or no working 'ip netns'\n";
	exit 0;
}
alarm 170;
$SIG{ALRM} = sub { die "zone.t: watchdog timed out\n" };
$SIG{INT} = $SIG{TERM} = sub { die "zone.t: interrupted\n" };
$SIG{PIPE} = "IGNORE"; # a probe that exited early fails tests, not the script

my $dir = tempdir('zone.XXXXXX', TMPDIR => 1, CLEANUP => 1);
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

my $LIFETIME = 7 * 86400; # sign.sh's valid signatures
my $POSITIVE = sub { $_[0] > 0 };

# --- the lab ------------------------------------------------------------------

my $N = 2024060101;
lab_start(<<"EOS");
LAB_SIGN[1]=valid;    LAB_SERIAL[1]=@{[$N + 1]}
LAB_SIGN[2]=expired;  LAB_SERIAL[2]=$N
LAB_SIGN[3]=wrongkey; LAB_SERIAL[3]=@{[$N + 1]}
LAB_SIGN[4]=none;     LAB_SERIAL[4]=4294967295
LAB_SIGN[5]=valid;    LAB_SERIAL[5]=@{[$N + 1]}; LAB_NEWKEY[5]=1
LAB_SIGN[6]=valid;    LAB_SERIAL[6]=@{[$N + 1]}
LAB_SIGN[7]=none;     LAB_SERIAL[7]=1
EOS
lab_ok('lab_up 7', 'lab_up 7 (signed, expired, wrong key, unsigned, rollover, references)')
    or BAIL_OUT('lab did not start');
my (undef, $vantage) = lab('echo "$LAB_VANTAGE"');
my (undef, $ds) = lab('echo "$LAB_DS"');
my %tag;
for my $k (qw(ksk zsk zsk2)) { (undef, $tag{$k}) = lab("cat \"\$LAB_KEYS/$k.tag\""); }
my %link = map { my (undef, $a) = lab("lab_link_addr $_ ipv4"); ($_ => $a) } 1 .. 7;
write_file("$dir/probe", "#!/bin/sh\nexec ip netns exec '$vantage' '$real_probe' \"\$@\"\n");
chmod 0755, "$dir/probe";
$ENV{ANYCAST_PROBE} = "$dir/probe";
sub tags_of { join ' ', sort { $a <=> $b } map { $tag{$_} } @_ }

my %probe = (timeout => '1s', retries => 1, identity => '', dnssec => 'yes',
    self_metrics => 'yes');
my %lab_target = (name => 'lab', server => ['192.0.2.53', '2001:db8:53::53'],
    transport => 'udp tcp', zone => 'example.test', reference => $link{6},
    trust_anchor => $ds,
    query => ['example.test SOA', 'nx.example.test A rcode=NXDOMAIN']);

sub once
{
	my ($conf, $name) = @_;
	my $res = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	my @rows = grep { $_->{measurement} eq 'dns_anycast' }
	    lp_parse_all($res->{out}, $name);
	return ($res, @rows);
}

# A long-running probe, rounds triggered by a newline on stdin; a round
# ends with its dns_anycast_probe line. Returns that round's rows.
sub round
{
	my ($p, $name) = @_;
	my $start = $p->n_lines;
	$p->send("\n");
	my $done = $p->wait_for(15, sub {
		grep { $_->{text} =~ /^dns_anycast_probe[, ]/ } ($_[0]->lines)[$start .. $_[0]->n_lines - 1]
	});
	my @l = ($p->lines)[$start .. $p->n_lines - 1];
	fail("$name: the round ended") or diag($p->stderr) unless $done;
	return grep { $_->{measurement} eq 'dns_anycast' }
	    map { eval { lp_parse($_->{text}) } // () } @l;
}

my %soa = (domain => 'example.test', record_type => 'SOA', reference => undef);
my %nx = (domain => 'nx.example.test');
my %key = (record_type => 'DNSKEY');
my %ref = (reference => 'true');

# --- 1. catchment on A; 2. moved to B; stale clock; reference down ----------
{
	my $conf = make_conf("$dir/lab.conf", probe => \%probe, targets => [\%lab_target]);
	lab_ok('lab_catchment 1 both', 'catchment on site A');
	my $p = spawn_probe('-c', $conf);
	my @r = round($p, 'A round 1');
	rows_ok(\@r, 'A: SOA rows: dnssec=secure, rrsig_expires_in_s within the lifetime, serial_lag=0',
	    4, \%soa, tags => { result => 'success', dnssec => 'secure' },
	    fields => { serial => ['int', $N + 1], dnssec_error => undef,
		rrsig_expires_in_s => ['int', sub { $_[0] > 0 && $_[0] <= $LIFETIME }],
		serial_lag => ['int', 0], serial_stale_s => ['int', 0] });
	rows_ok(\@r, 'A: DNSKEY rows (one per address and transport): secure, dnskey_tags of KSK and ZSK',
	    4, \%key, tags => { domain => 'example.test', dnssec => 'secure' },
	    fields => { dnskey_tags => ['string', tags_of(qw(ksk zsk))],
		rrsig_expires_in_s => ['int', $POSITIVE] });
	rows_ok(\@r, 'A: nx.example.test A rcode=NXDOMAIN: result=success, signed denial secure',
	    4, \%nx, tags => { result => 'success', rcode => 'NXDOMAIN', dnssec => 'secure' },
	    fields => { result_code => ['int', 0], serial_lag => ['int', 0] });
	rows_ok(\@r, 'A: the reference row: reference=true, its serial, no dnssec tag',
	    undef, \%ref, tags => { result => 'success', dnssec => undef, domain => 'example.test' },
	    fields => { serial => ['int', $N + 1] });

	lab_ok('lab_catchment 2 both', 'catchment moved to site B');
	my @b1 = round($p, 'B round 1');
	my @soa_b1 = rows_ok(\@b1, 'B: SOA rows: bogus (signature expired), rrsig_expires_in_s < 0, serial_lag=1',
	    4, \%soa, tags => { result => 'success', dnssec => 'bogus' },
	    fields => { serial => ['int', $N], dnssec_error => ['string', 'signature expired'],
		rrsig_expires_in_s => ['int', sub { $_[0] < 0 }], serial_lag => ['int', 1],
		serial_stale_s => ['int', sub { $_[0] >= 0 }] });
	rows_ok(\@b1, 'B: DNSKEY rows bogus (signature expired)', 4, \%key,
	    tags => { dnssec => 'bogus' },
	    fields => { dnssec_error => ['string', 'signature expired'] });
	# The stale clock runs from the reference's N+1 (first seen in the
	# first round): it must grow with the time between rounds.
	my $t1 = time;
	sleep 1.2; # the quantity measured is time itself
	my @b2 = round($p, 'B round 2');
	my ($s1) = map { $_->{fields}{serial_stale_s}{value} } @soa_b1;
	my @soa_b2 = rows_where(\@b2, %soa);
	my ($s2) = map { $_->{fields}{serial_stale_s}{value} } @soa_b2;
	ok(defined $s1 && defined $s2 && $s2 >= $s1 + 1,
	    'B: serial_stale_s grows round by round') or diag("round 1: "
	    . ($s1 // 'none') . ", round 2: " . ($s2 // 'none'));

	lab_ok('lab_kill_site_server 6', 'the reference primary stops');
	my @d = round($p, 'reference down');
	rows_ok(\@d, 'reference down: its row fails (connection refused or timeout), no serial',
	    undef, \%ref, tags => { result => qr/^(error|timeout)$/ },
	    fields => { serial => undef });
	rows_ok(\@d, 'reference down: no serial_lag or serial_stale_s on any row', undef,
	    {}, fields => { serial_lag => undef, serial_stale_s => undef });
	rows_ok(\@d, 'reference down: DNSSEC still checked', 4, \%soa,
	    tags => { dnssec => 'bogus' });
	lab_ok('lab_start_site_server 6', 'the reference primary is back');
	my @back = round($p, 'reference back');
	rows_ok(\@back, 'reference back: serial_lag=1 again, the stale clock kept running',
	    4, \%soa, fields => { serial_lag => ['int', 1],
		serial_stale_s => ['int', sub { defined $s2 && $_[0] >= $s2 }] });
	$p->close_stdin;
	is($p->wait_exit(5), 0, 'the probe exits 0 on stdin EOF');
}

# --- 3. rollover, 4. wrong key, 5. unsigned with and without an anchor,
# --- 6. serial wrap-around ---------------------------------------------------
{
	my %one = (transport => 'udp tcp', zone => 'example.test', query => ['example.test SOA']);
	my $conf = make_conf("$dir/cases.conf", probe => \%probe, targets => [
	    { %one, name => 'rollover', server => [$link{5}], trust_anchor => $ds },
	    { %one, name => 'wrongkey', server => [$link{3}], trust_anchor => $ds },
	    { %one, name => 'unsigned', server => [$link{4}], trust_anchor => $ds },
	    { %one, name => 'plain', server => [$link{4}] },
	    { %one, name => 'wrap', server => [$link{4}], reference => $link{7} },
	]);
	my ($res, @r) = once($conf, 'cases');
	my %t = map { $_ => { target => $_ } } qw(rollover wrongkey unsigned plain wrap);
	rows_ok(\@r, 'rollover: the new key shows in that site\'s dnskey_tags', 2,
	    { %{ $t{rollover} }, %key }, tags => { dnssec => 'secure' },
	    fields => { dnskey_tags => ['string', tags_of(qw(ksk zsk zsk2))] });
	rows_ok(\@r, 'rollover: the SOA still secure (signed by the old ZSK)', 2,
	    { %{ $t{rollover} }, %soa }, tags => { dnssec => 'secure' });
	rows_ok(\@r, 'wrong key: SOA bogus, dnssec_error="bad signature"', 2,
	    { %{ $t{wrongkey} }, %soa }, tags => { dnssec => 'bogus' },
	    fields => { dnssec_error => ['string', 'bad signature'],
		rrsig_expires_in_s => ['int', $POSITIVE] });
	rows_ok(\@r, 'wrong key: the DNSKEY set itself is fine', 2,
	    { %{ $t{wrongkey} }, %key }, tags => { dnssec => 'secure' });
	rows_ok(\@r, 'unsigned with an anchor: SOA bogus, "no signature"', 2,
	    { %{ $t{unsigned} }, %soa }, tags => { dnssec => 'bogus' },
	    fields => { dnssec_error => ['string', 'no signature'],
		rrsig_expires_in_s => undef });
	rows_ok(\@r, 'unsigned with an anchor: DNSKEY row bogus, no dnskey_tags', 2,
	    { %{ $t{unsigned} }, %key }, tags => { dnssec => 'bogus' },
	    fields => { dnssec_error => ['string', 'no DNSKEY matches the trust anchor'],
		dnskey_tags => undef });
	rows_ok(\@r, 'unsigned without an anchor: no dnssec tag, no DNSKEY query', 2,
	    { %{ $t{plain} } }, tags => { dnssec => undef, record_type => 'SOA',
		result => 'success' },
	    fields => { dnssec_error => undef, rrsig_expires_in_s => undef });
	rows_ok(\@r, 'wrap-around: 4294967295 against the reference\'s 1 is serial_lag=2', 2,
	    { %{ $t{wrap} }, %soa }, fields => { serial => ['int', 4294967295],
		serial_lag => ['int', 2], serial_stale_s => ['int', 0] });
	is($res->{rc}, 0, 'cases: --once exits 0 (every query answered as expected)')
	    or diag($res->{err});
}

# --- 7. expected rcodes decide result= and --once's exit code -------------------
{
	lab_ok('lab_catchment 1 both');
	my %t = (%lab_target, query => ['nx.example.test A rcode=NXDOMAIN']);
	delete $t{reference};
	my ($res, @r) = once(make_conf("$dir/nx.conf", probe => \%probe, targets => [\%t]),
	    'nx expected');
	rows_ok(\@r, 'rcode=NXDOMAIN: result=success on every address and transport', 4,
	    \%nx, tags => { result => 'success', rcode => 'NXDOMAIN' },
	    fields => { result_code => ['int', 0], error => undef });
	is($res->{rc}, 0, 'rcode=NXDOMAIN: --once exits 0') or diag($res->{err});
	$t{query} = ['nx.example.test A'];
	($res, @r) = once(make_conf("$dir/nx2.conf", probe => \%probe, targets => [\%t]),
	    'nx unexpected');
	# (--once still exits 0: every query got a DNS response.)
	rows_ok(\@r, 'without rcode=: NXDOMAIN is result=error', 4, \%nx,
	    tags => { result => 'error', rcode => 'NXDOMAIN' },
	    fields => { result_code => ['int', 2] });
}

done_testing();
