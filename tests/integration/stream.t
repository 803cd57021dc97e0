#!/usr/bin/perl
# A round's lines leave as its groups end, not when the whole round ends
# (issue 9: lines written soon after the last answer). In service mode a
# target answered by NSD comes first, then a silent one (2 s timeout): the
# NSD rows must be on stdout, with their instance, while the round still
# waits for the silent target; the round's other lines follow, whole and
# in plan order, the self_metrics line last. A second round does the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Time::HiRes qw(time);
use Test::More;
use Probe;
use Servers qw(start_nsd start_silent);

alarm 60;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('stream.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $silent = start_silent();
my $N = 25;
my $conf = make_conf("$dir/stream.conf",
    probe => { identity => '', self_metrics => 'yes', retries => 0 },
    targets => [
	{ name => 'nsd', server => ['127.0.0.1', '::1'], port => $nsd->{port},
	    timeout => '1s', query => [ map { "q$_.example.test A" } 1 .. $N ] },
	{ name => 'quiet', server => ['127.0.0.1'], port => $silent->{port},
	    timeout => '2s', query => ['example.test SOA'] } ]);

my $p = spawn_probe('-c', $conf);
ok($p->wait_for(10, sub { $_[0]->stderr =~ /^I! .*ready/m }), 'probe ready');
my $want = 2 * $N;
for my $round (1, 2) {
	my $from = $p->n_lines;
	my $t0 = time;
	$p->send("\n");
	my $mine = sub { my @l = $_[0]->lines; @l[$from .. $#l] };
	my $early = $p->wait_for(5, sub {
	    (grep { $_->{text} =~ /,target=nsd,/ } $mine->($_[0])) >= $want });
	ok($early, "round $round: the $want NSD rows arrive");
	my @l = $mine->($p);
	my ($last_nsd) = grep { $_->{text} =~ /,target=nsd,/ } reverse @l;
	my $dt = $last_nsd ? $last_nsd->{at} - $t0 : 99;
	# The silent target's timeout is 2 s: its row (and the round's end)
	# cannot come before; the NSD rows must not wait for it.
	ok($dt < 1.5, sprintf("round $round: NSD rows out %.3f s after the trigger,"
	    . " before the silent target's 2 s timeout", $dt));
	ok(!(grep { $_->{text} =~ /,target=quiet,|^dns_anycast_probe/ } @l),
	    "round $round: the round was still running then");
	ok((grep { $_->{text} =~ /,target=nsd,.*instance=nsd-test-nsid/ } @l) == $want,
	    "round $round: the early rows carry their instance");
	ok($p->wait_for(5, sub { grep { $_->{text} =~ /^dns_anycast_probe/ } $mine->($_[0]) }),
	    "round $round: the round ends");
	@l = map { $_->{text} } $mine->($p);
	is(scalar @l, $want + 2, "round $round: every row once, and self_metrics");
	like($l[-2], qr/,target=quiet,.*result=timeout/, "round $round: the silent row after the NSD rows");
	like($l[-1], qr/^dns_anycast_probe/, "round $round: self_metrics last");
	my ($q) = grep { $_->{text} =~ /,target=quiet,/ } $mine->($p);
	ok(($q->{at} - $t0) >= 1.9, sprintf("round $round: the silent row came at its timeout (%.3f s)",
	    $q->{at} - $t0));
	ok(!(grep { !/ \d{19}$/ } @l), "round $round: whole lines");
}
$p->close_stdin;
is($p->wait_exit(5), 0, 'exits 0 at stdin EOF');
done_testing();
