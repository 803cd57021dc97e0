#!/usr/bin/perl
# make install / make uninstall into a DESTDIR: the binary, the man page
# (which renders with man -l), the example configs under share/doc, and the
# installed binary validating the installed example config.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use File::Find;
use Test::More;
use Probe;

my $top = "$FindBin::Bin/../..";
my $dest = tempdir('install.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $b = $ENV{B} // 'build';
my $out = `make -s -C '$top' B='$b' install DESTDIR='$dest' PREFIX=/usr 2>&1`;
is($?, 0, 'make install DESTDIR=... PREFIX=/usr') or diag($out);
my $bin = "$dest/usr/bin/anycast-probe";
ok(-x $bin, 'binary installed in bin/');
like(`'$bin' -V`, qr/^anycast-probe \d+\.\d+\.\d+$/m, 'installed binary runs: -V');
my $doc = "$dest/usr/share/doc/anycast-probe";
for my $f (qw(anycast-probe.conf root-servers.conf telegraf.conf
    grafana-dashboard.json README.md LICENSE)) {
	ok(-f "$doc/$f", "share/doc/anycast-probe/$f installed");
}
my $check = `'$bin' --check-config -c '$doc/anycast-probe.conf' 2>&1`;
is($?, 0, 'installed binary validates the installed example config') or diag($check);
like($check, qr/192\.0\.2\.53/, '--check-config prints the example addresses');
my $man = "$dest/usr/share/man/man1/anycast-probe.1";
ok(-f $man, 'man page installed in share/man/man1');
SKIP: {
	skip 'man not installed', 3 unless system('command -v man >/dev/null 2>&1') == 0;
	my $text = `MANWIDTH=80 man -l '$man' 2>&1`;
	is($?, 0, 'man -l renders the page');
	like($text, qr/^NAME\s*\n\s+anycast-probe/m, 'man page has NAME');
	like($text, qr/--check-config/, 'man page documents --check-config');
}
$out = `make -s -C '$top' B='$b' uninstall DESTDIR='$dest' PREFIX=/usr 2>&1`;
is($?, 0, 'make uninstall') or diag($out);
my @left;
find(sub { push @left, $File::Find::name if -f $_ }, $dest);
is(scalar @left, 0, 'uninstall leaves no file behind') or diag(join("\n", @left));
done_testing();
