#!/usr/bin/perl
# prometheus.t - Prometheus users get the probe through Telegraf (issue 13):
# the real Telegraf (make telegraf) runs the probe in the anycast lab with
# the shipped conf/telegraf-prometheus.conf ([[outputs.prometheus_client]];
# only the command, listen address, interval and expiration changed for the
# test), and a real Prometheus (Debian's) on loopback scrapes it every
# second. The catchment of IPv6 moves from site 1 (arn1) to site 2 (lhr1).
# Checked against the running Prometheus:
# - the README's PromQL query "RTT per instance and family" (read from
#   README.md, so the two cannot drift apart) gives exactly arn1/ipv4 and
#   lhr1/ipv6 once the old series expired, each value inside the range of
#   the query_time_ms of those rows (from an [[outputs.file]] beside it);
# - the move shows as dns_anycast_instance_changed = 1 on lhr1 / ipv6;
# - the metric names the README lists exist; no string field became a label;
# - Telegraf logged no error while the probe ran.
# Skips without root, the lab tools, prometheus or the Telegraf build;
# REQUIRE_REAL_TELEGRAF=1 (set by .ci/run) makes a skip a failure.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use Probe;
use Servers qw(start_prometheus free_port have_cmd);

alarm 120;
my $root = "$FindBin::Bin/../..";

sub skip_all
{
	my ($why) = @_;
	if ($ENV{REQUIRE_REAL_TELEGRAF}) {
		print "1..1\nnot ok 1 - real Telegraf tests required (REQUIRE_REAL_TELEGRAF=1) but cannot run: $why\n";
		exit 1;
	}
	plan skip_all => "SKIPPED the real-Telegraf Prometheus test: $why";
}
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return scalar <$fh>; }

chomp(my $telegraf = `'$root/tests/lib/telegraf.sh' path 2>/dev/null`);
skip_all('Telegraf not built (make telegraf; needs Go 1.26+)') unless $telegraf && -x $telegraf;
skip_all('needs root for the anycast lab (network namespaces)') if $> != 0;
for my $c (qw(ip nsd knotd kdig prometheus curl)) {
	skip_all("$c not installed (make deps)") unless have_cmd($c);
}
skip_all('probe binary not built') unless -x probe_bin();

my $readme = slurp("$root/README.md");
my ($rtt_q) = $readme =~ /RTT per instance and family.*?```promql\n(.*?)\n```/s;
ok($rtt_q, 'README has the PromQL query for RTT per instance and family') or BAIL_OUT('no query');
my ($names) = $readme =~ /Prometheus metric names:(.*?)\n\n/s;
my @names = ($names // '') =~ /`(dns_anycast_\w+)`/g;
ok(@names >= 5, 'README lists the metric names: ' . join(' ', @names));

my $dir = tempdir('prometheus.XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{KEEP});
chmod 0755, $dir;
my $tgport = free_port();
my $prom = start_prometheus(targets => ["127.0.0.1:$tgport"]);
ok($prom->{port}, "Prometheus ready on 127.0.0.1:$prom->{port}, scraping 127.0.0.1:$tgport");

my $script = <<'BASH';
set -u
probe=$1 out=$2 root=$3 telegraf=$4 tgport=$5 promport=$6 rttq=$7
. "$root/tests/lab/lab.sh"
lab_usable || exit 77
LAB_TRAP=0
tgpid=
stop_tg() { [ -n "$tgpid" ] && kill "$tgpid" 2>/dev/null && wait "$tgpid"; tgpid=; }
trap 'stop_tg; lab_down' EXIT
trap 'exit 130' INT TERM
lab_up 2 || exit 3
count() { local n; n=$(grep -c -e "$1" "$2" 2>/dev/null) || n=0; echo "$n"; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
promq() { # promq QUERY FILE
	curl -sS --noproxy '*' --max-time 5 -G "http://127.0.0.1:$promport/api/v1/query" \
		--data-urlencode "query=$1" >"$2"
}
# The README query's result has exactly the series named (sorted labels).
rtt_is() {
	promq "$rttq" "$out/rtt.json" || return 1
	[ "$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
		print join(",", sort map { "$_->{metric}{exported_instance}/$_->{metric}{family}" }
		@{ $j->{data}{result} })' <"$out/rtt.json")" = "$1" ]
}

lab_catchment 1 both || exit 1
lab_probe_conf "$out/probe.conf" 400ms
# The shipped config, with the lab's command, a loopback listen address, a
# 1 s interval and a 4 s expiration; plus a file output of the same rows.
sed -e "s|^  command = .*|  command = [\"ip\", \"netns\", \"exec\", \"$LAB_VANTAGE\", \"$probe\", \"-c\", \"$out/probe.conf\"]|" \
	-e "s|^  listen = .*|  listen = \"127.0.0.1:$tgport\"|" \
	-e 's|^  interval = .*|  interval = "1s"|' \
	-e 's|^  expiration_interval = .*|  expiration_interval = "4s"|' \
	"$root/conf/telegraf-prometheus.conf" >"$out/snippet.conf"
cat >"$out/telegraf.conf" <<EOF
[agent]
  interval = "1s"
  flush_interval = "500ms"
  omit_hostname = true
  logfile = "$out/telegraf.log"
[[outputs.file]]
  files = ["$out/rows.lp"]
  data_format = "influx"
EOF
mkdir -p "$out/telegraf.d"
cp "$out/snippet.conf" "$out/telegraf.d/"
"$telegraf" --config "$out/telegraf.conf" --config-directory "$out/telegraf.d" >"$out/telegraf.stdout" 2>&1 &
tgpid=$!
wait_for 30 at_least '^dns_anycast' "$out/rows.lp" 24 || { echo "no 2 rounds" >&2; exit 1; }
wait_for 30 rtt_is "arn1/ipv4,arn1/ipv6" || { echo "Prometheus: no arn1 series" >&2; exit 1; }
lab_catchment 2 ipv6 || exit 1
wait_for 30 at_least 'instance=lhr1' "$out/rows.lp" 12 || { echo "no rounds at site 2" >&2; exit 1; }
# The old instance's IPv6 series expire 4 s after their last row.
wait_for 30 rtt_is "arn1/ipv4,lhr1/ipv6" || { echo "Prometheus: $(cat "$out/rtt.json")" >&2; exit 1; }
promq 'max_over_time(dns_anycast_instance_changed{class="IN"}[1m]) == 1' "$out/changed.json"
promq 'count by (__name__) ({__name__=~"dns_anycast_.*"})' "$out/names.json"
promq 'count({__name__=~"dns_anycast_.*", nsid!=""}) or count({__name__=~"dns_anycast_.*", identity!=""}) or count({__name__=~"dns_anycast_.*", error!=""})' "$out/strings.json"
stop_tg
BASH
my $r = system('bash', '-c', $script, 'prometheus-lab', probe_bin(), $dir, $root,
    $telegraf, $tgport, $prom->{port}, $rtt_q);
my $rc = $r == -1 ? -1 : $? >> 8;
skip_all('cannot create network namespaces here') if $rc == 77;
is($rc, 0, 'lab: Telegraf served the probe to Prometheus across an IPv6 catchment move')
    or diag(`tail -n 20 $dir/telegraf.log; tail -n 5 $prom->{log}`);

my @rows = lp_parse_all(slurp("$dir/rows.lp"), 'the rows Telegraf had');
my $rtt = eval { decode_json(slurp("$dir/rtt.json")) } // {};
my @res = @{ $rtt->{data}{result} // [] };
is(join(',', sort map { "$_->{metric}{exported_instance}/$_->{metric}{family}" } @res),
    'arn1/ipv4,lhr1/ipv6', "README query: RTT of arn1 on IPv4 and lhr1 on IPv6 ($rtt_q)");
for my $s (@res) {
	my ($inst, $fam) = @{ $s->{metric} }{qw(exported_instance family)};
	my @t = map { $_->{fields}{query_time_ms}{value} }
	    grep { ($_->{tags}{instance} // '') eq $inst && $_->{tags}{family} eq $fam
		&& $_->{tags}{class} eq 'IN' && exists $_->{fields}{query_time_ms} } @rows;
	my ($min, $max) = (sort { $a <=> $b } @t)[0, -1];
	my $v = $s->{value}[1];
	ok(@t && $v >= $min && $v <= $max,
	    sprintf('%s/%s: %.3f ms, within the rows\' %.3f .. %.3f ms', $inst, $fam, $v, $min // 0, $max // 0));
}
my $chg = eval { decode_json(slurp("$dir/changed.json")) } // {};
my %chg = map { ("$_->{metric}{exported_instance}/$_->{metric}{family}" => 1) } @{ $chg->{data}{result} // [] };
is(join(',', sort keys %chg), 'lhr1/ipv6', 'the move: dns_anycast_instance_changed = 1 on lhr1/ipv6 only');
my $nm = eval { decode_json(slurp("$dir/names.json")) } // {};
my %have = map { $_->{metric}{__name__} => 1 } @{ $nm->{data}{result} // [] };
my @missing = grep { !$have{$_} } @names;
ok(!@missing, 'every metric name the README lists is in Prometheus')
    or diag('missing: @missing; have: ' . join(' ', sort keys %have));
my $st = eval { decode_json(slurp("$dir/strings.json")) } // {};
is(scalar @{ $st->{data}{result} // [1] }, 0, 'no nsid, identity or error label (string_as_label = false)');
my @err = grep { / E! / && !/file already closed/ } split /\n/, slurp("$dir/telegraf.log");
ok(!@err, 'Telegraf logged no error') or diag(join "\n", @err);

done_testing();
