#!/usr/bin/perl
# Failures become rows: a port nobody listens on (ICMP port unreachable /
# TCP RST on loopback: `error` rows at once), a port that never answers
# (`timeout` rows after every attempt), exit code 1 with --once; ad-hoc
# -s/-q/-t mode; --format text.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;
use Servers qw(start_nsd start_silent free_port NSD_SERIAL);

alarm 55;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('failure.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $silent = start_silent();
my $closed = free_port();   # nobody listens here
pass("NSD on $nsd->{port}, silent port $silent->{port}, closed port $closed");

my @both = ('127.0.0.1', '::1');

# --- connection refused: error rows at once, no query_time_ms
{
	my $conf = make_conf("$dir/refused.conf",
	    probe => { timeout => '2s', retries => 1, identity => '' },
	    targets => [ { name => 'closed', server => \@both, port => $closed,
		transport => 'udp tcp', query => ['example.test SOA'] } ]);
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	is($r->{rc}, 1, 'refused: --once exits 1');
	ok($r->{elapsed} < 1.5, sprintf('refused: finished at once (%.3f s, timeout is 2 s)',
	    $r->{elapsed}));
	stderr_prefixes_ok($r->{err}, 'refused: stderr prefixes');
	my @rows = lp_parse_all($r->{out}, 'refused');
	is(scalar @rows, 4, 'refused: 4 rows (2 addresses x 2 transports)');
	for my $row (@rows) {
		my $t = $row->{tags};
		row_is($row, "refused $t->{server} $t->{transport}: result=error, connection refused",
		    tags => { target => 'closed', domain => 'example.test',
			result => 'error', rcode => undef, instance => undef },
		    fields => { error => ['string', 'connection refused'],
			result_code => ['int', 2], query_time_ms => undef,
			rcode_value => undef, serial => undef, attempts => 'int' });
	}
}

# --- silent port: timeout rows after 1 + retries attempts
{
	my $conf = make_conf("$dir/timeout.conf",
	    probe => { timeout => '300ms', retries => 1, identity => '' },
	    targets => [ { name => 'silent', server => \@both,
		port => $silent->{port}, transport => 'udp tcp',
		query => ['example.test SOA'] } ]);
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	is($r->{rc}, 1, 'timeout: --once exits 1');
	ok($r->{elapsed} >= 0.55 && $r->{elapsed} < 3,
	    sprintf('timeout: two 300 ms attempts, in parallel (%.3f s)', $r->{elapsed}));
	my @rows = lp_parse_all($r->{out}, 'timeout');
	is(scalar @rows, 4, 'timeout: 4 rows');
	for my $row (@rows) {
		my $t = $row->{tags};
		row_is($row, "timeout $t->{server} $t->{transport}: result=timeout, attempts=2i",
		    tags => { target => 'silent', result => 'timeout', rcode => undef,
			instance => undef },
		    fields => { result_code => ['int', 1], attempts => ['int', 2],
			query_time_ms => undef, rcode_value => undef, answers => undef,
			serial => undef, error => undef });
	}
}

# --- one failure among successes: exit 1, the successes still reported
{
	my $conf = make_conf("$dir/mixed.conf",
	    probe => { timeout => '2s', retries => 0, identity => '' },
	    targets => [
		{ name => 'nsd', server => ['127.0.0.1'], port => $nsd->{port},
		    transport => 'udp', query => ['example.test SOA'] },
		{ name => 'closed', server => ['127.0.0.1'], port => $closed,
		    transport => 'tcp', query => ['example.test SOA'] } ]);
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	is($r->{rc}, 1, 'one refused among successes: exit 1');
	my @rows = lp_parse_all($r->{out}, 'mixed');
	is(scalar(rows_where(\@rows, target => 'nsd', result => 'success')), 1,
	    'mixed: the NSD row is a success');
	is(scalar(rows_where(\@rows, target => 'closed', result => 'error')), 1,
	    'mixed: the closed port row is an error');
}

# --- ad-hoc mode
{
	my $r = run_probe(args => ['--once', '-s', "127.0.0.1#$nsd->{port}",
	    '-q', 'example.test SOA', '-t', 'tcp'], timeout => 20);
	is($r->{rc}, 0, 'ad hoc -s 127.0.0.1#PORT -q -t tcp: exit 0') or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, 'ad hoc tcp');
	ok(@rows >= 1, 'ad hoc: rows');
	is(scalar(rows_where(\@rows, transport => qr/^(?!tcp$)/)), 0, 'ad hoc -t tcp: only tcp rows');
	my @soa = rows_where(\@rows, domain => 'example.test', record_type => 'SOA');
	is(scalar @soa, 1, 'ad hoc: one example.test SOA row');
	row_is($soa[0], 'ad hoc SOA row', tags => { server => '127.0.0.1',
	    family => 'ipv4', transport => 'tcp', class => 'IN',
	    result => 'success', rcode => 'NOERROR', target => qr/./ },
	    fields => { serial => ['int', NSD_SERIAL], connect_ms => 'float',
		hop_limit => undef }) if @soa;
}
{
	my $r = run_probe(args => ['--once', '-s', "::1#$nsd->{port}", '-s',
	    "127.0.0.1#$nsd->{port}", '-q', 'example.test SOA'], timeout => 20);
	is($r->{rc}, 0, 'ad hoc two -s, default transport: exit 0') or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, 'ad hoc two servers');
	for my $a ('::1', '127.0.0.1') {
		is(scalar(rows_where(\@rows, server => $a, domain => 'example.test')), 1,
		    "ad hoc: one SOA row for $a");
	}
	is(scalar(rows_where(\@rows, transport => 'tcp')), 0, 'ad hoc: default transport is udp only');
}
{
	# -q defaults to ". SOA IN"; NSD is not authoritative for the root and
	# refuses: an error row with the rcode. REFUSED is still a DNS answer, so
	# --once exits 0 (SPEC: "Exit 0 when every query got a DNS answer").
	my $r = run_probe(args => ['--once', '-s', "127.0.0.1#$nsd->{port}"], timeout => 20);
	is($r->{rc}, 0, 'ad hoc default query ". SOA": REFUSED is an answer, exit 0');
	my @rows = lp_parse_all($r->{out}, 'ad hoc default query');
	my @root = rows_where(\@rows, domain => '.', record_type => 'SOA', class => 'IN');
	is(scalar @root, 1, 'ad hoc: the default query is . SOA IN');
	row_is($root[0], 'REFUSED: result=error with rcode and error',
	    tags => { result => 'error', rcode => 'REFUSED' },
	    fields => { result_code => ['int', 2], rcode_value => ['int', 5],
		error => ['string', 'rcode REFUSED'] }) if @root;
}
{
	my $r = run_probe(args => ['--once', '-s', '127.0.0.1#99999', '-q', 'example.test SOA']);
	is($r->{rc}, 2, 'ad hoc bad -s port (127.0.0.1#99999): exit 2');
	is($r->{out}, '', 'ad hoc bad -s: stdout empty');
}
# -s written the ways people write addresses with ports elsewhere
for my $s ("[::1]:$nsd->{port}", "[::1]#$nsd->{port}", "127.0.0.1:$nsd->{port}") {
	my $r = run_probe(args => ['--once', '-s', $s, '-q', 'example.test SOA']);
	is($r->{rc}, 0, "ad hoc -s $s: exit 0") or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, "ad hoc -s $s");
	is(scalar(rows_where(\@rows, domain => 'example.test', result => 'success')), 1,
	    "ad hoc -s $s: the SOA row succeeds");
}
{
	my $r = run_probe(args => ['--once', '-s', "127.0.0.1#$nsd->{port}",
	    '-q', 'example.test SOA', '-t', 'tcp', '-t', 'udp']);
	my @rows = lp_parse_all($r->{out}, 'ad hoc -t twice');
	is(scalar(rows_where(\@rows, domain => 'example.test')), 2,
	    'ad hoc -t tcp -t udp: both transports');
}

# --- --format text: an aligned table, a header and one row per query
{
	my $conf = make_conf("$dir/text.conf",
	    probe => { timeout => '2s', retries => 0, identity => 'hostname.bind' },
	    targets => [
		{ name => 'nsd', server => \@both, port => $nsd->{port},
		    transport => 'udp tcp', query => ['example.test SOA'] },
		{ name => 'silent-target', server => ['127.0.0.1'],
		    port => $silent->{port}, transport => 'udp', timeout => '300ms',
		    query => ['example.test SOA'] } ]);
	my $r = run_probe(args => ['--once', '--format', 'text', '-c', $conf], timeout => 20);
	is($r->{rc}, 1, '--format text with a timeout: exit 1');
	my @lines = grep { /\S/ } split /\n/, $r->{out};
	like(shift(@lines) // '', qr/^# \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$/,
	    'text: a title line with the round\'s time');
	is(scalar @lines, 11, 'text: a header and 10 rows (8 NSD + 2 silent)')
	    or diag($r->{out});
	my $h = $lines[0] // '';
	for my $col (qw(target server family transport port query result rcode ms
	    serial instance identity flags)) {
		like($h, qr/\b\Q$col\E/i, "text header names the $col column");
	}
	text_columns_ok(\@lines, 'text: columns aligned');
	ok(!grep({ /^dns_anycast[, ]/ } @lines), 'text: no line protocol');
	is(scalar(grep { /\bsuccess\b/ && /\Q$nsd->{nsid}\E/ } @lines), 8,
	    'text: 8 success rows show the NSD instance');
	is(scalar(grep { /\btimeout\b/ && /silent-target/ } @lines), 2,
	    'text: 2 timeout rows for the silent target');
	is(scalar(grep { /(?<![\w:.])::1(?![\w:.])/ } @lines), 4, 'text: 4 rows for ::1');
}

# --- a refused address does not taint others on the same socket: with
# IP_RECVERR the ICMP error leaves a pending socket error that the next
# send to ANOTHER server reports; that query must still succeed.
{
	my $conf = make_conf("$dir/mixed.conf",
	    probe => { timeout => '1s', retries => 0, identity => '', rate => 1000000 },
	    targets => [
		{ name => 'closed', server => ['127.0.0.1'], port => $closed,
		    query => ['example.test SOA'] },
		{ name => 'nsd', server => ['127.0.0.1'], port => $nsd->{port},
		    query => ['example.test SOA', 'example.test NS', 'www.example.test A'] } ]);
	for my $try (1 .. 3) {
		my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
		my @rows = lp_parse_all($r->{out}, "mixed $try");
		my @bad = grep { $_->{tags}{target} eq 'nsd' && $_->{tags}{result} ne 'success' } @rows;
		is(scalar @bad, 0, "mixed try $try: every NSD row succeeds next to a refused port")
		    or diag(join("\n", map { $_->{raw} // '' } @bad));
		is(scalar(grep { $_->{tags}{target} eq 'closed' &&
		    ($_->{fields}{error}{value} // '') eq 'connection refused' } @rows), 1,
		    "mixed try $try: the closed port's row is the refused one");
	}
}

done_testing();
