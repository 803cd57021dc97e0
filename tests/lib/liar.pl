#!/usr/bin/perl
# liar.pl: a lying DNS server for the hostile-input tests of anycast-probe.
#
# Listens on 127.0.0.1 and ::1, UDP and TCP, on one port (--port, or a free
# one chosen here), and prints "READY <port>" on stdout once every socket is
# bound. It exits on SIGTERM/SIGINT or when its stdin reaches EOF (so a test
# that holds a pipe to it cannot leave it behind).
#
# How it answers is chosen per query by the first label of the query name
# (`nl.liar.test TXT` gets the "nl" treatment), or for every query by
# --mode. CHAOS TXT queries for hostname.bind / id.server get a hostile TXT
# answer chosen by --identity (payload modes only); they carry an NSID too
# unless --nsid none. Modes:
#
#  payload modes: a well-formed NOERROR answer whose TXT strings (or, for a
#    non-TXT query, an SOA whose names hold the bytes) and EDNS NSID carry
#    bytes made to break line protocol:
#      nl cr quote bs trailbs comma space eq nul esc badutf8 utf8cut bsend
#      spacecut long many empty bignsid mix  (see %PAYLOAD below)
#    plus `ok`: a plain answer (TXT "ok", NSID "liar").
#  structure modes (every one of them must never be a success):
#      garbage     random bytes after the right message ID
#      cutN        the `mix` answer cut to N bytes (TCP: framed as N bytes)
#      chopN       the `mix` answer without its last N bytes
#      wrongid     message ID + 1
#      wrongname   another question name;  wrongtype / wrongclass / noquestion
#      otherport   the answer sent from another socket (other source port)
#      otheraddr   the answer sent from 127.0.0.2, same port (IPv6: other port)
#      ptrloop     an answer owner name that points at itself
#      ptrloop2    two compression pointers pointing at each other
#      ptrfwd      a pointer past the end of the message
#      dupopt      two OPT records;  optlen: an EDNS option longer than the
#                  OPT RDATA;  optrdlen: an OPT RDLENGTH past the end
#      counts      ANCOUNT 65535 with one answer
#      late        the right answer, 600 ms late (after the probe's timeout)
#      never       no answer at all
#      close       TCP: read the query and close; UDP: no answer
#      hugelen     TCP: length prefix 65535, 10 bytes, then silence; UDP: none
#      shortlen    TCP: length prefix 2 and 2 bytes; UDP: a 2-byte datagram
#      twomsg      TCP: a wrong-ID answer first, then the right one
#  modes that must still be a success:
#      flood       before the right answer, hundreds of datagrams to the
#                  asker's port: right question with wrong IDs and garbage
#                  from the server's own port, the right ID from other ports;
#                  another burst 50 ms later (TCP: answered plainly)
#      dup         the right answer twice
#      trickle     TCP: the answer written in 4 pieces 20 ms apart
#      refused     rcode REFUSED (a response: result=error) with hostile NSID
#      tc          TC bit set, hostile payload
#  DNS COOKIE modes (RFC 7873), a plain `ok` answer whose OPT carries:
#      rightcookie the query's client cookie and an 8-byte server cookie
#                  ("liarsrv1"): the `cookie` field is ok
#      wrongcookie another client cookie (the query's, bits flipped): a
#                  spoof, which must be dropped (the query times out)
#      shortcookie a COOKIE option of 8 bytes (no server cookie): malformed
#
# Options: --port N, --mode MODE (every query), --identity MODE (default
# mix), --nsid none (never an NSID option) or per-query (a new NSID in
# every answer: arn1-q1, arn1-q2, ...), --chaos never (CHAOS identity
# queries get no answer, like a BIND over its CHAOS rate limit), --tcp accept-close|accept-silent
# (whole-server TCP behaviour before reading anything), --log FILE (one line
# per query received: "transport family id mode name type class key",
# key "4" or "6" for the main port, "4/N" for the N-th --identity-port);
# --identity-port MODE (repeatable): one more port, announced as "IDENTITY
# MODE PORT" before READY, without NSID, whose identity answer is MODE;
# --dump-txt MODE / --dump-nsid MODE: print that payload's raw bytes, exit.
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Getopt::Long;
use Time::HiRes qw(time);
use POSIX ();

my %opt = (identity => 'mix', nsid => 'yes', tcp => '', chaos => 'answer');
my @identity_port;
GetOptions(\%opt, "identity-port=s" => \@identity_port, "dump-txt=s", "dump-nsid=s", 'port=i', 'mode=s', 'identity=s', 'nsid=s', 'tcp=s', 'chaos=s',
    "log=s", "no-stdin") or die "usage: liar.pl [--port N] [--mode M] [--identity M] "
    . "[--nsid none] [--tcp accept-close|accept-silent] [--log FILE]\n";

$| = 1;
my $LOG;
if ($opt{log}) {
	open($LOG, '>>', $opt{log}) or die "$opt{log}: $!\n";
	$LOG->autoflush(1);
}

# ---- hostile payloads: [ list of TXT strings ], NSID bytes ----------------

my $UTF8 = "\xc3\x85\xc3\x84\xc3\x96\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80";
my $BAD8 = "\xff\xfe\xc3\x28\xe2\x82\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80"
    . "\x80\xbf\xf0\x9f\x98";
my $LP = "dns_anycast,target=evil,result=success rcode_value=0i 1\n";
my $EVIL = "a\nb\rc\"d\\e,f g=h\0i\e[31mj\tk\x7f\xc2\x85l" . $BAD8 . $UTF8 . '\\';
my %PAYLOAD = (
	ok       => [ ['ok'], 'liar' ],
	nl       => [ ["line\n$LP", "\n"], "n\nl\n$LP" ],
	cr       => [ ["a\r\nb\r"], "a\r\nb\r" ],
	quote    => [ ['"q" u"=o\'te"', '"'], '"n"s=i"d' ],
	bs       => [ ['a\\b\\\\c\\"d\\,e\\ f\\=g'], 'a\\b\\\\c\\"d\\,e\\ f\\=g' ],
	trailbs  => [ ['trail\\', '\\', '\\\\'], 'nsid\\' ],
	comma    => [ ['a,b,,c,', ','], ',a,b,' ],
	space    => [ [' lead and trail ', ' '], ' n s i d ' ],
	eq       => [ ['=a=b==', '='], '=n=s=' ],
	nul      => [ ["a\0b\0", "\0"], "n\0s\0" ],
	esc      => [ ["\e[31mred\e[0m\e]0;title\a\eP"], "\e[2J\e[H" ],
	badutf8  => [ [$BAD8], $BAD8 ],
	# a character that straddles the 64-byte tag cut
	utf8cut  => [ [('a' x 62) . $UTF8], ('a' x 62) . $UTF8 ],
	# a backslash / space / comma right at the cut
	bsend    => [ [('b' x 63) . '\\x'], ('b' x 63) . '\\x' ],
	spacecut => [ [('s' x 63) . ' ,=x'], ('s' x 63) . ' ,=x' ],
	long     => [ [ substr(($EVIL x 10), 0, 255), 'L' x 255 ],
		    substr('\\,= "' x 60, 0, 255) ],
	many     => [ [ map { "s$_,\\ =\"\n" } 1 .. 200 ], 'm' x 100 ],
	empty    => [ [''], '' ],
	bignsid  => [ ['big'], join('', map { chr($_ % 256) } 0 .. 1199) ],
	mix      => [ [$EVIL, $LP, ('x' x 60) . $UTF8], $EVIL ],
);

my %STRUCT = map { $_ => 1 } qw(garbage wrongid wrongname wrongtype
    wrongclass noquestion otherport otheraddr ptrloop ptrloop2 ptrfwd dupopt optlen
    optrdlen counts late never close hugelen shortlen twomsg flood dup
    trickle refused tc rightcookie wrongcookie shortcookie);

sub mode_ok
{
	my ($m) = @_;
	return $PAYLOAD{$m} || $STRUCT{$m} || $m =~ /^(?:cut|chop)\d+$/;
}
for my $k (grep { defined $opt{$_} } qw(mode)) {
	die "unknown mode $opt{$k}\n" unless mode_ok($opt{$k});
}
die "unknown identity payload $opt{identity}\n" unless $PAYLOAD{$opt{identity}};
die "unknown identity payload $_\n" for grep { !$PAYLOAD{$_} } @identity_port;

if (defined $opt{'dump-txt'} || defined $opt{'dump-nsid'}) {
	# The raw bytes of a payload, for the tests' expectations.
	my $p = $PAYLOAD{ $opt{'dump-txt'} // $opt{'dump-nsid'} } or die "unknown payload\n";
	binmode STDOUT;
	print defined $opt{'dump-txt'} ? join('', @{ $p->[0] }) : $p->[1];
	exit 0;
}

# ---- sockets --------------------------------------------------------------
#
# A listener is a UDP and a TCP socket on one address and port. Keys of %udp
# and %tcp: "4" and "6" for the main port, "4/N" and "6/N" for the N-th
# --identity-port. %conf_of holds each key's identity payload and NSID use.

my (%udp, %tcp, %alt, %conf_of, %other, $port);

# Bind UDP+TCP on 127.0.0.1 and ::1 on one port (PORT, or a random free
# one) under keys "4$SUFFIX" and "6$SUFFIX"; returns the port.
sub bind_pair
{
	my ($want, $suffix) = @_;
	for my $try (1 .. 200) {
		my $p = $want // 20000 + int(rand(40000));
		my @made;
		my $ok = 1;
		for my $fam ([4, '127.0.0.1'], [6, '::1']) {
			my ($f, $a) = @$fam;
			my $u = IO::Socket::IP->new(LocalHost => $a, LocalPort => $p,
			    Type => SOCK_DGRAM, V6Only => 1) or do { $ok = 0; last };
			my $t = IO::Socket::IP->new(LocalHost => $a, LocalPort => $p,
			    Type => SOCK_STREAM, Listen => 128, ReuseAddr => 1, V6Only => 1)
			    or do { $ok = 0; last };
			push @made, [ "$f$suffix", $u, $t ];
		}
		if ($ok) {
			for my $m (@made) {
				($udp{ $m->[0] }, $tcp{ $m->[0] }) = ($m->[1], $m->[2]);
				$_->blocking(0) for $m->[1], $m->[2];
			}
			return $p;
		}
		die "liar: cannot bind port $p: $!\n" if defined $want || $try == 200;
	}
}

$port = bind_pair($opt{port}, '');
$conf_of{$_} = { identity => $opt{identity}, nsid => $opt{nsid} } for 4, 6;
my @announce;
for my $i (0 .. $#identity_port) {
	my $p = bind_pair(undef, "/$i");
	$conf_of{"$_/$i"} = { identity => $identity_port[$i], nsid => 'none' } for 4, 6;
	push @announce, "IDENTITY $identity_port[$i] $p";
}
for my $fam ([4, '127.0.0.1'], [6, '::1']) {
	$alt{$fam->[0]} = [ map {
		IO::Socket::IP->new(LocalHost => $fam->[1], LocalPort => 0,
		    Type => SOCK_DGRAM, V6Only => 1) or die "liar: alt socket: $@\n"
	} 1 .. 3 ];
}
# Another source address, same port (IPv4 only: ::1 is the only IPv6
# loopback address); mode otheraddr falls back to another port for IPv6.
$other{4} = IO::Socket::IP->new(LocalHost => '127.0.0.2', LocalPort => $port,
    Type => SOCK_DGRAM);
$other{6} = $alt{6}[1];

my $running = 1;
$SIG{TERM} = $SIG{INT} = sub { $running = 0 };
$SIG{PIPE} = 'IGNORE';
print "$_\n" for @announce;
print "READY $port\n";

# ---- DNS wire helpers -----------------------------------------------------

sub name_wire
{
	my ($name) = @_;
	my $w = '';
	for my $l (split /\./, $name) { $w .= chr(length $l) . $l if length $l; }
	return $w . "\0";
}

sub name_text
{
	my ($w) = @_;
	my @l;
	my $p = 0;
	while ($p < length $w) {
		my $n = ord substr($w, $p, 1);
		last if $n == 0;
		push @l, substr($w, $p + 1, $n);
		$p += 1 + $n;
	}
	return @l ? join('.', @l) : '.';
}

# Parse a query: returns { id, flags, qname (wire), name, qtype, qclass,
# edns, nsid } or undef.
sub parse_query
{
	my ($m) = @_;
	return undef if length $m < 12;
	my ($id, $flags, $qd, $an, $ns, $ar) = unpack('n6', $m);
	return undef if $flags & 0x8000 || $qd != 1;
	my $p = 12;
	my $start = $p;
	while (1) {
		return undef if $p >= length $m;
		my $n = ord substr($m, $p, 1);
		return undef if $n & 0xC0;
		$p += 1 + $n;
		last if $n == 0;
	}
	return undef if $p + 4 > length $m;
	my $q = { id => $id, flags => $flags, qname => substr($m, $start, $p - $start) };
	($q->{qtype}, $q->{qclass}) = unpack('n2', substr($m, $p, 4));
	$p += 4;
	$q->{name} = lc name_text($q->{qname});
	# skip answer/authority (none expected), look for OPT in additional
	for (1 .. $an + $ns + $ar) {
		last if $p >= length $m;
		my $owner0 = ord substr($m, $p, 1);
		return $q unless $owner0 == 0;   # keep it simple: root-owned OPT only
		$p++;
		last if $p + 10 > length $m;
		my ($type, $cls, $ttl, $rdlen) = unpack('nnNn', substr($m, $p, 10));
		$p += 10;
		if ($type == 41) {
			$q->{edns} = 1;
			$q->{edns_size} = $cls;
			my $o = $p;
			while ($o + 4 <= $p + $rdlen) {
				my ($code, $len) = unpack('nn', substr($m, $o, 4));
				$q->{nsid} = 1 if $code == 3;
				$q->{cookie} = substr($m, $o + 4, 8) if $code == 10 && $len >= 8;
				$o += 4 + $len;
			}
		}
		$p += $rdlen;
	}
	return $q;
}

sub rr
{
	my ($owner, $type, $class, $ttl, $rdata) = @_;
	return $owner . pack('nnNn', $type, $class, $ttl, length $rdata) . $rdata;
}

sub txt_rdata
{
	my ($strings) = @_;
	return join('', map { chr(length $_) . $_ } @$strings);
}

sub opt_rr
{
	my ($nsid) = @_;
	my $rd = defined $nsid ? pack('nn', 3, length $nsid) . $nsid : '';
	return rr("\0", 41, 1232, 0, $rd);
}

# Build a reply. %o: rcode, flags (extra), answers (list of RR wire),
# nsid (bytes or undef), opt (raw additional records instead of the OPT),
# question (wire after the header, instead of the query's), counts ([an, ns,
# ar] override), id.
my $NSID_SEQ = 0;

sub reply
{
	my ($q, %o) = @_;
	my $flags = 0x8000 | 0x0400 | ($q->{flags} & 0x7900) | ($o{flags} // 0)
	    | ($o{rcode} // 0);
	my @ans = @{ $o{answers} // [] };
	my $add = '';
	my $nar = 0;
	if (defined $o{additional}) {
		($add, $nar) = @{ $o{additional} };
	} elsif ($q->{edns}) {
		my $nsid = $opt{nsid} eq 'none' ? undef
		    : $opt{nsid} eq 'per-query' ? sprintf('arn1-q%d', ++$NSID_SEQ)
		    : $o{nsid};
		$add = opt_rr($nsid);
		$nar = 1;
	}
	my $question = $o{question} // ($q->{qname} . pack('nn', $q->{qtype}, $q->{qclass}));
	my $qd = $o{qdcount} // 1;
	my ($an, $ns, $ar) = @{ $o{counts} // [ scalar @ans, 0, $nar ] };
	return pack('n6', $o{id} // $q->{id}, $flags, $qd, $an, $ns, $ar)
	    . $question . join('', @ans) . $add;
}

# The plain `ok` answer with an OPT record whose only option is a COOKIE
# option of data DATA.
sub cookie_reply
{
	my ($q, $data) = @_;
	my $opt = rr("\0", 41, 1232, 0, pack('nn', 10, length $data) . $data);
	return payload_reply($q, 'ok', additional => [ $opt, 1 ]);
}

# The well-formed answer carrying payload P (a %PAYLOAD key).
sub payload_reply
{
	my ($q, $p, %o) = @_;
	my ($strings, $nsid) = @{ $PAYLOAD{$p} };
	my $ans;
	if ($q->{qtype} == 16) {
		$ans = rr("\xc0\x0c", 16, $q->{qclass}, 0, txt_rdata($strings));
	} else {
		# SOA whose names carry the first string's bytes (labels <= 63)
		my $lab = substr($strings->[0], 0, 63);
		my $n = chr(length $lab) . $lab . "\xc0\x0c";
		$n = "\xc0\x0c" if $lab eq '';
		$ans = rr("\xc0\x0c", 6, $q->{qclass}, 60,
		    $n . $n . pack('N5', 2024123101, 3600, 900, 604800, 300));
	}
	return reply($q, answers => [$ans], nsid => $nsid, %o);
}

sub garbage
{
	my ($n) = @_;
	return join('', map { chr(int rand 256) } 1 .. $n);
}

# ---- what to send for one query -------------------------------------------
#
# Returns a list of actions: [ 'send', BYTES ] (reply on the same socket /
# connection), [ 'alt', BYTES ] (UDP from another port), [ 'later', SECONDS,
# BYTES ], [ 'flood' ], [ 'close' ], [ 'raw', BYTES ] (TCP: unframed bytes),
# [ 'trickle', BYTES ].

sub plan
{
	my ($q, $transport) = @_;
	my $mode;
	if ($q->{qclass} == 3 && $q->{name} =~ /^(?:hostname\.bind|id\.server)$/) {
		$mode = 'identity';
	} else {
		$mode = $opt{mode} // (split /\./, $q->{name})[0] // '';
		$mode = 'ok' unless mode_ok($mode);
	}
	$q->{mode} = $mode;
	return () if $mode eq 'identity' && $opt{chaos} eq 'never';
	if ($mode eq 'identity') {
		my ($strings) = @{ $PAYLOAD{$opt{identity}} };
		my $ans = rr("\xc0\x0c", 16, 3, 0, txt_rdata($strings));
		return ['send', reply($q, answers => [$ans],
		    nsid => $PAYLOAD{$opt{identity}}[1])];
	}
	return ['send', payload_reply($q, $mode)] if $PAYLOAD{$mode};
	my $good = payload_reply($q, 'mix');
	if ($mode =~ /^cut(\d+)$/) {
		return ['send', substr($good, 0, $1)];
	}
	if ($mode =~ /^chop(\d+)$/) {
		return ['send', $1 >= length $good ? '' : substr($good, 0, length($good) - $1)];
	}
	my $qsec = $q->{qname} . pack('nn', $q->{qtype}, $q->{qclass});
	my $txt = rr("\xc0\x0c", 16, $q->{qclass}, 0, txt_rdata(['x']));
	my %m = (
		garbage => sub { ['send', pack('n', $q->{id}) . garbage(12 + int rand 500)] },
		wrongid => sub { ['send', payload_reply($q, 'mix', id => ($q->{id} + 1) & 0xffff)] },
		wrongname => sub {
			my $w = name_wire("x$q->{name}");
			['send', payload_reply($q, 'mix', question => $w . pack('nn', $q->{qtype}, $q->{qclass}))];
		},
		wrongtype => sub {
			['send', payload_reply($q, 'mix', question => $q->{qname}
			    . pack('nn', ($q->{qtype} == 16 ? 1 : 16), $q->{qclass}))];
		},
		wrongclass => sub {
			['send', payload_reply($q, 'mix', question => $q->{qname}
			    . pack('nn', $q->{qtype}, ($q->{qclass} == 1 ? 3 : 1)))];
		},
		noquestion => sub {
			['send', reply($q, question => '', qdcount => 0,
			    answers => [rr(name_wire($q->{name}), 16, 1, 0, txt_rdata(['x']))],
			    nsid => 'noq')];
		},
		otherport => sub { ['alt', payload_reply($q, 'mix')] },
		otheraddr => sub { ['other', payload_reply($q, 'mix')] },
		# answer owner at offset 12 + length(qsec) points at itself
		ptrloop => sub {
			my $off = 12 + length $qsec;
			['send', reply($q, answers => [rr(pack('n', 0xC000 | $off), 16, 1, 0, txt_rdata(['x']))], nsid => 'loop')];
		},
		ptrloop2 => sub {
			my $off = 12 + length $qsec;
			# owner: label "a" then a pointer to the record after it,
			# which points back at the owner
			my $own = "\x01a" . pack('n', 0xC000 | ($off + 14));
			my $rd = "\x01x" . pack('n', 0xC000 | $off);
			['send', reply($q, answers => [rr($own, 12, 1, 0, $rd)], nsid => 'loop2')];
		},
		ptrfwd => sub {
			['send', reply($q, answers => [rr("\xff\xff", 16, 1, 0, txt_rdata(['x']))], nsid => 'fwd')];
		},
		dupopt => sub {
			['send', reply($q, answers => [$txt], additional => [opt_rr('first') . opt_rr('second'), 2])];
		},
		optlen => sub {
			my $rd = pack('nn', 3, 200) . 'short';
			['send', reply($q, answers => [$txt], additional => [rr("\0", 41, 1232, 0, $rd), 1])];
		},
		optrdlen => sub {
			my $o = "\0" . pack('nnNn', 41, 1232, 0, 500) . pack('nn', 3, 4) . 'nsid';
			['send', reply($q, answers => [$txt], additional => [$o, 1])];
		},
		counts => sub { ['send', payload_reply($q, 'mix', counts => [65535, 0, 1])] },
		late => sub { ['later', 0.6, payload_reply($q, 'mix')] },
		never => sub { () },
		close => sub { $transport eq 'tcp' ? ['close'] : () },
		hugelen => sub { $transport eq 'tcp' ? ['raw', "\xff\xff" . substr($good, 0, 10)] : () },
		shortlen => sub { $transport eq 'tcp' ? ['raw', "\0\x02" . substr($good, 0, 2)] : ['send', substr($good, 0, 2)] },
		twomsg => sub {
			$transport eq 'tcp'
			    ? (['send', payload_reply($q, 'mix', id => ($q->{id} ^ 0x5555))], ['send', $good])
			    : ['send', payload_reply($q, 'mix', id => ($q->{id} ^ 0x5555))];
		},
		flood => sub {
			my $ok = payload_reply($q, 'ok');
			$transport eq 'tcp' ? ['send', $ok] : (['flood'], ['send', $ok], ['later', 0.05, undef, 'flood']);
		},
		dup => sub { my $ok = payload_reply($q, 'ok'); (['send', $ok], ['send', $ok]) },
		trickle => sub { $transport eq 'tcp' ? ['trickle', payload_reply($q, 'mix')] : ['send', payload_reply($q, 'mix')] },
		refused => sub { ['send', payload_reply($q, 'mix', rcode => 5, answers => [])] },
		tc => sub { ['send', payload_reply($q, 'mix', flags => 0x0200)] },
		rightcookie => sub { ['send', cookie_reply($q, ($q->{cookie} // "\0" x 8) . 'liarsrv1')] },
		wrongcookie => sub { ['send', cookie_reply($q, (($q->{cookie} // "\0" x 8) ^ ("\xff" x 8)) . 'liarsrv1')] },
		shortcookie => sub { ['send', cookie_reply($q, $q->{cookie} // "\0" x 8)] },
	);
	return $m{$mode}->();
}

# ---- the loop -------------------------------------------------------------

my @timers;   # [ at, CODE ]
my %conn;     # fileno => { sock, buf, fam }
my $sel = IO::Select->new(values %udp, values %tcp);
my $stdin = \*STDIN;
$sel->add($stdin) unless $opt{"no-stdin"};

sub at { push @timers, [ time + $_[0], $_[1] ]; }

sub logq
{
	my ($q, $transport, $key) = @_;
	return unless $LOG;
	my $fam = substr($key, 0, 1);
	my $t = { 1 => 'A', 6 => 'SOA', 16 => 'TXT' }->{$q->{qtype}} // $q->{qtype};
	my $c = { 1 => 'IN', 3 => 'CH' }->{$q->{qclass}} // $q->{qclass};
	printf $LOG "%s ipv%s %d %s %s %s %s %s\n", $transport, $fam, $q->{id},
	    $q->{mode}, $q->{name}, $t, $c, $key;
}

# Unsolicited datagrams to the asker's port.
sub flood
{
	my ($q, $key, $peer) = @_;
	my $s = $udp{$key};
	my $fam = substr($key, 0, 1);
	my $right = payload_reply($q, 'mix');
	for (1 .. 300) {
		my $id = int rand 65536;
		next if $id == $q->{id};
		send($s, payload_reply($q, 'mix', id => $id), 0, $peer);
	}
	for (1 .. 50) {
		my $id = int rand 65536;
		next if $id == $q->{id};
		send($s, pack('n', $id) . garbage(12 + int rand 200), 0, $peer);
	}
	for my $a (@{ $alt{$fam} }) {
		send($a, $right, 0, $peer) for 1 .. 30;
		send($a, pack('n', $q->{id}) . garbage(40), 0, $peer) for 1 .. 10;
	}
}

sub udp_query
{
	my ($key) = @_;
	my $s = $udp{$key};
	my $fam = substr($key, 0, 1);
	local $opt{identity} = $conf_of{$key}{identity};
	local $opt{nsid} = $conf_of{$key}{nsid};
	while (1) {
		my $peer = recv($s, my $m, 65535, 0);
		last unless defined $peer && length $peer;
		my $q = parse_query($m) or next;
		my @acts = plan($q, 'udp');
		logq($q, 'udp', $key);
		for my $a (@acts) {
			my ($what, @arg) = @$a;
			if ($what eq 'send') { send($s, $arg[0], 0, $peer); }
			elsif ($what eq 'alt') { send($alt{$fam}[0], $arg[0], 0, $peer); }
			elsif ($what eq 'other') { send($other{$fam} // $alt{$fam}[1], $arg[0], 0, $peer); }
			elsif ($what eq 'flood') { flood($q, $key, $peer); }
			elsif ($what eq 'later') {
				my ($d, $bytes, $kind) = @arg;
				at($d, $kind ? sub { flood($q, $key, $peer) }
				    : sub { send($s, $bytes, 0, $peer) });
			}
		}
	}
}

sub conn_close
{
	my ($c) = @_;
	return unless $c->{sock};
	$sel->remove($c->{sock});
	delete $conn{ fileno $c->{sock} };
	close $c->{sock};
	$c->{sock} = undef;
}

sub tcp_write
{
	my ($c, $bytes) = @_;
	return unless $c->{sock};
	$c->{sock}->blocking(1);
	syswrite($c->{sock}, $bytes);
	$c->{sock}->blocking(0) if $c->{sock};
}

sub tcp_accept
{
	my ($key) = @_;
	while (my $s = $tcp{$key}->accept) {
		if ($opt{tcp} eq 'accept-close') { close $s; next; }
		my $c = { sock => $s, buf => '', key => $key, fam => substr($key, 0, 1) };
		if ($opt{tcp} eq 'accept-silent') {
			$c->{silent} = 1;   # hold it, never read
			$conn{ fileno $s } = $c;
			next;
		}
		$s->blocking(0);
		$conn{ fileno $s } = $c;
		$sel->add($s);
	}
}

sub tcp_read
{
	my ($c) = @_;
	local $opt{identity} = $conf_of{ $c->{key} }{identity};
	local $opt{nsid} = $conf_of{ $c->{key} }{nsid};
	my $n = sysread($c->{sock}, my $buf, 65536);
	if (!defined $n) { return if $!{EAGAIN} || $!{EINTR}; conn_close($c); return; }
	if ($n == 0) { conn_close($c); return; }
	$c->{buf} .= $buf;
	while (length $c->{buf} >= 2) {
		my $len = unpack('n', $c->{buf});
		last if length $c->{buf} < 2 + $len;
		my $m = substr($c->{buf}, 2, $len);
		substr($c->{buf}, 0, 2 + $len) = '';
		my $q = parse_query($m) or next;
		my @acts = plan($q, 'tcp');
		logq($q, 'tcp', $c->{key});
		for my $a (@acts) {
			my ($what, @arg) = @$a;
			if ($what eq 'send') { tcp_write($c, pack('n', length $arg[0]) . $arg[0]); }
			elsif ($what eq 'raw') { tcp_write($c, $arg[0]); }
			elsif ($what eq 'close') { conn_close($c); return; }
			elsif ($what eq 'later') {
				my ($d, $bytes) = @arg;
				next unless defined $bytes;
				at($d, sub { tcp_write($c, pack('n', length $bytes) . $bytes) });
			} elsif ($what eq 'trickle') {
				my $f = pack('n', length $arg[0]) . $arg[0];
				my @piece = (substr($f, 0, 1), substr($f, 1, 1),
				    substr($f, 2, 20), substr($f, 22));
				my $d = 0;
				for my $p (@piece) { my $b = $p; at($d, sub { tcp_write($c, $b) }); $d += 0.02; }
			}
		}
	}
}

while ($running) {
	my $wait = 1;
	my $now = time;
	for my $t (@timers) { my $w = $t->[0] - $now; $wait = $w if $w < $wait; }
	$wait = 0 if $wait < 0;
	my @ready = $sel->can_read($wait);
	for my $fh (@ready) {
		if ($fh == $stdin) {
			my $n = sysread(STDIN, my $b, 4096);
			if (!$n) { $running = 0; }
			next;
		}
		my ($key) = grep { $udp{$_} == $fh } keys %udp;
		if (defined $key) { udp_query($key); next; }
		($key) = grep { $tcp{$_} == $fh } keys %tcp;
		if (defined $key) { tcp_accept($key); next; }
		my $c = $conn{ fileno $fh };
		tcp_read($c) if $c && $c->{sock};
	}
	$now = time;
	my @due = grep { $_->[0] <= $now } @timers;
	@timers = grep { $_->[0] > $now } @timers;
	$_->[1]->() for @due;
}
exit 0;
