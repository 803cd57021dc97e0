#!/usr/bin/perl
# The probe under valgrind memcheck, against a real NSD over IPv4/IPv6,
# UDP/TCP, with an address nobody listens on: a --once round and a
# long-running probe driven by stdin for three rounds, then EOF. Any memory
# error or leak fails (valgrind's own exit code), as does a wrong row count.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;
use Servers qw(start_nsd have_cmd free_port);

alarm 170;
plan skip_all => 'valgrind not installed' unless have_cmd('valgrind');
plan skip_all => 'sanitizer build (ASan and valgrind do not mix)' if $ENV{SANITIZED};
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $real = probe_bin();
my $dir = tempdir('valgrind.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $dead = free_port();

# valgrind does not implement seccomp(2): the sandbox is the one thing
# not run under it (sandbox.t covers it on the real binary).
my $wrap = write_file("$dir/probe-vg", <<"EOF");
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \\
	--errors-for-leak-kinds=all --log-file=$dir/vg.%p.log \\
	"$real" --no-sandbox "\$@"
EOF
chmod(0755, $wrap);
$ENV{ANYCAST_PROBE} = $wrap;

my $conf = make_conf("$dir/p.conf",
    probe => { timeout => '800ms', retries => 1, identity => 'hostname.bind id.server' },
    targets => [
	{ name => 'nsd', server => ['127.0.0.1', '::1'], port => $nsd->{port},
	  transport => 'udp tcp', query => ['example.test SOA', 'big.example.test TXT'] },
	{ name => 'dead', server => ['127.0.0.1'], port => $dead,
	  transport => 'udp tcp', query => ['example.test SOA'] } ]);
# rows: nsd 2 addresses x 2 transports x 4 queries = 16; dead 1 x 2 x 3 = 6
my $per_round = 22;

sub vg_logs
{
	my @logs = glob("$dir/vg.*.log");
	my $text = '';
	for my $f (@logs) {
		open(my $fh, '<', $f) or next;
		local $/;
		$text .= <$fh> // '';
	}
	unlink @logs;
	# "--PID--" lines are valgrind's notes about itself (3.19 does not know
	# epoll_pwait2, and the probe falls back to epoll_wait); findings are
	# "==PID==" lines.
	return join('', grep { !/^--\d+--/ } split(/^/, $text));
}

my $r = run_probe(args => ['--once', '-c', $conf], timeout => 60);
is($r->{rc}, 1, '--once under valgrind: exit 1 (the dead port), not 99 (valgrind)')
    or diag($r->{err});
my @rows = lp_parse_all($r->{out}, 'once');
is(scalar @rows, $per_round, "--once: $per_round rows");
is(vg_logs(), '', '--once: valgrind reported nothing');

my $p = spawn_probe('-c', $conf);
for my $round (1 .. 3) {
	$p->send("\n");
	ok($p->wait_for(30, sub { $p->n_lines >= $round * $per_round }),
	    "service round $round: $per_round rows arrive");
}
$p->close_stdin;
my $rc = $p->wait_exit(30);
is($rc, 0, 'service under valgrind: exit 0 after stdin EOF, no valgrind error');
is($p->n_lines, 3 * $per_round, 'service: exactly three rounds of rows');
is(vg_logs(), '', 'service: valgrind reported nothing');
done_testing();
