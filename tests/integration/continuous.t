#!/usr/bin/perl
# The continuous mode by hand (-i INTERVAL, --count N) against real NSD and
# Knot on loopback: rounds on the probe's own timer, stdin neither a
# trigger nor an end, the summary per server and transport on stderr (at
# the end, on SIGINT), loss against a dead port, --format text tables with
# their time, and the `port` tag on every line whose port is not 53.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time);
use POSIX ();
use Probe;
use Servers qw(start_nsd start_knot free_port NSD_SERIAL KNOT_SERIAL);

alarm 90;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('continuous.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $knot = start_knot();
pass("NSD on port $nsd->{port}, Knot on port $knot->{port}");
my @targets = ('-s', "127.0.0.1#$nsd->{port}", '-s', "[::1]:$knot->{port}",
    '-q', 'example.test SOA');
my %inst = ('127.0.0.1' => $nsd->{nsid}, '::1' => $knot->{identity});
my %port = ('127.0.0.1' => $nsd->{port}, '::1' => $knot->{port});

# Summary lines on stderr, by server and transport.
sub summary_rows
{
	my ($err) = @_;
	my %s;
	for (split /\n/, $err) {
		next unless /^I! (\S+)\s+(\S+)\s+(udp|tcp)\s+(?:(\d+)\s+)?(\d+)\s+(\d+)\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$/;
		$s{"$2 $3" . (defined $4 ? " $4" : '')} = { server => $2,
		    transport => $3, target => $1, port => $4, sent => $5, answered => $6,
		    loss => $7, min => $8, median => $9, max => $10, instances => $11 };
	}
	return \%s;
}

# The summary row of SERVER over TRANSPORT (the first, whatever its port).
sub srow
{
	my ($s, $server, $tr) = @_;
	my ($x) = grep { $_->{server} eq $server && $_->{transport} eq $tr }
	    map { $s->{$_} } sort keys %$s;
	return $x;
}

# Rows grouped into rounds by the gaps between their timestamps.
sub rounds_of
{
	my (@rows) = @_;
	my @r;
	my $last;
	for my $row (sort { $a->{ts} <=> $b->{ts} } @rows) {
		push @r, [] if !defined $last || $row->{ts} - $last > 100e6;
		push @{ $r[-1] }, $row;
		$last = $row->{ts};
	}
	return @r;
}

# --- -i 200ms --count 3, line protocol: three rounds, then the summary
{
	my $r = run_probe(args => [@targets, '-i', '200ms', '--count', '3'],
	    stdin => "\n" x 20, timeout => 20);
	is($r->{rc}, 0, '--count 3: exit 0 (every query answered)')
	    or diag($r->{err});
	stderr_prefixes_ok($r->{err}, '--count 3: stderr lines all have a log prefix');
	my @rows = lp_parse_all($r->{out}, '--count 3');
	is(scalar @rows, 18, '18 rows: 3 rounds x 2 servers x 3 queries (stdin lines are no triggers)');
	my @rounds = rounds_of(@rows);
	is(scalar @rounds, 3, 'the rows fall into 3 rounds by their timestamps');
	for my $i (1 .. $#rounds) {
		my $gap = ($rounds[$i][0]{ts} - $rounds[$i - 1][0]{ts}) / 1e6;
		ok($gap >= 150 && $gap < 1000,
		    sprintf('round %d starts %.0f ms after round %d (-i 200ms)', $i + 1, $gap, $i));
	}
	for my $row (@rows) {
		my $s = $row->{tags}{server};
		next if row_is($row, "$s $row->{tags}{domain}: port tag and instance",
		    tags => { port => $port{$s}, result => 'success',
			instance => $inst{$s} }) || 1;
	}
	like($r->{err}, qr/^I! summary of 3 rounds:$/m, 'summary: 3 rounds');
	my $s = summary_rows($r->{err});
	for my $srv ('127.0.0.1', '::1') {
		my $x = srow($s, $srv, 'udp');
		ok($x, "summary has a row for $srv udp") or do { diag($r->{err}); next; };
		is($x->{sent}, 9, "$srv: sent 9 (3 rounds x 3 queries)");
		is($x->{answered}, 9, "$srv: answered 9");
		is($x->{loss}, '0.0', "$srv: loss 0.0%");
		is($x->{port}, $port{$srv}, "$srv: its port in the summary");
		ok($x->{min} > 0 && $x->{min} <= $x->{median} && $x->{median} <= $x->{max},
		    "$srv: 0 < min <= median <= max ($x->{min} $x->{median} $x->{max})");
		my @rtt = sort { $a <=> $b } map { $_->{fields}{query_time_ms}{value} }
		    rows_where(\@rows, server => $srv);
		ok(abs($x->{min} - $rtt[0]) < 0.0015 && abs($x->{max} - $rtt[-1]) < 0.0015,
		    "$srv: min and max are the rows' ($rtt[0], $rtt[-1])");
		like($x->{instances}, qr/^\Q$inst{$srv}\E \(9\)$/,
		    "$srv: instances seen: $inst{$srv} on all 9 rows");
	}
}

# --- --format text: a table per round with its time and the new columns
{
	my $r = run_probe(args => [@targets, '-t', 'udp', '-t', 'tcp', '-i', '200ms',
	    '--count', '3', '--format', 'text'], timeout => 20);
	is($r->{rc}, 0, 'text: exit 0') or diag($r->{err});
	my @tables = split /^(?=# \d{4}-)/m, $r->{out};
	is(scalar @tables, 3, 'text: three tables') or diag($r->{out});
	my @times;
	for my $t (@tables) {
		my @l = split /\n/, $t;
		my $title = shift @l;
		push @times, $1 if $title =~ /^# \d{4}-\d\d-\d\d \d\d:\d\d:(\d\d\.\d{3}) UTC$/;
		is(scalar @l, 13, 'text: a header and 12 rows (2 servers x 2 transports x 3 queries)');
		my $h = $l[0] // '';
		like($h, qr/^target\s+server\s+family\s+transport\s+port\s+query\s+result\s+rcode\s+ms\s+serial\s+instance\s+identity\s+flags$/,
		    'text: header with family, port, serial, identity, flags');
		text_columns_ok(\@l, 'text: columns aligned');
		my @soa = grep { /example\.test SOA/ } @l;
		is(scalar(grep { /\b(?:${\NSD_SERIAL}|${\KNOT_SERIAL})\b/ } @soa), 4,
		    'text: every SOA row shows its serial');
		is(scalar(grep { /\bipv6\b.*\b$knot->{port}\b/ } @l), 6,
		    'text: the ::1 rows show family and the Knot port');
		is(scalar(grep { /hostname\.bind TXT CH.*\Q$knot->{identity}\E\s+-\s*$/ } @l), 2,
		    'text: a hostname.bind row shows its TXT in the identity column');
		ok(scalar(grep { /example\.test SOA.*\saa\s*$/ } @soa) == 4,
		    'text: the SOA rows are flagged aa');
	}
	is(scalar @times, 3, 'text: every table has a timestamp title');
	like($r->{err}, qr/^I! summary of 3 rounds:$/m, 'text: the summary too');
	my $s = summary_rows($r->{err});
	is(scalar(keys %$s), 4, 'text: summary rows per server and transport (4)')
	    or diag($r->{err});
}

# --- loss: a dead port next to a live server; --count exits 1
{
	my $dead = free_port();
	my $r = run_probe(args => ['-s', "127.0.0.1#$nsd->{port}", '-s', "127.0.0.1#$dead",
	    '-q', 'example.test SOA', '--no-identity', '-i', '100ms', '--count', '2'],
	    timeout => 20);
	is($r->{rc}, 1, 'dead port: --count exits 1 (a query got no response)');
	my @rows = lp_parse_all($r->{out}, 'dead port');
	my @dead = rows_where(\@rows, port => $dead);
	ok(@dead >= 2 && !grep({ $_->{tags}{result} ne 'error' } @dead),
	    'dead port: its rows are errors (' . scalar(@dead) . ')');
	my $s = summary_rows($r->{err});
	my ($live) = grep { $_->{port} && $_->{port} == $nsd->{port} } values %$s;
	my ($gone) = grep { $_->{port} && $_->{port} == $dead } values %$s;
	ok($live && $gone, 'summary: a row for each port of 127.0.0.1')
	    or diag($r->{err});
	SKIP: {
		skip 'no summary rows', 4 unless $live && $gone;
		is($gone->{loss}, '100.0', 'dead port: loss 100.0%');
		is($gone->{answered}, 0, 'dead port: answered 0');
		is($gone->{min}, '-', 'dead port: no RTT');
		is($live->{loss}, '0.0', 'live port beside it: loss 0.0%');
	}
}

# --- Ctrl-C (SIGINT) mid-run: the summary, exit 0, quickly
{
	my $p = spawn_probe(@targets, '-i', '200ms');
	my $got = $p->wait_for(15, sub { $_[0]->n_lines >= 12 });
	ok($got, 'SIGINT: two rounds arrived before the signal');
	$p->send("\n\n"); # stdin lines are no triggers; its end is no end either
	$p->close_stdin;
	$p->drain_for(0.5);
	my $pid = $p->{pid};
	ok($pid && waitpid($pid, POSIX::WNOHANG()) == 0, 'stdin closed: still running');
	my $t0 = time;
	# by its PID only (an undefined PID would signal the process group)
	kill 'INT', $pid if $pid && $pid > 1;
	my $rc = $p->wait_exit(3);
	my $took = time - $t0;
	is($rc, 0, 'SIGINT: exit 0');
	ok($took < 1, sprintf('SIGINT: gone in %.3f s', $took));
	my $err = $p->stderr;
	my ($n) = $err =~ /^I! summary of (\d+) rounds?:$/m;
	ok($n && $n >= 2, 'SIGINT: the summary on stderr (' . ($n // 'none') . ' rounds)')
	    or diag($err);
	my @rows = map { lp_parse($_->{text}) } $p->lines;
	my $s = summary_rows($err);
	for my $srv ('127.0.0.1', '::1') {
		my $x = srow($s, $srv, 'udp');
		my $rows = () = rows_where(\@rows, server => $srv);
		# (a round cut off by the signal counts with the rows it printed)
		ok($x && $x->{sent} == $rows && $rows <= 3 * $n && $rows > 3 * ($n - 1),
		    "SIGINT: $srv sent " . ($x ? $x->{sent} : '?')
		    . " = its rows printed ($rows), 3 a round ($n rounds)");
	}
}

# --- the port tag by address form, --once
{
	my $r = run_probe(args => ['--once', '-s', "[::1]:$knot->{port}", '-s',
	    "127.0.0.1:$nsd->{port}", '-q', 'example.test SOA', '-t', 'udp tcp'],
	    timeout => 20);
	is($r->{rc}, 0, '--once [::1]:PORT and IPV4:PORT: exit 0') or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, 'ports');
	is(scalar @rows, 12, '12 rows');
	is(scalar(grep { ($_->{tags}{port} // '') eq $port{$_->{tags}{server}} } @rows), 12,
	    'every row has its server\'s port as the port tag');
	is(join(',', @{ $rows[0]{tag_keys} }[0 .. 5]),
	    'target,server,family,transport,port,domain',
	    'port comes right after transport');
	my $conf = make_conf("$dir/p53.conf", probe => { identity => '' },
	    targets => [ { name => 'p', server => ['127.0.0.1'], port => $nsd->{port},
		query => ['example.test SOA'] } ]);
	$r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	my ($row) = lp_parse_all($r->{out}, 'port = N in a config');
	is($row && $row->{tags}{port}, $nsd->{port}, '`port = N` in a config: the port tag');
}

done_testing();
