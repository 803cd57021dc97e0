# LabShell.pm: the anycast lab (tests/lab/lab.sh) driven from a Perl test
# through one bash child that keeps the lab's state, and the row checks the
# lab tests share (scenarios.t, zone.t).
#
#   lab_init(DIR, ROOT): where lab.log goes, and the checkout's top.
#   lab_start(SETUP): start the shell, run SETUP (bash) in it.
#   lab(CMD [, TIMEOUT]) -> (rc, stdout); lab_ok(CMD, NAME): one test.
#   lab_stop(): close the shell (its EXIT trap runs lab_down).
#   row_errors(ROW, tags => ..., fields => ...) -> what is wrong.
#   rows_ok(ROWS, NAME, COUNT, {filter}, tags => ..., fields => ...).
package LabShell;
use strict;
use warnings;
use Exporter 'import';
use IO::Select;
use POSIX qw(WNOHANG _exit);
use Test::More;
use Time::HiRes qw(time sleep);
use Probe qw(rows_where);

our @EXPORT = qw(lab_init lab_start lab lab_ok lab_log_tail lab_stop
    row_errors rows_ok);

my ($DIR, $ROOT);
my %lab = (pid => undef);

sub lab_init { ($DIR, $ROOT) = @_; }

sub lab_start
{
	my ($setup) = @_;
	pipe(my $cmd_r, my $cmd_w) or die "pipe: $!\n";
	pipe(my $out_r, my $out_w) or die "pipe: $!\n";
	my $pid = fork();
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		close $cmd_w;
		close $out_r;
		open(STDIN, '<&', $cmd_r) or _exit(127);
		open(STDOUT, '>&', $out_w) or _exit(127);
		open(STDERR, '>>', "$DIR/lab.log") or _exit(127);
		exec('bash', '--noprofile', '--norc', '-c', <<"EOS") or _exit(127);
cd '$ROOT' || exit 2
. tests/lab/lab.sh
$setup
while IFS= read -r line; do
	eval "\$line"
	echo "\@\@rc \$?"
done
EOS
	}
	close $cmd_r;
	close $out_w;
	$cmd_w->autoflush(1);
	%lab = (pid => $pid, in => $cmd_w, out => $out_r, buf => '');
}

# lab(CMD [, TIMEOUT]): run CMD in the lab shell; returns (rc, stdout).
sub lab
{
	my ($cmd, $timeout) = @_;
	die "lab is not running\n" unless $lab{pid};
	syswrite($lab{in}, "$cmd\n") or die "lab shell gone: $!\n";
	my $deadline = time + ($timeout // 30);
	my $sel = IO::Select->new($lab{out});
	while (1) {
		if ($lab{buf} =~ s/\A(.*?)^\@\@rc (\d+)\n//ms) {
			my ($out, $rc) = ($1, $2);
			chomp $out;
			return ($rc, $out);
		}
		my $left = $deadline - time;
		die "lab: '$cmd' did not finish in time\n" if $left <= 0;
		next unless $sel->can_read($left);
		my $n = sysread($lab{out}, my $b, 65536);
		die "lab shell died during '$cmd'\n" unless $n;
		$lab{buf} .= $b;
	}
}

sub lab_ok
{
	my ($cmd, $name) = @_;
	my ($rc) = lab($cmd);
	ok($rc == 0, $name // $cmd) or diag("rc $rc; lab.log:\n" . lab_log_tail());
	return $rc == 0;
}

sub lab_log_tail
{
	open(my $fh, '<', "$DIR/lab.log") or return '';
	my @l = <$fh>;
	return join('', @l[($#l > 30 ? $#l - 30 : 0) .. $#l]);
}

# Closing the shell's stdin ends its loop; its EXIT trap runs lab_down.
sub lab_stop
{
	return unless $lab{pid};
	close $lab{in};
	my $deadline = time + 30;
	while (time < $deadline) {
		last if waitpid($lab{pid}, WNOHANG) == $lab{pid};
		sleep 0.05;
	}
	if (kill 0, $lab{pid}) {
		kill 'TERM', $lab{pid};
		waitpid($lab{pid}, 0);
	}
	$lab{pid} = undef;
}

# What is wrong with row R: tags => {k => v|qr//|undef (absent)},
# fields => {k => undef (absent) | [TYPE, VALUE|qr//|CODE]}.
sub row_errors
{
	my ($r, %e) = @_;
	my @err;
	for my $k (sort keys %{ $e{tags} // {} }) {
		my $w = $e{tags}{$k};
		my $v = $r->{tags}{$k};
		if (!defined $w) { push @err, "tag $k=$v present" if defined $v; next; }
		if (!defined $v) { push @err, "tag $k missing"; next; }
		push @err, "tag $k=$v, want $w"
		    unless ref $w eq 'Regexp' ? $v =~ $w : $v eq $w;
	}
	for my $k (sort keys %{ $e{fields} // {} }) {
		my $w = $e{fields}{$k};
		my $f = $r->{fields}{$k};
		if (!defined $w) { push @err, "field $k=$f->{value} present" if $f; next; }
		if (!$f) { push @err, "field $k missing"; next; }
		my ($type, $val) = @$w;
		push @err, "field $k is $f->{type}, want $type" if $f->{type} ne $type;
		next unless defined $val;
		my $good = ref $val eq 'Regexp' ? $f->{value} =~ $val
		    : ref $val eq 'CODE' ? $val->($f->{value})
		    : $f->{value} eq $val;
		push @err, "field $k=$f->{value}, want " . (ref $val ? 'a match' : $val)
		    unless $good;
	}
	return @err;
}

# rows_ok(ROWS, NAME, COUNT, {tag filter}, tags => ..., fields => ...):
# exactly COUNT rows (undef: at least one) match and each passes. One test.
sub rows_ok
{
	my ($rows, $name, $count, $filter, %e) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @sel = rows_where($rows, %$filter);
	my @err;
	push @err, sprintf('%d rows match, want %s', scalar @sel, $count // '> 0')
	    if defined $count ? @sel != $count : !@sel;
	for my $r (@sel) {
		my @e = row_errors($r, %e);
		push @err, @e, "  in: $r->{line}" if @e;
	}
	ok(!@err, $name) or diag(join('', map { "  $_\n" } @err));
	return @sel;
}

1;
