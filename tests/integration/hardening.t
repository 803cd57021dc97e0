#!/usr/bin/perl
# Process hardening: stdout gone (EPIPE) ends the probe cleanly instead of
# spinning; a tiny descriptor limit turns into queued TCP queries, not lost
# rows or a crash; a config of 10,000 targets loads well under a second;
# the probe needs no root.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(time sleep);
use Test::More;
use Probe;
use Servers qw(start_nsd start_silent have_cmd);

alarm 110;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('hardening.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $real = probe_bin();

# --- stdout closed: the next round's write fails with EPIPE -> exit, no spin
{
	my $conf = make_conf("$dir/epipe.conf", probe => { identity => '' },
	    targets => [ { name => 'nsd', server => ['127.0.0.1'],
		port => $nsd->{port}, query => ['example.test SOA'] } ]);
	pipe(my $in_r, my $in_w) or die;
	pipe(my $out_r, my $out_w) or die;
	my $pid = fork() // die;
	if ($pid == 0) {
		open(STDIN, '<&', $in_r); open(STDOUT, '>&', $out_w);
		open(STDERR, '>', "$dir/epipe.err");
		exec(probe_bin(), '-c', $conf) or _exit(127);
	}
	close $in_r; close $out_w; close $out_r;   # nobody reads stdout
	$in_w->autoflush(1);
	print $in_w "\n";
	my ($st, $t0) = (undef, time);
	while (time - $t0 < 5) {
		if (waitpid($pid, WNOHANG) == $pid) { $st = $?; last; }
		sleep 0.02;
	}
	if (!defined $st) { kill 'KILL', $pid; waitpid($pid, 0); }
	ok(defined $st, sprintf('stdout closed: the probe exits by itself (%.2f s)', time - $t0));
	is(defined $st ? $st : -1, 0, 'stdout closed: exit status 0, no signal (SIGPIPE is handled)');
	my $err = do { local (@ARGV, $/) = ("$dir/epipe.err"); <> } // '';
	like($err, qr/^I! stdout closed/m, 'stdout closed: said so on stderr');
	close $in_w;
}

# --- descriptor limit: 100 TCP queries at once with a limit of 40 fds
{
	my @q = map { "q$_.example.test A" } 1 .. 100;
	my $conf = make_conf("$dir/fd.conf",
	    probe => { identity => '', rate => 100000, timeout => '3s', retries => 0 },
	    targets => [ { name => 'nsd', server => ['127.0.0.1'], port => $nsd->{port},
		transport => 'tcp', query => \@q } ]);
	my $wrap = write_file("$dir/fdlimit.sh",
	    "#!/bin/sh\nulimit -n 40 || exit 3\nexec \"\$\@\"\n");
	chmod(0755, $wrap);
	local $ENV{ANYCAST_PROBE} = $wrap;
	my $r = run_probe(args => [$real, '--once', '-c', $conf],
	    timeout => 30);
	is($r->{rc}, 0, 'fd limit 40: --once exits 0 (every query got a response)')
	    or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, 'fd limit');
	is(scalar @rows, 100, 'fd limit 40: 100 rows, none lost');
	is(scalar(grep { defined $_->{tags}{rcode} } @rows), 100,
	    'fd limit 40: every row has a DNS response (queued, not failed)');
}

# --- descriptor limit with queries that time out: the queued ones still go
# out as the timed-out connections close (the round used to hang here).
{
	my $silent = start_silent();
	my @q = map { "t$_.example.test A" } 1 .. 20;
	my $conf = make_conf("$dir/fdto.conf",
	    probe => { identity => '', rate => 100000, timeout => '300ms', retries => 0 },
	    targets => [ { name => 'silent', server => ['127.0.0.1'], port => $silent->{port},
		transport => 'tcp', query => \@q } ]);
	my $wrap = write_file("$dir/fdlimit2.sh",
	    "#!/bin/sh\nulimit -n 40 || exit 3\nexec \"\$\@\"\n");
	chmod(0755, $wrap);
	local $ENV{ANYCAST_PROBE} = $wrap;
	my $r = run_probe(args => [$real, '--once', '-c', $conf], timeout => 15);
	ok(!$r->{timed_out} && $r->{elapsed} < 3,
	    sprintf('fd limit 40, 20 TCP timeouts: the round ends (%.2f s; 16 at once, then 4)',
		$r->{elapsed}));
	my @rows = lp_parse_all($r->{out}, 'fd limit timeouts');
	is(scalar(grep { $_->{tags}{result} eq 'timeout' } @rows), 20,
	    'fd limit 40: 20 timeout rows');
}

# --- a round whose every send fails at once (no packet leaves: the kernel
# refuses the broadcast address without SO_BROADCAST) is still printed in
# service mode, one round per trigger.
{
	my $conf = make_conf("$dir/instant.conf",
	    probe => { identity => '', rate => 1000000 },
	    targets => [ { name => 'refused', server => ['255.255.255.255'],
		query => ['example.test SOA'] } ]);
	my $p = spawn_probe('-c', $conf);
	$p->send("\n");
	ok($p->wait_for(5, sub { $_[0]->n_lines >= 1 }), 'instant round: printed');
	$p->send("\n");
	ok($p->wait_for(5, sub { $_[0]->n_lines >= 2 }), 'instant round: the second printed');
	$p->close_stdin;
	is($p->wait_exit(2), 0, 'instant rounds: exit 0 on EOF');
	is($p->n_lines, 2, 'instant rounds: one row per trigger');
	my @rows = lp_parse_all(join("", map { "$_->{text}\n" } $p->lines), "instant");
	is(scalar(grep { $_->{tags}{result} eq 'error' } @rows), 2, 'instant rounds: error rows');
}

# --- 10,000 targets: --check-config well under a second
{
	my $t = "[probe]\nidentity = hostname.bind id.server\n";
	for my $i (1 .. 10000) {
		my $a = sprintf('192.0.%d.%d', 2, $i % 250 + 1);
		$t .= "[target t$i]\nserver = $a\nserver = 2001:db8::" . sprintf('%x', $i)
		    . "\nquery = example.test SOA\ntag.n = $i\n";
	}
	my $conf = write_file("$dir/big.conf", $t);
	my $r = run_probe(args => ['--check-config', '-c', $conf], timeout => 30);
	is($r->{rc}, 0, '10,000 targets: --check-config exits 0') or diag(substr($r->{err}, 0, 500));
	ok($r->{elapsed} < 1.0, sprintf('10,000 targets: loaded and printed in %.3f s (< 1 s)',
	    $r->{elapsed}));
	my $n = () = $r->{out} =~ /^\[target t\d+\]/mg;
	is($n, 10000, '10,000 targets: all printed');
}

# --- no root needed
SKIP: {
	skip 'not root: already unprivileged', 2 if $> != 0;
	skip 'setpriv not installed', 2 unless have_cmd('setpriv');
	my $conf = make_conf("$dir/nobody.conf", probe => { identity => 'hostname.bind' },
	    targets => [ { name => 'nsd', server => ['127.0.0.1', '::1'],
		port => $nsd->{port}, transport => 'udp tcp',
		query => ['example.test SOA'] } ]);
	chmod(0755, $dir); chmod(0644, $conf);
	my $wrap = write_file("$dir/nobody.sh",
	    "#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups \"\$\@\"\n");
	chmod(0755, $wrap);
	local $ENV{ANYCAST_PROBE} = $wrap;
	my $r = run_probe(args => [$real, '--once', '-c', $conf], timeout => 20);
	is($r->{rc}, 0, 'as nobody: --once exits 0') or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, 'nobody');
	is(scalar(grep { $_->{tags}{result} eq 'success' && defined $_->{fields}{hop_limit} }
	    grep { $_->{tags}{transport} eq 'udp' } @rows), 4,
	    'as nobody: UDP rows succeed with hop_limit (no privilege needed)');
}
done_testing();
