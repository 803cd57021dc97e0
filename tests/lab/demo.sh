#!/bin/bash
# demo.sh [--text] [--rounds N] BINARY - the `make run` demo (SPEC "The demo").
#
# Starts the anycast lab (tests/lab/lab.sh): two sites announcing the same
# 192.0.2.53 and 2001:db8:53::53, site 1 NSD (NSID "arn1", hostname.bind
# "sthlm-1"), site 2 Knot (NSID "lhr1", "lon-1"), in network namespaces. Runs
# BINARY in the vantage namespace the way Telegraf's [[inputs.execd]] with
# signal = "STDIN" does: stdin is a pipe, one newline per second, then stdin
# is closed. Half way the catchment moves from site 1 to site 2, so the lines
# show `instance` changing and `instance_changed=true`. Metric lines go to
# stdout, the demo's own messages (prefixed "demo: ") and the probe's
# diagnostics to stderr. Everything is removed on exit, also on Ctrl-C.
# Needs root (re-runs itself with sudo when available). Exit: the probe's
# exit status; 2 when the lab cannot be started.
set -u
here=$(cd "$(dirname "$0")" && pwd)
format=
rounds=10
while [ $# -gt 0 ]; do
	case $1 in
	--text) format=text; shift ;;
	--rounds) rounds=${2:-}; shift 2 ;;
	-h | --help)
		sed -n '2,14s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	--) shift; break ;;
	-*) echo "demo: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -ne 1 ]; then
	echo "usage: $0 [--text] [--rounds N] BINARY" >&2
	exit 2
fi
case $rounds in '' | *[!0-9]* | 0 | 1)
	echo "demo: --rounds needs a number >= 2" >&2
	exit 2
	;;
esac
bin=$1
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
	echo "demo: $bin is not an executable; run 'make' first" >&2
	exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		echo "demo: network namespaces need root; re-running with sudo" >&2
		exec sudo -- "$0" ${format:+--text} --rounds "$rounds" "$bin"
	fi
	echo "demo: needs root for network namespaces (no sudo found); run as root: $0 $bin" >&2
	exit 2
fi

# shellcheck source=tests/lab/lab.sh
. "$here/lab.sh"
if ! lab_usable; then
	echo "demo: cannot create network namespaces here ('ip netns add' fails);" \
		"a container may need --privileged" >&2
	exit 2
fi
for c in nsd knotd kdig; do
	if ! command -v "$c" >/dev/null; then
		echo "demo: $c missing; run 'make deps' (Debian: nsd knot knot-dnsutils)" >&2
		exit 2
	fi
done

probe_pid=
tee_pid=
cleanup() {
	exec 3>&-
	if [ -n "$probe_pid" ] && kill -0 "$probe_pid" 2>/dev/null; then
		kill "$probe_pid" 2>/dev/null
		wait "$probe_pid" 2>/dev/null
	fi
	probe_pid=
	lab_down
}
# shellcheck disable=SC2034 # read by lab_up
LAB_TRAP=0
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; cleanup; trap - INT; kill -INT $$' INT
trap 'cleanup; exit 143' TERM
# A probe that dies must not kill us with SIGPIPE on the next newline.
trap "" PIPE

echo "demo: starting the lab: two anycast instances of 192.0.2.53 and 2001:db8:53::53" >&2
lab_up 2 || exit 2

conf="$LAB_DIR/probe.conf"
lab_probe_conf "$conf"
chmod 644 "$conf"

half=$((rounds / 2))
cat >&2 <<EOF
demo: site 1 = ${LAB_SERVER[1]} (nsid "${LAB_NSID[1]}", hostname.bind "${LAB_IDENTITY[1]}"), site 2 = ${LAB_SERVER[2]} (nsid "${LAB_NSID[2]}", hostname.bind "${LAB_IDENTITY[2]}")
demo: running $(basename "$bin") in namespace $LAB_VANTAGE as Telegraf execd would
demo: (stdin a pipe, one newline per second, $rounds rounds; catchment moves to site 2 before round $((half + 1)))
demo: the probe's lines go to stdout, as Telegraf would read them; after each round a
demo: "demo: round N:" digest here says who answered the SOA query per family/transport
demo: (the instance tag), how fast (query_time_ms), and CHANGED where instance_changed=true
demo: config:
$(sed 's/^/demo:   /' "$conf")
EOF

# digest ROUND: what to look at in the round's lines, one line on stderr:
# who answered the SOA query per family and transport, how fast, and
# whether the instance changed.
seen=0
digest() {
	local all
	all=$(grep -c '' "$out")
	tail -n "+$((seen + 1))" "$out" | head -n "$((all - seen))" | awk -v r="$1" '
		/domain=example.test,/ {
			fam = tr = inst = ms = ""; ch = 0
			if (match($0, /family=[a-z0-9]+/)) fam = substr($0, RSTART + 7, RLENGTH - 7)
			if (match($0, /transport=[a-z]+/)) tr = substr($0, RSTART + 10, RLENGTH - 10)
			if (match($0, /instance=[^, ]+/)) inst = substr($0, RSTART + 9, RLENGTH - 9)
			if (match($0, /query_time_ms=[0-9.]+/)) ms = substr($0, RSTART + 14, RLENGTH - 14)
			if ($0 ~ /instance_changed=true/) ch = 1
			out = out sprintf("  %s/%s %s %s ms%s", fam, tr, inst, ms, ch ? " CHANGED" : "")
		}
		END { printf "demo: round %d:%s\n", r, out > "/dev/stderr" }'
	seen=$all
}

out="$LAB_DIR/out"
fifo="$LAB_DIR/stdin"
mkfifo "$fifo"
# Lines go to the terminal and to $out (for the closing summary).
exec 4> >(tee "$out")
tee_pid=$!
# shellcheck disable=SC2086
lab_exec_vantage "$bin" -c "$conf" ${format:+--format $format} <"$fifo" >&4 &
probe_pid=$!
exec 3>"$fifo"

for ((r = 1; r <= rounds; r++)); do
	if [ "$r" -eq $((half + 1)) ]; then
		echo "demo: >>> moving catchment to site 2 (ipv4 and ipv6) <<<" >&2
		lab_catchment 2 both
	fi
	echo "demo: round $r (catchment: site $(lab_catchment_of ipv4))" >&2
	if ! echo >&3 2>/dev/null; then
		echo "demo: the probe stopped reading stdin" >&2
		break
	fi
	sleep 1
	[ -z "$format" ] && digest "$r"
done

echo "demo: closing stdin (as Telegraf does on stop); the probe must exit within 1 s" >&2
exec 3>&-
rc=
for ((n = 0; n < 50; n++)); do
	if ! kill -0 "$probe_pid" 2>/dev/null; then
		wait "$probe_pid"
		rc=$?
		break
	fi
	sleep 0.1
done
if [ -z "$rc" ]; then
	echo "demo: the probe did not exit 5 s after stdin EOF; sending SIGTERM" >&2
	kill "$probe_pid" 2>/dev/null
	wait "$probe_pid"
	rc=$?
fi
probe_pid=
exec 4>&-
wait "$tee_pid" 2>/dev/null

if [ -z "$format" ]; then
	lines=$(grep -c '' "$out")
	changed=$(grep -c 'instance_changed=true' "$out")
	s1=$(grep -c "instance=${LAB_NSID[1]}[, ]" "$out")
	s2=$(grep -c "instance=${LAB_NSID[2]}[, ]" "$out")
	echo "demo: $lines lines; instance=${LAB_NSID[1]}: $s1, instance=${LAB_NSID[2]}: $s2, instance_changed=true: $changed" >&2
fi
echo "demo: probe exited with status $rc; cleaning up" >&2
exit "$rc"
