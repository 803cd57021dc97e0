#!/bin/sh
# Builds the real Telegraf the tests run, once, outside the checkout:
#   telegraf.sh build   build it unless the cached one matches, print its path
#   telegraf.sh path    print the cached binary's path; exit 1 when not built
#   telegraf.sh check   exit 0 when a Go new enough to build it is present
# The build is a custom one with only the plugins the tests use, exactly as
# issue 13 says. Cache: $TELEGRAF_CACHE, by default
# /var/cache/anycast-probe (root) or ~/.cache/anycast-probe, in
# telegraf-VERSION/; a stamp file there records the version and tags, so a
# change of either rebuilds. Exit 3 (with the reason on stderr) when no
# suitable Go is found: the tests then say that they skipped.
set -eu
TELEGRAF_VERSION=${TELEGRAF_VERSION:-1.39.3}
# Go version v1.39.3's go.mod asks for (its "go" line).
GO_MIN=${GO_MIN:-1.26.0}
TAGS="custom,inputs.execd,inputs.dns_query,outputs.file,outputs.influxdb,outputs.prometheus_client,parsers.influx,serializers.influx"

if [ -z "${TELEGRAF_CACHE:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		TELEGRAF_CACHE=/var/cache/anycast-probe
	else
		TELEGRAF_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/anycast-probe
	fi
fi
DIR=$TELEGRAF_CACHE/telegraf-$TELEGRAF_VERSION
BIN=$DIR/telegraf
STAMP="version=$TELEGRAF_VERSION tags=$TAGS cgo=0"

# A Go at least GO_MIN: PATH first, then the usual install places.
find_go() {
	seen=" "
	for g in "${GO:-}" "$(command -v go 2>/dev/null || true)" \
		/usr/local/go/bin/go /usr/lib/go/bin/go $(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -rV); do
		[ -n "$g" ] && [ -x "$g" ] || continue
		g=$(readlink -f "$g")
		case $seen in *" $g "*) continue ;; esac
		seen="$seen$g "
		v=$(GOTOOLCHAIN=local "$g" env GOVERSION 2>/dev/null | sed 's/^go//')
		[ -n "$v" ] || continue
		if [ "$(printf '%s\n%s\n' "$GO_MIN" "$v" | sort -V | head -n1)" = "$GO_MIN" ]; then
			echo "$g"
			return 0
		fi
		echo "telegraf.sh: $g is Go $v; Telegraf v$TELEGRAF_VERSION needs Go $GO_MIN or later" >&2
	done
	return 1
}

built() {
	[ -x "$BIN" ] && [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$STAMP" ]
}

case "${1:-build}" in
path)
	built || exit 1
	echo "$BIN"
	;;
check)
	built && exit 0
	find_go >/dev/null || exit 3
	;;
build)
	if built; then
		echo "$BIN"
		exit 0
	fi
	if ! GOBIN_GO=$(find_go); then
		echo "telegraf.sh: no Go $GO_MIN or later found (Debian 12's golang is 1.19):" \
			"cannot build Telegraf v$TELEGRAF_VERSION" >&2
		exit 3
	fi
	mkdir -p "$DIR"
	tmp=$(mktemp -d "$DIR/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "telegraf.sh: building Telegraf v$TELEGRAF_VERSION with $GOBIN_GO into $DIR" \
		"(a few minutes the first time)" >&2
	start=$(date +%s)
	# GOTOOLCHAIN=local: never fetch another Go behind our back.
	CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="$tmp" \
		"$GOBIN_GO" install -tags "$TAGS" \
		"github.com/influxdata/telegraf/cmd/telegraf@v$TELEGRAF_VERSION" >&2
	mv "$tmp/telegraf" "$BIN"
	echo "$STAMP" >"$DIR/stamp"
	echo "telegraf.sh: built in $(($(date +%s) - start)) s: $BIN" >&2
	echo "$BIN"
	;;
*)
	echo "usage: $0 build|path|check" >&2
	exit 2
	;;
esac
