#!/usr/bin/perl
# Telegraf conformance (issue 3): the probe run by tests/lib/TelegrafExecd.pm,
# a model of Telegraf's [[inputs.execd]] (Gather per interval per `signal`,
# 1 s stdin write deadline, streaming line-protocol parse, stderr levels by
# prefix, stop = close stdin, 5 s, SIGTERM, 5 s, SIGKILL). execd.t checks
# the triggers one by one; this runs the probe the way Telegraf does, every
# signal mode, and counts what Telegraf would have received.
#
# Real vs emulated (issue 13): tests/integration/telegraf-real.t runs the
# same modes under the real Telegraf v1.39.3 (rounds whole, the stop at
# step 1, log levels, restart, config errors). What stays here is what a
# real Telegraf cannot be made to do on demand: the 1 s stdin write
# deadline against a program that never reads, a full stdin pipe, the
# SIGTERM (step 2) and SIGKILL (step 3) escalation, and exact accounting of
# which Gather started which round (slow rounds, coalesced triggers).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time sleep);
use Probe;
use Servers qw(start_nsd start_silent);
use TelegrafExecd;

alarm 60;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('telegraf.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $INTERVAL = 0.3;
my $GATHERS = 6;

# --- the driver itself, against stubs (so a broken driver cannot pass) -----
my @STUB = ($^X, '-e');
{
	# A program that never reads stdin: the pipe fills, the write deadline
	# turns the next Gather into an error after 1 s; it ignores stdin EOF,
	# so the stop needs SIGTERM (its default action ends it).
	my $t = TelegrafExecd->new(command => [@STUB, 'sleep 30'],
	    signal => 'STDIN', interval => 10, stop_timeout => 0.3)->start;
	my $g;
	for (1 .. 70000) { $g = $t->gather; last if $g->{error}; }
	like($g->{error} // '', qr/writing to stdin failed: i\/o timeout/,
	    'driver: a blocked stdin write fails at the 1 s deadline');
	ok($g->{done} - $g->{at} >= 0.95 && $g->{done} - $g->{at} < 1.5,
	    sprintf('driver: the deadline is 1 s (%.3f s)', $g->{done} - $g->{at}));
	my $s = $t->stop;
	is_deeply([@$s{qw(step signal)}], [2, 15], 'driver: stdin EOF ignored: SIGTERM ends it (step 2)');
}
{
	my $t = TelegrafExecd->new(command => [@STUB,
	    '$SIG{TERM} = "IGNORE"; sleep 1 while 1'],
	    signal => 'SIGUSR1', interval => 10, stop_timeout => 0.3)->start;
	$t->pump(0.2);
	my $s = $t->stop;
	is_deeply([@$s{qw(step signal)}], [3, 9], 'driver: SIGTERM ignored: SIGKILL ends it (step 3)');
	ok($s->{sigterm_at} >= 0.3 && $s->{sigkill_at} >= 0.6,
	    'driver: SIGTERM after one stop_timeout, SIGKILL after two');
}
{
	my $t = TelegrafExecd->new(command => [@STUB, '$| = 1; '
	    . 'print "m f=1i 1\nbad line\n\n"; print STDERR "W! careful\nplain\nE! bad\n"; '
	    . 'print "m f=2i 2"; exit 3'],
	    signal => 'none', interval => 10, restart_delay => 0.3)->start;
	my $t1 = time;
	$t->pump(0.05) while $t->exits < 2 && time - $t1 < 3;
	my @e = $t->unexpected_exits;
	ok(@e == 2 && $e[1]{at} - $e[0]{at} >= 0.3 && $e[0]{code} == 3,
	    'driver: an unexpected exit (status 3) is restarted after restart_delay');
	is(scalar($t->metrics), 4, 'driver: good lines are metrics, also an unterminated last one (twice: restarted)');
	is(scalar($t->parse_errors), 2, 'driver: a bad line is one parse error, skipped');
	is(scalar($t->ignored), 2, 'driver: blank lines are skipped');
	is_deeply([map { $_->{level} } ($t->logs)[0 .. 2]], [qw(warn error error)],
	    'driver: stderr levels by prefix; no prefix = error');
	ok((grep { $_->{level} eq 'error' && $_->{msg} =~ /exited: exit status 3/ } $t->agent_log),
	    'driver: the unexpected exit is logged at error level');
	$t->stop;
}

# --- the probe --------------------------------------------------------------
my $nsd = start_nsd();
my $silent = start_silent();

# A fast round: 127.0.0.1 and ::1, udp, SOA + hostname.bind = 4 rows.
my $PER = 4;
my %fast = (
    probe => { timeout => '2s', retries => 0, identity => 'hostname.bind' },
    targets => [ { name => 'nsd', server => ['127.0.0.1', '::1'],
	port => $nsd->{port}, transport => 'udp', query => ['example.test SOA'] } ]);
my $fast = make_conf("$dir/fast.conf", %fast);
my $timer = make_conf("$dir/timer.conf", %fast,
    probe => { %{ $fast{probe} }, interval => '300ms' });

sub query_key { my ($m) = @_; return join '|', map { $m->{row}{tags}{$_} // '' } qw(server domain) }

# One round: PER rows, each of the PER queries once, all answered.
sub round_complete
{
	my (@m) = @_;
	my %q = map { query_key($_) => 1 } @m;
	return @m == $PER && keys(%q) == $PER
	    && !grep { ($_->{row}{tags}{result} // '') ne 'success' } @m;
}

# What every mode shares: output, stderr, the stop.
sub common_checks
{
	my ($t, $label, %o) = @_;
	is(scalar($t->parse_errors), 0, "$label: no parse errors")
	    or diag(join '', map { "  $_->{error}: [$_->{line}]\n" } $t->parse_errors);
	is(scalar($t->ignored), 0, "$label: no blank or comment lines");
	is($t->partial_reads, 0, "$label: every read of stdout ended at a line end (rounds flushed whole)");
	is($t->partial_at_eof, '', "$label: no partial line at EOF");
	is(scalar($t->gather_errors), 0, "$label: no Gather errors")
	    or diag(join '', map { "  $_->{error}\n" } $t->gather_errors);
	is(scalar($t->unexpected_exits), 0, "$label: the probe never exited by itself");
	my @bad = grep { !$_->{prefixed} } $t->logs;
	ok(!@bad, "$label: every stderr line has a level prefix")
	    or diag(join '', map { "  [$_->{line}]\n" } @bad);
	my @err = $t->logs_at('error');
	ok(!@err, "$label: nothing logged at error level")
	    or diag(join '', map { "  [$_->{line}]\n" } @err);
	if (!$o{warn_ok}) {
		my @w = $t->logs_at('warn');
		ok(!@w, "$label: no warnings") or diag(join '', map { "  [$_->{line}]\n" } @w);
	}
	my $s = $t->stop;
	is($s->{step}, 1, "$label: the stop ends at step 1 (stdin close), no SIGTERM/SIGKILL");
	ok($s->{elapsed} < 1.0, sprintf('%s: exit within 1 s of the stdin close (%.3f s)',
	    $label, $s->{elapsed}));
	is($s->{code}, 0, "$label: exit code 0");
	# Anything written while stopping must be complete too.
	is($t->partial_at_eof, '', "$label: nothing partial written while stopping");
	is(scalar($t->parse_errors), 0, "$label: still no parse errors after the stop");
	return $s;
}

# --- signal = STDIN / SIGHUP / SIGUSR1 / SIGUSR2: one round per Gather ------
for my $mode (qw(STDIN SIGHUP SIGUSR1 SIGUSR2)) {
	my $t = TelegrafExecd->new(command => [probe_bin(), '-c', $fast],
	    signal => $mode, interval => $INTERVAL)->start;
	$t->run(gathers => $GATHERS);
	$t->run(seconds => $INTERVAL * 0.8);   # the last round; no 7th Gather
	my $by = $t->by_gather;
	my @g = $t->gathers;
	is(scalar(@g), $GATHERS, "$mode: $GATHERS Gathers");
	ok(!$by->{0}, "$mode: nothing before the first Gather");
	my @bad;
	for my $g (@g) {
		my @m = @{ $by->{ $g->{seq} } // [] };
		push @bad, sprintf('gather %d: %d rows', $g->{seq}, scalar @m)
		    unless round_complete(@m);
		my @early = grep { $_->{row}{ts} < $g->{wall_ns} - 1e6 } @m;
		push @bad, sprintf('gather %d: %d rows sent before it', $g->{seq}, scalar @early)
		    if @early;
	}
	ok(!@bad, "$mode: every Gather produced exactly one complete round of $PER rows, sent after it")
	    or diag(join '', map { "  $_\n" } @bad);
	is(scalar($t->metrics), $GATHERS * $PER, "$mode: $GATHERS x $PER metrics in all");
	common_checks($t, $mode);
}

# --- signal = "none": the probe's own interval = 300ms ----------------------
{
	my $t0 = time;
	my $t = TelegrafExecd->new(command => [probe_bin(), '-c', $timer],
	    signal => 'none', interval => $INTERVAL)->start;
	$t->run(gathers => $GATHERS);
	$t->run(seconds => $INTERVAL * 0.8);
	my $el = time - $t0;
	my @b = $t->rounds(0.1);
	my $expect = int($el / 0.3);
	ok(@b >= $expect - 1 && @b <= $expect + 1,
	    sprintf('none: %d rounds in %.2f s of a 300 ms timer (%d expected)', scalar @b, $el, $expect));
	my @bad = grep { !round_complete(@$_) } @b;
	ok(@b && !@bad, "none: every round complete ($PER rows)")
	    or diag(join '', map { '  round of ' . scalar(@$_) . " rows\n" } @bad);
	my @gap = map { $b[$_][0]{row}{ts} - $b[$_ - 1][0]{row}{ts} } 1 .. $#b;
	my @off = grep { $_ < 200e6 || $_ > 400e6 } @gap;
	ok(@gap && !@off, 'none: rounds 300 ms apart (200-400 ms)')
	    or diag(join ' ', map { sprintf '%.0fms', $_ / 1e6 } @gap);
	common_checks($t, 'none');
}

# --- slow rounds: a silent target times out at 500 ms, Gathers every 300 ms --
# No Gather is lost silently: each one starts a round or is said on stderr
# (W!); rows stay complete; the stop (during a round) still ends at step 1.
my $slow = make_conf("$dir/slow.conf",
    probe => { timeout => '500ms', retries => 0, identity => '' },
    targets => [
	{ name => 'nsd', server => ['127.0.0.1'], port => $nsd->{port},
	    transport => 'udp', query => ['example.test SOA'] },
	{ name => 'silent', server => ['127.0.0.1'], port => $silent->{port},
	    transport => 'udp', query => ['example.test SOA'] } ]);
for my $mode (qw(STDIN SIGUSR1)) {
	my $label = "slow $mode";
	my $t = TelegrafExecd->new(command => [probe_bin(), '-c', $slow],
	    signal => $mode, interval => $INTERVAL)->start;
	$t->run(gathers => $GATHERS);
	$t->pump(0.05);   # the last Gather's W!, if any, is on its way
	my @w = $t->logs_at('warn');
	# One W! per round at most: "N triggers during round R coalesced into
	# one pending round" (N Gathers asked for one round: N - 1 coalesced).
	my @cw = grep { $_->{msg} =~ /^\d+ triggers? during round \d+ coalesced into one pending round/ } @w;
	my %rnd;
	$rnd{$_}++ for map { $_->{msg} =~ /during round (\d+)/ } @cw;
	my @coal = map { ($_->{msg} =~ /^(\d+)/)[0] - 1 } @cw;
	my $coal = 0;
	$coal += $_ for @coal;
	ok(@cw && !grep({ $_ > 1 } values %rnd),
	    sprintf('%s: Gathers during a round are said on stderr, once a round (%d W!, %d coalesced)',
	    $label, scalar @cw, $coal));
	is(scalar(@w), scalar(@cw), "$label: no other warnings")
	    or diag(join '', map { "  [$_->{line}]\n" } @w);
	my $s = common_checks($t, $label, warn_ok => 1);
	my @b = $t->rounds(0.1);
	my @bad = grep {
		my @m = @$_;
		@m != 2 || !(grep { $_->{row}{tags}{target} eq 'silent'
		    && $_->{row}{tags}{result} eq 'timeout' } @m)
		    || !(grep { $_->{row}{tags}{target} eq 'nsd'
		    && $_->{row}{tags}{result} eq 'success' } @m);
	} @b;
	ok(@b >= 3 && !@bad, sprintf('%s: %d rounds, each complete (nsd success + silent timeout)',
	    $label, scalar @b)) or diag(join '', map { '  round: '
	    . join(' | ', map { $_->{line} } @$_) . "\n" } @bad);
	# Gathers = rounds started + W! coalesced (+ 1 pending round the stop
	# dropped, if the stop came while one was pending).
	my $rounds = $GATHERS - $coal;
	ok(@b == $rounds || @b == $rounds - 1,
	    sprintf('%s: every Gather accounted for: %d Gathers, %d coalesced, %d rounds',
	    $label, $GATHERS, $coal, scalar @b));
}

done_testing();
