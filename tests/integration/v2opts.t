#!/usr/bin/perl
# Version 2 target options against servers on loopback (issue 14):
#  - identity_timeout: identity queries a server never answers (liar.pl
#    --chaos never, like a BIND over its CHAOS rate limit) do not hold the
#    round for timeout x attempts;
#  - instance_map: a server whose NSID changes per query (liar.pl --nsid
#    per-query) keeps one instance value, and instance_changed stays false;
#  - source: queries leave from the configured address, seen on the server
#    side by a socket that records the peers of what it receives.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::IP;
use IPC::Open2;
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time sleep);
use Probe;

alarm 60;
my $dir = tempdir('v2opts.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @liars;
END { for (@liars) { close $_->{in}; waitpid($_->{pid}, 0); } }

sub start_liar
{
	my (@args) = @_;
	my $pid = open2(my $out, my $in, $^X, "$FindBin::Bin/../lib/liar.pl",
	    '--log', "$dir/liar" . scalar(@liars) . '.log', @args);
	my $l = { pid => $pid, in => $in };
	push @liars, $l;
	my $line = '';
	my $sel = IO::Select->new($out);
	while ($line !~ /^READY \d+\n/m && $sel->can_read(10)) {
		sysread($out, my $b, 256) or last;
		$line .= $b;
	}
	die "liar did not start: [$line]\n" unless $line =~ /^READY (\d+)$/m;
	$l->{port} = $1;
	return $l;
}

# --- identity_timeout ------------------------------------------------------
my $mute = start_liar('--chaos', 'never');
for my $case ([ '300ms', 1.2, 'caps' ], [ '10s', undef, 'without a cap' ]) {
	my ($cap, $limit, $what) = @$case;
	my $conf = make_conf("$dir/idt-$cap.conf",
	    probe => { timeout => '1s', retries => 1,
		identity => 'hostname.bind id.server', identity_timeout => $cap },
	    targets => [ { name => 'mute', server => ['127.0.0.1'],
		port => $mute->{port}, transport => 'udp',
		query => ['ok.liar.test TXT'] } ]);
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	my @rows = lp_parse_all($r->{out}, "identity_timeout $cap");
	my @id = grep { $_->{tags}{class} eq 'CH' } @rows;
	is(scalar @id, 2, "identity_timeout $cap: two identity rows");
	is(scalar(grep { $_->{tags}{result} eq 'timeout' } @id), 2,
	    "identity_timeout $cap: both time out");
	my @ok = grep { $_->{tags}{domain} eq 'ok.liar.test' } @rows;
	is($ok[0]{tags}{result} // '', 'success', "identity_timeout $cap: the query itself succeeds");
	if (defined $limit) {
		ok($r->{elapsed} < $limit, sprintf('identity_timeout %s %s the round: %.2f s '
		    . '(timeout 1s x 2 attempts would be 2 s)', $cap, $what, $r->{elapsed}));
		is(scalar(grep { $_->{fields}{attempts}{value} == 1 } @id), 2,
		    "identity_timeout $cap: one attempt each (two would exceed it)");
	} else {
		ok($r->{elapsed} >= 1.9, sprintf('%s the identity queries take timeout x '
		    . 'attempts: %.2f s', $what, $r->{elapsed}));
	}
}

# --- instance_map -----------------------------------------------------------
my $chatty = start_liar('--nsid', 'per-query');
for my $map (undef, '^(arn1)-q[0-9]+$ \1') {
	my $conf = make_conf("$dir/map.conf",
	    probe => { timeout => '1s', retries => 0, identity => '',
		(defined $map ? (instance_map => $map) : ()) },
	    targets => [ { name => 'chatty', server => ['127.0.0.1'],
		port => $chatty->{port}, transport => 'udp',
		query => ['ok.liar.test TXT', 'ok2.liar.test TXT'] } ]);
	my $p = spawn_probe('-c', $conf);
	my @rounds;
	for my $i (1 .. 2) {
		my $seen = $p->n_lines;
		$p->send("\n");
		$p->wait_for(5, sub { $_[0]->n_lines >= $seen + 2 });
		push @rounds, [ map { lp_parse($_->{text}) } ($p->lines)[$seen .. $p->n_lines - 1] ];
	}
	$p->close_stdin;
	$p->wait_exit(3);
	my @inst = map { $_->{tags}{instance} // '' } map { @$_ } @rounds;
	my @nsid = map { $_->{fields}{nsid}{value} // '' } map { @$_ } @rounds;
	my @chg = map { $_->{fields}{instance_changed}{value} } @{ $rounds[1] };
	is(scalar(keys %{ { map { $_ => 1 } @nsid } }), 4, 'the server sends a new NSID per query');
	if (defined $map) {
		is_deeply(\@inst, [ ('arn1') x 4 ], 'instance_map: one instance value, arn1')
		    or diag(explain(\@inst));
		is_deeply(\@chg, [ 0, 0 ], 'instance_map: instance_changed stays false');
		like($nsid[0], qr/^arn1-q\d+$/, 'instance_map: the nsid field keeps the raw NSID');
	} else {
		is(scalar(keys %{ { map { $_ => 1 } @inst } }), 4, 'without a map: a new instance value per query');
		is_deeply(\@chg, [ 1, 1 ], 'without a map: instance_changed=true every round');
	}
}

# --- source -----------------------------------------------------------------
# A recorder on 127.0.0.1: UDP and TCP, never answers, logs each peer.
# The kernel picks the UDP port; TCP on the same number may be taken (by
# another test's connection): then try another pair.
my ($udp, $tcp, $port);
for (1 .. 50) {
	$udp = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => 0,
	    Type => SOCK_DGRAM) or die "udp: $!\n";
	$port = $udp->sockport;
	$tcp = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
	    Type => SOCK_STREAM, Listen => 16, ReuseAddr => 1) and last;
	close $udp;
	$udp = undef;
}
die "no UDP and TCP port pair free: $!\n" unless $tcp;
my $conf = make_conf("$dir/source.conf",
    probe => { timeout => '300ms', retries => 0, identity => '' },
    targets => [ { name => 'src', server => ['127.0.0.1'], port => $port,
	source => '127.0.0.2', transport => 'udp tcp',
	query => ['example.test SOA'] } ]);
my $p = spawn_probe('--once', '-c', $conf);
my %peer;
my $sel = IO::Select->new($udp, $tcp);
my $end = time + 3;
while (time < $end && keys %peer < 2) {
	for my $fh ($sel->can_read(0.1)) {
		if ($fh == $udp) {
			$udp->recv(my $b, 512);
			$peer{udp} = $udp->peerhost;
		} else {
			my $c = $tcp->accept or next;
			$peer{tcp} = $c->peerhost;
			close $c;
		}
	}
}
is($p->wait_exit(5), 1, 'source: --once exits 1 (the recorder never answers)');
is($peer{udp} // 'none', '127.0.0.2', 'source: UDP queries leave from 127.0.0.2');
is($peer{tcp} // 'none', '127.0.0.2', 'source: TCP connections come from 127.0.0.2');

done_testing();
