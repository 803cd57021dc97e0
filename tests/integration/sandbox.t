#!/usr/bin/perl
# The seccomp sandbox: a running probe shows "Seccomp: 2" (filter mode) and
# NoNewPrivs in /proc/PID/status, in service mode and in --once; rounds
# over UDP and TCP, IPv4 and IPv6, signals and the shutdown all work
# sealed; a forbidden call made after sealing (a test hook in the probe,
# ANYCAST_PROBE_SANDBOX_TEST) kills it with SIGSYS; --sandbox-debug names
# the call on stderr instead; --no-sandbox runs unfiltered.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG SIGSYS);
use Time::HiRes qw(time sleep);
use Test::More;
use Probe;
use Servers qw(start_nsd start_silent);

alarm 90;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('sandbox.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $silent = start_silent();
my $conf = make_conf("$dir/p.conf", probe => { timeout => '300ms' },
    targets => [
	{ name => 'nsd', server => ['127.0.0.1', '::1'], port => $nsd->{port},
	    transport => 'udp tcp', query => ['example.test SOA'] },
	{ name => 'quiet', server => ['127.0.0.1', '::1'], port => $silent->{port},
	    transport => 'udp tcp', query => ['example.test SOA'], retries => 0 } ]);

sub status_of
{
	my ($pid) = @_;
	open(my $f, '<', "/proc/$pid/status") or return {};
	my %s = map { /^(\w+):\s*(.*)$/ ? ($1 => $2) : () } <$f>;
	return \%s;
}

# --- service mode: sealed, and everything still works ----------------------
{
	my $p = spawn_probe('-c', $conf);
	ok($p->wait_for(10, sub { $_[0]->stderr =~ /^I! .*ready/m }), 'service: ready');
	my $st = status_of($p->{pid});
	is($st->{Seccomp}, 2, 'service: Seccomp: 2 in /proc/PID/status (filter)');
	is($st->{NoNewPrivs}, 1, 'service: NoNewPrivs: 1');
	$p->send("\n");
	# 24 rows a round (2 targets x 2 addresses x 2 transports x 3 queries);
	# they leave as their groups end, the silent ones at their timeout.
	ok($p->wait_for(10, sub { $_[0]->n_lines >= 24 }), 'service: a round over stdin, sealed');
	$p->signal('USR1');
	ok($p->wait_for(10, sub { $_[0]->n_lines >= 48 }), 'service: a round on SIGUSR1, sealed');
	my @rows = map { lp_parse($_->{text}) } $p->lines;
	my %seen;
	$seen{"$_->{tags}{target} $_->{tags}{family} $_->{tags}{transport} $_->{tags}{result}"}++
	    for grep { $_->{tags}{domain} eq 'example.test' } @rows;
	ok($seen{"nsd $_ success"}, "service: nsd $_ success") for
	    'ipv4 udp', 'ipv4 tcp', 'ipv6 udp', 'ipv6 tcp';
	ok($seen{"quiet $_ timeout"}, "service: silent $_ timeout") for
	    'ipv4 udp', 'ipv4 tcp', 'ipv6 udp', 'ipv6 tcp';
	my $t0 = time;
	$p->signal('TERM');
	my $rc = $p->wait_exit(5);
	is($rc, 0, sprintf('service: SIGTERM, exit 0 (%.3f s)', time - $t0));
	unlike($p->stderr, qr/sandbox|^E!/m, 'service: no sandbox complaint');
}

# --- --once: sealed too -----------------------------------------------------
{
	my $p = spawn_probe('--once', '-c', $conf);
	# The silent target holds the round 300 ms: look meanwhile.
	my $st;
	my $end = time + 5;
	while (time < $end) {
		$st = status_of($p->{pid});
		last if ($st->{Seccomp} // 0) == 2;
		sleep 0.005;
	}
	is($st->{Seccomp}, 2, '--once: Seccomp: 2 while the round runs');
	my $rc = $p->wait_exit(10);
	is($rc, 1, '--once: exit 1 (the silent target timed out), not killed');
	is($p->n_lines, 24, '--once: 24 rows (2 targets x 2 addresses x 2 transports x 3 queries)')
	    or diag($p->stderr);
}

# --- a forbidden call after sealing is killed -------------------------------
for my $what (qw(execve socket open)) {
	SKIP: {
		skip 'sanitizer builds only log calls outside the table', 2
		    if $ENV{SANITIZED} && $what ne 'execve';
		local $ENV{ANYCAST_PROBE_SANDBOX_TEST} = $what;
		my $r = run_probe(args => ['--once', '-c', $conf], timeout => 10);
		is($r->{signal}, SIGSYS, "forbidden $what after sealing: killed by SIGSYS")
		    or diag("rc $r->{rc} signal $r->{signal}: $r->{err}");
		is($r->{out}, '', "forbidden $what: no output");
	}
}

# --- resolve_interval: getaddrinfo in a thread works sealed; writing not ---
{
	my $rconf = make_conf("$dir/r.conf", probe => { timeout => '300ms', identity => '' },
	    targets => [ { name => 'byname', server => ['localhost'], port => $nsd->{port},
		transport => 'udp', family => 'ipv4', resolve_interval => '1s',
		query => ['example.test SOA'] } ]);
	my $p = spawn_probe('-c', $rconf);
	ok($p->wait_for(10, sub { $_[0]->stderr =~ /^I! .*ready/m }), 'resolver: ready');
	is(status_of($p->{pid})->{Seccomp}, 2, 'resolver: sealed too');
	$p->send("\n");
	ok($p->wait_for(10, sub { $_[0]->n_lines >= 1 }), 'resolver: round 1');
	# The look-up thread runs every second (resolve_interval): let two
	# look-ups happen, then ask for a round.
	$p->drain_for(2.2);
	$p->send("\n");
	ok($p->wait_for(10, sub { $_[0]->n_lines >= 2 }), 'resolver: round 2 after re-resolving, not killed');
	my @r = map { lp_parse($_->{text}) } $p->lines;
	is(scalar(grep { $_->{tags}{server_name} eq 'localhost' && $_->{tags}{result} eq 'success' } @r),
	    2, 'resolver: both rows answered, from the host name');
	$p->close_stdin;
	is($p->wait_exit(5), 0, 'resolver: exit 0 at EOF');
	SKIP: {
		skip 'sanitizer builds only log calls outside the table', 1 if $ENV{SANITIZED};
		local $ENV{ANYCAST_PROBE_SANDBOX_TEST} = 'open-write';
		my $r = run_probe(args => ['--once', '-c', $rconf], timeout => 10);
		is($r->{signal}, SIGSYS, 'resolver: opening a file for writing is still killed');
	}
}

# --- --sandbox-debug names the call; --no-sandbox lets it through ----------
SKIP: {
	skip 'sanitizer builds only log calls outside the table', 4 if $ENV{SANITIZED};
	local $ENV{ANYCAST_PROBE_SANDBOX_TEST} = 'open';
	my $r = run_probe(args => ['--sandbox-debug', '--once', '-c', $conf], timeout => 10);
	is($r->{rc}, 70, '--sandbox-debug: exit 70');
	like($r->{err}, qr/^E! sandbox: system call 257 \(arch 0x[0-9a-f]+\) is not allowed/m,
	    '--sandbox-debug: the call (openat, 257 on x86_64) is named on stderr')
	    or diag($r->{err});
	$r = run_probe(args => ['--no-sandbox', '--once', '-c', $conf], timeout => 10);
	is($r->{signal}, 0, '--no-sandbox: the forbidden call goes through');
	is($r->{rc}, 1, '--no-sandbox: the round ran (exit 1: the silent target)');
}
{
	my $r = run_probe(args => ['--no-sandbox', '-c', $conf], stdin => "\n", timeout => 10);
	my $pid_status = $r->{rc};
	is($pid_status, 0, '--no-sandbox: service mode runs and ends at EOF');
}

done_testing();
