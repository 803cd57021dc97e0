#!/usr/bin/perl
# Hostile servers (issue 4): the probe against tests/lib/liar.pl, a DNS
# server that lies on purpose (see its header for the modes). Whatever the
# server sends, every stdout line parses strictly, there is exactly one row
# per query sent, only the SPEC's tags and fields appear, untrusted tag
# values are valid UTF-8 without control bytes and at most 64 bytes,
# spoofed or mismatched replies are never `success`, and a round ends on
# time. --once runs and a long-running probe driven by stdin newlines; the
# lines are written to a real InfluxDB when one can be started.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IO::Select;
use IPC::Open2;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time);
use Probe;
use Servers qw(have_cmd start_influxd influx_post influx_query);

alarm 55;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('hostile.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# ---- liars ---------------------------------------------------------------

my @liars;
END {
	my $rc = $?;
	for my $l (@liars) {
		next unless $l->{pid};
		close $l->{in} if $l->{in};
		kill 'TERM', $l->{pid};
		my $t = time + 3;
		while (waitpid($l->{pid}, WNOHANG) == 0) {
			if (time > $t) { kill 'KILL', $l->{pid}; waitpid($l->{pid}, 0); last; }
			select(undef, undef, undef, 0.02);
		}
	}
	$? = $rc;
}

# Start liar.pl with ARGS; returns { pid, port, log }. It prints "READY
# <port>" once its sockets are bound, and exits when its stdin (our pipe)
# closes, so it cannot outlive this script.
sub start_liar
{
	my (@args) = @_;
	my $log = "$dir/liar" . scalar(@liars) . '.log';
	my $pid = open2(my $out, my $in, $^X, "$FindBin::Bin/../lib/liar.pl",
	    '--log', $log, @args);
	my $l = { pid => $pid, in => $in, log => $log };
	push @liars, $l;
	my $line = '';
	my $sel = IO::Select->new($out);
	my $deadline = time + 10;
	while ($line !~ /^READY \d+\n/m && time < $deadline) {
		last unless $sel->can_read($deadline - time);
		sysread($out, my $b, 256) or last;
		$line .= $b;
	}
	die "liar @args did not start: [$line]\n" unless $line =~ /^READY (\d+)$/m;
	$l->{port} = $1;
	$l->{identity}{$1} = $2 while $line =~ /^IDENTITY (\S+) (\d+)$/mg;
	$l->{out} = $out;
	return $l;
}

sub liar_log
{
	my ($l) = @_;
	open(my $fh, '<', $l->{log}) or return ();
	return map { chomp; [split / /] } <$fh>;
}

# ---- what each mode must give --------------------------------------------

my @PAYLOAD = qw(ok nl cr quote bs trailbs comma space eq nul esc badutf8
    utf8cut bsend spacecut long many empty bignsid mix);
my @MUST_SUCCEED = (@PAYLOAD, qw(flood dup trickle));
# Spoofed, mismatched or broken: never a success, on either transport.
my @NEVER = qw(garbage cut0 cut11 cut12 cut40 cut100 wrongid wrongname
    wrongtype wrongclass noquestion otherport otheraddr ptrloop ptrloop2 ptrfwd dupopt
    optlen optrdlen counts late never close hugelen shortlen);
# Anything but a crash: the probe may reasonably accept these or not.
my @ANY = qw(twomsg tc refused);

my %TAGS = map { $_ => 1 } qw(target server server_name family transport port
    domain record_type class result rcode instance instance_source);
my %FIELDS = (query_time_ms => 'float', result_code => 'int',
    rcode_value => 'int', attempts => 'int', answers => 'int',
    response_bytes => 'int', aa => 'bool', tc => 'bool', nsid => 'string',
    identity => 'string', serial => 'int', hop_limit => 'int',
    connect_ms => 'float', instance_changed => 'bool', error => 'string',
    cookie => 'string');

sub mode_of { my ($r) = @_; return (split /\./, $r->{tags}{domain})[0]; }

# The checks every output gets. ROWS from lp_parse_all; EXPECT: number of
# rows; T0/T1: wall-clock seconds around the run.
sub common_checks
{
	my ($name, $rows, $expect, $t0, $t1) = @_;
	is(scalar @$rows, $expect, "$name: exactly one row per query ($expect)");
	my (@bad, %seen);
	for my $r (@$rows) {
		my $t = $r->{tags};
		my $where = "$t->{target}/$t->{server}/$t->{transport}/$t->{domain}";
		push @bad, "$where: measurement $r->{measurement}"
		    if $r->{measurement} ne 'dns_anycast';
		push @bad, "$where: duplicate row" if $seen{$where}++;
		for my $k (@{ $r->{tag_keys} }) {
			push @bad, "$where: unknown tag $k" unless $TAGS{$k};
			push @bad, "$where: tag $k is " . length($t->{$k}) . ' bytes'
			    if length($t->{$k}) > 64;
		}
		for my $k (@{ $r->{field_keys} }) {
			my $f = $r->{fields}{$k};
			if (!$FIELDS{$k}) { push @bad, "$where: unknown field $k"; next; }
			push @bad, "$where: field $k is $f->{type}"
			    if $f->{type} ne $FIELDS{$k};
		}
		my $res = $t->{result} // '';
		my $rc = $r->{fields}{result_code}{value} // -1;
		push @bad, "$where: result=$res result_code=$rc"
		    unless ($res eq 'success' && $rc == 0)
		    || ($res eq 'timeout' && $rc == 1) || ($res eq 'error' && $rc == 2);
		push @bad, "$where: timeout with query_time_ms"
		    if $res eq 'timeout' && exists $r->{fields}{query_time_ms};
		push @bad, "$where: success without query_time_ms"
		    if $res eq 'success' && !exists $r->{fields}{query_time_ms};
		push @bad, "$where: error row without an error field"
		    if $res eq 'error' && !defined $t->{rcode} && !exists $r->{fields}{error};
		push @bad, "$where: hop_limit on a TCP row"
		    if $t->{transport} eq 'tcp' && exists $r->{fields}{hop_limit};
		push @bad, "$where: connect_ms on a UDP row"
		    if $t->{transport} eq 'udp' && exists $r->{fields}{connect_ms};
		push @bad, "$where: instance_source without instance"
		    if exists $t->{instance_source} && !exists $t->{instance};
		my $ts = $r->{ts};
		push @bad, "$where: timestamp $ts outside the run"
		    if $ts < int($t0 * 1e9) - 1e6 || $ts > int($t1 * 1e9) + 1e6;
	}
	ok(!@bad, "$name: tags, fields, types, timestamps as SPEC says")
	    or diag(join('', map { "  $_\n" } @bad[0 .. ($#bad < 30 ? $#bad : 30)]));
}

# Per mode: success where the answer is good, never success where it is
# spoofed or broken.
sub mode_checks
{
	my ($name, $rows) = @_;
	my %want = ((map { $_ => 'success' } @MUST_SUCCEED),
	    (map { $_ => 'fail' } @NEVER), (map { $_ => 'any' } @ANY));
	my (@bad, %n);
	for my $r (@$rows) {
		my $t = $r->{tags};
		next if $t->{class} eq 'CH';
		my $m = mode_of($r);
		my $w = $want{$m} // 'unknown';
		$n{$w}++;
		my $where = "$t->{server}/$t->{transport}/$m";
		if ($w eq 'success') {
			push @bad, "$where: $t->{result} (want success): $r->{line}"
			    if $t->{result} ne 'success';
		} elsif ($w eq 'fail') {
			push @bad, "$where: SUCCESS from a broken/spoofed reply: $r->{line}"
			    if $t->{result} eq 'success';
		} elsif ($w eq 'unknown') {
			push @bad, "$where: row for a query not sent";
		}
	}
	ok(!@bad && $n{success},
	    "$name: good answers succeed ($n{success} rows), broken or spoofed "
	    . 'ones never do (' . ($n{fail} // 0) . ' rows)')
	    or diag(join('', map { "  $_\n" } @bad));
}

# Untrusted text. The raw payload bytes come from liar.pl --dump-*.
my $LIAR = "$FindBin::Bin/../lib/liar.pl";
sub dump_payload
{
	my ($what, $mode) = @_;
	open(my $fh, '-|', $^X, $LIAR, "--dump-$what", $mode) or die "liar: $!\n";
	binmode $fh;
	local $/;
	my $b = <$fh> // '';
	close $fh or die "liar --dump-$what $mode failed\n";
	return $b;
}

# GOT (sanitised, unescaped) is a prefix of RAW where each U+FFFD stands
# for one replaced control byte, ill-formed UTF-8 sequence or (tags only)
# backslash.
sub prefix_model_ok
{
	my ($got, $raw, $field) = @_;
	my $class = $field ? qr/[\x00-\x1f\x7f-\xff]/ : qr/[\x00-\x1f\x7f-\xff\\]/;
	# the set of RAW offsets GOT's first tokens can end at (no regex
	# backtracking: many U+FFFD in a row would take exponential time)
	my %at = (0 => 1);
	for my $tok (split /(\xef\xbf\xbd)/, $got) {
		next if $tok eq '';
		my %next;
		for my $p (keys %at) {
			if ($tok eq "\xef\xbf\xbd") {
				for my $k (1 .. 4) {
					last if $p + $k > length $raw
					    || substr($raw, $p + $k - 1, 1) !~ $class;
					$next{ $p + $k } = 1;
				}
			} elsif (substr($raw, $p, length $tok) eq $tok) {
				$next{ $p + length $tok } = 1;
			}
		}
		%at = %next or return 0;
	}
	return 1;
}

# The instance tag made from untrusted RAW bytes: non-empty, at most 64
# bytes, cut no shorter than a character boundary forces, a prefix of RAW.
sub instance_problems
{
	my ($where, $inst, $raw) = @_;
	return ("$where: no instance") unless defined $inst && $inst ne '';
	my @bad;
	push @bad, "$where: instance [$inst] is not a sanitised prefix of the raw bytes"
	    unless prefix_model_ok($inst, $raw);
	push @bad, "$where: instance [$inst] cut short (" . length($inst) . ' bytes)'
	    if length($raw) > 64 && length($inst) < 61;
	return @bad;
}

# nsid field: the NSID as sent when printable ASCII, else its hex (the
# probe keeps the first 512 bytes); instance tag from it.
sub payload_checks
{
	my ($name, $rows) = @_;
	my (@bad, %raw);
	my $checked = 0;
	for my $r (@$rows) {
		my $t = $r->{tags};
		my $m = mode_of($r);
		next unless $t->{class} eq 'IN' && grep({ $_ eq $m } @PAYLOAD)
		    && $t->{result} eq 'success';
		my $where = "$t->{server}/$t->{transport}/$m";
		my $raw = $raw{$m} //= dump_payload('nsid', $m);
		my $f = $r->{fields}{nsid};
		if (!$f) { push @bad, "$where: no nsid field"; next; }
		my $v = $f->{value};
		$checked++;
		if ($raw eq '') {
			# an empty NSID is no identity: instance from hostname.bind
			push @bad, "$where: empty NSID used as instance"
			    if ($t->{instance_source} // '') eq 'nsid';
		} elsif ($raw =~ /\A[\x20-\x7e]+\z/) {
			push @bad, "$where: nsid field [$v], want [$raw]" if $v ne $raw;
			push @bad, instance_problems($where, $t->{instance}, $raw);
		} else {
			my $hex = unpack('H*', substr($raw, 0, 512));
			push @bad, "$where: non-printable NSID not its hex: [$v]"
			    unless lc($v) eq $hex;
			push @bad, instance_problems($where, $t->{instance}, $hex);
		}
		push @bad, "$where: instance_source $t->{instance_source}"
		    if $raw ne '' && ($t->{instance_source} // '') ne 'nsid';
	}
	ok(!@bad && $checked, "$name: NSID field and instance tag of $checked rows "
	    . 'match what the server sent') or diag(join('', map { "  $_\n" } @bad));
}

# ---- the liars and the config ---------------------------------------------

# Hostile identity (hostname.bind / id.server TXT) answers, each on its own
# port without NSID, so `instance` comes from the TXT.
my @IDENTITY = qw(mix bsend spacecut utf8cut trailbs nul nl long many empty
    badutf8 esc quote comma eq);
my $main = start_liar(map { ('--identity-port', $_) } @IDENTITY);
my $tclose = start_liar('--tcp', 'accept-close');
my $tsilent = start_liar('--tcp', 'accept-silent');
pass("liars on ports $main->{port} $tclose->{port} $tsilent->{port}, "
    . 'identity ports ' . join(' ', map { "$_=$main->{identity}{$_}" } @IDENTITY));

my @both = ('127.0.0.1', '::1');
sub q_of { my ($m) = @_; return "$m.liar.test " . ($m eq 'nul' || $m eq 'cr' ? 'SOA' : 'TXT'); }

sub conf_for
{
	my ($path, @modes) = @_;
	return make_conf($path,
	    probe => { timeout => '300ms', retries => 0, rate => 5000 },
	    targets => [
		{ name => 'liar', server => \@both, port => $main->{port},
		    transport => 'udp tcp', query => [ map { q_of($_) } @modes ] },
		(map { { name => "id-$_", server => \@both,
		    port => $main->{identity}{$_}, transport => 'udp tcp',
		    query => [ 'ok.liar.test TXT', 'wrongid.liar.test TXT' ] } } @IDENTITY),
		{ name => 'tcpclose', server => \@both, port => $tclose->{port},
		    transport => 'tcp', query => [ 'ok.liar.test TXT' ] },
		{ name => 'tcpsilent', server => \@both, port => $tsilent->{port},
		    transport => 'tcp', query => [ 'ok.liar.test TXT' ] },
	]);
}
# rows: addresses x transports x (queries + 2 identity queries)
sub n_rows
{
	my ($n_modes) = @_;
	return 2 * 2 * ($n_modes + 2) + @IDENTITY * 2 * 2 * 4 + 2 * (2 * 1 * 3);
}

sub extra_target_checks
{
	my ($name, $rows) = @_;
	my (@bad, %raw);
	my $n_inst = 0;
	for my $r (@$rows) {
		my $t = $r->{tags};
		my $where = "$t->{target}/$t->{server}/$t->{transport}/$t->{domain}";
		if ($t->{target} =~ /^tcp(close|silent)$/) {
			push @bad, "$where: $t->{result}" if $t->{result} eq 'success';
			push @bad, "$where: silent server: $t->{result}"
			    if $1 eq 'silent' && $t->{result} ne 'timeout';
		}
		next unless $t->{target} =~ /^id-(.*)/;
		my $m = $1;
		my $raw = $raw{$m} //= dump_payload('txt', $m);
		push @bad, "$where: wrong ID counted" if $t->{domain} =~ /^wrongid/
		    && $t->{result} eq 'success';
		if ($t->{class} eq 'CH' && $t->{result} eq 'success') {
			my $f = $r->{fields}{identity};
			if (!$f) { push @bad, "$where: no identity field"; }
			elsif (!prefix_model_ok($f->{value}, $raw, 1)) {
				push @bad, "$where: identity [$f->{value}] is not a sanitised prefix";
			}
		}
		# Every row of the address+transport carries the identity as
		# its instance (the wrongid rows too), unless it is empty.
		my $src = $t->{class} eq 'CH' ? $t->{domain} : 'hostname.bind';
		if ($raw eq '') {
			push @bad, "$where: instance from an empty TXT" if exists $t->{instance};
			next;
		}
		$n_inst++;
		push @bad, instance_problems($where, $t->{instance}, $raw);
		push @bad, "$where: instance_source " . ($t->{instance_source} // 'none')
		    . ", want $src" if ($t->{instance_source} // '') ne $src;
	}
	ok(!@bad && $n_inst, "$name: instance and identity from hostile TXT "
	    . "($n_inst rows); TCP accept-close and accept-silent never succeed")
	    or diag(join('', map { "  $_\n" } @bad));
}

my @all_modes = (@MUST_SUCCEED, @NEVER, @ANY);
my @outputs;   # for InfluxDB

# ---- 1. good answers with hostile bytes only: exit 0 ---------------------
{
	my $conf = make_conf("$dir/good.conf",
	    probe => { timeout => '300ms', retries => 0 },
	    targets => [ { name => 'liar', server => \@both, port => $main->{port},
		transport => 'udp tcp', query => [ map { q_of($_) } @MUST_SUCCEED ] } ]);
	my $t0 = time;
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	my $t1 = time;
	is($r->{rc}, 0, 'good: every hostile-but-valid answer: --once exits 0')
	    or diag($r->{err});
	stderr_prefixes_ok($r->{err}, 'good: stderr prefixes');
	my @rows = lp_parse_all($r->{out}, 'good');
	common_checks('good', \@rows, 2 * 2 * (@MUST_SUCCEED + 2), $t0, $t1);
	mode_checks('good', \@rows);
	payload_checks('good', \@rows);
	my @ch = grep { $_->{tags}{class} eq 'CH' } @rows;
	ok(@ch == 8 && !grep({ !exists $_->{fields}{identity} } @ch),
	    'good: the hostile identity answers are reported as identity fields');
	push @outputs, $r->{out};
}

# ---- 2. every mode in one round: exit 1, on time ---------------------------
{
	my $before = () = liar_log($main);
	my $conf = conf_for("$dir/all.conf", @all_modes);
	my $t0 = time;
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	my $t1 = time;
	is($r->{rc}, 1, 'all modes: --once exits 1 (some queries failed)');
	ok($r->{elapsed} < 0.3 + 1.2, sprintf('all modes: round ends on time '
	    . '(%.3f s, timeout 300 ms x 1 attempt)', $r->{elapsed}));
	stderr_prefixes_ok($r->{err}, 'all modes: stderr prefixes');
	my @rows = lp_parse_all($r->{out}, 'all modes');
	common_checks('all modes', \@rows, n_rows(scalar @all_modes), $t0, $t1);
	mode_checks('all modes', [ grep { $_->{tags}{target} eq 'liar' } @rows ]);
	payload_checks('all modes', [ grep { $_->{tags}{target} eq 'liar' } @rows ]);
	extra_target_checks('all modes', \@rows);
	my @log = liar_log($main);
	my @q = grep { $_->[3] ne 'identity' && $_->[7] =~ /^[46]$/ }
	    @log[$before .. $#log];
	is(scalar @q, 2 * 2 * @all_modes,
	    'all modes: the liar saw every query once (none retried, none lost)');
	push @outputs, $r->{out};
}

# ---- 3. the answer chopped at every length: never a success ---------------
{
	my @chop = map { "chop$_" } 1 .. 340;   # the mix answer is ~330 bytes
	# 127.0.0.1 only (::1 gets the cut* modes in the all-modes round): a
	# perl server must answer them all well within the timeout
	my $conf = make_conf("$dir/chop.conf",
	    probe => { timeout => '1s', retries => 0, identity => '', rate => 2000 },
	    targets => [ { name => 'liar', server => ['127.0.0.1'], port => $main->{port},
		transport => 'udp tcp', query => [ map { "$_.liar.test TXT" } @chop ] } ]);
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	is($r->{rc}, 1, 'chopped: --once exits 1');
	ok($r->{elapsed} < 1 + 0.34 + 1.2, sprintf('chopped: round ends on time (%.3f s; 1 s timeout, 680 queries at 2000/s)',
	    $r->{elapsed}));
	my @rows = lp_parse_all($r->{out}, 'chopped');
	is(scalar @rows, 2 * @chop, 'chopped: one row per query');
	my @succ = grep { $_->{tags}{result} eq 'success' } @rows;
	ok(!@succ, 'chopped: no truncated answer is a success')
	    or diag(join('', map { "  $_->{line}\n" } @succ[0 .. ($#succ < 5 ? $#succ : 5)]));
	my @tcp_err = grep { $_->{tags}{transport} eq 'tcp'
	    && $_->{tags}{result} ne 'error' } @rows;
	ok(!@tcp_err, 'chopped: over TCP each is an error (the frame is complete)')
	    or diag(join('', map { "  $_->{line}\n" } @tcp_err[0 .. ($#tcp_err < 5 ? $#tcp_err : 5)]));
}

# ---- 4. long-running: rounds on stdin newlines ----------------------------
{
	my $conf = conf_for("$dir/all.conf", @all_modes);
	my $want = n_rows(scalar @all_modes);
	my $p = spawn_probe('-c', $conf);
	my @rounds;
	for my $round (1 .. 3) {
		my $have = $p->n_lines;
		my $t0 = time;
		$p->send("\n");
		my $got = $p->wait_for(5, sub { $_[0]->n_lines >= $have + $want });
		my $t1 = time;
		ok($got, sprintf('stdin round %d: %d rows in %.3f s', $round,
		    $p->n_lines - $have, $t1 - $t0));
		ok($t1 - $t0 < 0.3 + 1.2, "stdin round $round: ends on time");
		$p->drain_for(0.1);   # nothing more than the round's rows
		is($p->n_lines - $have, $want, "stdin round $round: exactly $want rows");
		is($p->partial, '', "stdin round $round: no partial line left");
		my $text = join('', map { "$_->{text}\n" } ($p->lines)[$have .. $p->n_lines - 1]);
		my @rows = lp_parse_all($text, "stdin round $round");
		common_checks("stdin round $round", \@rows, $want, $t0, $t1);
		mode_checks("stdin round $round", [ grep { $_->{tags}{target} eq 'liar' } @rows ]);
		extra_target_checks("stdin round $round", \@rows);
		push @outputs, $text;
		push @rounds, \@rows;
	}
	my @changed = grep { $_->{tags}{target} eq 'liar'
	    && ($_->{fields}{instance_changed}{value} // 0) } @{ $rounds[2] };
	ok(!@changed, 'stdin round 3: the same lies give instance_changed=false')
	    or diag(join('', map { "  $_->{line}\n" } @changed[0 .. ($#changed < 3 ? $#changed : 3)]));
	my $t0 = time;
	$p->close_stdin;
	my $rc = $p->wait_exit(3);
	is($rc, 0, sprintf('stdin EOF: exit 0 in %.3f s', time - $t0));
	ok(time - $t0 < 1.5, 'stdin EOF: exits within 1 s');
	stderr_prefixes_ok($p->stderr, 'long-running: stderr prefixes');
}

# ---- 5. a real InfluxDB accepts every line --------------------------------
SKIP: {
	skip 'influxd not installed', 4 unless have_cmd('influxd') && have_cmd('curl');
	my $db = eval { start_influxd() };
	skip "influxd did not start: $@", 4 unless $db;
	my ($code, $resp) = influx_post($db, '/query?q=CREATE+DATABASE+hostile', '');
	my $body = join('', @outputs);
	my $n = () = $body =~ /\n/g;
	($code, $resp) = influx_post($db, '/write?db=hostile&precision=ns', $body);
	is($code, 204, "InfluxDB: all $n lines accepted (HTTP 204)") or diag($resp);
	my $j = influx_query($db, 'hostile', 'SELECT count(result_code) FROM dns_anycast');
	my $count = $j->{results}[0]{series}[0]{values}[0][1] // 0;
	is($count, $n, 'InfluxDB: one point per line');
	# The instance values InfluxDB stored are the ones our parser read.
	my %ours = map { $_->{tags}{instance} => 1 }
	    grep { exists $_->{tags}{instance} } map { lp_parse($_) } split /\n/, $body;
	$j = influx_query($db, 'hostile', 'SHOW TAG VALUES FROM dns_anycast WITH KEY = "instance"');
	my %theirs = map { $_->[1] => 1 } @{ $j->{results}[0]{series}[0]{values} // [] };
	require Encode;
	%theirs = map { Encode::encode('UTF-8', $_) => 1 } keys %theirs;
	is_deeply([ sort keys %theirs ], [ sort keys %ours ],
	    'InfluxDB: stored instance tags equal what the strict parser read');
	$j = influx_query($db, 'hostile', 'SHOW FIELD KEYS FROM dns_anycast');
	my @keys = map { $_->[0] } @{ $j->{results}[0]{series}[0]{values} // [] };
	ok(@keys && !grep({ !$FIELDS{$_} } @keys), 'InfluxDB: only SPEC fields ('
	    . scalar(@keys) . ')') or diag("@keys");
}

done_testing();
