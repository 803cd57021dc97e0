# Servers: real servers for the integration tests, started on loopback
# (127.0.0.1 and ::1) on free unprivileged ports, each in its own temp dir:
# NSD (NSID + identity), Knot (identity, NSID disabled), InfluxDB 1.x, and
# a "silent" DNS port that accepts packets and connections but never answers.
#
# Every server is stopped by its PID when the test script exits, also when it
# dies or is interrupted (END block + INT/TERM/ALRM handlers). Readiness is
# checked by asking the server (kdig, curl /ping), never by sleeping.
package Servers;

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::IP;
use POSIX qw(WNOHANG _exit);
use Socket qw(SOCK_STREAM SOCK_DGRAM SOL_SOCKET SO_REUSEADDR);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(free_port start_nsd start_knot start_bind start_influxd
    start_silent start_bind_tls start_liar_tls stop_server have_cmd kdig
    influx_query influx_post start_prometheus prom_query
    ZONE_NAME NSD_SERIAL KNOT_SERIAL BIND_SERIAL);

use constant ZONE_NAME   => 'example.test';
use constant NSD_SERIAL  => 2024010101;
use constant KNOT_SERIAL => 2024020202;
use constant BIND_SERIAL => 2024030303;

my $OWNER = $$;   # only the process that started servers stops them
my @started;      # server hashes with a {pid}

sub _cleanup
{
	return if $$ != $OWNER;
	stop_server($_) for reverse @started;
	@started = ();
}
END { my $rc = $?; _cleanup(); $? = $rc; }
$SIG{INT} = $SIG{TERM} = $SIG{HUP} = $SIG{PIPE} = sub { _cleanup(); exit 130 };
$SIG{ALRM} = sub { die "test watchdog: timed out\n" };

sub have_cmd
{
	my ($cmd) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin') {
		return "$d/$cmd" if -x "$d/$cmd";
	}
	return;
}

# A port free for TCP and UDP on both 127.0.0.1 and ::1. Random, so that
# scripts running one after another (or a stale server) do not collide.
sub free_port
{
	for (1 .. 200) {
		my $port = 20000 + int(rand(40000));
		my @s;
		my $ok = 1;
		for my $addr ('127.0.0.1', '::1') {
			for my $type (SOCK_STREAM, SOCK_DGRAM) {
				my $s = IO::Socket::IP->new(LocalHost => $addr,
				    LocalPort => $port, Type => $type,
				    ReuseAddr => 0, V6Only => 1);
				if (!$s) { $ok = 0; last; }
				push @s, $s;
			}
			last unless $ok;
		}
		close $_ for @s;
		return $port if $ok;
	}
	die "no free port found\n";
}

sub _tmpdir { return tempdir('anycast-probe-test.XXXXXX', TMPDIR => 1, CLEANUP => 1) }

sub _write
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "$path: $!\n";
	print $fh $text;
	close $fh or die "$path: $!\n";
}

sub _slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	return scalar <$fh>;
}

# The zone both DNS servers serve; only the serial differs. big.example.test
# holds a TXT RRset of about 3 kB, larger than any EDNS UDP size we use, so
# a UDP answer to it is truncated (TC).
sub zone_text
{
	my ($serial) = @_;
	my $z = <<"EOF";
\$ORIGIN example.test.
\$TTL 3600
@	IN SOA ns1.example.test. hostmaster.example.test. $serial 3600 900 604800 300
@	IN NS ns1.example.test.
ns1	IN A 127.0.0.1
ns1	IN AAAA ::1
www	IN A 192.0.2.1
www	IN AAAA 2001:db8::1
EOF
	$z .= sprintf("big\tIN TXT \"%s%03d\"\n", 'x' x 60, $_) for 1 .. 48;
	return $z;
}

# Start a command in the background with stdout/stderr to LOG; returns pid.
sub _spawn
{
	my ($log, @cmd) = @_;
	die "$cmd[0] is not installed (see tests/lib/deps.sh)\n" unless have_cmd($cmd[0]);
	my $pid = fork();
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log);
		open(STDERR, '>&', \*STDOUT);
		exec(@cmd) or _exit(127);
	}
	return $pid;
}

sub _alive
{
	my ($pid) = @_;
	return 0 if waitpid($pid, WNOHANG) == $pid;
	return kill(0, $pid);
}

sub kdig
{
	my (@args) = @_;
	my $pid = open(my $fh, '-|') // return '';
	if ($pid == 0) {
		open(STDERR, '>', '/dev/null');
		exec('kdig', '+time=1', '+retry=0', @args) or _exit(127);
	}
	local $/;
	my $out = <$fh> // '';
	close $fh;
	return $out;
}

# Wait until the DNS server answers the zone's SOA with SERIAL over UDP and
# TCP on both addresses.
sub _wait_dns
{
	my ($srv, $serial) = @_;
	my $deadline = time + 15;
	my @todo = map { my $a = $_; map { [$a, $_] } ('+notcp', '+tcp') }
	    ('127.0.0.1', '::1');
	# First wait for the TCP ports to accept, so that the first UDP query is
	# not sent before the server listens (kdig waits at least 1 s).
	for my $addr ("127.0.0.1", "::1") {
		until (IO::Socket::IP->new(PeerHost => $addr, PeerPort => $srv->{port},
		    Type => SOCK_STREAM)) {
			die "$srv->{kind} exited during start-up:\n" . _slurp($srv->{log})
			    unless _alive($srv->{pid});
			die "$srv->{kind} not listening in 15 s\n" if time > $deadline;
			sleep 0.02;
		}
	}
	while (@todo) {
		die "$srv->{kind} exited during start-up:\n" . _slurp($srv->{log})
		    unless _alive($srv->{pid});
		die "$srv->{kind} not ready in 15 s:\n" . _slurp($srv->{log})
		    if time > $deadline;
		my ($addr, $tr) = @{ $todo[0] };
		my $out = kdig("\@$addr", '-p', $srv->{port}, $tr, '+short',
		    ZONE_NAME, 'SOA');
		if ($out =~ /\b$serial\b/) { shift @todo; next; }
		sleep 0.05;
	}
}

# NSD with NSID (ascii) and identity. Runs as root without dropping
# privileges (username: ""), no chroot, everything in a temp dir.
sub start_nsd
{
	my (%o) = @_;
	my $dir = _tmpdir();
	my $srv = { kind => 'nsd', dir => $dir, serial => NSD_SERIAL,
	    nsid => $o{nsid} // 'nsd-test-nsid',
	    identity => $o{identity} // 'nsd-test-identity',
	    log => "$dir/nsd.log" };
	_write("$dir/example.test.zone", zone_text(NSD_SERIAL));
	# nsid => TEXT (ascii), nsid_hex => HEX, or no_nsid => 1.
	my $nsid_line = $o{no_nsid} ? "" : defined $o{nsid_hex}
	    ? "  nsid: \"$o{nsid_hex}\"" : "  nsid: \"ascii_$srv->{nsid}\"";
	$srv->{nsid} = $o{no_nsid} ? undef : $o{nsid_hex} // $srv->{nsid};
	for my $try (1 .. 3) {
		my $port = $srv->{port} = $o{port} // free_port();
		_write("$dir/nsd.conf", <<"EOF");
server:
  ip-address: 127.0.0.1\@$port
  ip-address: ::1\@$port
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  xfrdfile: "$dir/xfrd.state"
  zonelistfile: "$dir/zone.list"
  xfrdir: "$dir"
  identity: "$srv->{identity}"
$nsid_line
  server-count: 1
  verbosity: 1
  reuseport: no
  round-robin: no
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
EOF
		$srv->{pid} = _spawn($srv->{log}, 'nsd', '-d', '-c', "$dir/nsd.conf");
		push @started, $srv;
		my $ok = eval { _wait_dns($srv, NSD_SERIAL); 1 };
		return $srv if $ok;
		my $err = $@;
		stop_server($srv);
		die $err if $try == 3 || $o{port};
	}
}

# Knot with identity (hostname.bind / id.server answer) and NSID disabled
# (an empty `nsid` turns it off; unset would default to the host name).
sub start_knot
{
	my (%o) = @_;
	my $dir = _tmpdir();
	my $srv = { kind => 'knot', dir => $dir, serial => KNOT_SERIAL,
	    identity => $o{identity} // 'knot-test-identity',
	    log => "$dir/knot.log" };
	_write("$dir/example.test.zone", zone_text(KNOT_SERIAL));
	mkdir "$dir/db";
	# cookies => 1: DNS COOKIE (RFC 7873) with mod-cookies on every zone.
	my $cookies = $o{cookies} ? "mod-cookies:\n  - id: default\n" : '';
	my $cookies_module = $o{cookies} ? "    global-module: mod-cookies/default" : '';
	for my $try (1 .. 3) {
		my $port = $srv->{port} = $o{port} // free_port();
		_write("$dir/knot.conf", <<"EOF");
server:
    rundir: "$dir"
    pidfile: "$dir/knot.pid"
    listen: [ 127.0.0.1\@$port, ::1\@$port ]
    identity: "$srv->{identity}"
    nsid: ""
    version: ""
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$dir/db"
$cookies
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
$cookies_module
zone:
  - domain: example.test
    file: "example.test.zone"
EOF
		$srv->{pid} = _spawn($srv->{log}, 'knotd', '-c', "$dir/knot.conf");
		push @started, $srv;
		my $ok = eval { _wait_dns($srv, KNOT_SERIAL); 1 };
		return $srv if $ok;
		my $err = $@;
		stop_server($srv);
		die $err if $try == 3 || $o{port};
	}
}

# BIND 9 (named -g) with server-id (NSID and id.server) and hostname; it
# answers DNS COOKIE (RFC 7873) by default. Root, no dropping of privileges
# (-u not given), everything in a temp dir, no control channel.
sub start_bind
{
	my (%o) = @_;
	my $dir = _tmpdir();
	my $srv = { kind => 'bind', dir => $dir, serial => BIND_SERIAL,
	    nsid => $o{server_id} // 'bind-test-id', log => "$dir/named.log" };
	_write("$dir/example.test.zone", zone_text(BIND_SERIAL));
	for my $try (1 .. 3) {
		my $port = $srv->{port} = $o{port} // free_port();
		_write("$dir/named.conf", <<"EOF");
options {
	directory "$dir";
	pid-file "$dir/named.pid";
	session-keyfile "$dir/session.key";
	managed-keys-directory "$dir";
	listen-on port $port { 127.0.0.1; };
	listen-on-v6 port $port { ::1; };
	recursion no;
	dnssec-validation no;
	server-id "$srv->{nsid}";
	hostname "$srv->{nsid}";
};
controls { };
zone "example.test" { type primary; file "$dir/example.test.zone"; };
EOF
		$srv->{pid} = _spawn($srv->{log}, 'named', '-g', '-n', '1', '-c', "$dir/named.conf");
		push @started, $srv;
		my $ok = eval { _wait_dns($srv, BIND_SERIAL); 1 };
		return $srv if $ok;
		my $err = $@;
		stop_server($srv);
		die $err if $try == 3 || $o{port};
	}
}

sub _curl
{
	my (@args) = @_;
	# --noproxy: never let a proxy setting send loopback traffic elsewhere.
	open(my $fh, '-|', 'curl', '-sS', '--noproxy', '*', '--max-time', '10',
	    @args) or return '';
	local $/;
	my $out = <$fh> // '';
	close $fh;
	return $out;
}

# InfluxDB 1.x on loopback only: HTTP and the RPC service bound to
# 127.0.0.1, usage reporting off (Debian's key is reporting-enabled), no
# monitor, subscriber, continuous queries or other listeners.
sub start_influxd
{
	my $dir = _tmpdir();
	my $srv = { kind => 'influxd', dir => $dir, log => "$dir/influxd.log" };
	mkdir "$dir/$_" for qw(meta data wal);
	for my $try (1 .. 3) {
		my $port = $srv->{port} = free_port();
		my $rpc = free_port();
		_write("$dir/influxdb.conf", <<"EOF");
reporting-enabled = false
bind-address = "127.0.0.1:$rpc"

[meta]
  dir = "$dir/meta"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
EOF
		# Environment variables override the file; drop any.
		local %ENV = map { $_ => $ENV{$_} } grep { !/^INFLUXDB_/ } keys %ENV;
		$srv->{pid} = _spawn($srv->{log}, 'influxd', 'run', '-config',
		    "$dir/influxdb.conf");
		push @started, $srv;
		my $deadline = time + 20;
		while (1) {
			my $code = _curl('-o', '/dev/null', '-w', '%{http_code}',
			    "http://127.0.0.1:$port/ping");
			return $srv if $code eq '204';
			last if !_alive($srv->{pid}) || time > $deadline;
			sleep 0.1;
		}
		my $log = _slurp($srv->{log});
		stop_server($srv);
		die "influxd did not start:\n$log" if $try == 3;
	}
}

# POST BODY to /write; returns (http code, response body).
sub influx_post
{
	my ($srv, $path_query, $body) = @_;
	my $f = "$srv->{dir}/post.body";
	_write($f, $body);
	my $out = _curl('-w', "\n%{http_code}", '--data-binary', "\@$f",
	    "http://127.0.0.1:$srv->{port}$path_query");
	my ($resp, $code) = $out =~ /\A(.*)\n(\d+)\z/s ? ($1, $2) : ($out, 0);
	return ($code, $resp);
}

# Run an InfluxQL query; returns the decoded JSON.
sub influx_query
{
	my ($srv, $db, $q) = @_;
	require JSON::PP;
	my $out = _curl('-G', "http://127.0.0.1:$srv->{port}/query",
	    '--data-urlencode', "db=$db", '--data-urlencode', "q=$q");
	# Strings are characters (decode_json): utf8::encode them before comparing
	# with parsed lines, which are bytes.
	return eval { JSON::PP::decode_json($out) } // { error => "bad JSON: $out" };
}

# A DNS port that never answers: a bound UDP socket nobody reads and a TCP
# listener that never accepts (the kernel completes the handshake; the query
# is never read). Held by this process; closed by stop_server or at exit.
sub start_silent
{
	my (%o) = @_;
	my $port = free_port();
	my @socks;
	for my $addr ('127.0.0.1', '::1') {
		push @socks, IO::Socket::IP->new(LocalHost => $addr, LocalPort => $port,
		    Type => SOCK_DGRAM, V6Only => 1) or die "silent udp: $@\n";
		push @socks, IO::Socket::IP->new(LocalHost => $addr, LocalPort => $port,
		    Type => SOCK_STREAM, Listen => 64, ReuseAddr => 1, V6Only => 1)
		    or die "silent tcp: $@\n";
	}
	return { kind => 'silent', port => $port, socks => \@socks };
}

# BIND 9.18 serving DNS over TLS and DNS over HTTPS (HTTP/2, endpoint
# /dns-query) on loopback, with NSID (server-id) and hostname.bind, and
# certificates made by tests/lib/mkcerts.sh (ca.pem is the CA to trust).
# Ports in the returned hash: port (plain UDP/TCP), dot, doh (the good
# certificate for dns.test, 127.0.0.1 and ::1), dot_expired, dot_other (a
# certificate for other.test), dot_unknown (from an untrusted CA), dot12
# (TLS 1.2 only), doh_expired; ca => the CA file, certs => the directory.
sub start_bind_tls
{
	my (%o) = @_;
	my $dir = _tmpdir();
	my $srv = { kind => 'named', dir => $dir, serial => BIND_SERIAL,
	    nsid => $o{nsid} // 'bind-tls-nsid',
	    identity => $o{identity} // 'bind-tls-hostname',
	    log => "$dir/named.log", certs => "$dir/certs",
	    ca => "$dir/certs/ca.pem" };
	my $lib = __FILE__ =~ s{[^/]*$}{}r;
	$lib = '.' if $lib eq '';
	system("$lib/mkcerts.sh", "$dir/certs") == 0
	    or die "mkcerts.sh failed\n";
	_write("$dir/example.test.zone", zone_text(BIND_SERIAL));
	my @tls = qw(dot doh dot_expired dot_other dot_unknown dot12 doh_expired);
	my %cert = (dot => 'good', doh => 'good', dot_expired => 'expired',
	    dot_other => 'other', dot_unknown => 'unknown', dot12 => 'good12',
	    doh_expired => 'expired');
	my $blocks = '';
	for my $c (qw(good expired other unknown)) {
		$blocks .= "tls $c { cert-file \"$dir/certs/$c.pem\"; "
		    . "key-file \"$dir/certs/$c.key\"; session-tickets yes; };\n";
	}
	$blocks .= "tls good12 { cert-file \"$dir/certs/good.pem\"; "
	    . "key-file \"$dir/certs/good.key\"; protocols { TLSv1.2; }; "
	    . "session-tickets yes; };\n";
	$blocks .= "http doh { endpoints { \"/dns-query\"; }; };\n";
	for my $try (1 .. 3) {
		$srv->{port} = free_port();
		my %seen = ($srv->{port} => 1);
		my $listen = '';
		for my $k (@tls) {
			my $p;
			do { $p = free_port() } while $seen{$p}++;
			$srv->{$k} = $p;
			my $http = $k =~ /^doh/ ? ' http doh' : '';
			$listen .= "  listen-on port $p tls $cert{$k}$http { 127.0.0.1; };\n"
			    . "  listen-on-v6 port $p tls $cert{$k}$http { ::1; };\n";
		}
		_write("$dir/named.conf", <<"EOF");
$blocks
options {
  directory "$dir";
  pid-file "$dir/named.pid";
  session-keyfile "$dir/session.key";
  listen-on port $srv->{port} { 127.0.0.1; };
  listen-on-v6 port $srv->{port} { ::1; };
$listen
  recursion no;
  server-id "$srv->{nsid}";
  hostname "$srv->{identity}";
  version none;
  notify no;
  dnssec-validation no;
};
controls { };
logging { channel l { stderr; severity info; }; category default { l; }; };
zone "example.test" { type primary; file "$dir/example.test.zone"; };
EOF
		$srv->{pid} = _spawn($srv->{log}, 'named', '-g', '-n', '1', '-c',
		    "$dir/named.conf");
		push @started, $srv;
		my $ok = eval {
			_wait_dns($srv, BIND_SERIAL);
			my $deadline = time + 15;
			for my $k (@tls) {
				for my $addr ('127.0.0.1', '::1') {
					until (IO::Socket::IP->new(PeerHost => $addr,
					    PeerPort => $srv->{$k}, Type => SOCK_STREAM)) {
						die "named: $k not listening\n" if time > $deadline;
						sleep 0.02;
					}
				}
			}
			1;
		};
		return $srv if $ok;
		my $err = $@;
		stop_server($srv);
		die $err if $try == 3;
	}
}

# The lying DoT/DoH server (tests/lib/liar_tls.py, Debian's python3 with
# python3-h2), with the good certificate of a fresh mkcerts.sh run.
# MODE: its --mode (per query, the first label of the name wins). Returns
# { dot => PORT, doh => PORT, ca => CA file }; stopped at exit.
sub start_liar_tls
{
	my (%o) = @_;
	my $dir = _tmpdir();
	my $lib = __FILE__ =~ s{[^/]*$}{}r;
	$lib = '.' if $lib eq '';
	system("$lib/mkcerts.sh", "$dir/certs") == 0
	    or die "mkcerts.sh failed\n";
	my $srv = { kind => 'liar_tls', dir => $dir, ca => "$dir/certs/ca.pem",
	    log => "$dir/liar_tls.log" };
	pipe(my $r, my $w) or die "pipe: $!\n";      # its stdin: EOF ends it
	pipe(my $rr, my $ww) or die "pipe: $!\n";    # its stdout: READY line
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		close $w; close $rr;
		open(STDIN, '<&', $r);
		open(STDOUT, '>&', $ww);
		open(STDERR, '>>', $srv->{log});
		exec("$lib/liar_tls.py", '--cert', "$dir/certs/good.pem", '--key',
		    "$dir/certs/good.key", '--mode', $o{mode} // 'ok') or _exit(127);
	}
	close $r; close $ww;
	$srv->{pid} = $pid;
	$srv->{stdin} = $w;
	push @started, $srv;
	my $line = <$rr> // '';
	die "liar_tls.py did not start:\n" . _slurp($srv->{log})
	    unless $line =~ /^READY (\d+) (\d+)/;
	@$srv{qw(dot doh)} = ($1, $2);
	return $srv;
}

# Stop by PID: SIGTERM, wait up to 5 s, then SIGKILL. Safe to call twice.
sub stop_server
{
	my ($srv) = @_;
	return unless $srv;
	if ($srv->{socks}) { close $_ for @{ $srv->{socks} }; delete $srv->{socks}; }
	close(delete $srv->{stdin}) if $srv->{stdin};
	my $pid = delete $srv->{pid} or return;
	kill 'TERM', $pid;
	my $deadline = time + 5;
	while (waitpid($pid, WNOHANG) == 0) {
		if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
		sleep 0.02;
	}
}


# Prometheus (Debian's prometheus package) on 127.0.0.1 only, its TSDB in a
# temp dir, scraping TARGETS (host:port list) every second. Readiness:
# /-/ready answers 200.
sub start_prometheus
{
	my (%o) = @_;
	my $dir = _tmpdir();
	my $srv = { kind => 'prometheus', dir => $dir, log => "$dir/prometheus.log" };
	my $targets = join(', ', map { "'$_'" } @{ $o{targets} // [] });
	_write("$dir/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: anycast-probe
    static_configs:
      - targets: [$targets]
EOF
	for my $try (1 .. 3) {
		my $port = $srv->{port} = free_port();
		$srv->{pid} = _spawn($srv->{log}, 'prometheus',
		    "--config.file=$dir/prometheus.yml", "--storage.tsdb.path=$dir/data",
		    "--web.listen-address=127.0.0.1:$port", '--log.level=warn');
		push @started, $srv;
		my $deadline = time + 30;
		while (1) {
			my $code = _curl('-o', '/dev/null', '-w', '%{http_code}',
			    "http://127.0.0.1:$port/-/ready");
			return $srv if $code eq '200';
			last if !_alive($srv->{pid}) || time > $deadline;
			sleep 0.1;
		}
		my $log = _slurp($srv->{log});
		stop_server($srv);
		die "prometheus did not start:\n$log" if $try == 3;
	}
}

# A PromQL instant query; returns the decoded JSON.
sub prom_query
{
	my ($srv, $q) = @_;
	require JSON::PP;
	my $out = _curl('-G', "http://127.0.0.1:$srv->{port}/api/v1/query",
	    '--data-urlencode', "query=$q");
	return eval { JSON::PP::decode_json($out) } // { status => 'error', error => "bad JSON: $out" };
}

1;
