#!/usr/bin/perl
# The tls (DNS over TLS) and https (DNS over HTTPS, HTTP/2) transports,
# driven directly through their ops by build/tests/drive_tr (no scheduler):
# against BIND 9.18 serving DoT and DoH on 127.0.0.1 and ::1 with NSID and
# hostname.bind, certificates made by tests/lib/mkcerts.sh (good, expired,
# another name, an unknown CA; a TLS 1.2-only listener), and against the
# lying TLS/HTTP/2 server (tests/lib/liar_tls.py). Each case checks the
# transport's result: the answer, every connection field, resumption on the
# second round, and each error text.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Servers qw(start_bind_tls start_liar_tls free_port BIND_SERIAL);

alarm 120;
my $drv = "$FindBin::Bin/../../" . ($ENV{B} // 'build') . '/tests/drive_tr';
ok(-x $drv, 'drive_tr is built') or BAIL_OUT('no drive_tr');
my $bind = start_bind_tls();
pass("BIND serves DoT on $bind->{dot}, DoH on $bind->{doh}");

# Run drive_tr; returns (rows by "round q" => {fields}, last line hash).
sub drive
{
	my (@args) = @_;
	my $env = '';
	if (ref $args[0] eq 'HASH') {
		my $e = shift @args;
		$env = join(' ', map { "$_=$e->{$_}" } sort keys %$e);
	}
	local %ENV = %ENV;
	if ($env) { for (split / /, $env) { my ($k, $v) = split /=/; $ENV{$k} = $v; } }
	open(my $fh, '-|', $drv, @args) or die "drive_tr: $!\n";
	my (%rows, %tail);
	while (my $l = <$fh>) {
		chomp $l;
		if ($l =~ /^round=(\d+) q=(\d+) (timeout|unsent)$/) {
			$rows{"$1 $2"} = { $3 => 1 };
		} elsif ($l =~ /^round=(\d+) q=(\d+) (.*)$/) {
			my ($r, $q, $rest) = ($1, $2, $3);
			my %f;
			while ($rest =~ /(\w+)=("[^"]*"|\S+)/g) {
				my ($k, $v) = ($1, $2);
				$v =~ s/^"(.*)"$/$1/;
				$f{$k} = $v;
			}
			$rows{"$r $q"} = \%f;
		} elsif ($l =~ /^dropped=/) {
			%tail = $l =~ /(\w+)=(\d+)/g;
		}
	}
	close $fh;
	return (\%rows, \%tail);
}

my $day = 86400;
my @q = ('example.test SOA IN', 'hostname.bind TXT CH');

# --- answers, fields, resumption: tls and https, IPv4 and IPv6
for my $tr ('tls', 'https') {
	for my $addr ('127.0.0.1', '::1') {
		my $port = $tr eq 'tls' ? $bind->{dot} : $bind->{doh};
		my ($rows) = drive('-t', $tr, '-s', $addr, '-p', $port, '-c',
		    $bind->{ca}, '-r', 2, @q);
		for my $round (1, 2) {
			my $l = "$tr $addr round $round";
			my $soa = $rows->{"$round 0"} // {};
			my $hn = $rows->{"$round 1"} // {};
			is($soa->{err}, 0, "$l: SOA answered") or diag(explain $soa);
			is($soa->{nsid}, $bind->{nsid}, "$l: NSID is the instance");
			is($soa->{serial}, BIND_SERIAL, "$l: serial");
			is($hn->{txt}, $bind->{identity}, "$l: hostname.bind TXT");
			cmp_ok($soa->{rtt_ns} // 0, '>', 0, "$l: query time");
			cmp_ok($soa->{rtt_ns} // 1e12, '<', 1e9, "$l: query time < 1 s");
			cmp_ok($soa->{connect_ns} // -1, '>', 0, "$l: connect time");
			cmp_ok($soa->{tls_handshake_ns} // -1, '>', 0,
			    "$l: handshake time");
			is($soa->{tls_version}, 13, "$l: TLSv1.3");
			is($soa->{has_cert}, 1, "$l: certificate seen");
			# good.pem is valid for 30 days from its making (just now)
			ok(($soa->{cert_expires_s} // 0) > 29 * $day &&
			    $soa->{cert_expires_s} <= 30 * $day,
			    "$l: cert_expires_s about 30 days ($soa->{cert_expires_s})");
			is($soa->{tls_resumed}, $round == 2 ? 1 : 0,
			    "$l: resumed " . ($round == 2 ? 'on the second round' : 'not on the first'));
			is($hn->{connect_ns}, $soa->{connect_ns},
			    "$l: both queries on one connection");
			if ($tr eq 'https') {
				is($soa->{http_status}, 200, "$l: http_status 200");
				is($soa->{id}, 0, "$l: DoH answer has message ID 0");
			} else {
				is($soa->{http_status}, 0, "$l: no http_status on tls");
			}
		}
	}
}

# --- https_method = get
{
	my ($rows) = drive('-t', 'https', '-g', '-s', '::1', '-p', $bind->{doh},
	    '-c', $bind->{ca}, @q);
	is($rows->{'1 0'}{err}, 0, 'GET: SOA answered');
	is($rows->{'1 1'}{txt}, $bind->{identity}, 'GET: hostname.bind answered');
}

# --- TLS 1.2, resumption off, tls_name
{
	my ($rows) = drive('-t', 'tls', '-s', '127.0.0.1', '-p', $bind->{dot12},
	    '-c', $bind->{ca}, '-r', 2, $q[0]);
	is($rows->{'1 0'}{tls_version}, 12, 'TLS 1.2 listener: tls_version 12');
	is($rows->{'2 0'}{tls_resumed}, 1, 'TLS 1.2: resumed on round 2');
	for my $tr ('tls', 'https') {
		my $port = $tr eq 'tls' ? $bind->{dot} : $bind->{doh};
		($rows) = drive({ ANYCAST_PROBE_TLS_RESUME => 'no' }, '-t', $tr,
		    '-s', '127.0.0.1', '-p', $port, '-c', $bind->{ca}, '-r', 2, $q[0]);
		is($rows->{'2 0'}{err}, 0, "$tr resumption off: answered");
		is($rows->{'2 0'}{tls_resumed}, 0, "$tr resumption off: not resumed");
	}
	($rows) = drive('-t', 'tls', '-s', '::1', '-p', $bind->{dot}, '-n',
	    'dns.test', '-c', $bind->{ca}, $q[0]);
	is($rows->{'1 0'}{err}, 0, 'tls_name dns.test: verified by name');
}

# --- certificate and connection errors
my @errors = (
    [ 'expired', $bind->{dot_expired}, [],
	'certificate verify failed: certificate has expired' ],
    [ 'another name, verified by IP', $bind->{dot_other}, [],
	'certificate verify failed: ip address mismatch' ],
    [ 'another name, verified by name', $bind->{dot}, ['-n', 'other.test'],
	'certificate verify failed: hostname mismatch' ],
    [ 'unknown CA', $bind->{dot_unknown}, [],
	'certificate verify failed: unable to get local issuer certificate' ],
);
my $closed = free_port();
for my $tr ('tls', 'https') {
	for my $e (@errors) {
		my ($what, $port, $extra, $text) = @$e;
		$port = $bind->{doh_expired} if $tr eq 'https' && $what eq 'expired';
		next if $tr eq 'https' && $what ne 'expired';
		my ($rows) = drive('-t', $tr, '-s', '127.0.0.1', '-p', $port, '-c',
		    $bind->{ca}, @$extra, $q[0]);
		is($rows->{'1 0'}{error}, $text, "$tr $what: $text");
		is($rows->{'1 0'}{tls_handshake_ns}, -1, "$tr $what: no handshake time");
		cmp_ok($rows->{'1 0'}{connect_ns} // -1, '>', 0,
		    "$tr $what: the TCP connect is timed");
	}
	my ($rows) = drive('-t', $tr, '-s', '::1', '-p', $closed, '-c',
	    $bind->{ca}, $q[0]);
	is($rows->{'1 0'}{error}, 'connection refused', "$tr: connection refused");
	# tls_verify = no: the expired certificate is accepted, and its expiry
	# is still reported (negative)
	my $port = $tr eq 'tls' ? $bind->{dot_expired} : $bind->{doh_expired};
	($rows) = drive('-t', $tr, '-k', '-s', '127.0.0.1', '-p', $port, $q[0]);
	is($rows->{'1 0'}{err}, 0, "$tr tls_verify=no: expired certificate accepted");
	cmp_ok($rows->{'1 0'}{cert_expires_s} // 0, '<', -300 * $day,
	    "$tr tls_verify=no: cert_expires_s negative");
	# the system store does not know the test CA
	($rows) = drive('-t', $tr, '-s', '127.0.0.1', '-p',
	    $tr eq 'tls' ? $bind->{dot} : $bind->{doh}, $q[0]);
	like($rows->{'1 0'}{error} // '', qr/^certificate verify failed: /,
	    "$tr: the system store does not trust the test CA");
}
{
	my ($rows) = drive('-t', 'https', '-s', '127.0.0.1', '-p', $bind->{doh},
	    '-c', $bind->{ca}, '-P', '/no-such-path', $q[0]);
	is($rows->{'1 0'}{error}, 'http status 404', 'https: http status 404');
	is($rows->{'1 0'}{http_status}, 404, 'https: http_status 404 on the row');
	($rows) = drive('-t', 'https', '-s', '127.0.0.1', '-p', $bind->{dot},
	    '-c', $bind->{ca}, $q[0]);
	is($rows->{'1 0'}{error}, 'http protocol error',
	    'https to a DoT port (no h2 ALPN): http protocol error');
}

# --- pipelining: more queries than a connection takes at once
{
	my ($rows, $tail) = drive('-t', 'tls', '-s', '127.0.0.1', '-p',
	    $bind->{dot}, '-c', $bind->{ca}, '-x', 300, $q[0]);
	my @ok = grep { ($_->{err} // 1) eq '0' } values %$rows;
	is(scalar @ok, 300, 'tls: 300 pipelined queries answered');
	my %conns = map { $_->{connect_ns} => 1 } @ok;
	is(scalar keys %conns, 1, 'tls: all on one connection');
	cmp_ok($tail->{blocked} // 0, '>', 0, 'tls: send said BLOCKED past 256');
	is($tail->{blocked}, $tail->{unblocked}, 'tls: each BLOCKED got unblocked()');
	($rows, $tail) = drive('-t', 'https', '-s', '::1', '-p', $bind->{doh},
	    '-c', $bind->{ca}, '-x', 200, $q[0]);
	@ok = grep { ($_->{err} // 1) eq '0' } values %$rows;
	is(scalar @ok, 200, 'https: 200 queries on streams answered');
	%conns = map { $_->{connect_ns} => 1 } @ok;
	is(scalar keys %conns, 1, 'https: all on one connection');
	is($tail->{pending}, 0, 'https: nothing left pending');
}

# --- the lying server
my $liar = start_liar_tls();
pass("liar_tls.py: DoT $liar->{dot}, DoH $liar->{doh}");
my @lies = (
    [ 'tls', 'ok', 0, '' ],
    [ 'tls', 'garbage', -74, 'malformed response' ],
    [ 'tls', 'rawgarbage', -74, 'malformed response' ],
    [ 'tls', 'hugelen', 'timeout' ],
    [ 'tls', 'trickle', 0, '' ],
    [ 'tls', 'close', -32, 'connection closed' ],
    [ 'https', 'ok', 0, '' ],
    [ 'https', 'ctype', -71, 'http content type' ],
    [ 'https', 'status', -71, 'http status 503' ],
    [ 'https', 'reset', -104, 'http stream reset' ],
    [ 'https', 'goaway', -104, 'http goaway' ],
    [ 'https', 'garbage', -74, 'malformed response' ],
    [ 'https', 'huge', -74, 'malformed response' ],
    [ 'https', 'trickle', 0, '' ],
    [ 'https', 'wrongq', -74, 'mismatched response' ],
);
for my $lie (@lies) {
	my ($tr, $mode, $err, $text) = @$lie;
	my $port = $tr eq 'tls' ? $liar->{dot} : $liar->{doh};
	my ($rows, $tail) = drive('-t', $tr, '-s', '127.0.0.1', '-p', $port,
	    '-c', $liar->{ca}, '-T', 1000, "$mode.liar.test SOA IN");
	my $r = $rows->{'1 0'} // {};
	if ($err eq 'timeout') {
		ok($r->{timeout}, "$tr $mode: no answer, the scheduler times it out");
		next;
	}
	is($r->{err}, $err, "$tr $mode: err $err");
	is($r->{error}, $text, "$tr $mode: error '$text'");
	is($r->{nsid}, 'liar-tls', "$tr $mode: answered") if $err == 0;
	is($tail->{pending}, 0, "$tr $mode: nothing left pending");
}
my $notls = start_liar_tls(mode => 'notls');
for my $tr ('tls', 'https') {
	my ($rows) = drive('-t', $tr, '-s', '::1', '-p',
	    $tr eq 'tls' ? $notls->{dot} : $notls->{doh}, '-c', $notls->{ca},
	    $q[0]);
	is($rows->{'1 0'}{error}, 'tls handshake failed',
	    "$tr: plain text for a ServerHello: tls handshake failed");
}

done_testing();
