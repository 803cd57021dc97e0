# TelegrafExecd: a model of Telegraf's [[inputs.execd]] for the tests, as
# faithful as a single-threaded perl loop can be. What it models, and where
# Telegraf does it (influxdata/telegraf):
#  - start: the command with a pipe on stdin, stdout and stderr
#    (internal/process/process.go cmdStart);
#  - Gather, once per `interval` (first one interval after start; the real
#    agent's first tick is at the next interval boundary with round_interval
#    = true, at once with false: tests/integration/telegraf-real.t), per
#    `signal` (plugins/inputs/execd/execd_posix.go):
#      STDIN   write "\n" to stdin with a 1 s write deadline; a write that
#              cannot finish by then is a gather error ("writing to stdin
#              failed"); so is one to a closed pipe (EPIPE, never SIGPIPE);
#              (in Go the deadline is set only if Stdin is an *os.File, but
#              os/exec StdinPipe returns a closeOnce wrapper, so real Telegraf
#              may block instead: this driver enforces the intended 1 s);
#      SIGHUP / SIGUSR1 / SIGUSR2   send that signal;
#      none    nothing: the program runs by itself;
#  - stdout: read as a stream and parsed line by line as influx line
#    protocol; a line that does not parse is one parse error, logged and
#    skipped, the stream goes on (execd.go cmdReadOutStream). Parsed here
#    STRICTLY with Probe::lp_parse (stricter than Telegraf: e.g. it demands
#    a timestamp). Blank lines and comments, which Telegraf's parser skips,
#    are counted in {ignored}. At EOF a last line without "\n" is parsed too
#    (and kept in {partial_at_eof});
#  - stderr: line by line; "E! ", "W! ", "I! ", "D! ", "T! " map to error,
#    warn, info, debug, trace with the prefix cut off; anything else is
#    logged at error level as `stderr: "LINE"` (execd.go cmdReadErr,
#    plugins/inputs/execd/README.md);
#  - stop (process.go Stop + process_posix.go gracefulStop): close stdin;
#    if the process is still there after `stop_timeout` (5 s) SIGTERM; after
#    another 5 s SIGKILL. {stop}{step} says what ended it: 1 stdin close,
#    2 SIGTERM, 3 SIGKILL;
#  - an exit nobody asked for is logged at error level ("Process ... exited")
#    and the command restarted after `restart_delay` (default 10 s, the
#    plugin's default) (process.go cmdLoop).
# Every metric is stamped with its arrival time and the number of the last
# Gather before it ({gather}), so a test can say which gather produced it.
#
#   my $t = TelegrafExecd->new(command => [BIN, ARGS], signal => 'STDIN',
#       interval => 0.3);
#   $t->start;
#   $t->run(gathers => 6);      # or run(seconds => S)
#   $t->stop;                   # { step, elapsed, code, signal }
#   $t->metrics, $t->parse_errors, $t->logs, $t->gathers, $t->bursts(0.1),
#   $t->rounds(0.1)
package TelegrafExecd;

use strict;
use warnings;
use Errno qw(EAGAIN EINTR EPIPE EWOULDBLOCK);
use IO::Handle;
use IO::Select;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(time sleep);
use Probe ();

my %SIGNALS = map { $_ => 1 } qw(STDIN SIGHUP SIGUSR1 SIGUSR2 none);
my %LEVEL = ('E' => 'error', 'W' => 'warn', 'I' => 'info', 'D' => 'debug',
    'T' => 'trace');

# Processes this module started; killed by PID when the script ends.
my @LIVE;
my $OWNER = $$;
END {
	my $rc = $?;
	if ($$ == $OWNER) {
		for my $t (@LIVE) {
			my $pid = $t->{pid} or next;
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$t->{pid} = undef;
		}
	}
	$? = $rc;
}

sub new
{
	my ($class, %o) = @_;
	die "command required\n" unless $o{command} && @{ $o{command} };
	my $signal = $o{signal} // 'none';   # the plugin's default
	die "invalid signal: $signal\n" unless $SIGNALS{$signal};
	my $self = bless {
		command => $o{command},
		signal => $signal,
		interval => $o{interval} // 10,
		restart_delay => $o{restart_delay} // 10,
		stop_timeout => $o{stop_timeout} // 5,
		write_deadline => 1,
		metrics => [], parse_errors => [], ignored => [], logs => [],
		agent_log => [], gathers => [], exits => [], starts => 0,
		partial_reads => 0, obuf => '', ebuf => '',
	}, $class;
	push @LIVE, $self;
	return $self;
}

# The agent's own log lines (Telegraf would print them as "E! [inputs.execd]").
sub _agent
{
	my ($self, $level, $msg) = @_;
	push @{ $self->{agent_log} }, { level => $level, msg => $msg, at => time };
}

sub start
{
	my ($self) = @_;
	my ($pid, $in_w, $out_r, $err_r) = Probe::spawn_piped(@{ $self->{command} });
	$_->blocking(0) for $in_w, $out_r, $err_r;
	@$self{qw(pid in out err obuf ebuf t0)} =
	    ($pid, $in_w, $out_r, $err_r, '', '', time);
	$self->{starts}++;
	$self->{restart_at} = undef;
	$self->{next_tick} //= time + $self->{interval};
	$self->_agent(info => "Starting process: @{ $self->{command} }");
	return $self;
}

sub pid { return $_[0]{pid} }

# --- output ---------------------------------------------------------------

sub _stdout_line
{
	my ($self, $line, $now) = @_;
	if ($line =~ /\A[ \t]*(?:#.*)?\z/) {   # blank or comment: skipped
		push @{ $self->{ignored} }, $line;
		return;
	}
	my $row = eval { Probe::lp_parse($line) };
	if ($row) {
		push @{ $self->{metrics} }, { row => $row, line => $line, at => $now,
		    gather => scalar @{ $self->{gathers} }, start => $self->{starts} };
	} else {
		(my $why = $@) =~ s/\n\z//;
		push @{ $self->{parse_errors} }, { line => $line, error => $why,
		    at => $now };
		$self->_agent(error => "parse error: $why");
	}
}

sub _stderr_line
{
	my ($self, $line, $now) = @_;
	my ($level, $msg, $prefixed);
	if ($line =~ /\A([EWIDT])! (.*)\z/s) { ($level, $msg, $prefixed) = ($LEVEL{$1}, $2, 1); }
	else { ($level, $msg, $prefixed) = ('error', "stderr: \"$line\"", 0); }
	push @{ $self->{logs} }, { level => $level, msg => $msg, line => $line,
	    prefixed => $prefixed, at => $now };
}

# Read what is there, waiting at most WAIT seconds; reap the child when its
# pipes are at EOF. Returns the number of bytes read.
sub _read
{
	my ($self, $wait, $extra_w) = @_;
	my @fh = grep { defined } @$self{qw(out err)};
	my $got = 0;
	if (@fh) {
		my $rin = '';
		vec($rin, fileno($_), 1) = 1 for @fh;
		my $win;
		if ($extra_w) { $win = ''; vec($win, fileno($extra_w), 1) = 1; }
		my ($rout, $wout);
		my $n = select($rout = $rin, $wout = $win, undef, $wait);
		return 0 if $n <= 0;
		for my $which (qw(out err)) {
			my $fh = $self->{$which} or next;
			next unless vec($rout, fileno($fh), 1);
			my $r = sysread($fh, my $buf, 65536);
			next if !defined $r && ($! == EAGAIN || $! == EINTR);
			my $now = time;
			if (!$r) {   # EOF (or error): the last line without "\n" counts
				if ($which eq 'out') {
					$self->{partial_at_eof} = $self->{obuf};
					$self->_stdout_line($self->{obuf}, $now) if $self->{obuf} ne '';
					$self->{obuf} = '';
				} elsif ($self->{ebuf} ne '') {
					$self->_stderr_line($self->{ebuf}, $now);
					$self->{ebuf} = '';
				}
				close $fh;
				$self->{$which} = undef;
				next;
			}
			$got += $r;
			if ($which eq 'out') {
				$self->{obuf} .= $buf;
				while ($self->{obuf} =~ s/\A([^\n]*)\n//) {
					$self->_stdout_line($1, $now);
				}
				$self->{partial_reads}++ if $self->{obuf} ne '';
			} else {
				$self->{ebuf} .= $buf;
				while ($self->{ebuf} =~ s/\A([^\n]*)\n//) {
					$self->_stderr_line($1, $now);
				}
			}
		}
	} elsif ($wait > 0) {
		sleep($wait);
	}
	$self->_reap;
	return $got;
}

# Telegraf's cmdWait returns when both readers hit EOF and Wait() returned.
sub _reap
{
	my ($self) = @_;
	my $pid = $self->{pid} or return;
	return if $self->{out} || $self->{err};
	my $r = waitpid($pid, WNOHANG);
	if ($r == 0) {
		# Pipes closed but still alive (closed its fds): wait for it, as
		# Wait() would, but do not hang the test.
		return;
	}
	my $st = $?;
	$self->{pid} = undef;
	close $self->{in} if $self->{in};
	$self->{in} = undef;
	my $exit = { at => time, code => ($st & 127) ? undef : $st >> 8,
	    signal => $st & 127, stopping => $self->{stopping} ? 1 : 0 };
	push @{ $self->{exits} }, $exit;
	return if $self->{stopping};
	$self->_agent(error => sprintf('Process %s exited: %s',
	    $self->{command}[0], $exit->{signal} ? "signal: $exit->{signal}"
	    : "exit status $exit->{code}"));
	$self->_agent(info => "Restarting in $self->{restart_delay}s...");
	$self->{restart_at} = time + $self->{restart_delay};
}

# Pump the pipes for SECONDS (restarting the command when it is due).
sub pump
{
	my ($self, $seconds) = @_;
	my $end = time + ($seconds // 0);
	while (1) {
		if ($self->{restart_at} && time >= $self->{restart_at}) { $self->start; }
		my $left = $end - time;
		$left = $self->{restart_at} - time
		    if $self->{restart_at} && $self->{restart_at} - time < $left;
		$self->_read($left > 0 ? $left : 0);
		last if time >= $end;
	}
}

# --- Gather -----------------------------------------------------------------

# One Gather, now. Returns its record { seq, at, wall_ns, error }.
sub gather
{
	my ($self) = @_;
	my $g = { seq => @{ $self->{gathers} } + 1, at => time,
	    wall_ns => Probe::wall_ns(), signal => $self->{signal} };
	push @{ $self->{gathers} }, $g;
	my $s = $self->{signal};
	if (!$self->{pid} && !$self->{in}) {
		# Between an exit and the restart: Signal() on a finished process
		# or a write to the closed pipe fails.
		$g->{error} = $s eq 'STDIN' ? 'writing to stdin failed: file already closed'
		    : $s eq 'none' ? undef : 'os: process already finished';
	} elsif ($s eq 'STDIN') {
		$g->{error} = $self->_write_stdin("\n");
	} elsif ($s =~ /\ASIG(HUP|USR1|USR2)\z/) {
		kill($1, $self->{pid}) or $g->{error} = "signal: $!";
	}
	$g->{done} = time;
	$self->_agent(error => "Error in plugin: $g->{error}") if $g->{error};
	return $g;
}

# Write with the 1 s deadline, reading stdout/stderr meanwhile (Telegraf's
# readers run in their own goroutines).
sub _write_stdin
{
	my ($self, $data) = @_;
	local $SIG{PIPE} = 'IGNORE';   # Go gets EPIPE, not a signal
	my $deadline = time + $self->{write_deadline};
	while (length $data) {
		my $n = syswrite($self->{in}, $data);
		if (defined $n) { substr($data, 0, $n) = ''; next; }
		return "writing to stdin failed: $!"
		    unless $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
		my $left = $deadline - time;
		return 'writing to stdin failed: i/o timeout' if $left <= 0;
		$self->_read($left < 0.05 ? $left : 0.05, $self->{in});
		return 'writing to stdin failed: file already closed' unless $self->{in};
	}
	return undef;
}

# Run the agent's loop: a Gather every interval (first one interval after
# start), pumping output between them, for `gathers => N` or `seconds => S`.
# A Gather that overruns its interval makes the agent skip ticks (logged as
# a warning, as the agent's "did not complete within its interval").
sub run
{
	my ($self, %o) = @_;
	my $want = defined $o{gathers} ? @{ $self->{gathers} } + $o{gathers} : undef;
	my $end = defined $o{seconds} ? time + $o{seconds} : undef;
	while (1) {
		last if defined $want && @{ $self->{gathers} } >= $want;
		my $tick = $self->{next_tick};
		last if defined $end && $tick > $end;
		$self->pump($tick - time) if $tick > time;
		my $g = $self->gather;
		$self->{next_tick} = $tick + $self->{interval};
		if ($g->{done} > $self->{next_tick}) {
			my $skip = int(($g->{done} - $tick) / $self->{interval});
			$self->{next_tick} = $tick + ($skip + 1) * $self->{interval};
			$self->_agent(warn => "[inputs.execd] did not complete within its interval");
		}
	}
	$self->pump($end - time) if defined $end && $end > time;
	return $self;
}

# --- stop -------------------------------------------------------------------

# Close stdin; SIGTERM after stop_timeout; SIGKILL after another. Pumps the
# output meanwhile and after the exit until both pipes are at EOF (at most
# 2 s more). Returns { step, elapsed, code, signal }.
sub stop
{
	my ($self) = @_;
	$self->{stopping} = 1;
	$self->{restart_at} = undef;
	my $t0 = time;
	my $stop = $self->{stop} = { step => 0, t0 => $t0 };
	close $self->{in} if $self->{in};
	$self->{in} = undef;
	my $step = 1;
	my $next = $t0 + $self->{stop_timeout};
	while (my $pid = $self->{pid}) {
		my $left = $next - time;
		$self->_read($left > 0.02 ? 0.02 : $left > 0.002 ? $left : 0.002);
		last unless $self->{pid};
		if (time >= $next && $step < 3) {
			$step++;
			kill($step == 2 ? 'TERM' : 'KILL', $pid);
			$stop->{ $step == 2 ? 'sigterm_at' : 'sigkill_at' } = time - $t0;
			$next = time + $self->{stop_timeout};
		} elsif (time >= $next + 5) {
			last;   # not even SIGKILL: give up, END kills it
		}
	}
	$stop->{step} = $self->{pid} ? 0 : $step;
	$stop->{elapsed} = ($self->{exits}[-1] ? $self->{exits}[-1]{at} : time) - $t0;
	my $end = time + 2;
	$self->_read(0.05) while ($self->{out} || $self->{err}) && time < $end;
	if (my $e = $self->{exits}[-1]) { @$stop{qw(code signal)} = @$e{qw(code signal)}; }
	$self->_agent(info => "Process $self->{command}[0] shut down");
	return $stop;
}

# --- results ----------------------------------------------------------------

sub metrics { return @{ $_[0]{metrics} } }
sub rows { return map { $_->{row} } @{ $_[0]{metrics} } }
sub parse_errors { return @{ $_[0]{parse_errors} } }
sub ignored { return @{ $_[0]{ignored} } }
sub logs { return @{ $_[0]{logs} } }
sub agent_log { return @{ $_[0]{agent_log} } }
sub gathers { return @{ $_[0]{gathers} } }
sub gather_errors { return grep { $_->{error} } @{ $_[0]{gathers} } }
sub exits { return @{ $_[0]{exits} } }
sub unexpected_exits { return grep { !$_->{stopping} } @{ $_[0]{exits} } }
sub partial_reads { return $_[0]{partial_reads} }
sub partial_at_eof { return $_[0]{partial_at_eof} // $_[0]{obuf} }
sub logs_at { my ($self, $level) = @_; return grep { $_->{level} eq $level } $self->logs }

# Metrics per gather: { SEQ => [metrics that arrived after gather SEQ and
# before gather SEQ+1] } (SEQ 0: before the first gather).
sub by_gather
{
	my ($self) = @_;
	my %g;
	push @{ $g{ $_->{gather} } }, $_ for $self->metrics;
	return \%g;
}

# Metrics grouped by arrival: a new burst after a quiet GAP seconds.
# The metrics grouped into rounds by their own timestamps (the send time
# of a row's query): a round's queries leave within milliseconds, rounds
# are GAP seconds or more apart. Rows of one round may reach Telegraf over
# the round's whole run (they leave as their groups end), so arrival
# time (bursts) does not tell rounds apart; timestamps do.
sub rounds
{
	my ($self, $gap) = @_;
	my @r;
	my $last;
	for my $m (sort { $a->{row}{ts} <=> $b->{row}{ts} } $self->metrics) {
		push @r, [] if !defined $last || $m->{row}{ts} - $last > $gap * 1e9;
		push @{ $r[-1] }, $m;
		$last = $m->{row}{ts};
	}
	return @r;
}

sub bursts
{
	my ($self, $gap) = @_;
	my @b;
	my $last;
	for my $m ($self->metrics) {
		push @b, [] if !defined $last || $m->{at} - $last > $gap;
		push @{ $b[-1] }, $m;
		$last = $m->{at};
	}
	return @b;
}

1;
