#!/usr/bin/perl
# Command line and configuration errors, black-box. Sends no DNS packets:
# every run here either prints help/version, fails on its config, or is
# --check-config. conf/root-servers.conf is only ever --check-config'ed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Socket qw(AF_INET AF_INET6 inet_pton inet_ntop);
use Test::More;
use Probe;

alarm 55;
my $top = "$FindBin::Bin/../..";
my $dir = tempdir('cli.XXXXXX', TMPDIR => 1, CLEANUP => 1);
ok(-x probe_bin(), 'probe binary is built: ' . probe_bin())
    or BAIL_OUT('no probe binary');

# --- help and version
for my $opt ('-h', '--help') {
	my $r = run_probe(args => [$opt]);
	is($r->{rc}, 0, "$opt exits 0");
	like($r->{out}, qr/--once/, "$opt shows the options on stdout");
}
for my $opt ('-V', '--version') {
	my $r = run_probe(args => [$opt]);
	is($r->{rc}, 0, "$opt exits 0");
	like($r->{out} . $r->{err}, qr/\d+\.\d+/, "$opt prints a version number");
}

{
	my $r = run_probe(args => ['--no-such-option']);
	is($r->{rc}, 2, 'unknown option exits 2');
	is($r->{out}, '', 'unknown option: stdout empty');
}

# --- no config and no -s
SKIP: {
	skip '/etc/anycast-probe.conf exists on this machine', 3
	    if -e '/etc/anycast-probe.conf';
	my $r = run_probe(args => ['--once']);
	is($r->{rc}, 2, 'no config, no -s: exit 2');
	like($r->{err}, qr{conf/}, 'no config: the message points to conf/');
	is($r->{out}, '', 'no config: stdout empty');
}
{
	my $r = run_probe(args => ['--once', '-c', "$dir/does-not-exist.conf"]);
	is($r->{rc}, 2, 'missing -c file: exit 2');
	like($r->{err}, qr{\Q$dir\E/does-not-exist\.conf}, 'missing -c file: named');
	is($r->{out}, '', 'missing -c file: stdout empty');
}

# --- a config with an error on many lines: every one reported with its line
my $bad = write_file("$dir/bad.conf", <<'EOF');
[probe]
timeout = 2x
bogus_key = 1
retries = many
[target t1]
server = 127.0.0.1
port = 99999
transport = sctp
query = example.test NOSUCHTYPE
query = example.test SOA XX
family = ipv5
[nosuchsection]
foo = bar
EOF
# line => what is wrong there
my %want = (2 => 'bad duration', 3 => 'unknown key', 4 => 'bad retries',
    7 => 'bad port', 8 => 'bad transport', 9 => 'bad type', 10 => 'bad class',
    11 => 'bad family');
for my $mode (['--check-config'], ['--once'], []) {
	my @args = (@$mode, '-c', $bad);
	my $r = run_probe(args => \@args, timeout => 10);
	is($r->{rc}, 2, "bad config (@args): exit 2");
	is($r->{out}, '', "bad config (@args): stdout EMPTY");
	my @lines = split /\n/, $r->{err};
	my @loc = grep { /^\Q$bad\E:\d+: \S/ } @lines;
	for my $l (sort { $a <=> $b } keys %want) {
		ok(scalar(grep { /^\Q$bad\E:$l: \S/ } @loc),
		    "bad config (@args): $want{$l} reported as FILE:$l: message")
		    or diag($r->{err});
	}
	ok(scalar(grep { /^\Q$bad\E:1[23]: \S/ } @loc),
	    "bad config (@args): unknown section reported at its line");
	ok(!grep({ /^\Q$bad\E:(?:1|5|6): / } @loc),
	    "bad config (@args): no error on the good lines 1, 5, 6");
}

# --- a 250-character query name is read whole (libinih cuts at 200)
my @labels = ('a' x 63, 'b' x 63, 'c' x 63);
my $long = join('.', @labels) . '.' . ('d' x (250 - 3 * 64 - 5)) . '.test';
is(length $long, 250, 'the long name has 250 characters');
my $long_conf = write_file("$dir/long.conf", <<"EOF");
[probe]
identity =

[target long]
server = 127.0.0.1
query = $long SOA
port = 5300
EOF
{
	my $r = run_probe(args => ['--check-config', '-c', $long_conf]);
	is($r->{rc}, 0, '250-char query line: --check-config exits 0')
	    or diag($r->{err});
	like($r->{out}, qr/(?<![a-z.])\Q$long\E(?![a-z])/,
	    'the whole 250-char name is in the effective configuration');
	unlike($r->{out}, qr/(?<![a-z.])\Q@{[substr($long, 0, 190)]}\E(?!\Q@{[substr($long, 190, 1)]}\E)/,
	    'no cut copy of the name');
}
# The line after a long one keeps its own number.
my $long_bad = write_file("$dir/long-bad.conf", <<"EOF");
[probe]
identity =
[target long]
server = 127.0.0.1
query = $long SOA
nonsense = 1
EOF
{
	my $r = run_probe(args => ['--check-config', '-c', $long_bad]);
	is($r->{rc}, 2, 'long line then a bad key: exit 2');
	like($r->{err}, qr/^\Q$long_bad\E:6: /m, 'the bad key is reported at line 6');
	unlike($r->{err}, qr/^\Q$long_bad\E:5: /m, 'no error at the long line 5');
	is($r->{out}, '', 'stdout empty');
}
# A name over 253 characters is an error, not cut silently.
{
	my $toolong = "$long.extra";
	my $f = write_file("$dir/toolong.conf",
	    "[target x]\nserver = 127.0.0.1\nquery = $toolong SOA\n");
	my $r = run_probe(args => ['--check-config', '-c', $f]);
	is($r->{rc}, 2, 'a 256-char name is a config error');
	like($r->{err}, qr/^\Q$f\E:3: /m, '... reported at its line');
}

# --- a port per server (SPEC v2): ADDR#PORT, [IPV6]:PORT, [IPV6], IPV4:PORT;
# --check-config prints them back so that the output loads as the same config
sub strip_comments { my ($t) = @_; $t =~ s/;[^\n]*//g; return $t }
{
	my $c = write_file("$dir/port-in-server.conf",
	    "[target a]\nserver = 127.0.0.1#5353\nserver = [::1]\n"
	    . "server = [::1]:5354\nserver = 192.0.2.1:53\nquery = example.test SOA\n");
	my $r = run_probe(args => ['--check-config', '-c', $c]);
	is($r->{rc}, 0, 'ports in server =: --check-config exits 0') or diag($r->{err});
	like($r->{out}, qr/^server = 127\.0\.0\.1#5353\t/m, 'ADDR#PORT printed back');
	like($r->{out}, qr/^server = ::1\t; ipv6 port 53$/m, '[IPV6] printed as the address');
	like($r->{out}, qr/^server = \[::1\]:5354\t/m, '[IPV6]:PORT printed back');
	like($r->{out}, qr/^server = 192\.0\.2\.1#53\t/m, 'IPV4:PORT printed as ADDR#PORT');
	my $again = write_file("$dir/port-in-server-again.conf", $r->{out});
	my $r2 = run_probe(args => ['--check-config', '-c', $again]);
	is($r2->{rc}, 0, 'the printed config loads') or diag($r2->{err});
	is(strip_comments($r2->{out}), strip_comments($r->{out}),
	    'and prints the same (but for comments)');
}

# --- issue 14's small ones: each a config error with its line, nothing on stdout
for my $case (
    ["server = 127.0.0.1 127.0.0.2\n", 3, qr/one address per line/],
    ["server = 127.0.0.1\n", 3, qr/duplicate server '127\.0\.0\.1' \(first on line 2\)/],
    ["edns_size = 0\nnsid = yes\n", 4, qr/nsid = yes needs EDNS/],
    ["server = ::ffff:127.0.0.1\n", 3, qr/IPv4-mapped/],
    ["tag.query_time_ms = x\n", 3, qr/is a field name/],
    ["tag.v = " . ('x' x 257) . "\n", 3, qr/at most 256/],
    ["source = 192.0.2.99\n", 3, qr/not an address of this machine/],
    ) {
	my ($extra, $line, $re) = @$case;
	(my $name = substr($extra, 0, 40)) =~ s/\n/ | /g;
	my $c = write_file("$dir/small.conf",
	    "[target a]\nserver = 127.0.0.1\n$extra" . "query = example.test SOA\n");
	my $r = run_probe(args => ['--check-config', '-c', $c]);
	is($r->{rc}, 2, "'$name...': exit 2");
	is($r->{out}, '', '... stdout empty');
	like($r->{err}, qr/^\Q$c\E:$line: .*$re/m, "... reported at line $line")
	    or diag($r->{err});
}
{
	my $c = write_file("$dir/probe-map.conf",
	    "[probe]\ninstance_map = ^(a)(b)\$ \\3\n[target a]\nserver = 127.0.0.1\nquery = x\n");
	my $r = run_probe(args => ['--check-config', '-c', $c]);
	is($r->{rc}, 2, 'instance_map with \\3 beyond 2 groups: exit 2');
	like($r->{err}, qr/^\Q$c\E:2: bad instance_map replacement/m, '... at its line');
	my $n = write_file("$dir/no-target.conf", "[probe]\nrate = 5\n");
	$r = run_probe(args => ['--check-config', '-c', $n]);
	is($r->{rc}, 2, 'no target: exit 2');
	like($r->{err}, qr/^\Q$n\E: no \[target NAME\] section$/m, 'whole-file error: FILE: message, no :0:');
}

# --- shipped configs: --check-config only (NEVER run root-servers.conf)
sub canon
{
	my ($a) = @_;
	for my $af (AF_INET, AF_INET6) {
		my $bin = inet_pton($af, $a);
		return inet_ntop($af, $bin) if $bin;
	}
	return $a;
}
for my $name ('anycast-probe.conf', 'root-servers.conf') {
	my $f = "$top/conf/$name";
	SKIP: {
		ok(-e $f, "conf/$name exists") or skip "no conf/$name", 4;
		open(my $fh, '<', $f) or die;
		my @addrs;
		while (<$fh>) {
			next if /^\s*[;#]/;
			push @addrs, $1 if /^\s*server\s*=\s*([0-9a-fA-F:.]+)\s*(?:[;#].*)?$/;
		}
		close $fh;
		my $r = run_probe(args => ['--check-config', '-c', $f]);
		is($r->{rc}, 0, "--check-config conf/$name exits 0") or diag($r->{err});
		ok(@addrs > 0, "conf/$name has literal server addresses");
		my @missing = grep {
			my $c = canon($_);
			$r->{out} !~ /(?<![0-9a-fA-F:.])(?:\Q$c\E|\Q$_\E)(?![0-9a-fA-F:.])/
		} @addrs;
		ok(!@missing, "--check-config conf/$name prints every address ("
		    . scalar(@addrs) . ')') or diag("missing: @missing\n$r->{out}");
		if ($name eq 'root-servers.conf') {
			my %fam;
			$fam{ /:/ ? 6 : 4 }++ for @addrs;
			ok(($fam{4} // 0) >= 13 && ($fam{6} // 0) >= 13,
			    'root-servers.conf: 13 letters over IPv4 and IPv6');
		} else {
			pass('anycast-probe.conf checked');
		}
	}
}

# --- Version 2 command line (the cli block): one error prefix, which
# options go with which mode, -h lists them all. Sends no DNS packets: every
# run fails on its arguments or is --check-config.
{
	my $h = run_probe(args => ['-h']);
	for my $opt (qw(--target -i --interval --count --timeout --retries -4 -6
	    -p --port -b --source --no-identity --no-nsid --dnssec tls https)) {
		like($h->{out}, qr/(?<![\w-])\Q$opt\E(?![\w-])/, "-h lists $opt");
	}
	my @bad = (
	    [['--no-such-option'], qr/unknown option '--no-such-option'/],
	    [['-Z'], qr/unknown option '-Z'/],
	    [['--count'], qr/--count needs a value/],
	    [['-s', '127.0.0.1', '-i', '10ms'], qr/-i takes a duration of at least 100ms/],
	    [['-s', '127.0.0.1', '-i', 'often'], qr/-i takes a duration/],
	    [['-s', '127.0.0.1', '--count', '0'], qr/--count takes a number of rounds/],
	    [['-s', '127.0.0.1', '--once', '-i', '1s'], qr/--once and -i\/--count do not mix/],
	    [['-s', '::1', '-4', '-6'], qr/-4 and -6 do not mix/],
	    [['-s', '::1', '--target', 'a'], qr/--target picks targets of a config/],
	    [['-c', "$dir/x.conf", '-s', '::1'], qr/-c and -s do not mix/],
	);
	for my $opt (['--timeout', '1s'], ['--retries', '0'], ['-4'], ['-6'],
	    ['-p', '53'], ['-b', '127.0.0.1'], ['--no-identity'], ['--no-nsid'],
	    ['--dnssec'], ['-q', '. SOA'], ['-t', 'tcp']) {
		push @bad, [['-c', "$dir/x.conf", @$opt],
		    qr/\Q$opt->[0]\E is for an ad-hoc target \(-s ADDR\)/];
	}
	for my $b (@bad) {
		my $r = run_probe(args => $b->[0]);
		my @err = split /\n/, $r->{err};
		ok($r->{rc} == 2 && $r->{out} eq '' && @err == 2
		    && $err[0] =~ $b->[1] && !grep({ !/^anycast-probe: / } @err),
		    "@{ $b->[0] }: exit 2, one 'anycast-probe: ' message and a hint")
		    or diag("rc $r->{rc}\n$r->{err}");
	}

	# -i and --count go with a config file: -i sets its interval
	my $c = write_file("$dir/two.conf", "[probe]\nidentity =\n"
	    . "[target a]\nserver = 127.0.0.1\nquery = a.test SOA\n"
	    . "[target b]\nserver = ::1\nquery = b.test SOA\n");
	my $r = run_probe(args => ['--check-config', '-c', $c, '-i', '1500ms', '--count', '2']);
	is($r->{rc}, 0, '-c with -i and --count: accepted') or diag($r->{err});
	like($r->{out}, qr/^interval = 1500ms$/m, '-i sets the interval of a config');

	# ad-hoc options, checked by conf like config keys: shown by
	# --check-config
	my @ad = ('--check-config', '-s', '127.0.0.1');
	my %effect = (
	    '--timeout 300ms' => qr/^timeout = 300ms$/m,
	    '--retries 3' => qr/^retries = 3$/m,
	    '--no-nsid' => qr/^nsid = no$/m,
	    '-p 5300' => qr/port 5300|^port = 5300$/m,
	    '-i 250ms' => qr/^interval = 250ms$/m,
	);
	for my $o (sort keys %effect) {
		my $x = run_probe(args => [@ad, split(/ /, $o)]);
		is($x->{rc}, 0, "ad hoc $o: accepted") or diag($x->{err});
		like($x->{out}, $effect{$o}, "ad hoc $o: in the effective config");
	}
	{
		my $x = run_probe(args => [@ad, '--timeout', 'soon']);
		ok($x->{rc} == 2 && $x->{err} =~ /timeout/ && $x->{out} eq '',
		    'ad hoc --timeout soon: exit 2, named') or diag($x->{err});
	}
	# --target: only the targets named
	my $t = run_probe(args => ['--check-config', '-c', $c, '--target', 'b']);
	is($t->{rc}, 0, '--target b: exit 0') or diag($t->{err});
	ok($t->{out} =~ /^\[target b\]/m && $t->{out} !~ /^\[target a\]/m,
	    '--target b: only target b');
	my $u = run_probe(args => ['--check-config', '-c', $c, '--target', 'nope']);
	ok($u->{rc} == 2 && $u->{err} =~ /nope/ && $u->{out} eq '',
	    '--target nope: exit 2, the name in the message');
}

done_testing();
