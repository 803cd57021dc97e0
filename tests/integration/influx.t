#!/usr/bin/perl
# The probe's output goes into a real InfluxDB 1.x (started here on loopback,
# no usage reporting): full rounds against NSD and Knot (IPv4 and IPv6, UDP
# and TCP, identity queries) are accepted whole (HTTP 204) and every line is
# counted back as a point. Also the SPEC's example line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;
use Servers qw(start_nsd start_knot start_influxd influx_post influx_query);

alarm 55;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('influx.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
my $knot = start_knot();
my $evil = start_nsd(no_nsid => 1,
    identity => q{evil, t=x y\z \"q\" end\ } . ('0123456789' x 7));
my $db = start_influxd();
pass("NSD $nsd->{port}, Knot $knot->{port}, InfluxDB 127.0.0.1:$db->{port}");

my ($code, $body) = influx_post($db, '/query?q=CREATE+DATABASE+probe', '');
is($code, 200, 'CREATE DATABASE probe') or diag($body);

my $conf = make_conf("$dir/full.conf",
    probe => { timeout => '2s', retries => 1, nsid => 'yes',
	identity => 'hostname.bind id.server' },
    tags => { dc => 'lab 1, room=2' },   # needs escaping
    targets => [
	{ name => 'nsd', server => ['127.0.0.1', '::1'], port => $nsd->{port},
	    transport => 'udp tcp', query => ['example.test SOA', 'www.example.test A'],
	    'tag.operator' => 'nlnet' },
	{ name => 'knot', server => ['127.0.0.1', '::1'], port => $knot->{port},
	    transport => 'udp tcp', query => ['example.test SOA', 'big.example.test TXT'] },
	# Hostile identity (line-protocol syntax, > 64 bytes) as instance tag.
	{ name => 'evil', server => ['127.0.0.1'], port => $evil->{port},
	    transport => 'udp', query => ['example.test SOA'] } ]);

# Two runs: the second must not conflict with the field types of the first.
my $written = 0;
my %series_want;
for my $run (1, 2) {
	my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
	ok($r->{rc} == 0 || $r->{rc} == 1, "run $run: exit $r->{rc}") or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, "run $run");
	is(scalar @rows, 35, "run $run: 35 rows (2 x 2 addr x 2 tr x 4 queries + 3 evil)");
	# A truncated UDP answer is still a NOERROR response: success.
	is(scalar(rows_where(\@rows, result => "success")), scalar(@rows),
	    "run $run: every row a success");
	($code, $body) = influx_post($db, '/write?db=probe&precision=ns', $r->{out});
	is($code, 204, "run $run: InfluxDB accepts every line (HTTP 204)")
	    or diag("$body\n$r->{out}");
	$written += @rows;
	for my $row (@rows) {
		my $key = join(',', map { "$_=$row->{tags}{$_}" } sort keys %{ $row->{tags} });
		$series_want{$key}++;
	}
}

# Count back: points per series (result_code is on every line).
my $res = influx_query($db, 'probe',
    'SELECT count(result_code) FROM dns_anycast GROUP BY *');
my $series = $res->{results}[0]{series} // [];
my $total = 0;
my %series_got;
for my $s (@$series) {
	utf8::encode($_) for values %{ $s->{tags} };   # characters -> bytes
	my $key = join(',', map { "$_=$s->{tags}{$_}" } grep { $s->{tags}{$_} ne '' }
	    sort keys %{ $s->{tags} });
	$series_got{$key} += $s->{values}[0][1];
	$total += $s->{values}[0][1];
}
is($total, $written, "every line written is stored ($written points)")
    or diag(explain($res));
is_deeply(\%series_got, \%series_want, 'points per series (tag set) match what was written');
ok(scalar(grep { /dc=lab 1, room=2/ } keys %series_got) == keys(%series_got),
    'the escaped [tags] value comes back unescaped on every series');

# Field types as stored.
$res = influx_query($db, 'probe', 'SHOW FIELD KEYS FROM dns_anycast');
my %ftype = map { $_->[0] => $_->[1] } @{ $res->{results}[0]{series}[0]{values} // [] };
my %want = (query_time_ms => 'float', result_code => 'integer', rcode_value => 'integer',
    attempts => 'integer', answers => 'integer', response_bytes => 'integer',
    aa => 'boolean', tc => 'boolean', nsid => 'string', identity => 'string',
    serial => 'integer', hop_limit => 'integer', connect_ms => 'float');
for my $k (sort keys %want) {
	is($ftype{$k}, $want{$k}, "stored field $k is $want{$k}");
}

# The SPEC's example line.
my $example = 'dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=udp,domain=example.se,record_type=SOA,class=IN,result=success,rcode=NOERROR,instance=ARN1,instance_source=nsid,dc=datacenter-1 query_time_ms=11.482,result_code=0i,rcode_value=0i,attempts=1i,answers=1i,response_bytes=107i,aa=true,tc=false,nsid="ARN1",serial=2017011501i,hop_limit=58i,instance_changed=false 1485100800000000000';
ok(lp_parse($example), 'the SPEC example parses strictly');
($code, $body) = influx_post($db, '/write?db=probe&precision=ns', "$example\n");
is($code, 204, 'the SPEC example line is accepted') or diag($body);
$res = influx_query($db, 'probe',
    "SELECT serial, instance, query_time_ms FROM dns_anycast WHERE target = 'iis-a'");
my $v = $res->{results}[0]{series}[0]{values} // [];
is(scalar @$v, 1, 'the example point is stored once');
is_deeply($v->[0], ['2017-01-22T16:00:00Z', 2017011501, 'ARN1', 11.482],
    'the example point reads back: time, serial, instance, query_time_ms');

# InfluxDB made no connection beyond loopback.
SKIP: {
	skip 'ss not installed', 1 unless -x '/usr/bin/ss' || -x '/bin/ss';
	my @socks = grep { /pid=$db->{pid},/ } `ss -Htanup 2>/dev/null`;
	my @out = grep {
		my @f = split ' ';
		!grep({ m{^(?:127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.[\d.]+\]|\*|0\.0\.0\.0|\[::\]):(?:\d+|\*)$} } $f[4])
		    || !grep({ m{^(?:127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.[\d.]+\]|\*|0\.0\.0\.0|\[::\]):(?:\d+|\*)$} } $f[5])
	} @socks;
	ok(@socks && !@out, 'influxd sockets are all on loopback (' . scalar(@socks) . ')')
	    or diag(join('', @socks));
}

done_testing();
