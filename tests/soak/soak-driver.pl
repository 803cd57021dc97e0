#!/usr/bin/perl
# soak-driver.pl PROBE CONF SECONDS MAX_QUERIES: run PROBE -c CONF as
# Telegraf's execd would (a line on stdin per round, the next as soon as the
# last round's rows are in), for SECONDS or until MAX_QUERIES rows, and
# watch it: rows per round (must be the round size, every round), every
# line well-formed (strict parse of every 20th round), RSS and open
# descriptors after each round (must stay flat after the warm-up), the
# exit at stdin EOF (0, within 1 s). Prints a summary and TAP lines; exits
# non-zero on any failure. Runs wherever it is started (the soak runs it in
# the lab's vantage namespace).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Probe;

my ($probe, $conf, $seconds, $max_q) = @ARGV;
die "usage: $0 PROBE CONF SECONDS MAX_QUERIES\n" unless $max_q;
$ENV{ANYCAST_PROBE} = $probe;
my $p = spawn_probe('-c', $conf);
my $n = 0;
my $fail = 0;
sub ok { my ($c, $m) = @_; $n++; print(($c ? "ok" : "not ok") . " $n - $m\n"); $fail++ unless $c; }

$p->wait_for(30, sub { $_[0]->stderr =~ /ready: (\d+) queries a round/ });
my ($size) = $p->stderr =~ /ready: (\d+) queries a round/;
ok(defined $size && $size > 0, 'probe ready: ' . ($size // '?') . ' queries a round');
exit 1 unless $size;

sub rss_kb { open(my $f, '<', "/proc/$_[0]/status") or return 0; for (<$f>) { return $1 if /^VmRSS:\s+(\d+)/ } 0 }
sub fds { opendir(my $d, "/proc/$_[0]/fd") or return 0; return scalar(grep { !/^\./ } readdir $d) }

my $t0 = time;
my ($rounds, $rows, $bad_rounds, $bad_lines, $parsed) = (0, 0, 0, 0, 0);
my (@samples, %results);
my $seen = 0;
while (time - $t0 < $seconds && $rows < $max_q) {
	$p->send("\n");
	my $want = $seen + $size;
	my $got = $p->wait_for(30, sub { $_[0]->n_lines >= $want });
	my @l = $p->lines;
	if (!$got || @l != $want) { $bad_rounds++; last unless $got; }
	$rounds++;
	my @round = @l[$seen .. $#l];
	$rows += @round;
	$seen = @l;
	for my $r (@round) {
		$results{$1}++ if $r->{text} =~ /,result=(\w+)/;
	}
	if ($rounds % 20 == 1) {
		for my $r (@round) { eval { lp_parse($r->{text}); 1 } ? $parsed++ : $bad_lines++; }
	}
	# Free the lines we hold: the driver must not grow either.
	@{ $p->{lines} } = ();
	$seen = 0;
	push @samples, [time - $t0, rss_kb($p->{pid}), fds($p->{pid})];
}
my $elapsed = time - $t0;
printf "# %d rounds, %d rows in %.1f s (%.0f rows/s); results: %s\n", $rounds, $rows,
    $elapsed, $rows / ($elapsed || 1), join(' ', map { "$_=$results{$_}" } sort keys %results);
ok($rounds >= 10, "at least 10 rounds ($rounds)");
ok($bad_rounds == 0, "every round had exactly $size rows ($bad_rounds did not)");
ok($bad_lines == 0, "$parsed sampled lines parse strictly ($bad_lines did not)");
# Flat: the last fifth of the run against the second fifth (after warm-up).
my $k = int(@samples / 5) || 1;
my @warm = @samples[$k .. 2 * $k - 1];
my @end = @samples[-$k .. -1];
my $max = sub { my $i = shift; my $m = 0; for (@_) { $m = $_->[$i] if $_->[$i] > $m } $m };
my ($rss_w, $rss_e) = ($max->(1, @warm), $max->(1, @end));
my ($fd_w, $fd_e) = ($max->(2, @warm), $max->(2, @end));
printf "# RSS max %d kB after warm-up, %d kB at the end; descriptors %d, %d\n",
    $rss_w, $rss_e, $fd_w, $fd_e;
ok($rss_e <= $rss_w * 1.10 + 1024, "RSS flat: $rss_w kB -> $rss_e kB (at most +10% + 1 MB)");
ok($fd_e <= $fd_w + 2, "descriptors flat between rounds: $fd_w -> $fd_e");
my $te = time;
$p->close_stdin;
my $rc = $p->wait_exit(5);
ok(defined $rc && $rc == 0 && time - $te <= 1.0,
    sprintf('stdin EOF: exit %s in %.3f s', $rc // 'none', time - $te));
print "1..$n\n";
exit($fail ? 1 : 0);
