#!/usr/bin/perl
# Back-pressure and triggers, as a misbehaving Telegraf would test them:
#  - a stdout (or stderr) reader that stops reading: the pipe is filled
#    before the probe writes, then SIGTERM or stdin EOF; the probe must exit
#    0 within 1 s and say what it dropped;
#  - a slow stdout reader cut off by SIGTERM: every byte it got is whole
#    lines of valid line protocol;
#  - stdin that cannot be polled (/dev/zero): no CPU burnt, signals still
#    trigger rounds, SIGTERM ends it within 1 s;
#  - a signal storm (5,000 SIGUSR1 in about a second) during slow rounds: at
#    most one W! line per round about coalesced triggers, and it still exits
#    on SIGTERM within 1 s.
# Every exit time is measured from the signal (or EOF) to waitpid.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG _exit EAGAIN);
use Time::HiRes qw(time sleep);
use Test::More;
use Probe;
use Servers qw(start_nsd start_silent);

alarm 150;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('trust.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $silent = start_silent();
my $LIMIT = 1.0;   # seconds from SIGTERM / EOF to exit (SPEC)

my $conf = make_conf("$dir/nsd.conf", probe => { identity => '', timeout => '1s' },
    targets => [ { name => 'nsd', server => ['127.0.0.1', '::1'],
	port => $nsd->{port}, transport => 'udp tcp',
	query => [ map { "q$_.example.test A" } 1 .. 50 ] } ]);
my $slow = make_conf("$dir/silent.conf",
    probe => { identity => '', timeout => '1s', retries => 0 },
    targets => [ { name => 'quiet', server => ['127.0.0.1'],
	port => $silent->{port}, query => ['example.test SOA'] } ]);

sub nonblock { my ($fh) = @_; my $f = fcntl($fh, F_GETFL, 0); fcntl($fh, F_SETFL, $f | O_NONBLOCK); }

# Fill the pipe of write end FH until the kernel takes no more.
sub fill_pipe
{
	my ($fh) = @_;
	nonblock($fh);
	my $n = 0;
	my $chunk = "# filler\n" x 455;
	while (1) {
		my $w = syswrite($fh, $chunk);
		last unless defined $w && $w > 0;
		$n += $w;
	}
	return $n;
}

# spawn(stdin => 'pipe'|PATH, fill => 'stdout'|'stderr'|undef, args => [...])
# Returns { pid, in, out, err, filled } with out/err the read ends.
sub spawn
{
	my (%o) = @_;
	my ($in_r, $in_w);
	pipe(my $out_r, my $out_w) or die;
	pipe(my $err_r, my $err_w) or die;
	pipe($in_r, $in_w) or die if ($o{stdin} // 'pipe') eq 'pipe';
	my $filled = 0;
	$filled = fill_pipe($out_w) if ($o{fill} // '') eq 'stdout';
	$filled = fill_pipe($err_w) if ($o{fill} // '') eq 'stderr';
	my $pid = fork() // die;
	if ($pid == 0) {
		if ($in_r) { open(STDIN, '<&', $in_r) or _exit(127); }
		else { open(STDIN, '<', $o{stdin}) or _exit(127); }
		open(STDOUT, '>&', $out_w) or _exit(127);
		open(STDERR, '>&', $err_w) or _exit(127);
		# Blocking, as Telegraf hands them over.
		for my $fh (\*STDOUT, \*STDERR) {
			my $f = fcntl($fh, F_GETFL, 0);
			fcntl($fh, F_SETFL, $f & ~O_NONBLOCK);
		}
		$SIG{$_} = 'DEFAULT' for qw(PIPE TERM INT HUP USR1 USR2);
		exec(probe_bin(), @{ $o{args} }) or _exit(127);
	}
	close $out_w; close $err_w;
	close $in_r if $in_r;
	$in_w->autoflush(1) if $in_w;
	nonblock($_) for $out_r, $err_r;
	my $h = { pid => $pid, in => $in_w, out => $out_r, err => $err_r,
	    filled => $filled };
	push @Probe::RUNNING, $h;
	return $h;
}

# Read what is there now (non-blocking), appending to $h->{KEY.'_buf'}.
sub slurp_now
{
	my ($h, $key) = @_;
	while (1) {
		my $n = sysread($h->{$key}, my $buf, 65536);
		last unless $n;
		$h->{"${key}_buf"} .= $buf;
	}
	return $h->{"${key}_buf"} // '';
}

# Wait for exit; returns (exit code or -1 for a signal or undef if still
# running after LIMIT, seconds waited).
sub wait_exit
{
	my ($h, $t0, $limit, $read) = @_;
	while (time - $t0 < $limit) {
		if ($read) { slurp_now($h, 'out'); slurp_now($h, 'err'); }
		if (waitpid($h->{pid}, WNOHANG) == $h->{pid}) {
			my $st = $?;
			my $dt = time - $t0;
			$h->{pid} = undef;
			return (($st & 127) ? -1 : $st >> 8, $dt);
		}
		sleep 0.002;
	}
	return (undef, time - $t0);
}

sub reap
{
	my ($h) = @_;
	return unless $h->{pid};
	kill 'KILL', $h->{pid};
	waitpid($h->{pid}, 0);
	$h->{pid} = undef;
}

# Wait until the probe's stderr shows RE (a readiness check, not a sleep).
sub wait_stderr
{
	my ($h, $re, $timeout) = @_;
	my $end = time + $timeout;
	while (time < $end) {
		return 1 if slurp_now($h, 'err') =~ $re;
		sleep 0.01;
	}
	return 0;
}

sub cpu_s
{
	my ($pid) = @_;
	open(my $f, '<', "/proc/$pid/stat") or return 0;
	my @f = split ' ', (<$f> =~ s/^.*\) //r);
	return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# --- a stdout reader that never reads, then SIGTERM or stdin EOF ----------
for my $how ('SIGTERM', 'stdin EOF') {
	my $h = spawn(fill => 'stdout', args => ['-v', '-c', $conf]);
	ok(wait_stderr($h, qr/^I! .*ready/m, 10), "stdout full, $how: probe ready");
	syswrite($h->{in}, "\n");
	# -v: the round's summary line comes as its rows go to stdout.
	ok(wait_stderr($h, qr/^D! round 1: 200 rows/m, 10),
	    "stdout full, $how: the round ran");
	my $t0 = time;
	if ($how eq 'SIGTERM') { kill 'TERM', $h->{pid}; }
	else { close $h->{in}; }
	my ($rc, $dt) = wait_exit($h, $t0, 5);
	ok(defined $rc && $dt <= $LIMIT,
	    sprintf("stdout full, $how: exits within %.1f s (%.3f s)", $LIMIT, $dt));
	is($rc, 0, "stdout full, $how: exit status 0");
	reap($h);
	my $err = slurp_now($h, 'err');
	like($err, qr/^W! shutting down: 1 rounds \(\d+ lines\).*not written/m,
	    "stdout full, $how: the dropped round is counted on stderr")
	    or diag($err);
	my $out = slurp_now($h, 'out');
	my $mine = substr($out, $h->{filled});
	ok($mine eq '' || $mine =~ /\n\z/, "stdout full, $how: no partial line");
}

# --- a stderr reader that never reads --------------------------------------
for my $how ('SIGTERM', 'stdin EOF') {
	my $h = spawn(fill => 'stderr', args => ['-v', '-c', $conf]);
	# stdout is read: the round's rows arrive although stderr is stuck.
	syswrite($h->{in}, "\n");
	my $end = time + 10;
	my $rows = 0;
	while (time < $end) {
		$rows = () = slurp_now($h, 'out') =~ /\n/g;
		last if $rows >= 200;
		sleep 0.01;
	}
	is($rows, 200, "stderr full, $how: the round's 200 rows still reach stdout");
	my $t0 = time;
	if ($how eq 'SIGTERM') { kill 'TERM', $h->{pid}; }
	else { close $h->{in}; }
	my ($rc, $dt) = wait_exit($h, $t0, 5);
	ok(defined $rc && $dt <= $LIMIT,
	    sprintf("stderr full, $how: exits within %.1f s (%.3f s)", $LIMIT, $dt));
	is($rc, 0, "stderr full, $how: exit status 0");
	reap($h);
	my @rows = grep { length } split /\n/, slurp_now($h, 'out');
	my $bad = grep { !eval { lp_parse($_); 1 } } @rows;
	is($bad, 0, "stderr full, $how: every stdout line is valid line protocol");
}

# --- a slow stdout reader, cut off by SIGTERM ------------------------------
{
	my @q = map { "slow$_.example.test A" } 1 .. 400;
	my $big = make_conf("$dir/big.conf", probe => { identity => '', rate => 100000 },
	    targets => [ { name => 'nsd', server => ['127.0.0.1', '::1'],
		port => $nsd->{port}, transport => 'udp tcp', query => \@q } ]);
	my $h = spawn(args => ['-c', $big]);
	syswrite($h->{in}, "\n" x 3);   # a round and one pending
	my $got = '';
	my $t_start = time;
	# 2 KiB every 20 ms: ~100 KB/s, slower than the probe writes.
	while (time - $t_start < 1.5) {
		my $n = sysread($h->{out}, my $buf, 2048);
		$got .= $buf if $n;
		sleep 0.02;
	}
	my $t0 = time;
	kill 'TERM', $h->{pid};
	my ($rc, $dt);
	while (1) {
		my $n = sysread($h->{out}, my $buf, 2048);
		$got .= $buf if $n;
		($rc) = wait_exit($h, time, 0.02);
		$dt = time - $t0;
		last if defined $rc || $dt > 5;
	}
	ok(defined $rc && $dt <= $LIMIT,
	    sprintf('slow reader, SIGTERM: exits within %.1f s (%.3f s)', $LIMIT, $dt));
	is($rc, 0, 'slow reader, SIGTERM: exit status 0');
	reap($h);
	$got .= slurp_now($h, 'out');
	ok(length($got) > 10000, sprintf('slow reader: got %d bytes', length $got));
	like($got, qr/\n\z/, 'slow reader: the output ends with a whole line');
	my @rows = split /\n/, $got;
	my $bad = grep { !eval { lp_parse($_); 1 } } @rows;
	is($bad, 0, sprintf('slow reader: all %d lines are valid line protocol', scalar @rows));
}

# --- stdin that cannot be polled: /dev/zero ---------------------------------
{
	my $h = spawn(stdin => '/dev/zero', args => ['-c', $conf]);
	ok(wait_stderr($h, qr/^I! .*ready/m, 10), '/dev/zero: probe ready');
	my ($c0, $t) = (cpu_s($h->{pid}), time);
	sleep 1;
	my $cpu = (cpu_s($h->{pid}) - $c0) / (time - $t);
	ok($cpu < 0.10, sprintf('/dev/zero: CPU %.1f%% over 1 s (< 10%%)', 100 * $cpu));
	is(() = slurp_now($h, 'out') =~ /\n/g, 0, '/dev/zero: NUL bytes are not lines (no round)');
	kill 'USR1', $h->{pid};
	my $end = time + 10;
	my $rows = 0;
	while (time < $end && $rows < 200) {
		$rows = () = slurp_now($h, 'out') =~ /\n/g;
		sleep 0.01;
	}
	is($rows, 200, '/dev/zero: SIGUSR1 still triggers a round');
	my $t0 = time;
	kill 'TERM', $h->{pid};
	my ($rc, $dt) = wait_exit($h, $t0, 5);
	ok(defined $rc && $dt <= $LIMIT,
	    sprintf("/dev/zero: SIGTERM ends it within %.1f s (%.3f s)", $LIMIT, $dt));
	is($rc, 0, '/dev/zero: exit status 0');
	reap($h);
}

# --- a regular file on stdin: its lines are triggers, then EOF ends it -----
{
	my $in = write_file("$dir/lines", "\n\n\n");
	my $h = spawn(stdin => $in, args => ['-c', $conf]);
	my ($rc, $dt) = wait_exit($h, time, 10, 1);
	is($rc, 0, sprintf('stdin a file of 3 lines: exits 0 at EOF (%.2f s)', $dt));
	reap($h);
	my $rows = () = slurp_now($h, 'out') =~ /\n/g;
	ok($rows >= 200, "stdin a file of 3 lines: the asked-for round was written ($rows rows)");
}

# --- a signal storm during slow rounds --------------------------------------
{
	my $h = spawn(args => ['-c', $slow]);
	ok(wait_stderr($h, qr/^I! .*ready/m, 10), 'signal storm: probe ready');
	syswrite($h->{in}, "\n");
	my $sent = 0;
	my $t_start = time;
	while ($sent < 5000) {
		kill 'USR1', $h->{pid} or last;
		$sent++;
		# spread over about a second
		sleep 0.0002 if $sent % 10 == 0;
	}
	my $storm_s = time - $t_start;
	# Let the rounds asked for run out (1 s timeout each), reading stderr.
	my $end = time + 3.5;
	slurp_now($h, 'out'), slurp_now($h, 'err'), sleep 0.05 while time < $end;
	my $t0 = time;
	kill 'TERM', $h->{pid};
	my ($rc, $dt) = wait_exit($h, $t0, 5);
	ok(defined $rc && $dt <= $LIMIT,
	    sprintf("signal storm (%d SIGUSR1 in %.2f s): SIGTERM ends it within %.1f s (%.3f s)",
		$sent, $storm_s, $LIMIT, $dt));
	is($rc, 0, 'signal storm: exit status 0');
	reap($h);
	my $err = slurp_now($h, 'err');
	my @w = $err =~ /^W! (.*)$/mg;
	my @coal = grep { /trigger|still running|coalesc/ } @w;
	my %per_round;
	for (@coal) { $per_round{$1}++ if /during round (\d+)/; }
	my @dup = grep { $per_round{$_} > 1 } keys %per_round;
	my $rounds = () = slurp_now($h, 'out') =~ /\n/g;
	ok(@coal >= 1 && @coal <= $rounds && !@dup && @coal == keys %per_round,
	    sprintf('signal storm: %d W! lines about triggers for %d rounds, at most one per round',
		scalar @coal, $rounds)) or diag(join("\n", @w[0 .. ($#w < 9 ? $#w : 9)]));
	like($coal[0] // '', qr/^\d+ triggers? during round \d+ coalesced into one pending round/,
	    'signal storm: the W! line says how many triggers were coalesced');
}

done_testing();
