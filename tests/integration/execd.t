#!/usr/bin/perl
# Driven as Telegraf's [[inputs.execd]] drives it: the probe stays up with a
# pipe on stdin; a line on stdin, SIGUSR1, SIGHUP or SIGUSR2 runs one round;
# triggers during a round coalesce into one pending round; stdin EOF or
# SIGTERM exits 0 within 1 s; with `interval` it runs rounds by itself.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time sleep);
use Probe;
use Servers qw(start_nsd start_silent);

alarm 55;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('execd.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $silent = start_silent();

# A fast round: 127.0.0.1 and ::1, udp, SOA + hostname.bind = 4 rows.
my $fast = make_conf("$dir/fast.conf",
    probe => { timeout => '2s', retries => 0, identity => 'hostname.bind' },
    targets => [ { name => 'nsd', server => ['127.0.0.1', '::1'],
	port => $nsd->{port}, transport => 'udp', query => ['example.test SOA'] } ]);
my $PER = 4;

sub check_output
{
	my ($p, $label) = @_;
	is($p->partial, '', "$label: no partial line on stdout");
	my @rows = lp_parse_all(join('', map { "$_->{text}\n" } $p->lines), $label);
	stderr_prefixes_ok($p->stderr, "$label: stderr lines start with E!/W!/I!/D!");
	return @rows;
}

# --- stdin newlines and signals, then EOF
{
	my $p = spawn_probe('-c', $fast);
	$p->drain_for(0.5);
	is($p->n_lines + length($p->partial), 0, 'nothing printed before the first trigger');

	$p->send("\n");
	ok($p->wait_for(5, sub { $_[0]->n_lines >= $PER }), 'newline: a round arrives');
	$p->drain_for(0.3);
	is($p->n_lines, $PER, "newline: exactly one round ($PER rows)");
	is($p->partial, '', 'the round is flushed as complete lines');

	my $n = $PER;
	for my $sig ('USR1', 'HUP', 'USR2') {
		$p->signal($sig);
		$n += $PER;
		ok($p->wait_for(5, sub { $_[0]->n_lines >= $n }), "SIG$sig: another round");
		$p->drain_for(0.2);
		is($p->n_lines, $n, "SIG$sig: exactly one more round");
	}
	my $t = time;
	$p->close_stdin;
	my $rc = $p->wait_exit(1.0);
	is($rc, 0, sprintf('stdin EOF: exit 0 within 1 s (%.3f s)', time - $t));
	$p->kill_now;
	my @rows = check_output($p, 'stdin/signal rounds');
	# Rounds 2..4: same instance as before, so instance_changed=false.
	my @later = @rows[$PER .. $#rows];
	my @bad = grep { !exists $_->{fields}{instance_changed}
	    || $_->{fields}{instance_changed}{value} } @later;
	ok(@later && !@bad, 'later rounds: instance_changed=false on every row')
	    or diag(join("\n", map { $_->{line} } @bad));
	my %seen;
	for my $row (@rows) {
		$seen{ join "|", map { $row->{tags}{$_} // "" } qw(server domain) }++;
	}
	ok(!grep({ $_ != 4 } values %seen) && keys(%seen) == $PER,
	    'each of the 4 queries once per round, 4 rounds');
}

# --- SIGTERM
{
	my $p = spawn_probe('-c', $fast);
	$p->send("\n");
	ok($p->wait_for(5, sub { $_[0]->n_lines >= $PER }), 'SIGTERM case: first round');
	my $t = time;
	$p->signal('TERM');
	my $rc = $p->wait_exit(1.0);
	is($rc, 0, sprintf('SIGTERM: exit 0 within 1 s (%.3f s)', time - $t));
	$p->kill_now;
	check_output($p, 'SIGTERM run');
}

# --- coalescing: a round of >= 500 ms (one query times out); two triggers
# during it make exactly one more round, never two.
my $slow = make_conf("$dir/slow.conf",
    probe => { timeout => '500ms', retries => 0, identity => '' },
    targets => [
	{ name => 'nsd', server => ['127.0.0.1'], port => $nsd->{port},
	    transport => 'udp', query => ['example.test SOA'] },
	{ name => 'silent', server => ['127.0.0.1'], port => $silent->{port},
	    transport => 'udp', query => ['example.test SOA'] } ]);
for my $how (['newlines', sub { $_[0]->send("\n") }],
    ['SIGUSR1s', sub { $_[0]->signal('USR1') }]) {
	my ($label, $trigger) = @$how;
	my $p = spawn_probe('-c', $slow);
	$p->send("\n");   # warm-up round: the loop is running after it
	ok($p->wait_for(5, sub { $_[0]->n_lines >= 2 }), "$label: warm-up round");
	my $t = time;
	$p->send("\n");   # round A starts, takes >= 500 ms
	sleep 0.1;        # inside round A (not a synchronisation)
	$trigger->($p);
	sleep 0.02;
	$trigger->($p);
	ok(time - $t < 0.4, "$label: both triggers sent during round A");
	ok($p->wait_for(5, sub { $_[0]->n_lines >= 6 }),
	    "$label: the pending round runs after round A");
	$p->drain_for(1.0);   # longer than a round: a third round would show
	is($p->n_lines, 6, "$label: 2 triggers during a round coalesce into 1 round");
	my @rows = check_output($p, "coalesce $label");
	is(scalar(rows_where(\@rows, target => 'silent', result => 'timeout')), 3,
	    "$label: the silent target timed out once per round");
	$p->close_stdin;
	is($p->wait_exit(1.5), 0, "$label: EOF after timeouts: exit 0");
	$p->kill_now;
}

# --- interval mode: rounds without any trigger
{
	my $conf = make_conf("$dir/interval.conf",
	    probe => { timeout => '1s', retries => 0, identity => '',
		interval => '300ms' },
	    targets => [ { name => 'nsd', server => ['127.0.0.1'],
		port => $nsd->{port}, transport => 'udp',
		query => ['example.test SOA'] } ]);
	my $p = spawn_probe('-c', $conf);
	my $t = time;
	ok($p->wait_for(5, sub { $_[0]->n_lines >= 3 }), 'interval=300ms: rounds arrive by themselves');
	my $el = time - $t;
	ok($el >= 0.45 && $el < 3, sprintf('three rounds took %.3f s (about 2-3 intervals)', $el));
	$p->close_stdin;
	is($p->wait_exit(1.0), 0, 'interval mode: EOF exits 0');
	$p->kill_now;
	my @rows = check_output($p, 'interval rounds');
	if (@rows >= 3) {
		my $d = ($rows[2]{ts} - $rows[1]{ts}) / 1e6;
		ok($d > 200 && $d < 1000, sprintf('rounds are about 300 ms apart (%.0f ms)', $d));
	}
}

done_testing();
