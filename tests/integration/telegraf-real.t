#!/usr/bin/perl
# telegraf-real.t - the probe under a REAL Telegraf (issue 13): v1.39.3,
# built by `make telegraf` (tests/lib/telegraf.sh), running our binary with
# [[inputs.execd]] in the anycast lab (tests/lab/lab.sh, 2 sites: NSD arn1,
# Knot lhr1) into [[outputs.file]] and [[outputs.influxdb]] (a real
# InfluxDB 1.x on loopback). Telegraf runs in the host namespace; its
# command is `ip netns exec VANTAGE anycast-probe -v -c CONF` (ip execs the
# probe, so Telegraf's signals and stdin reach the probe itself).
#
# For every signal mode (STDIN, SIGHUP, SIGUSR1, SIGUSR2, and "none" with
# the probe's own `interval = 1s`): 2 rounds at site 1, the catchment moves
# to site 2, 2 more rounds, Telegraf is stopped with SIGTERM. Checked:
# - every round arrives whole: the file output is blocks of the 12 rows of
#   a round (2 addresses x udp/tcp x SOA, hostname.bind, id.server), each
#   block newer than the last, and InfluxDB holds as many rows as the file;
# - the move is instance_changed=true on exactly one round (12 rows, lhr1);
# - Telegraf logs no parse error and no error at all; our I! (ready) and D!
#   (-v round summary) lines appear at Telegraf's I! and D! levels, no line
#   of ours arrives unprefixed (Telegraf would log it as `E! stderr: "..."`);
#   in SIGHUP mode site 2 goes silent with a 1.2 s timeout, so Gathers come
#   during a round: our W! lines appear at Telegraf's W! level;
# - Telegraf's stop (stdin closed, 5 s, SIGTERM, 5 s, SIGKILL) ends the
#   probe at the first step: Telegraf is gone well within 5 s and nothing
#   is left in the vantage namespace;
# - timestamps keep their nanoseconds (service inputs are not rounded).
# Then a probe config with an error: the probe exits 2, Telegraf logs the
# FILE:LINE message (unprefixed: at E! as `stderr: "..."`) and restarts it
# after restart_delay (1 s), again and again. Last, Telegraf's own
# inputs.dns_query on the same lab (`telegraf --once`): its answer row does
# not say which instance answered, its timeout row says query_time_ms=0.
#
# What the real Telegraf cannot be made to do stays in the emulated driver
# (tests/lib/TelegrafExecd.pm, tests/integration/telegraf.t): the 1 s stdin
# write deadline and a full stdin pipe, SIGTERM/SIGKILL escalation, exact
# Gather-to-round accounting.
#
# Skips (with the reason) without root, the lab tools, InfluxDB or the
# Telegraf build; REQUIRE_REAL_TELEGRAF=1 (set by .ci/run) makes every skip
# a failure.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;
use Servers qw(start_influxd influx_query have_cmd);

alarm 200;
my $root = "$FindBin::Bin/../..";

sub skip_all
{
	my ($why) = @_;
	if ($ENV{REQUIRE_REAL_TELEGRAF}) {
		print "1..1\nnot ok 1 - real Telegraf tests required (REQUIRE_REAL_TELEGRAF=1) but cannot run: $why\n";
		exit 1;
	}
	plan skip_all => "SKIPPED the real-Telegraf tests: $why";
}
chomp(my $telegraf = `'$root/tests/lib/telegraf.sh' path 2>/dev/null`);
skip_all('Telegraf not built (make telegraf; needs Go 1.26+)') unless $telegraf && -x $telegraf;
skip_all('needs root for the anycast lab (network namespaces)') if $> != 0;
for my $c (qw(ip nsd knotd kdig influxd curl)) {
	skip_all("$c not installed (make deps)") unless have_cmd($c);
}
skip_all('probe binary not built') unless -x probe_bin();

my $dir = tempdir('telegraf-real.XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{KEEP});
diag("keeping $dir") if $ENV{KEEP};
chmod 0755, $dir;
my $db = start_influxd();
my @MODES = qw(STDIN SIGHUP SIGUSR1 SIGUSR2 none);
my $PER = 12;
my %early;

# The lab part in bash (lab.sh is a bash library). Exit 77: lab not usable.
my $script = <<'BASH';
set -u
probe=$1 out=$2 root=$3 telegraf=$4 influx=$5
shift 5
. "$root/tests/lab/lab.sh"
lab_usable || exit 77
LAB_TRAP=0
tgpid=
stop_tg() { [ -n "$tgpid" ] && kill "$tgpid" 2>/dev/null && wait "$tgpid"; tgpid=; }
trap 'stop_tg; lab_down' EXIT
trap 'exit 130' INT TERM
lab_up 2 || exit 3

now() { date +%s.%N; }
count() { local n; n=$(grep -c -e "$1" "$2" 2>/dev/null) || n=0; echo "$n"; }
# wait_for SECONDS CMD...: poll CMD every 50 ms (readiness, not a delay)
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

# tg_conf NAME COMMAND-TOML SIGNAL: a Telegraf config, log and outputs in $out
tg_conf() {
	local db
	db=tg_$(echo "$1" | tr 'A-Z' 'a-z')
	cat >"$out/$1.telegraf.conf" <<EOF
[agent]
  interval = "1s"
  round_interval = false
  collection_jitter = "0s"
  flush_interval = "500ms"
  flush_jitter = "0s"
  debug = true
  logfile = "$out/$1.log"
  omit_hostname = true

[[inputs.execd]]
  command = $2
  signal = "$3"
  restart_delay = "1s"
  data_format = "influx"

[[outputs.file]]
  files = ["$out/$1.lp"]
  data_format = "influx"

[[outputs.influxdb]]
  urls = ["http://127.0.0.1:$influx"]
  database = "$db"
EOF
}

run_mode() {
	local m=$1 pc="$out/$1.probe.conf" lp="$out/$1.lp" timeout=400ms n
	[ "$m" = SIGHUP ] && timeout=1200ms
	lab_catchment 1 both || return 1
	lab_probe_conf "$pc" "$timeout" "vantage = vp-$m"
	[ "$m" = none ] && sed -i 's/^retries = 0$/&\ninterval = 1s/' "$pc"
	tg_conf "$m" "[\"ip\", \"netns\", \"exec\", \"$LAB_VANTAGE\", \"$probe\", \"-v\", \"-c\", \"$pc\"]" "$m"
	: >"$lp"
	"$telegraf" --config "$out/$m.telegraf.conf" >"$out/$m.stdout" 2>&1 &
	tgpid=$!
	wait_for 20 at_least '^dns_anycast' "$lp" 24 || { echo "$m: no 2 rounds at site 1" >&2; return 1; }
	lab_catchment 2 both || return 1
	wait_for 20 at_least 'instance=lhr1' "$lp" 24 || { echo "$m: no 2 rounds at site 2" >&2; return 1; }
	if [ "$m" = SIGHUP ]; then
		# Site 2 silent: rounds of 1.2 s + identity timeouts, Gathers every 1 s.
		lab_site_silent 2 on
		wait_for 20 at_least 'result=timeout' "$lp" 24 || { echo "$m: no timeouts" >&2; return 1; }
		wait_for 20 at_least 'W! \[inputs.execd\]' "$out/$m.log" 1 || { echo "$m: no W!" >&2; return 1; }
		lab_site_silent 2 off
		n=$(count 'result=success' "$lp")
		wait_for 20 at_least 'result=success' "$lp" $((n + 24)) ||
			{ echo "$m: no recovery" >&2; return 1; }
	fi
	local t0 t1
	t0=$(now)
	kill -TERM "$tgpid"
	wait "$tgpid"
	echo "$?" >"$out/$m.exit"
	t1=$(now)
	tgpid=
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >"$out/$m.stop"
	ip netns pids "$LAB_VANTAGE" | wc -l >"$out/$m.left"
}

# A config error (line 7: an unknown key): exit 2, Telegraf restarts it.
run_bad() {
	local pc="$out/bad.probe.conf" starts=0 n t
	printf '[probe]\ntimeout = 1s\n\n[target x]\nserver = 127.0.0.1\nquery = example.test SOA\nbogus_key = 1\n' >"$pc"
	tg_conf bad "[\"$probe\", \"-c\", \"$pc\"]" STDIN
	: >"$out/bad.lp"
	: >"$out/bad.starts"
	"$telegraf" --config "$out/bad.telegraf.conf" >"$out/bad.stdout" 2>&1 &
	tgpid=$!
	# Arrival time of every "Starting process" line, polled every 20 ms.
	local end=$(($(date +%s) + 15))
	while [ "$starts" -lt 3 ] && [ "$(date +%s)" -lt "$end" ]; do
		n=$(count 'Starting process' "$out/bad.log")
		t=$(now)
		while [ "$starts" -lt "$n" ]; do
			echo "$t" >>"$out/bad.starts"
			starts=$((starts + 1))
		done
		sleep 0.02
	done
	stop_tg
}

# Telegraf's own inputs.dns_query on the same lab (README, "Coming from
# inputs.dns_query"): an answer from site 1, then site 1 silent.
run_dnsq() {
	local name=$1
	cat >"$out/dnsq.conf" <<EOF
[agent]
  omit_hostname = true
  logfile = "$out/dnsq.log"
[[inputs.dns_query]]
  servers = ["$LAB_SVC4"]
  domains = ["$LAB_ZONE"]
  record_type = "SOA"
  timeout = "1s"
[[outputs.file]]
  files = ["$out/dnsq-$name.lp"]
  data_format = "influx"
EOF
	ip netns exec "$LAB_VANTAGE" timeout 20 "$telegraf" --config "$out/dnsq.conf" --once >/dev/null 2>&1
}

for m in "$@"; do run_mode "$m" || exit 1; done
run_bad
lab_catchment 1 both
run_dnsq answer
lab_site_silent 1 on
run_dnsq timeout
lab_site_silent 1 off
BASH
my $r = system('bash', '-c', $script, 'telegraf-real', probe_bin(), $dir, $root,
    $telegraf, $db->{port}, @MODES);
my $rc = $r == -1 ? -1 : $? >> 8;
skip_all('cannot create network namespaces here') if $rc == 77;
is($rc, 0, 'lab: Telegraf ran the probe in every mode, with a catchment move')
    or diag(`tail -n 30 $dir/*.log $dir/*.stdout 2>/dev/null`);

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return scalar <$fh>; }
sub key { my ($r) = @_; return join '|', map { $r->{tags}{$_} // '' } qw(server transport domain) }

for my $m (@MODES) {
	my $log = slurp("$dir/$m.log");
	my @rows = grep { $_->{measurement} eq 'dns_anycast' }
	    lp_parse_all(slurp("$dir/$m.lp"), "$m: Telegraf's file output");
	ok(@rows >= 4 * $PER && @rows % $PER == 0,
	    sprintf('%s: %d rows, whole rounds of %d', $m, scalar @rows, $PER));
	my @bad;
	my $last = 0;
	for (my $i = 0; $i + $PER <= @rows; $i += $PER) {
		my @b = @rows[$i .. $i + $PER - 1];
		my %k = map { key($_) => 1 } @b;
		my @ts = sort { $a <=> $b } map { $_->{ts} } @b;
		push @bad, "block at row $i: " . keys(%k) . ' distinct queries' if keys(%k) != $PER;
		push @bad, "block at row $i is older than the one before" if $ts[0] <= $last;
		$last = $ts[-1];
	}
	ok(!@bad, "$m: every round arrived whole, one after the other")
	    or diag(join "\n", @bad);
	ok((grep { $_->{ts} % 1000000000 } @rows) > @rows / 2,
	    "$m: timestamps keep their nanoseconds (not rounded by Telegraf)");
	ok((grep { $_->{tags}{vantage} eq "vp-$m" && $_->{tags}{dc} eq 'lab' } @rows) == @rows,
	    "$m: our [tags] on every row");
	my @chg = grep { ($_->{fields}{instance_changed}{value} // 0) == 1 } @rows;
	my %ck = map { key($_) => 1 } @chg;
	ok(@chg == $PER && keys(%ck) == $PER && !grep({ $_->{tags}{instance} ne 'lhr1' } @chg),
	    sprintf('%s: the move is instance_changed=true on one round (%d rows, to lhr1)',
	    $m, scalar @chg));
	my $first = (grep { defined $_->{tags}{instance} } @rows)[0];
	is($first && $first->{tags}{instance}, 'arn1', "$m: first rows from arn1 (site 1)");

	my $res = influx_query($db, 'tg_' . lc $m, 'SELECT count(result_code) FROM dns_anycast');
	my $n = $res->{results}[0]{series}[0]{values}[0][1] // 0;
	is($n, scalar @rows, "$m: InfluxDB (via [[outputs.influxdb]]) holds every row");
	$res = influx_query($db, 'tg_' . lc $m,
	    'SELECT count(result_code) FROM dns_anycast WHERE instance_changed = true AND instance = \'lhr1\'');
	is($res->{results}[0]{series}[0]{values}[0][1] // 0, $PER,
	    "$m: InfluxDB: $PER instance_changed=true rows on lhr1");

	my @lines = split /\n/, $log;
	my @perr = grep { /parse error|metric parse/i } @lines;
	ok(!@perr, "$m: Telegraf logged no parse error") or diag(join "\n", @perr);
	# Our plugin's lines in three parts: before our first I! "ready", while
	# it runs, and from Telegraf's "Stopping service inputs" on.
	my @ex = grep { /\[inputs\.execd\]|Stopping service inputs/ } @lines;
	my ($ready) = grep { $ex[$_] =~ / I! \[inputs\.execd\] anycast-probe \S+ ready: \d+ queries a round/ } 0 .. $#ex;
	my ($stopping) = grep { $ex[$_] =~ /Stopping service inputs/ } 0 .. $#ex;
	ok(defined $ready && defined $stopping && $ready < $stopping,
	    "$m: our I! line (ready) at Telegraf's I! level, before the stop");
	$ready //= 0;
	$stopping //= $#ex;
	# Telegraf signals the process at once after starting it; in the signal
	# modes the signal can come before any code of ours runs (the dynamic
	# loader), and its default action ends the probe: Telegraf restarts it
	# after restart_delay. STDIN and none cannot lose the probe this way.
	my @before = @ex[0 .. $ready - 1];
	my @early = grep { /exited: signal: (hangup|user defined signal [12])/ } @before;
	my @other = grep { / [EW]! / && !/exited: signal: (hangup|user defined signal [12])|Error in plugin: ((error reading std(out|err): )?read \|0: file already closed|os: process already finished)/ } @before;
	ok(!@other && ($m =~ /^SIG/ || !@early), sprintf('%s: start-up: %d probe(s) ended by Telegraf\'s first signal, nothing else',
	    $m, scalar @early)) or diag(join "\n", @other, @early);
	$early{$m} = scalar @early;
	my @run = @ex[$ready .. $stopping];
	my @err = grep { / E! / } @run;
	ok(!@err, "$m: Telegraf logged no error while the probe ran") or diag(join "\n", @err);
	my @unpre = grep { /stderr: "/ } @lines;
	ok(!@unpre, "$m: no unprefixed stderr line of ours") or diag(join "\n", @unpre);
	ok((grep { / D! \[inputs\.execd\] round \d+: $PER rows/ } @run),
	    "$m: our D! line (-v) at Telegraf's D! level");
	my @w = grep { / W! / } @run;
	if ($m eq 'SIGHUP') {
		ok(@w && !grep({ !/ W! \[inputs\.execd\] \d+ triggers? during round \d+ coalesced into one pending round/ } @w),
		    "$m: our W! lines (Gathers during slow rounds) at Telegraf's W! level")
		    or diag(join "\n", @w);
		ok((grep { $_->{tags}{result} eq 'timeout' && !exists $_->{fields}{query_time_ms} } @rows) >= $PER,
		    "$m: the silent site gives timeout rows, without query_time_ms");
	} else {
		ok(!@w, "$m: no warnings while the probe ran") or diag(join "\n", @w);
	}
	ok(!grep({ /exited|Restarting in/ } @run), "$m: the probe never exited while Telegraf ran");
	# Telegraf's own race at the stop (its pipe readers see the pipes closed
	# by Wait): "Error in plugin: read |0: file already closed"; nothing else.
	my @after = grep { / [EW]! / && !/Error in plugin: (error reading std(out|err): )?read \|0: file already closed/ }
	    @ex[$stopping .. $#ex];
	ok(!@after, "$m: nothing but Telegraf's pipe-close race logged at the stop") or diag(join "\n", @after);
	ok((grep { /Process .* shut down/ } @lines), "$m: Telegraf says the process shut down");
	chomp(my $stop = slurp("$dir/$m.stop"));
	ok($stop ne '' && $stop < 3, "$m: Telegraf stopped in ${stop}s: the probe ended at stdin close, "
	    . 'before the 5 s SIGTERM step');
	is(slurp("$dir/$m.exit") + 0, 0, "$m: Telegraf exit 0");
	is(slurp("$dir/$m.left") + 0, 0, "$m: nothing left running in the vantage namespace");
}

{
	my @lines = split /\n/, slurp("$dir/bad.log");
	my $pc = "$dir/bad.probe.conf";
	ok((grep { / E! \[inputs\.execd\] stderr: "\Q$pc\E:7: [^"]*bogus_key/ } @lines),
	    'config error: FILE:LINE message in Telegraf\'s log at E!')
	    or diag(join "\n", @lines);
	ok((grep { / E! \[inputs\.execd\] Process \S*anycast-probe exited: exit status 2/ } @lines),
	    'config error: Telegraf logs the exit status 2');
	ok((grep { /Restarting in 1s/ } @lines), 'config error: Telegraf restarts it after restart_delay');
	my @t = split /\n/, slurp("$dir/bad.starts");
	my @gap = map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
	ok(@t >= 3 && !grep({ $_ < 0.95 || $_ > 2.0 } @gap),
	    sprintf('config error: restarted %d times, %s s apart (restart_delay 1 s)', $#t,
	    join(' ', map { sprintf '%.2f', $_ } @gap)));
	ok(!-s "$dir/bad.lp", 'config error: no output at all');
}
# The peer: what inputs.dns_query writes where we write more (or less).
{
	my ($ans) = lp_parse_all(slurp("$dir/dnsq-answer.lp"), 'inputs.dns_query, an answer');
	my ($to) = lp_parse_all(slurp("$dir/dnsq-timeout.lp"), 'inputs.dns_query, a timeout');
	ok($ans && $ans->{tags}{result} eq 'success' && !exists $ans->{tags}{instance}
	    && !grep({ /nsid|identity|instance/ } keys %{ $ans->{fields} }),
	    'inputs.dns_query: an answer, but nothing says which instance gave it');
	ok($to && $to->{tags}{result} eq 'timeout' && $to->{fields}{query_time_ms}{value} == 0,
	    'inputs.dns_query: a timeout has query_time_ms=0 (ours have none)');
}
diag('probes ended by Telegraf\'s first signal at start-up: '
    . join(', ', map { "$_ $early{$_}" } grep { /^SIG/ } @MODES));

done_testing();
