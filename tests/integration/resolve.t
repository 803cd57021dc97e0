#!/usr/bin/perl
# resolve_interval (issue 14): a host name in `server` is looked up again in
# the background and the job list rebuilt between rounds. The probe runs in
# a mount namespace of its own where /etc/hosts, /etc/nsswitch.conf
# ("hosts: files": no DNS look-up can leave the machine) and
# /etc/resolv.conf are this test's files; the machine's own are never
# touched. The name first points at 127.0.0.1, then at ::1 (NSD answers on
# both): the new address is probed, the old one no longer, and the new row
# starts with instance_changed=false. Needs root (unshare -m).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IO::Handle;
use Test::More;
use Time::HiRes qw(time sleep);
use Probe;
use Servers qw(start_nsd);

if ($> != 0 || system('unshare -m true 2>/dev/null') != 0) {
	plan skip_all => 'needs root and unshare -m';
}
alarm 60;
my $dir = tempdir('resolve.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $hosts = "$dir/hosts";
write_file("$dir/nsswitch.conf", "hosts: files\n");
write_file("$dir/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
write_file($hosts, "127.0.0.1 probe-a.example.test\n");
my $conf = make_conf("$dir/probe.conf",
    probe => { timeout => '1s', retries => 0, identity => '' },
    targets => [ { name => 'byname', server => ['probe-a.example.test'],
	port => $nsd->{port}, transport => 'udp', family => 'ipv4 ipv6',
	resolve_interval => '1s', query => ['example.test SOA'] } ]);

my $bin = probe_bin();
my $script = join('; ',
    "mount --bind $hosts /etc/hosts",
    "mount --bind $dir/nsswitch.conf /etc/nsswitch.conf",
    "mount --bind $dir/resolv.conf /etc/resolv.conf",
    "exec $bin -c $conf");
my ($pid, $in, $out, $err) = Probe::spawn_piped('unshare', '-m', '--propagation', 'private',
    'sh', '-c', $script);
$in->autoflush(1);
$_->blocking(0) for $out, $err;
my $p = bless { pid => $pid, in => $in, out => $out, err => $err,
    obuf => '', ebuf => '', lines => [], t0 => time }, 'Probe::Proc';
push @Probe::RUNNING, $p;

sub round_rows
{
	my ($want) = @_;
	my $seen = $p->n_lines;
	$p->send("\n");
	$p->wait_for(5, sub { $_[0]->n_lines >= $seen + $want });
	my @l = ($p->lines)[$seen .. $p->n_lines - 1];
	return map { lp_parse($_->{text}) } @l;
}

my @r1 = round_rows(1);
is(scalar @r1, 1, 'round 1: one row (one address)') or diag($p->stderr);
is($r1[0]{tags}{server} // '', '127.0.0.1', 'round 1: the name gives 127.0.0.1');
is($r1[0]{tags}{server_name} // '', 'probe-a.example.test', 'round 1: server_name is the host name');
is($r1[0]{tags}{result} // '', 'success', 'round 1: answered');

# The name moves. Look-ups run every second in the background; a round
# picks the new address up once one has finished.
open(my $fh, '>', $hosts) or die "$hosts: $!\n";
print $fh "::1 probe-a.example.test\n";
close $fh;
my (@rows, $moved_at);
my $t0 = time;
while (time - $t0 < 10) {
	@rows = round_rows(1);
	if (@rows && ($rows[0]{tags}{server} // '') eq '::1') { $moved_at = time - $t0; last; }
	sleep 0.3;
}
ok(defined $moved_at, sprintf('the new address is probed (after %.1f s)', $moved_at // -1))
    or diag($p->stderr);
is(scalar @rows, 1, 'after the move: one row, the old address is no longer probed');
is($rows[0]{tags}{family} // '', 'ipv6', 'after the move: family ipv6');
is($rows[0]{tags}{result} // '', 'success', 'after the move: answered');
is_deeply($rows[0]{fields}{instance_changed}, { type => 'bool', value => 0 },
    'a new address starts with instance_changed=false')
    or diag(explain($rows[0]{fields}));
like($p->stderr, qr/^I! target byname: addresses changed/m, 'the change is logged (I!)');

# A failed look-up keeps the addresses: the name vanishes from the file.
write_file($hosts, "# empty\n");
sleep 1.5;
my @r3 = round_rows(1);
is(scalar(grep { ($_->{tags}{server} // '') eq '::1' } @r3), 1,
    'a failed look-up keeps the last addresses');
like($p->stderr, qr/^W! look-up of probe-a\.example\.test failed/m, 'the failure is a W! line');

$p->close_stdin;
is($p->wait_exit(3), 0, 'exit 0 on stdin EOF');
done_testing();
