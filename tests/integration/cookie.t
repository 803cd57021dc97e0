#!/usr/bin/perl
# DNS COOKIE (RFC 7873) against real servers: BIND (cookies by default),
# Knot with mod-cookies (answers a query with only a client cookie by
# BADCOOKIE and its server cookie over UDP), NSD 4.6 (no cookie support);
# and a lying server (tests/lib/liar.pl) for what no real server does: a
# COOKIE option with another client cookie (a spoof: dropped, the query
# times out) and a malformed one (8 bytes: malformed response).
# Fields: `cookie` = ok / none (SPEC "Fields, added"); absent with
# `cookies = no`. The server cookie is remembered and sent back: in the
# second round Knot answers every UDP query at the first attempt (a query
# without its server cookie would get BADCOOKIE again).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IPC::Open2;
use Time::HiRes qw(time);
use Test::More;
use Probe;
use Servers qw(start_nsd start_knot start_bind have_cmd);

alarm 120;
plan skip_all => 'named not installed (make deps)' unless have_cmd('named');
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('cookie.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bind = start_bind();
my $knot = start_knot(cookies => 1);
my $nsd = start_nsd();

# The liar, held by a pipe (it exits at EOF).
my $liar_pid = open2(my $liar_out, my $liar_in, 'perl', "$FindBin::Bin/../lib/liar.pl");
my $ready = <$liar_out> // '';
my ($liar_port) = $ready =~ /^READY (\d+)/;
ok($liar_port, 'liar ready') or BAIL_OUT("liar: $ready");

sub target
{
	my ($name, $srv_port, %o) = @_;
	return { name => $name, server => ['127.0.0.1', '::1'], port => $srv_port,
	    transport => 'udp tcp', query => ['example.test SOA'], %o };
}

my $conf = make_conf("$dir/c.conf",
    probe => { timeout => '1s', retries => 1, identity => '' },
    targets => [ target('bind', $bind->{port}), target('knot', $knot->{port}),
	target('nsd', $nsd->{port}),
	target('right', $liar_port, query => ['rightcookie.liar.test A']),
	target('wrong', $liar_port, query => ['wrongcookie.liar.test A'], retries => 0),
	target('short', $liar_port, query => ['shortcookie.liar.test A'], retries => 0) ]);

my $p = spawn_probe('-c', $conf);
my @rounds;
for my $r (1 .. 2) {
	my $want = 24 * $r;   # 6 targets x 2 addresses x 2 transports
	$p->send("\n");
	ok($p->wait_for(20, sub { $_[0]->n_lines >= $want }), "round $r: 24 rows");
	my @l = ($p->lines)[ $want - 24 .. $want - 1 ];
	push @rounds, [ map { lp_parse($_->{text}) } grep { defined } @l ];
}
$p->close_stdin;
is($p->wait_exit(5), 0, 'probe exits 0 at EOF');

for my $r (1 .. 2) {
	my $rows = $rounds[ $r - 1 ];
	for my $fam (qw(ipv4 ipv6)) {
		for my $tr (qw(udp tcp)) {
			my %sel = (family => $fam, transport => $tr);
			my $label = "round $r $fam $tr";
			my ($b) = rows_where($rows, target => 'bind', %sel);
			row_is($b // {}, "$label: BIND success, cookie=ok",
			    tags => { result => 'success' }, fields => { cookie => ['string', 'ok'] });
			my ($k) = rows_where($rows, target => 'knot', %sel);
			row_is($k // {}, "$label: Knot (mod-cookies) success, cookie=ok",
			    tags => { result => 'success', rcode => 'NOERROR' },
			    fields => { cookie => ['string', 'ok'],
				($r == 2 ? (attempts => ['int', 1]) : ()) });
			my ($n) = rows_where($rows, target => 'nsd', %sel);
			row_is($n // {}, "$label: NSD success, cookie=none",
			    tags => { result => 'success' }, fields => { cookie => ['string', 'none'] });
			my ($ok) = rows_where($rows, target => 'right', %sel);
			row_is($ok // {}, "$label: liar echoing our client cookie: cookie=ok",
			    tags => { result => 'success' }, fields => { cookie => ['string', 'ok'] });
			my ($w) = rows_where($rows, target => 'wrong', %sel);
			row_is($w // {}, "$label: a wrong client cookie is a spoof, never an answer",
			    tags => { result => $tr eq 'udp' ? 'timeout' : qr/^(timeout|error)$/ },
			    fields => { cookie => undef, rcode_value => undef });
			my ($s) = rows_where($rows, target => 'short', %sel);
			row_is($s // {}, "$label: an 8-byte COOKIE option is a malformed response",
			    tags => { result => 'error' },
			    fields => { error => ['string', 'malformed response'] });
		}
	}
}

# cookies = no: no option sent, no field.
{
	my $off = make_conf("$dir/off.conf",
	    probe => { timeout => '1s', identity => '', cookies => 'no' },
	    targets => [ target('bind', $bind->{port}), target('knot', $knot->{port}) ]);
	my $r = run_probe(args => ['--once', '-c', $off]);
	is($r->{rc}, 0, 'cookies = no: --once exits 0');
	my @rows = lp_parse_all($r->{out}, 'cookies = no');
	is(scalar(@rows), 8, 'cookies = no: 8 rows');
	is(scalar(grep { exists $_->{fields}{cookie} } @rows), 0, 'cookies = no: no cookie field');
	is(scalar(grep { $_->{tags}{result} ne 'success' } @rows), 0,
	    'cookies = no: every row a success (Knot sends no BADCOOKIE without a cookie)');
}

close $liar_in;
waitpid($liar_pid, 0);
done_testing();
