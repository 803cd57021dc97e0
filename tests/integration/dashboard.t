#!/usr/bin/perl
# dashboard.t - conf/grafana-dashboard.json against real data.
#
# 1. The dashboard is valid JSON, every panel has a title, an InfluxDB
#    datasource and raw InfluxQL targets, the template variables target,
#    server, family, transport, dc and vantage exist (multi, All = .*), and
#    the catchment-change annotation is there.
# 2. (root, the anycast lab) A real InfluxDB 1.x on loopback is filled from
#    real probe runs in the lab (tests/lab/lab.sh, 2 sites: NSD with NSID
#    arn1, Knot WITHOUT NSID, hostname.bind lon-1, so its instance comes
#    from hostname.bind; both serve example.test signed, and the probe runs
#    with dnssec = yes, a trust anchor and a reference, for the zone-health
#    panels): vantage "vp-a" lands on site 1, moves to site 2, then sees IPv4
#    unreachable (error rows) and site 2 silent on IPv6 (timeout rows);
#    vantage "vp-b" does the opposite (site 2 -> site 1, IPv6 unreachable,
#    IPv4 silent). So instance_changed=true, errors and timeouts exist for
#    both vantage points, both families and both transports.
# 3. EVERY InfluxQL query in the dashboard (panel targets, annotations,
#    template variables) is run against InfluxDB with Grafana's macros
#    substituted ($timeFilter, $__interval, the variables) the way Grafana's
#    InfluxDB datasource does: All (allValue .*), every value selected
#    ("(a|b)", regex-escaped), and each single value. Each must return no
#    error and at least one row. The catchment map must show where each
#    vantage point lands at the end (vp-a: lon-1, by hostname.bind; vp-b:
#    arn1). The panels group by what they show: instance per server/family
#    and the catchment map by vantage (two vantage points, two series),
#    SOA serial by domain, query time by family and transport without
#    CHAOS rows (its row count is that of the IN rows).
# 4. conf/grafana-alerts.yaml (Grafana alert rule provisioning): every rule
#    is A (InfluxQL) -> B (reduce last) -> C (threshold); A runs on the lab
#    data and C must fire for exactly what happened: timeouts where a site
#    was silent, catchment changes on every (vantage, address), an SOA
#    serial mismatch of 1 (the two sites serve different serials).
# Without root or the lab tools, part 2 and 3 are skipped.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use Probe;
use Servers qw(start_influxd influx_post influx_query have_cmd);

alarm 58;
my $root = "$FindBin::Bin/../..";
my $file = $ENV{DASHBOARD} // "$root/conf/grafana-dashboard.json";
my @VARS = qw(target server family transport dc vantage);

# --- 1. the JSON ------------------------------------------------------------
my $text = do { local $/; open(my $fh, '<', $file) or die "$file: $!\n"; <$fh> };
my $dash = eval { JSON::PP->new->decode($text) };
ok($dash, 'conf/grafana-dashboard.json parses as JSON') or BAIL_OUT("bad JSON: $@");
ok(($dash->{schemaVersion} // 0) >= 36, "schemaVersion $dash->{schemaVersion}");
ok(defined $dash->{uid} && defined $dash->{title}, 'dashboard has uid and title');

my %var = map { $_->{name} => $_ } @{ $dash->{templating}{list} // [] };
ok($var{datasource} && $var{datasource}{type} eq 'datasource'
    && $var{datasource}{query} eq 'influxdb', 'datasource variable of type influxdb');

my @queries;   # [ where, InfluxQL ]
for my $v (@VARS) {
	my $d = $var{$v};
	ok($d && $d->{type} eq 'query' && $d->{multi} && $d->{includeAll}
	    && ($d->{allValue} // '') eq '.*'
	    && ($d->{query} // '') =~ /^SHOW TAG VALUES FROM "dns_anycast" WITH KEY = "\Q$v\E"/,
	    "variable $v: SHOW TAG VALUES, multi, include All (.*)");
	push @queries, ["variable $v", $d->{query}] if $d && $d->{query};
}

my @panels = map { $_->{type} eq 'row' ? @{ $_->{panels} // [] } : $_ } @{ $dash->{panels} // [] };
ok(@panels >= 8, scalar(@panels) . ' panels');
my %titles;
for my $p (@panels) {
	my $t = $p->{title} // '';
	ok($t ne '' && !$titles{$t}++, "panel $p->{id} has a unique title ($t)");
	ok(ref $p->{datasource} eq 'HASH' && $p->{datasource}{type} eq 'influxdb'
	    && ($p->{datasource}{uid} // '') eq '${datasource}', "panel '$t' has the InfluxDB datasource");
	my @t = @{ $p->{targets} // [] };
	ok(@t && !grep({ !$_->{rawQuery} || ($_->{query} // '') !~ /\S/
	    || ($_->{datasource}{type} // '') ne 'influxdb' } @t),
	    "panel '$t': " . scalar(@t) . ' raw InfluxQL target(s)');
	# Panels of tls/https rows only: run on DoT/DoH lab data by
	# dashboard_tls.t (this lab serves UDP and TCP).
	next if $t =~ /^(TLS handshake|Certificate expiry)/;
	push @queries, map { ["panel '$t' $_->{refId}", $_->{query}] } @t;
}
for my $want ('Query time per instance', 'Instance per server / family',
    'Timeouts and errors', 'SOA serial per instance', 'Latest row per server',
    'Catchment changes per vantage point') {
	ok($titles{$want}, "panel '$want' exists");
}
my ($map) = grep { ($_->{title} // '') =~ /^Catchment map: / } @panels;
ok($map, 'catchment map panel exists');
my @ann = grep { ($_->{datasource}{type} // '') eq 'influxdb' }
    @{ $dash->{annotations}{list} // [] };
ok(@ann && $ann[0]{query} =~ /"instance_changed" = true/ && $ann[0]{textColumn},
    'catchment changes annotation (instance_changed = true)');
push @queries, map { ["annotation '$_->{name}'", $_->{query}] } @ann;
ok(!grep({ $_->[1] !~ /^(SELECT|SHOW) / } @queries), scalar(@queries) . ' InfluxQL queries found');
ok(!grep({ $_->[1] =~ /^SELECT / && $_->[1] !~ /\$timeFilter|time > now\(\)/ } @queries),
    'every SELECT is limited in time');

# --- 2. real data from the lab ------------------------------------------------
sub skip_rest { my ($why) = @_; SKIP: { skip($why, 1) } done_testing(); exit 0; }
skip_rest('needs root for the anycast lab (network namespaces)') if $> != 0;
for my $c (qw(ip nsd knotd kdig influxd curl)) {
	skip_rest("$c not installed (make deps)") unless have_cmd($c);
}
skip_rest('probe binary not built') unless -x probe_bin();
my $dir = tempdir('dashboard.XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;

my $db = start_influxd();
my ($code, $body) = influx_post($db, '/query?q=CREATE+DATABASE+anycast', '');
is($code, 200, "InfluxDB on 127.0.0.1:$db->{port}, CREATE DATABASE anycast") or diag($body);

# The lab part in bash (lab.sh is a bash library). Exit 77: lab not usable.
my $script = <<'BASH';
set -u
probe=$1 out=$2 root=$3
. "$root/tests/lab/lab.sh"
lab_usable || exit 77
LAB_TRAP=0
trap 'lab_down' EXIT
trap 'exit 130' INT TERM
LAB_NSID[2]=""   # site 2 without NSID: instance from hostname.bind
# Signed zones, so the zone-health panels have rows (issue 11).
LAB_SIGN[1]=valid
LAB_SIGN[2]=valid
lab_up 2 || exit 3
pp=
round() { # round N: one stdin line, wait for 17*N lines (2 addresses x 2
	# transports x SOA, DNSKEY, hostname.bind, id.server; the reference's SOA)
	echo >&3
	local want=$((17 * $1)) i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '' "$f")" -ge "$want" ] && return 0
		sleep 0.05
	done
	echo "round $1: $(grep -c '' "$f") lines, want $want" >&2
	return 1
}
# vantage NAME FROM TO DOWNFAM: catchment FROM, round, move to TO, round,
# DOWNFAM without a route (errors) and site TO silent (timeouts), round.
vantage() {
	local v=$1 a=$2 b=$3 down=$4
	f="$out/$v.lp"
	: >"$f"
	lab_probe_conf "$out/$v.conf" 400ms "vantage = $v"
	# Zone health: DNSSEC against the lab's DS, the service address itself
	# as the reference (its serial follows the catchment: serial_lag 0).
	sed -i 's/^\[probe\]$/[probe]\ndnssec = yes/' "$out/$v.conf"
	printf 'zone = %s\nreference = %s\ntrust_anchor = %s\n' \
		"$LAB_ZONE" "$LAB_SVC4" "$LAB_DS" >>"$out/$v.conf"
	lab_catchment "$a" both || return 1
	mkfifo "$out/$v.in"
	lab_exec_vantage "$probe" -c "$out/$v.conf" <"$out/$v.in" >"$f" 2>"$out/$v.err" &
	pp=$!
	exec 3>"$out/$v.in"
	round 1 && lab_catchment "$b" both && round 2 &&
		lab_catchment none "$down" && lab_site_silent "$b" on && round 3
	local rc=$?
	exec 3>&-
	wait "$pp"
	pp=
	lab_site_silent "$b" off
	return $rc
}
vantage vp-a 1 2 ipv4 && vantage vp-b 2 1 ipv6
BASH
my $r = system('bash', '-c', $script, 'dashboard-lab', probe_bin(), $dir, $root);
my $rc = $r == -1 ? -1 : $? >> 8;
skip_rest('cannot create network namespaces here') if $rc == 77;
is($rc, 0, 'lab: two vantage points, 3 rounds each (move, errors, timeouts)')
    or diag(`cat $dir/*.err 2>/dev/null`);

my @rows;
for my $v (qw(vp-a vp-b)) {
	my $lp = do { local $/; open(my $fh, '<', "$dir/$v.lp") or die; <$fh> } // '';
	my @r = lp_parse_all($lp, $v);
	is(scalar @r, 51, "$v: 51 lines");
	push @rows, @r;
	($code, $body) = influx_post($db, '/write?db=anycast&precision=ns', $lp);
	is($code, 204, "$v: InfluxDB accepts the lines") or diag($body);
	for my $fam (qw(ipv4 ipv6)) {
		ok((grep { ($_->{fields}{instance_changed}{value} // 0) == 1 }
		    rows_where(\@r, family => $fam)), "$v $fam: instance_changed=true rows");
	}
	ok((grep { $_->{tags}{result} eq "timeout" } @r) && (grep { $_->{tags}{result} eq "error" } @r),
	    "$v: timeout and error rows");
}
for my $fam (qw(ipv4 ipv6)) {
	my @fr = rows_where(\@rows, family => $fam);
	ok((grep { $_->{tags}{result} eq "timeout" } @fr) && (grep { $_->{tags}{result} eq "error" } @fr),
	    "$fam: timeout and error rows");
}

# --- 3. every query --------------------------------------------------------
# Grafana's InfluxDB datasource: a multi/All variable in a query is
# regex-escaped; several values become (a|b); All is the allValue as is.
sub esc { my ($s) = @_; $s =~ s{([\\^\$*+?.()|\[\]{}/])}{\\$1}g; return $s }
sub expand
{
	my ($q, $sel) = @_;
	$q =~ s/\$timeFilter\b/time > now() - 1h/g;
	$q =~ s/\$__interval\b/10s/g;
	$q =~ s/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/
	    my $n = $1 \/\/ $2 \/\/ $3; exists $sel->{$n} ? $sel->{$n} : "\$$n"/ge;
	return $q;
}
# Run Q; returns (error or '', number of value rows, series).
sub run_q
{
	my ($q) = @_;
	my $res = influx_query($db, 'anycast', $q);
	my $err = $res->{error} // $res->{results}[0]{error} // '';
	my $series = $res->{results}[0]{series} // [];
	my $n = 0;
	$n += @{ $_->{values} // [] } for @$series;
	return ($err, $n, $series);
}

my %all = map { $_ => '.*' } @VARS;
my %values;
for my $v (@VARS) {
	my ($err, $n, $series) = run_q(expand($var{$v}{query}, \%all));
	$values{$v} = [ map { $_->[1] } map { @{ $_->{values} } } @$series ];
}
is(join(' ', @{ $values{vantage} }), 'vp-a vp-b', 'variable vantage lists vp-a vp-b');
is(join(' ', @{ $values{family} }), 'ipv4 ipv6', 'variable family lists ipv4 ipv6');
is(scalar @{ $values{server} }, 2, "variable server lists @{ $values{server} }");

my @selections = (['All (.*)', \%all],
    ['every value selected', { map { my $v = $_;
	($v => '(' . join('|', map { esc($_) } @{ $values{$v} }) . ')') } @VARS }]);
for my $v (@VARS) {
	for my $val (@{ $values{$v} }) {
		push @selections, ["$v=$val", { %all, $v => esc($val) }];
	}
}
for my $s (@selections) {
	my ($name, $sel) = @$s;
	my @bad;
	for my $q (@queries) {
		my $x = expand($q->[1], $sel);
		if ($x =~ /\$\w|\[\[/) { push @bad, "$q->[0]: unknown macro in: $x"; next; }
		my ($err, $n) = run_q($x);
		push @bad, "$q->[0]: " . ($err ne '' ? "error $err" : 'no rows') . "\n    $x"
		    if $err ne '' || !$n;
	}
	ok(!@bad, "$name: all " . scalar(@queries) . ' queries return rows')
	    or diag(join("\n", @bad));
}

# The catchment map says where each vantage point lands now.
my ($err, $n, $series) = run_q(expand($map->{targets}[0]{query}, \%all));
my %now;
for my $s (@$series) {
	my %c;
	@c{ @{ $s->{columns} } } = @{ $s->{values}[0] };
	my %t = (%{ $s->{tags} // {} }, %c);
	$now{"$t{vantage} $t{server}"} = $t{instance} // '?';
}
is(join(', ', map { "$_ $now{$_}" } sort keys %now),
    join(', ', map { my $v = $_; map { "$v $_ " . ($v eq 'vp-a' ? 'lon-1' : 'arn1') }
	sort @{ $values{server} } } qw(vp-a vp-b)),
    'catchment map: vp-a reaches lon-1 (no NSID: hostname.bind), vp-b reaches arn1 on both addresses');

# Catchment changes per vantage point: one move each, of 2 addresses x 2
# transports (4; at most 8 when the round straddles a 10 s bucket).
my ($chg) = grep { $_->{title} eq 'Catchment changes per vantage point' } @panels;
($err, $n, $series) = run_q(expand($chg->{targets}[0]{query}, \%all));
my %moves;
for my $s (@$series) { $moves{ $s->{tags}{vantage} } += $_->[1] // 0 for @{ $s->{values} }; }
ok(2 == grep({ ($moves{$_} // 0) >= 4 && $moves{$_} <= 8 } qw(vp-a vp-b)),
    'catchment changes per vantage point: 4 (address, transport) moves each')
    or diag(explain(\%moves), $err);

# What each panel groups by (issue 13): two vantage points must not hide
# each other, several zones of one instance must not show one serial, and
# query time is per family and transport, without the CHAOS rows.
sub panel { my ($t) = @_; my ($p) = grep { $_->{title} eq $t } @panels; return $p }
sub series_tags
{
	my ($q) = @_;
	my ($err, $n, $series) = run_q(expand($q, \%all));
	return map { { %{ $_->{tags} // {} } } } @$series;
}
{
	my $p = panel('Instance per server / family');
	for my $t (@{ $p->{targets} }) {
		my @s = series_tags($t->{query});
		my %vs = map { ("$_->{vantage} $_->{server}" => 1) } @s;
		is(scalar(keys %vs), 4, "instance per server / family $t->{refId}: a series per vantage point and server (2 x 2)")
		    or diag(explain(\@s));
	}
	my @s = series_tags($map->{targets}[0]{query});
	is(scalar(@s), 4, 'catchment map: a row per vantage point and server (2 x 2)');
	$p = panel('SOA serial per instance');
	@s = series_tags($p->{targets}[0]{query});
	ok(@s && !grep({ ($_->{domain} // '') ne 'example.test' || !defined $_->{instance} } @s),
	    'SOA serial per instance: series per domain and instance') or diag(explain(\@s));
	$p = panel('Query time per instance');
	@s = series_tags($p->{targets}[0]{query});
	my %want = map { ("$_->{tags}{instance} $_->{tags}{family} $_->{tags}{transport}" => 1) }
	    grep { $_->{tags}{result} eq 'success' && $_->{tags}{class} eq 'IN' } @rows;
	is(join(', ', sort map { "$_->{instance} $_->{family} $_->{transport}" } @s), join(', ', sort keys %want),
	    'query time per instance: a series per instance, family and transport');
	(my $count = $p->{targets}[0]{query}) =~ s/GROUP BY .*//;
	$count =~ s/mean\("query_time_ms"\)/count("query_time_ms")/ or die;
	my ($err, $n, $series) = run_q(expand($count, \%all));
	my $in = grep { $_->{tags}{class} eq 'IN' && exists $_->{fields}{query_time_ms} && $_->{tags}{result} eq 'success' } @rows;
	is($series->[0]{values}[0][1] // 0, $in, "query time per instance: the $in IN rows, no CHAOS row");
}

# --- 4. the alert rules ------------------------------------------------------
{
	require CPAN::Meta::YAML;
	my $yf = "$root/conf/grafana-alerts.yaml";
	my $y = CPAN::Meta::YAML->read($yf);
	ok($y && $y->[0]{apiVersion} == 1, 'conf/grafana-alerts.yaml parses, apiVersion 1')
	    or BAIL_OUT('bad YAML: ' . CPAN::Meta::YAML->errstr);
	my @rules = map { @{ $_->{rules} // [] } } @{ $y->[0]{groups} // [] };
	is(join(' ', map { $_->{uid} } @rules), 'anycast-probe-timeouts anycast-probe-catchment anycast-probe-serial',
	    'three rules: timeouts, catchment change, serial mismatch');
	my %fired;
	for my $r (@rules) {
		my %d = map { $_->{refId} => $_ } @{ $r->{data} };
		ok($r->{condition} eq 'C' && $d{A}{datasourceUid} eq 'anycast-influxdb' && $d{A}{model}{rawQuery}
		    && $d{B}{model}{type} eq 'reduce' && $d{B}{model}{expression} eq 'A' && $d{B}{model}{reducer} eq 'last'
		    && $d{C}{model}{type} eq 'threshold' && $d{C}{model}{expression} eq 'B'
		    && $d{C}{model}{conditions}[0]{evaluator}{type} eq 'gt',
		    "$r->{uid}: A (InfluxQL) -> B (last) -> C (threshold, gt)");
		my $thr = $d{C}{model}{conditions}[0]{evaluator}{params}[0];
		(my $q = $d{A}{model}{query}) =~ s/\$timeFilter\b/time > now() - 10m/g;
		my ($err, $n, $series) = run_q($q);
		is($err, '', "$r->{uid}: the query runs") or diag($q);
		for my $s (@$series) {
			my @v = grep { defined $_->[1] } @{ $s->{values} };
			next unless @v && $v[-1][1] > $thr;
			my $t = $s->{tags} // {};
			push @{ $fired{ $r->{uid} } }, join(' ', map { $t->{$_} // '-' } sort keys %$t) . " = $v[-1][1]";
		}
	}
	my ($v4) = grep { /\./ } @{ $values{server} };
	my ($v6) = grep { /:/ } @{ $values{server} };
	my %to = map { ("$_->{tags}{server} $_->{tags}{target} $_->{tags}{transport} $_->{tags}{vantage}" => 1) }
	    grep { $_->{tags}{result} eq 'timeout' && $_->{tags}{class} eq 'IN' } @rows;
	my @f = sort map { s/ = \d+$//r } @{ $fired{'anycast-probe-timeouts'} // [] };
	is(join(', ', @f), join(', ', sort keys %to), 'timeouts rule fires for every (server, transport, vantage) that timed out');
	ok((grep { /^\Q$v6\E .* vp-a$/ } @f) && (grep { /^\Q$v4\E .* vp-b$/ } @f) && !grep({ /^\Q$v4\E .* vp-a$/ } @f),
	    'timeouts rule: vp-a on IPv6, vp-b on IPv4 (the silent sites), not vp-a on IPv4 (errors)');
	@f = sort map { s/ = \d+$//r } @{ $fired{'anycast-probe-catchment'} // [] };
	is(scalar(@f), 4, 'catchment rule fires for both vantage points on both addresses') or diag(explain(\@f));
	is(join(', ', @{ $fired{'anycast-probe-serial'} // [] }), 'example.test lab-anycast = 1',
	    'serial rule fires for example.test: the instances differ by 1');
}

done_testing();
