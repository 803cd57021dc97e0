#!/usr/bin/perl
# The config reader's limits (issue 10) and version 2 config keys, black-box:
# --check-config only, so nothing is sent. Each limit case exits 2 with its
# error on stderr, nothing on stdout, and within a measured time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;

alarm 100;
my $dir = tempdir('conf.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $T = "[target t]\nserver = 127.0.0.1\nquery = example.test SOA\n";

sub check_fails
{
	my ($name, $path, $re, $max_s) = @_;
	my $r = run_probe(args => ['--check-config', '-c', $path], timeout => 30);
	is($r->{rc}, 2, "$name: exit 2") or diag($r->{err});
	is($r->{out}, '', "$name: stdout empty");
	like($r->{err}, $re, "$name: the error") or diag(substr($r->{err}, 0, 400));
	ok($r->{elapsed} < $max_s, sprintf('%s: done in %.3f s (< %s s)', $name,
	    $r->{elapsed}, $max_s));
	return $r;
}

# /dev/zero: an endless line of NULs, read as a stream up to 16 MiB.
check_fails('/dev/zero', '/dev/zero',
    qr{\A/dev/zero: file larger than 16 MiB: not read\n\z}, 2);

# A file over 16 MiB of valid comments.
{
	my $f = "$dir/big.conf";
	open(my $fh, '>', $f) or die;
	print $fh $T;
	my $line = '; ' . ('c' x 1000) . "\n";
	print $fh $line for 1 .. 17 * 1024;
	close $fh;
	check_fails('17 MiB file', $f, qr/^\Q$f\E: file larger than 16 MiB/m, 2);
}

# 5 million bad lines (10 MB): 100 errors, then the count.
{
	my $f = "$dir/bad.conf";
	open(my $fh, '>', $f) or die;
	print $fh "x\n" x 5_000_000;
	close $fh;
	my $r = check_fails('5 million bad lines', $f,
	    qr/^\Q$f\E: \.\.\. and 4999900 more errors$/m, 5);
	my @lines = split /\n/, $r->{err};
	is(scalar @lines, 101, '5 million bad lines: 100 errors and one count line');
	like($lines[0], qr/^\Q$f\E:1: expected KEY = VALUE/, '... the first is line 1');
	like($lines[99], qr/^\Q$f\E:100: /, '... the 100th is line 100');
}

# A line of 64 KiB is fine; one over it is an error with its line number.
{
	my $ok = write_file("$dir/line-ok.conf", $T . 'tag.k = ' . ('v' x 256)
	    . "\n; " . ('c' x (64 * 1024 - 2)) . "\n");
	my $r = run_probe(args => ['--check-config', '-c', $ok]);
	is($r->{rc}, 0, 'a 64 KiB line and a 256-byte tag value: accepted')
	    or diag($r->{err});
	my $long = write_file("$dir/line-long.conf", $T . '; '
	    . ('c' x (64 * 1024 - 1)) . "\nport = 0\n");
	check_fails('a line over 64 KiB', $long,
	    qr/^\Q$long\E:4: line longer than 64 KiB\n\Q$long\E:5: bad port/m, 2);
}

# Tags: field names and long values are refused.
for my $case (['[tags]', 'query_time_ms = x', 2, qr/is a field name/],
    ['[tags]', 'instance_changed = x', 2, qr/is a field name/],
    ['[tags]', 'port = 5353', 2, qr/reserved tag name/],
    ['[tags]', 'v = ' . ('x' x 257), 2, qr/257 bytes: at most 256/]) {
	my ($sec, $kv, $line, $re) = @$case;
	my $f = write_file("$dir/tag.conf", "$sec\n$kv\n$T");
	my $r = run_probe(args => ['--check-config', '-c', $f]);
	(my $name = substr($kv, 0, 30)) =~ s/\s+/ /g;
	is($r->{rc}, 2, "[tags] $name: exit 2");
	like($r->{err}, qr/^\Q$f\E:$line: .*$re/m, "[tags] $name: at line $line")
	    or diag($r->{err});
}

# Version 2 keys: accepted, printed, and the printout loads back the same.
sub strip_comments { my ($t) = @_; $t =~ s/;[^\n]*//g; return $t }
{
	my $f = write_file("$dir/v2.conf", <<'EOF');
[probe]
interval = 250ms
dnssec = yes
identity_timeout = 300ms
instance_map = ^([a-z]+)[0-9]*$ \1
[target v2]
server = 127.0.0.1#5353
server = [::1]:5354
source = 127.0.0.1
resolve_interval = 10m0s
zone = example.test
reference = 127.0.0.2#5300
trust_anchor = /dev/null
tls_port = 8853
https_port = 8443
https_path = /q
https_method = get
tls_name = ns.example.test
tls_verify = no
query = example.test SOA
query = nx.example.test A rcode=NXDOMAIN
cookies = no
EOF
	my $r = run_probe(args => ['--check-config', '-c', $f]);
	is($r->{rc}, 2, "resolve_interval '10m0s' is not a duration: exit 2");
	like($r->{err}, qr/^\Q$f\E:10: bad resolve_interval '10m0s'/m, '... at line 10');
	my $text = do { local $/; open(my $fh, '<', $f) or die; <$fh> };
	$text =~ s/10m0s/600s/;
	# A real trust anchor: dnssec checks the file (an empty one is an error).
	my $anchor = "$FindBin::Bin/../fixtures/dnssec/ds";
	$text =~ s{trust_anchor = /dev/null}{trust_anchor = $anchor};
	write_file($f, $text);
	$r = run_probe(args => ['--check-config', '-c', $f]);
	is($r->{rc}, 0, 'v2 keys: --check-config exits 0') or diag($r->{err});
	for my $want ('interval = 250ms', 'dnssec = yes', 'identity_timeout = 300ms',
	    'instance_map = ^([a-z]+)[0-9]*$ \1', 'server = 127.0.0.1#5353',
	    'server = [::1]:5354', 'source = 127.0.0.1', 'resolve_interval = 600s',
	    'zone = example.test', 'reference = 127.0.0.2#5300',
	    "trust_anchor = $anchor", 'tls_port = 8853', 'https_port = 8443',
	    'https_path = /q', 'https_method = get', 'tls_name = ns.example.test',
	    'tls_verify = no', 'query = nx.example.test A IN rcode=NXDOMAIN',
	    '; query = example.test DNSKEY IN (from trust_anchor)', 'cookies = no') {
		like($r->{out}, qr/^\Q$want\E(?:\t|\n|$)/m, "printed: $want");
	}
	my $again = write_file("$dir/v2-again.conf", $r->{out});
	my $r2 = run_probe(args => ['--check-config', '-c', $again]);
	is($r2->{rc}, 0, 'v2 printout loads') or diag($r2->{err});
	is(strip_comments($r2->{out}), strip_comments($r->{out}),
	    'v2 printout prints the same (but for comments)');
}

# Trust anchors are checked by dnssec's rules (main sets conf's hook): a
# bad one stops --once with exit 2 before any output, at its config line.
for my $case (["example.test. IN A 192.0.2.1\n", qr/:1: not a DS or DNSKEY record/],
    ["", qr/:0: no DS or DNSKEY record/],
    ["other.test. IN DS 1 13 2 abcd\n", qr/:1: owner is not the target's zone/]) {
	my ($content, $re) = @$case;
	my $ds = write_file("$dir/anchor.ds", $content);
	my $f = write_file("$dir/anchor.conf", "[target a]\nserver = 127.0.0.1\n"
	    . "zone = example.test\ntrust_anchor = $ds\nquery = example.test SOA\n");
	my $r = run_probe(args => ['--once', '-c', $f]);
	is($r->{rc}, 2, "bad trust anchor ($re): exit 2");
	like($r->{err}, qr/^\Q$f\E:4: .*\Q$ds\E$re/m, '... at the trust_anchor line')
	    or diag($r->{err});
	is($r->{out}, '', '... and no output');
}

done_testing();
