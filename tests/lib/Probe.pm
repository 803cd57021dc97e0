# Probe: helpers for the black-box integration tests of anycast-probe.
#  - run_probe: run the binary with arguments, capture stdout, stderr, exit
#    code and elapsed time, killed after a timeout;
#  - spawn_probe: a long-running probe driven as Telegraf's execd drives it
#    (pipe on stdin, signals), read line by line with deadlines;
#  - lp_parse: a STRICT InfluxDB line-protocol parser (dies on anything
#    malformed), lp_parse_all for a whole output;
#  - rows_where / row_is: find rows by tags, check tags and fields with types;
#  - write_file / text_columns_ok for configs and the text table.
package Probe;

use strict;
use warnings;
use Exporter 'import';
use Encode qw(decode FB_CROAK);
use FindBin;
use POSIX qw(WNOHANG _exit);
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Select;

our @EXPORT = qw(probe_bin run_probe spawn_probe lp_parse lp_parse_all
    rows_where row_is write_file stderr_prefixes_ok wall_ns text_columns_ok);

sub probe_bin
{
	my $bin = $ENV{ANYCAST_PROBE}
	    // "$FindBin::Bin/../../" . ($ENV{B} // 'build') . '/anycast-probe';
	return $bin;
}

# Probe processes still running when the script ends (or dies) are killed.
our @RUNNING;
my $OWNER = $$;
END {
	my $rc = $?;
	if ($$ == $OWNER) {
		for my $h (@RUNNING) {
			next unless $h->{pid};
			kill "KILL", $h->{pid};
			waitpid($h->{pid}, 0);
		}
	}
	$? = $rc;
}

sub wall_ns { return int(time() * 1e9) }

sub write_file
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "$path: $!\n";
	print $fh $text;
	close $fh or die "$path: $!\n";
	return $path;
}

sub _slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	binmode $fh;
	local $/;
	return scalar(<$fh>) // '';
}

# run_probe(args => [...], stdin => TEXT|undef, timeout => SECONDS)
# Returns { rc, signal, out, err, elapsed, timed_out }. stdin is /dev/null
# unless given.
sub run_probe
{
	my (%o) = @_;
	my $timeout = $o{timeout} // 20;
	my $dir = File::Temp::tempdir('probe-run.XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my $in = '/dev/null';
	if (defined $o{stdin}) { $in = write_file("$dir/in", $o{stdin}); }
	my $t0 = time;
	my $pid = fork();
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		open(STDIN, '<', $in);
		open(STDOUT, '>', "$dir/out");
		open(STDERR, '>', "$dir/err");
		exec(probe_bin(), @{ $o{args} // [] }) or _exit(127);
	}
	my $h = { pid => $pid };
	push @RUNNING, $h;
	my ($status, $timed_out) = (undef, 0);
	while (1) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) { $status = $?; last; }
		if (time - $t0 > $timeout) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$status = $?;
			$timed_out = 1;
			last;
		}
		sleep 0.005;
	}
	$h->{pid} = undef;
	my $res = { elapsed => time - $t0, timed_out => $timed_out,
	    rc => ($status & 127) ? -1 : $status >> 8, signal => $status & 127,
	    out => _slurp("$dir/out"), err => _slurp("$dir/err") };
	diag("probe killed after ${timeout}s: @{ $o{args} // [] }") if $timed_out;
	return $res;
}

use File::Temp ();

# --- strict line protocol -------------------------------------------------

# Read an identifier-ish token (measurement, tag key/value, field key) from
# $$s at $$pos up to an unescaped char of STOP. ESC lists the characters a
# backslash escapes. Returns the unescaped token.
sub _token
{
	my ($s, $pos, $stop, $esc, $what) = @_;
	my $out = '';
	while ($$pos < length $$s) {
		my $c = substr($$s, $$pos, 1);
		if ($c eq '\\' && $$pos + 1 < length $$s
		    && index($esc, substr($$s, $$pos + 1, 1)) >= 0) {
			$out .= substr($$s, $$pos + 1, 1);
			$$pos += 2;
			next;
		}
		last if index($stop, $c) >= 0;
		die "unescaped '$c' in $what at byte $$pos\n" if $c eq '"' && $what =~ /key/;
		$out .= $c;
		$$pos++;
	}
	die "empty $what at byte $$pos\n" if $out eq '';
	die "$what ends in a lone backslash\n" if $out =~ /\\\z/;
	return $out;
}

# Parse one line (no newline). Returns { measurement, tags => {k => v},
# tag_keys => [...], fields => {k => {type, value}}, field_keys => [...],
# ts }. Dies with a reason on anything malformed: control bytes, invalid
# UTF-8, empty names or values, duplicate keys, bad field values, a missing
# or non-integer timestamp, trailing garbage.
sub lp_parse
{
	my ($line) = @_;
	die "empty line\n" if !defined $line || $line eq '';
	die "control byte in line\n" if $line =~ /[\x00-\x1f\x7f]/;
	eval { decode('UTF-8', my $copy = $line, FB_CROAK); 1 }
	    or die "invalid UTF-8\n";
	die "comment line\n" if $line =~ /^#/;
	my $pos = 0;
	my %r = (tags => {}, fields => {}, tag_keys => [], field_keys => []);
	$r{measurement} = _token(\$line, \$pos, ', ', ', ', 'measurement');
	while (substr($line, $pos, 1) eq ',') {
		$pos++;
		my $k = _token(\$line, \$pos, '=, ', ',= ', 'tag key');
		die "tag $k without '='\n" unless substr($line, $pos++, 1) eq '=';
		my $v = _token(\$line, \$pos, ', =', ',= ', "tag value of $k");
		die "duplicate tag $k\n" if exists $r{tags}{$k};
		$r{tags}{$k} = $v;
		push @{ $r{tag_keys} }, $k;
	}
	die "expected one space before fields at byte $pos\n"
	    unless substr($line, $pos++, 1) eq ' ';
	while (1) {
		my $k = _token(\$line, \$pos, '=, ', ',= ', 'field key');
		die "field $k without '='\n" unless substr($line, $pos++, 1) eq '=';
		my ($type, $val);
		if (substr($line, $pos, 1) eq '"') {
			$pos++;
			$val = '';
			while (1) {
				die "unterminated string in field $k\n" if $pos >= length $line;
				my $c = substr($line, $pos, 1);
				if ($c eq '\\') {
					my $n = substr($line, $pos + 1, 1);
					die "unterminated string in field $k\n" if $n eq '';
					if ($n eq '"' || $n eq '\\') { $val .= $n; $pos += 2; next; }
					die "bad escape \\$n in string field $k\n";
				}
				if ($c eq '"') { $pos++; last; }
				$val .= $c;
				$pos++;
			}
			$type = 'string';
		} else {
			my $raw = '';
			while ($pos < length $line && substr($line, $pos, 1) !~ /[ ,]/) {
				$raw .= substr($line, $pos++, 1);
			}
			if ($raw =~ /\A(-?\d+)i\z/) { ($type, $val) = ('int', $1 + 0); }
			elsif ($raw =~ /\A(\d+)u\z/) { ($type, $val) = ('uint', $1 + 0); }
			elsif ($raw =~ /\A-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\z/) {
				($type, $val) = ('float', $raw + 0);
			} elsif ($raw =~ /\A(?:t|T|true|True|TRUE)\z/) { ($type, $val) = ('bool', 1); }
			elsif ($raw =~ /\A(?:f|F|false|False|FALSE)\z/) { ($type, $val) = ('bool', 0); }
			else { die "bad value '$raw' of field $k\n"; }
		}
		die "duplicate field $k\n" if exists $r{fields}{$k};
		$r{fields}{$k} = { type => $type, value => $val };
		push @{ $r{field_keys} }, $k;
		my $c = substr($line, $pos++, 1);
		next if $c eq ',';
		die "expected ',' or ' ' after field $k\n" unless $c eq ' ';
		last;
	}
	my $ts = substr($line, $pos);
	die "bad timestamp '$ts'\n" unless $ts =~ /\A-?\d{1,19}\z/;
	$r{ts} = $ts;
	$r{line} = $line;
	return \%r;
}

# Parse a whole output: every line must end in "\n" and parse. Emits one
# test ("NAME: N lines parse strictly") and returns the rows.
sub lp_parse_all
{
	my ($text, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @rows;
	my @bad;
	push @bad, 'output does not end with a newline' if $text ne '' && $text !~ /\n\z/;
	my $n = 0;
	(my $body = $text) =~ s/\n\z//;
	for my $line ($text eq "" ? () : split(/\n/, $body, -1)) {
		$n++;
		my $r = eval { lp_parse($line) };
		if ($r) { push @rows, $r; } else { push @bad, "line $n: $@ [$line]"; }
	}
	ok(!@bad, sprintf('%s: %d lines parse strictly', $name // 'output',
	    scalar @rows)) or diag(join('', map { "  $_\n" } @bad));
	return @rows;
}

# Rows whose tags match: key => value (exact), key => qr//, key => undef
# (tag absent).
sub rows_where
{
	my ($rows, %want) = @_;
	return grep {
		my $r = $_;
		!grep {
			my $w = $want{$_};
			my $v = $r->{tags}{$_};
			!defined $w ? defined $v
			    : !defined $v ? 1
			    : ref $w eq 'Regexp' ? $v !~ $w : $v ne $w;
		} keys %want;
	} @$rows;
}

sub _match
{
	my ($got, $want) = @_;
	return 1 if !defined $want;
	return $got =~ $want if ref $want eq 'Regexp';
	return $want->($got) if ref $want eq 'CODE';
	return $got eq $want;
}

# One test for one row:
#  tags   => { k => 'v' | qr// | undef (absent) }
#  fields => { k => undef (absent) | TYPE | [TYPE, VALUE|qr//|CODE] }
#  exact_tags => [...]   the row has exactly these tag keys
#  exact_fields => [...] and these field keys (optional => [...] may be
#                        present too)
sub row_is
{
	my ($r, $name, %e) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @err;
	my $t = $r->{tags};
	my $f = $r->{fields};
	while (my ($k, $w) = each %{ $e{tags} // {} }) {
		if (!defined $w) { push @err, "tag $k present ($t->{$k})" if exists $t->{$k}; next; }
		if (!exists $t->{$k}) { push @err, "tag $k missing"; next; }
		push @err, "tag $k=$t->{$k}, want $w" unless _match($t->{$k}, $w);
	}
	while (my ($k, $w) = each %{ $e{fields} // {} }) {
		if (!defined $w) {
			push @err, "field $k present ($f->{$k}{value})" if exists $f->{$k};
			next;
		}
		if (!exists $f->{$k}) { push @err, "field $k missing"; next; }
		my ($type, $val) = ref $w eq 'ARRAY' ? @$w : ($w);
		push @err, "field $k is $f->{$k}{type}, want $type"
		    if $f->{$k}{type} ne $type;
		push @err, "field $k=$f->{$k}{value}, want $val"
		    unless _match($f->{$k}{value}, $val);
	}
	my %opt = map { $_ => 1 } @{ $e{optional} // [] };
	for my $what (['tags', $t], ['fields', $f]) {
		my $list = $e{"exact_$what->[0]"} or next;
		my %want = map { $_ => 1 } @$list;
		my @extra = grep { !$want{$_} && !$opt{$_} } sort keys %{ $what->[1] };
		my @miss = grep { !exists $what->[1]{$_} } @$list;
		push @err, "unexpected $what->[0]: @extra" if @extra;
		push @err, "missing $what->[0]: @miss" if @miss;
	}
	ok(!@err, $name) or diag(join('', map { "  $_\n" } @err, "  line: $r->{line}\n"));
	return !@err;
}

# Every stderr line starts with a Telegraf log-level prefix.
sub stderr_prefixes_ok
{
	my ($err, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @bad = grep { !/^[EWID]! / } split /\n/, $err;
	ok(!@bad, $name // 'stderr lines start with E!/W!/I!/D!')
	    or diag(join('', map { "  [$_]\n" } @bad));
}

# The text table is aligned: the columns a header word starts must not
# overlap. Column = a run of byte positions where some line has a non-space,
# between positions that are spaces in every line. Each header word must lie
# in its own column. Returns true/false and emits one test.
sub text_columns_ok
{
	my ($lines, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $w = 0;
	for (@$lines) { $w = length if length > $w; }
	my @used = (0) x $w;
	for my $l (@$lines) {
		for my $i (0 .. length($l) - 1) { $used[$i] = 1 if substr($l, $i, 1) ne ' '; }
	}
	my @col;   # column number of each position, or -1
	my $c = -1;
	for my $i (0 .. $w - 1) {
		if ($used[$i]) { $c++ if $i == 0 || !$used[$i - 1]; $col[$i] = $c; }
		else { $col[$i] = -1; }
	}
	my %seen;
	my @dup;
	my $h = $lines->[0] // '';
	while ($h =~ /(\S+)/g) {
		my $start = $-[0];
		my $cn = $col[$start];
		push @dup, $1 if $seen{$cn}++;
	}
	ok(@$lines > 1 && !@dup && keys(%seen) >= 2, $name // 'text table aligned')
	    or diag("header words sharing a column with another: @dup\n"
	    . join('', map { "  |$_|\n" } @$lines));
}

# --- a long-running probe, as Telegraf's execd runs it ---------------------

package Probe::Proc;

use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(time sleep);
use IO::Handle;

sub new
{
	my ($class, @args) = @_;
	my ($pid, $in_w, $out_r, $err_r) = Probe::spawn_piped(Probe::probe_bin(), @args);
	$in_w->autoflush(1);
	$_->blocking(0) for $out_r, $err_r;
	my $self = bless { pid => $pid, in => $in_w, out => $out_r, err => $err_r,
	    obuf => '', ebuf => '', lines => [], t0 => time }, $class;
	push @Probe::RUNNING, $self;
	return $self;
}

# Read what is available, waiting at most WAIT seconds for something.
sub pump
{
	my ($self, $wait) = @_;
	my @fh = grep { defined } ($self->{out}, $self->{err});
	return 0 unless @fh;
	my $sel = IO::Select->new(@fh);
	my $got = 0;
	for my $fh ($sel->can_read($wait)) {
		my $n = sysread($fh, my $buf, 65536);
		if (!defined $n) { next; }
		if ($n == 0) {
			if (defined $self->{out} && $fh == $self->{out}) {
				close $fh;
				$self->{out} = undef;
			}
			else { close $fh; $self->{err} = undef; }
			next;
		}
		$got += $n;
		if ($self->{out} && $fh == $self->{out}) {
			$self->{obuf} .= $buf;
			$self->{stdout_raw} .= $buf;
			while ($self->{obuf} =~ s/\A([^\n]*)\n//) {
				push @{ $self->{lines} }, { text => $1, at => time };
			}
		} else {
			$self->{ebuf} .= $buf;
		}
	}
	return $got;
}

# Read until COND->($self) is true or TIMEOUT passes; returns COND's value.
sub wait_for
{
	my ($self, $timeout, $cond) = @_;
	my $deadline = time + $timeout;
	while (1) {
		my $v = $cond->($self);
		return $v if $v;
		my $left = $deadline - time;
		return $v if $left <= 0;
		if (!$self->pump($left > 0.05 ? 0.05 : $left) && !$self->{out} && !$self->{err}) {
			return $cond->($self);
		}
	}
}

# Read for exactly SECONDS (to show that nothing more arrives).
sub drain_for
{
	my ($self, $seconds) = @_;
	my $deadline = time + $seconds;
	while ((my $left = $deadline - time) > 0) { $self->pump($left); }
}

sub lines { return @{ $_[0]{lines} } }
sub n_lines { return scalar @{ $_[0]{lines} } }
sub partial { return $_[0]{obuf} }
sub stderr { return $_[0]{ebuf} }
sub send { my ($self, $text) = @_; syswrite($self->{in}, $text); }
sub signal { my ($self, $sig) = @_; kill $sig, $self->{pid}; }
sub close_stdin { my ($self) = @_; close $self->{in}; $self->{in} = undef; }

# Wait up to TIMEOUT for exit (reading output meanwhile). Returns the exit
# code (-1 when killed by a signal) or undef when still running.
sub wait_exit
{
	my ($self, $timeout) = @_;
	my $deadline = time + $timeout;
	while (1) {
		my $r = waitpid($self->{pid}, WNOHANG);
		if ($r == $self->{pid}) {
			my $st = $?;
			$self->{pid} = undef;
			my $end = time + 2;
			$self->pump(0.05) while ($self->{out} || $self->{err}) && time < $end;
			return ($st & 127) ? -1 : $st >> 8;
		}
		return undef if time > $deadline;
		$self->pump(0.01);
	}
}

sub kill_now
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

package Probe;

# spawn_piped(CMD, ARGS...): start CMD with pipes on stdin, stdout and
# stderr and default signal dispositions (as Go's os/exec, and so Telegraf,
# starts a child). Returns (pid, stdin writer, stdout reader, stderr reader).
sub spawn_piped
{
	my (@cmd) = @_;
	pipe(my $in_r, my $in_w) or die "pipe: $!\n";
	pipe(my $out_r, my $out_w) or die "pipe: $!\n";
	pipe(my $err_r, my $err_w) or die "pipe: $!\n";
	my $pid = fork();
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		close $in_w; close $out_r; close $err_r;
		open(STDIN, '<&', $in_r) or _exit(127);
		open(STDOUT, '>&', $out_w) or _exit(127);
		open(STDERR, '>&', $err_w) or _exit(127);
		$SIG{$_} = 'DEFAULT' for qw(PIPE TERM INT HUP USR1 USR2 ALRM);
		exec(@cmd) or _exit(127);
	}
	close $in_r; close $out_w; close $err_w;
	return ($pid, $in_w, $out_r, $err_r);
}

sub spawn_probe { return Probe::Proc->new(@_) }

1;

# make_conf(PATH, probe => {k => v}, tags => {k => v},
#           targets => [ { name => N, server => [...], query => [...], k => v } ])
# Writes an INI config for the probe; keys in the given order of the lists.
sub make_conf
{
	my ($path, %o) = @_;
	my $t = "[probe]\n";
	for my $k (sort keys %{ $o{probe} // {} }) { $t .= "$k = $o{probe}{$k}\n"; }
	if ($o{tags}) {
		$t .= "\n[tags]\n";
		$t .= "$_ = $o{tags}{$_}\n" for sort keys %{ $o{tags} };
	}
	for my $tg (@{ $o{targets} // [] }) {
		$t .= "\n[target $tg->{name}]\n";
		$t .= "server = $_\n" for @{ $tg->{server} };
		$t .= "query = $_\n" for @{ $tg->{query} // [] };
		for my $k (sort keys %$tg) {
			next if $k =~ /^(name|server|query)$/;
			$t .= "$k = $tg->{$k}\n";
		}
	}
	return write_file($path, $t);
}
push @EXPORT, 'make_conf';

1;
