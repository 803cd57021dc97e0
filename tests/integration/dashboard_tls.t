#!/usr/bin/perl
# dashboard_tls.t - the dashboard's DNS over TLS / HTTPS panels ("TLS
# handshake time per instance", "Certificate expiry per instance (days)")
# against real data: the anycast lab with LAB_TLS=1 (two BIND sites, nsid
# arn1 and lhr1, serving DoT and DoH on 192.0.2.53 and 2001:db8:53::53),
# a running probe (transport = tls https, tag vantage=vp-t) doing a round
# on site 1 and two after the catchment moved to site 2, its lines in a
# real InfluxDB. Each panel query, with Grafana's macros substituted as
# dashboard.t does, returns rows for All, for transport tls and https and
# for each family; the handshake panel has a series for each instance, the
# expiry panel about 30 days (mkcerts.sh's good certificate) per instance.
# Without root, the lab tools, or a conf that takes tls, parts are skipped.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use Probe;
use Servers qw(start_influxd influx_post influx_query have_cmd start_bind_tls
    stop_server);

alarm 120;
my $root = "$FindBin::Bin/../..";
my $dash = JSON::PP->new->decode(do {
	local $/;
	open(my $fh, '<', "$root/conf/grafana-dashboard.json") or die "$!\n";
	<$fh>;
});
my %panel = map { ($_->{title} // '') => $_ } @{ $dash->{panels} };
my @want = ('TLS handshake time per instance',
    'Certificate expiry per instance (days)');
for my $t (@want) {
	my $p = $panel{$t};
	ok($p && $p->{targets}[0]{rawQuery}
	    && $p->{targets}[0]{query} =~ /"transport" =~ \/\^\(tls\|https\)\$\//,
	    "panel '$t': raw InfluxQL on tls/https rows");
}
my ($hs, $exp) = map { $panel{$_}{targets}[0]{query} } @want;
like($hs, qr/mean\("tls_handshake_ms"\).*GROUP BY time\(\$__interval\), "instance"/,
    'handshake panel: mean tls_handshake_ms per instance over time');
like($exp, qr/last\("cert_expires_in_s"\) \/ 86400 AS "days_left".*"instance"/,
    'expiry panel: the newest cert_expires_in_s in days per instance');

sub skip_rest { my ($why) = @_; SKIP: { skip($why, 1) } done_testing(); exit 0; }
skip_rest('needs root for the anycast lab') if $> != 0;
for my $c (qw(ip named kdig influxd curl openssl)) {
	skip_rest("$c not installed (make deps)") unless have_cmd($c);
}
skip_rest('probe binary not built') unless -x probe_bin();
my $dir = tempdir('dashtls.XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
{
	my $bind = start_bind_tls();
	my $c = run_probe(args => ['--once', '-c',
	    make_conf("$dir/check.conf", targets => [ { name => 'c',
		server => ['127.0.0.1'], transport => 'tls',
		tls_port => $bind->{dot}, tls_ca => $bind->{ca},
		query => ['example.test SOA'] } ])],
	    timeout => 10);
	stop_server($bind);
	skip_rest("this build does not write tls rows with their fields yet")
	    unless $c->{out} =~ /tls_handshake_ms=/;
}

my $db = start_influxd();
my ($code, $body) = influx_post($db, '/query?q=CREATE+DATABASE+anycast', '');
is($code, 200, 'CREATE DATABASE anycast') or diag($body);

my $script = <<'BASH';
set -u
probe=$1 out=$2 root=$3
. "$root/tests/lab/lab.sh"
lab_usable || exit 77
LAB_TRAP=0 LAB_TLS=1
LAB_SERVER[1]=bind
LAB_SERVER[2]=bind
trap 'lab_down' EXIT
trap 'exit 130' INT TERM
lab_up 2 || exit 3
cat >"$out/p.conf" <<EOF
[probe]
timeout = 2s
retries = 0
identity = hostname.bind

[tags]
dc = lab
vantage = vp-t

[target lab-anycast]
server = $LAB_SVC4
server = $LAB_SVC6
transport = tls https
tls_ca = $LAB_TLS_CA
query = $LAB_ZONE SOA
EOF
f=$out/p.lp
round() { # round N: one stdin line, wait for 8*N lines
	echo >&3
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c '' "$f")" -ge $((8 * $1)) ] && return 0
		sleep 0.05
	done
	return 1
}
mkfifo "$out/p.in"
lab_exec_vantage "$probe" -c "$out/p.conf" <"$out/p.in" >"$f" 2>"$out/p.err" &
pp=$!
exec 3>"$out/p.in"
round 1 && lab_catchment 2 both && round 2 && round 3
rc=$?
exec 3>&-
wait "$pp"
exit $rc
BASH
my $r = system('bash', '-c', $script, 'dashboard-tls-lab', probe_bin(), $dir, $root);
my $rc = $r == -1 ? -1 : $? >> 8;
skip_rest('cannot create network namespaces here') if $rc == 77;
is($rc, 0, 'lab: 3 rounds over tls and https, catchment moved after the first')
    or diag(`cat $dir/p.err 2>/dev/null`);
my $lp = do { local $/; open(my $fh, '<', "$dir/p.lp") or die; <$fh> } // '';
my @rows = lp_parse_all($lp, 'tls lab');
is(scalar @rows, 24, '24 lines (3 rounds x 2 addresses x 2 transports x 2 queries)');
($code, $body) = influx_post($db, '/write?db=anycast&precision=ns', $lp);
is($code, 204, 'InfluxDB accepts the lines') or diag($body);

sub expand
{
	my ($q, $sel) = @_;
	$q =~ s/\$timeFilter\b/time > now() - 1h/g;
	$q =~ s/\$__interval\b/10s/g;
	$q =~ s/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/
	    my $n = $1 \/\/ $2 \/\/ $3; exists $sel->{$n} ? $sel->{$n} : "\$$n"/ge;
	return $q;
}
sub run_q
{
	my ($q) = @_;
	my $res = influx_query($db, 'anycast', $q);
	my $err = $res->{error} // $res->{results}[0]{error} // '';
	return ($err, $res->{results}[0]{series} // []);
}
my %all = map { $_ => '.*' } qw(target server family transport dc vantage);
for my $s (['All', {}], ['transport=tls', { transport => 'tls' }],
    ['transport=https', { transport => 'https' }],
    ['family=ipv4', { family => 'ipv4' }], ['family=ipv6', { family => 'ipv6' }],
    ['vantage=vp-t', { vantage => 'vp\-t' }]) {
	my ($name, $over) = @$s;
	for my $q ($hs, $exp) {
		my ($err, $series) = run_q(expand($q, { %all, %$over }));
		my $n = 0;
		$n += @{ $_->{values} // [] } for @$series;
		ok($err eq '' && $n > 0, "$name: " . ($q eq $hs ? 'handshake' : 'expiry')
		    . " panel returns rows") or diag("$err\n" . expand($q, { %all, %$over }));
	}
}
my ($err, $series) = run_q(expand($hs, \%all));
my %inst = map { ($_->{tags}{instance} // '') => 1 } @$series;
is(join(' ', sort keys %inst), 'arn1 lhr1', 'handshake panel: a series per instance (arn1, lhr1)');
ok(!grep({ grep { defined $_->[1] && $_->[1] <= 0 } @{ $_->{values} } } @$series),
    'handshake panel: every value > 0 ms');
($err, $series) = run_q(expand($exp, \%all));
my %days;
for my $s (@$series) {
	my %c;
	@c{ @{ $s->{columns} } } = @{ $s->{values}[0] };
	$days{ $s->{tags}{instance} } = $c{days_left};
}
is(join(' ', sort keys %days), 'arn1 lhr1', 'expiry panel: rows per instance');
ok(!grep({ $_ < 29 || $_ > 30 } values %days),
    'expiry panel: about 30 days left (' . join(' ', values %days) . ')');

done_testing();
