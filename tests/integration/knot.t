#!/usr/bin/perl
# --once rounds against a real Knot DNS with identity set and NSID disabled:
# the instance of the SOA rows comes from the same round's identity answer
# from the same address and transport (hostname.bind first, then id.server).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;
use Servers qw(start_knot kdig KNOT_SERIAL);

alarm 55;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('knot.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $knot = start_knot();
pass("Knot serves example.test on port $knot->{port}");
unlike(kdig('@127.0.0.1', '-p', $knot->{port}, '+nsid', 'example.test', 'SOA'),
    qr/NSID/, 'fixture: Knot sends no NSID');
like(kdig('@::1', '-p', $knot->{port}, '+short', 'CH', 'TXT', 'id.server'),
    qr/"\Q$knot->{identity}\E"/, 'fixture: Knot answers id.server');

sub round
{
	my ($identity, $label) = @_;
	my $conf = make_conf("$dir/$label.conf",
	    probe => { timeout => '2s', retries => 1, nsid => 'yes',
		identity => $identity },
	    targets => [ { name => 'knot', server => ['127.0.0.1', '::1'],
		port => $knot->{port}, transport => 'udp tcp',
		query => ['example.test SOA'] } ]);
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	is($r->{rc}, 0, "$label: --once exits 0") or diag($r->{err});
	stderr_prefixes_ok($r->{err}, "$label: stderr prefixes");
	return lp_parse_all($r->{out}, $label);
}

# --- identity = hostname.bind id.server
my @rows = round('hostname.bind id.server', 'both identities');
is(scalar @rows, 12, '12 rows: 2 addresses x 2 transports x 3 queries');
for my $addr ('127.0.0.1', '::1') {
	for my $tr ('udp', 'tcp') {
		my %sel = (server => $addr, transport => $tr);
		my @soa = rows_where(\@rows, %sel, domain => 'example.test');
		is(scalar @soa, 1, "$addr $tr: one SOA row") or next;
		row_is($soa[0], "$addr $tr SOA: instance from hostname.bind, no nsid",
		    tags => { result => 'success', rcode => 'NOERROR',
			record_type => 'SOA', class => 'IN',
			instance => $knot->{identity},
			instance_source => 'hostname.bind' },
		    fields => { nsid => undef, identity => undef,
			serial => ['int', KNOT_SERIAL], aa => ['bool', 1],
			attempts => ['int', 1], result_code => ['int', 0],
			query_time_ms => ['float', sub { $_[0] > 0 }] });
		for my $id ('hostname.bind', 'id.server') {
			my @m = rows_where(\@rows, %sel, domain => $id);
			is(scalar @m, 1, "$addr $tr: one $id row") or next;
			row_is($m[0], "$addr $tr $id: its own TXT answer is the instance",
			    tags => { record_type => 'TXT', class => 'CH',
				result => 'success', rcode => 'NOERROR',
				instance => $knot->{identity}, instance_source => $id },
			    fields => { identity => ['string', $knot->{identity}],
				nsid => undef, serial => undef,
				answers => ['int', 1] });
		}
	}
}

# --- identity = id.server only: the SOA rows fall back to id.server
@rows = round('id.server', 'id.server only');
is(scalar @rows, 8, '8 rows: 2 x 2 x (SOA + id.server)');
is(scalar(rows_where(\@rows, domain => 'hostname.bind')), 0, 'no hostname.bind rows');
for my $row (rows_where(\@rows, domain => 'example.test')) {
	row_is($row, "$row->{tags}{server} $row->{tags}{transport} SOA: instance from id.server",
	    tags => { instance => $knot->{identity}, instance_source => 'id.server' },
	    fields => { serial => ['int', KNOT_SERIAL] });
}

# --- no identity queries and no NSID: instance unknown, tags absent
@rows = round('', 'no identity');
is(scalar @rows, 4, '4 rows: 2 x 2 x SOA, no identity rows');
for my $row (@rows) {
	row_is($row, "$row->{tags}{server} $row->{tags}{transport}: no instance tags",
	    tags => { domain => 'example.test', result => 'success',
		instance => undef, instance_source => undef },
	    fields => { nsid => undef, serial => ['int', KNOT_SERIAL] });
}

done_testing();
