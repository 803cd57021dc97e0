#!/usr/bin/perl
# One --once round against a real NSD on 127.0.0.1 and ::1 (NSID and
# identity set): udp and tcp, example.test SOA plus hostname.bind and
# id.server. Exactly one row per address x transport x query, every tag and
# field as SPEC.md names them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Probe;
use Servers qw(start_nsd kdig NSD_SERIAL);

alarm 55;
ok(-x probe_bin(), 'probe binary is built') or BAIL_OUT('no probe binary');
my $dir = tempdir('nsd.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $nsd = start_nsd();
pass("NSD serves example.test on port $nsd->{port}");

# The fixture itself: NSID and identity as configured.
like(kdig('@127.0.0.1', '-p', $nsd->{port}, '+nsid', 'example.test', 'SOA'),
    qr/NSID: [0-9A-F]+ "\Q$nsd->{nsid}\E"/, 'fixture: NSD answers with its NSID');
like(kdig('@::1', '-p', $nsd->{port}, '+short', 'CH', 'TXT', 'hostname.bind'),
    qr/"\Q$nsd->{identity}\E"/, 'fixture: NSD answers hostname.bind');

my $conf = make_conf("$dir/nsd.conf",
    probe => { timeout => '2s', retries => 1, nsid => 'yes',
	identity => 'hostname.bind id.server' },
    tags => { dc => 'lab-1' },
    targets => [ { name => 'nsd', server => ['127.0.0.1', '::1'],
	port => $nsd->{port}, transport => 'udp tcp', family => 'ipv4 ipv6',
	query => ['example.test SOA'], 'tag.operator' => 'nlnet' } ]);

my $t0 = wall_ns();
my $r = run_probe(args => ['--once', '-c', $conf], timeout => 20);
my $t1 = wall_ns();
is($r->{rc}, 0, '--once against NSD exits 0') or diag($r->{err});
stderr_prefixes_ok($r->{err});
unlike($r->{err}, qr/^E! /m, 'no error on stderr');
ok($r->{elapsed} < 3, sprintf('round took %.3f s', $r->{elapsed}));
my @rows = lp_parse_all($r->{out}, 'NSD round');
is(scalar @rows, 12, '12 rows: 2 addresses x 2 transports x 3 queries');

my %ttl = (ipv4 => _read_num('/proc/sys/net/ipv4/ip_default_ttl', 64),
    ipv6 => _read_num('/proc/sys/net/ipv6/conf/lo/hop_limit', 64));
sub _read_num
{
	my ($f, $def) = @_;
	open(my $fh, '<', $f) or return $def;
	my $v = <$fh>;
	return $v =~ /^(\d+)/ ? $1 : $def;
}

my @base_tags = qw(target server family transport port domain record_type class
    result rcode instance instance_source dc operator);
my @queries = (['example.test', 'SOA', 'IN'], ['hostname.bind', 'TXT', 'CH'],
    ['id.server', 'TXT', 'CH']);
for my $addr ('127.0.0.1', '::1') {
	my $fam = $addr =~ /:/ ? 'ipv6' : 'ipv4';
	for my $tr ('udp', 'tcp') {
		for my $q (@queries) {
			my ($name, $type, $class) = @$q;
			my $what = "$addr $tr $name $type";
			my @m = rows_where(\@rows, server => $addr, transport => $tr,
			    domain => $name, record_type => $type);
			is(scalar @m, 1, "$what: exactly one row") or next;
			my $soa = $type eq 'SOA';
			my @fields = qw(query_time_ms result_code rcode_value attempts
			    answers response_bytes aa tc nsid);
			push @fields, $tr eq 'udp' ? 'hop_limit' : 'connect_ms';
			push @fields, $soa ? 'serial' : 'identity';
			push @fields, 'cookie'; # NSD 4.6 has none: cookie=none
			row_is($m[0], "$what: tags and fields as SPEC",
			    exact_tags => \@base_tags, exact_fields => \@fields,
			    optional => ['instance_changed'],
			    tags => { target => 'nsd', family => $fam, class => $class,
				result => 'success', rcode => 'NOERROR',
				instance => $nsd->{nsid}, instance_source => 'nsid',
				dc => 'lab-1', operator => 'nlnet', server_name => undef,
				port => $nsd->{port} },
			    fields => {
				cookie => ['string', 'none'],
				query_time_ms => ['float', sub { $_[0] > 0 && $_[0] < 2000 }],
				result_code => ['int', 0], rcode_value => ['int', 0],
				attempts => ['int', 1], answers => ['int', 1],
				response_bytes => ['int', sub { $_[0] > 12 && $_[0] < 1232 }],
				aa => $soa ? ['bool', 1] : 'bool', tc => ['bool', 0],
				nsid => ['string', $nsd->{nsid}],
				$soa ? (serial => ['int', NSD_SERIAL])
				    : (identity => ['string', $nsd->{identity}]),
				$tr eq 'udp'
				    ? (hop_limit => ['int', $ttl{$fam}], connect_ms => undef)
				    : (connect_ms => ['float', sub { $_[0] >= 0 && $_[0] < 2000 }],
					hop_limit => undef),
				error => undef,
			    });
			my $ts = $m[0]{ts};
			ok($ts >= $t0 - 1e9 && $ts <= $t1 + 1e9,
			    "$what: timestamp is wall clock ns within the run")
			    or diag("ts $ts, run $t0..$t1");
		}
	}
}

# instance_changed is absent or false on a first round, never true.
ok(!grep({ exists $_->{fields}{instance_changed}
    && $_->{fields}{instance_changed}{value} } @rows),
    'first round: no instance_changed=true');

# response_bytes is the real response size: compare with kdig's for the same
# question (EDNS 1232, NSID, RD off).
my ($k) = kdig('@127.0.0.1', '-p', $nsd->{port}, '+nsid', '+norecurse',
    '+bufsize=1232', 'example.test', 'SOA') =~ /Received (\d+) B/;
my ($row) = rows_where(\@rows, server => '127.0.0.1', transport => 'udp',
    domain => 'example.test');
SKIP: {
	skip 'no row or kdig size', 1 unless $row && $k;
	is($row->{fields}{response_bytes}{value}, $k,
	    "response_bytes equals the size kdig received ($k)");
}

# --- truncation: a 3 kB TXT RRset over UDP sets tc; over TCP it arrives whole
my $big = make_conf("$dir/big.conf",
    probe => { timeout => '2s', retries => 0, identity => '' },
    targets => [ { name => 'big', server => ['127.0.0.1'], port => $nsd->{port},
	transport => 'udp tcp', query => ['big.example.test TXT'] } ]);
$r = run_probe(args => ['--once', '-c', $big], timeout => 20);
# A truncated answer is a DNS answer (NOERROR): success, exit 0.
is($r->{rc}, 0, "big TXT: exit 0");
@rows = lp_parse_all($r->{out}, 'big TXT round');
is(scalar @rows, 2, 'big TXT, identity empty: one row per transport, no identity rows');
my ($u) = rows_where(\@rows, transport => 'udp');
my ($t) = rows_where(\@rows, transport => 'tcp');
row_is($u, "big TXT over UDP: tc=true, result=success",
    tags => { rcode => "NOERROR", result => "success" },
    fields => { tc => ['bool', 1] }) if $u;
row_is($t, 'big TXT over TCP: whole answer (48 RRs), tc=false',
    tags => { result => 'success', rcode => 'NOERROR' },
    fields => { tc => ['bool', 0], answers => ['int', 48],
	response_bytes => ['int', sub { $_[0] > 3000 }] }) if $t;

# --- hostile strings from the network: an identity with line-protocol
# syntax (comma, '=', spaces, backslash, quotes) longer than 64 bytes, no
# NSID: the SOA rows take it as instance (cut at 64 bytes); nothing breaks a
# line, adds a line, a tag or a field. A binary NSID is shown as hex.
{
	my $evil = 'evil, tag=x y\\z \\"q\\" f=1i ' . join('', 0 .. 9) x 8;
	my $n2 = start_nsd(identity => $evil, no_nsid => 1);
	my $n3 = start_nsd(nsid_hex => '00ff41');
	my $got = kdig('@127.0.0.1', '-p', $n2->{port}, '+short', 'CH', 'TXT', 'hostname.bind');
	$got =~ s/^"|"\s*$//g;
	$got =~ s/\\(.)/$1/g;
	is($got, $evil, 'fixture: NSD answers the hostile identity verbatim');
	my $c2 = make_conf("$dir/evil.conf",
	    probe => { timeout => '2s', retries => 0, identity => 'hostname.bind' },
	    targets => [
		{ name => 'evil', server => ['127.0.0.1'], port => $n2->{port},
		    transport => 'udp tcp', query => ['example.test SOA'] },
		{ name => 'hex', server => ['::1'], port => $n3->{port},
		    transport => 'udp', query => ['example.test SOA'] } ]);
	$r = run_probe(args => ['--once', '-c', $c2], timeout => 20);
	is($r->{rc}, 0, 'hostile identity: exit 0') or diag($r->{err});
	my @rows = lp_parse_all($r->{out}, 'hostile identity round');
	is(scalar @rows, 6, 'hostile identity: 6 rows, no line added');
	# The tag value: a backslash that InfluxDB 1.x would read as an escape
	# (before , = space " or at the end) cannot be written and becomes U+FFFD
	# (lineproto.c); then cut at 64 bytes on a character boundary.
	(my $inst = $evil) =~ s/\\(?=[,= "]|\z)/\xEF\xBF\xBD/g;
	$inst = substr($inst, 0, 64);
	$inst =~ s/[\xC0-\xFF][\x80-\xBF]*\z// if $inst =~ /[\xC0-\xFF][\x80-\xBF]*\z/ && !utf8::decode(my $tmp = $inst);
	my @tags = qw(target server family transport port domain record_type class
	    result rcode instance instance_source);
	for my $row (rows_where(\@rows, target => 'evil')) {
		my $t = $row->{tags};
		my $soa = $t->{domain} eq 'example.test';
		row_is($row, "hostile $t->{transport} $t->{domain}: instance cut at 64 bytes, no tag added",
		    exact_tags => \@tags,
		    tags => { instance => $inst,
			instance_source => 'hostname.bind', result => 'success' },
		    fields => { nsid => undef, f => undef,
			identity => $soa ? undef : ['string', $evil],
			serial => $soa ? ['int', NSD_SERIAL] : undef });
	}
	for my $row (rows_where(\@rows, target => 'hex')) {
		row_is($row, "binary NSID $row->{tags}{domain}: shown as hex",
		    tags => { instance => '00ff41', instance_source => 'nsid' },
		    fields => { nsid => ['string', '00ff41'] });
	}
}

done_testing();
