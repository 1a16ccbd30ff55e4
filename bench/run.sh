#!/usr/bin/env bash
# make bench: what it costs to launch a daemon with daemonize, with each peer
# that is installed, and with the smallest correct launcher (bench/floor);
# then what supervision costs (bench/supervise.sh): restart latency, and the
# memory and wakeups of an idle supervisor, beside the peers; then the log
# relay (bench/relay.sh): throughput to a file, and an idle relay; then the
# soak (bench/soak.sh): a crash loop of 100000 restarts, and start/stop
# cycles from 4 shells at once on one pidfile.  Prints markdown tables and
# writes them, with the machine, to bench/RESULTS.md; exits 1 if a check
# of the soak failed.
# bench/README.md explains the method.
#
# RUNS=N sets the timed runs per tool and limit (default 100); RESTARTS=N
# the timed restarts per supervisor (default 50); IDLE_SECS=N how long an
# idle supervisor is watched (default 5); RELAY_MIB=N the MiB written per
# relay run (default 1024), RELAY_REPEATS=N the runs per relay row (3).
# SOAK_RESTARTS, SOAK_SHELLS and SOAK_CYCLES size the soak (bench/soak.sh).
# `bench/run.sh --supervision` prints the supervision tables alone and
# writes nothing; `bench/run.sh --relay` the relay tables.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-100}
OUT=bench/RESULTS.md
TARGET=$(readlink -f "$(command -v sleep)")
WORK=$(mktemp -d /tmp/daemonize-bench.XXXXXX)
# libslack daemon writes its client's PID beside the pidfile, in a name made
# by replacing the last four characters (".pid") with ".clientpid".
PF=$WORK/daemon.pid
# A unique argument (sleep adds its arguments up), so that our daemons, and
# only they, can be found in /proc and killed by PID after each run.
TOKEN=0.$$$RANDOM
ARGS="$TARGET 1000 $TOKEN"
LOW=1024
HIGH=$(ulimit -Hn)
[ "$HIGH" = unlimited ] || [ "$HIGH" -gt 1048576 ] && HIGH=1048576

cleanup() {
	reap
	sup_reap
	rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/supervise.sh
. bench/supervise.sh
# shellcheck source=bench/relay.sh
. bench/relay.sh

# Kills the daemons this script started, by PID: the targets with the
# token in their command line, and libslack's supervisor that stays with
# them.  Then waits until they are gone or zombies (PID 1 may reap late),
# so their locks are free.
reap() {
	local pid pids=""
	for pid in $(pgrep -f -- "$TOKEN" || true); do
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		"$TARGET" | /usr/bin/daemon) pids="$pids $pid" ;;
		esac
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in $pids; do
		while [ -r "/proc/$pid/stat" ] &&
			[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
			sleep 0.001
		done
	done
	rm -f "$PF"
}

# name | promises | command line, one per tool; only installed ones run.
tools() {
	local sep='|'
	echo "floor${sep}yes${sep}bench/floor $PF $ARGS"
	echo "floor, static${sep}yes${sep}bench/floor-static $PF $ARGS"
	echo "daemonize${sep}yes${sep}./daemonize -p $PF $ARGS"
	echo "daemonize, static${sep}yes${sep}./daemonize-static -p $PF $ARGS"
	[ -x /usr/bin/daemonize ] &&
		echo "Debian daemonize${sep}no${sep}/usr/bin/daemonize -p $PF $ARGS"
	[ -x /usr/bin/daemon ] &&
		echo "libslack daemon${sep}no${sep}/usr/bin/daemon --name=bench$$ --pidfile=$PF -- $ARGS"
	command -v start-stop-daemon >/dev/null &&
		echo "start-stop-daemon${sep}no${sep}$(command -v start-stop-daemon) --start --background --make-pidfile --pidfile $PF --exec $TARGET -- 1000 $TOKEN"
	command -v setsid >/dev/null &&
		echo "setsid -f${sep}no${sep}$(command -v setsid) -f $ARGS"
	echo "nohup ... & echo \$!${sep}no${sep}sh -c 'nohup $ARGS >/dev/null 2>&1 & echo \$! >$PF'"
	return 0
}

# Launch times of every tool at one descriptor limit, interleaved run by
# run (bench/timer): one line per tool, "median p25 p75" in ms.
time_launches() {
	local limit=$1
	shift
	(
		ulimit -n "$limit"
		bench/timer -n "$RUNS" -w 5 -p "$0 --reap $PF $TOKEN" "$@"
	)
	reap
}

# System calls of one launch, all and close() alone: "123 4".  Each process
# is traced to its own file; a process's calls count up to and including
# its execve of the target, not the target's own.
count_syscalls() {
	local limit=$1 cmd=$2 tdir=$WORK/trace spid i
	rm -rf "$tdir" && mkdir "$tdir"
	(
		ulimit -n "$limit"
		eval "exec strace -ff -qq -o $tdir/t $cmd"
	) </dev/null >/dev/null 2>&1 &
	spid=$!
	for ((i = 0; i < 500; i++)); do
		pgrep -f -- "$TARGET 1000 $TOKEN\$" >/dev/null && break
		sleep 0.01
	done
	sleep 0.3
	reap
	wait "$spid" || true
	cat "$tdir"/t.* | awk -v target="execve(\"$TARGET\"" '
		FNR == 1 { done = 0 }
		done || /^(\+\+\+|---)/ { next }
		{ calls++ }
		/^close\(/ { closes++ }
		index($0, target) == 1 && / = 0$/ { done = 1 }
		END { print calls + 0, closes + 0 }'
}

# Whether the pidfile names the running target when the launcher returns,
# over 20 launches: "20/20".
pidfile_on_return() {
	local cmd=$1 ok=0 i pid
	for ((i = 0; i < 20; i++)); do
		eval "$cmd" </dev/null >/dev/null 2>&1 || true
		pid=$(head -c 20 "$PF" 2>/dev/null | tr -cd '0-9')
		[ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
			grep -q "^$ARGS $" && ok=$((ok + 1))
		reap
	done
	echo "$ok/20"
}

# The exit status when the command does not exist.
exec_failure_status() {
	local cmd=${1//$TARGET/\/nonexistent}
	(eval "$cmd") </dev/null >/dev/null 2>&1 && echo 0 || echo $?
	reap
}

# Size of the stripped binary, in KiB.
stripped_kib() {
	local bin=$1
	[ -f "$bin" ] || bin=$(command -v "$bin")
	strip -o "$WORK/stripped" "$bin" 2>/dev/null || cp "$bin" "$WORK/stripped"
	echo $(($(stat -c %s "$WORK/stripped") / 1024))
}

# Peak RSS of the launcher (and the middle process it waits for), in KiB.
peak_rss() {
	local kib
	if [ -x /usr/bin/time ]; then
		eval "/usr/bin/time -o $WORK/rss -f %M $1" </dev/null >/dev/null 2>&1 ||
			true
		kib=$(tail -n 1 "$WORK/rss")
	else
		kib=n/a
	fi
	reap
	echo "$kib"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

machine() {
	echo "- cores: $(nproc); kernel: $(uname -sr); libc: $(ldd --version 2>&1 | head -n 1)"
	echo "- fd limits measured: soft $LOW and soft $HIGH (the hard limit here)"
	echo "- $RUNS timed runs per cell after 5 warm-ups, interleaved across tools (bench/timer); target: $TARGET 1000"
	echo "- date: $(date -u +%Y-%m-%d); load average when the run began: $LOAD"
}

main() {
	LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
	local names=() promises=() cmds=() lows=() highs=() i name promise cmd
	local lo hi flo fhi slo shi bin sz rss pf_ok exit_st soak=0
	command -v strace >/dev/null || {
		echo "bench: needs strace (apt-get install strace)" >&2
		exit 1
	}
	while IFS='|' read -r name promise cmd; do
		names+=("$name") promises+=("$promise") cmds+=("$cmd")
	done < <(tools)
	echo "bench: timing ${#cmds[@]} launchers at fd limit $LOW" >&2
	mapfile -t lows < <(time_launches "$LOW" "${cmds[@]}")
	echo "bench: timing ${#cmds[@]} launchers at fd limit $HIGH" >&2
	mapfile -t highs < <(time_launches "$HIGH" "${cmds[@]}")
	read -r flo _ <<<"${lows[0]}"
	read -r fhi _ <<<"${highs[0]}"
	{
		echo "# make bench results"
		echo
		machine
		echo
		echo "| tool | two forks, pidfile + exec on return | pidfile right on return | exit if command missing | launch ms @$LOW (IQR) | ×floor | launch ms @$HIGH (IQR) | ×floor | syscalls (close) @$LOW | syscalls (close) @$HIGH | stripped KiB | peak RSS KiB |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	} >"$WORK/table"
	for i in "${!cmds[@]}"; do
		name=${names[i]} cmd=${cmds[i]}
		echo "bench: counting for $name" >&2
		read -r lo lo_q1 lo_q3 <<<"${lows[i]}"
		read -r hi hi_q1 hi_q3 <<<"${highs[i]}"
		slo=$(count_syscalls "$LOW" "$cmd")
		shi=$(count_syscalls "$HIGH" "$cmd")
		bin=${cmd%% *}
		[ "$bin" = sh ] && bin=$(command -v sh)
		sz=$(stripped_kib "$bin")
		rss=$(peak_rss "$cmd")
		pf_ok=$(pidfile_on_return "$cmd")
		[[ $name == setsid* ]] && pf_ok="no pidfile"
		exit_st=$(exec_failure_status "$cmd")
		printf '| %s | %s | %s | %s | %s (%s–%s) | %s | %s (%s–%s) | %s | %s (%s) | %s (%s) | %s | %s |\n' \
			"$name" "${promises[i]}" "$pf_ok" "$exit_st" \
			"$lo" "$lo_q1" "$lo_q3" "$(ratio "$lo" "$flo")" \
			"$hi" "$hi_q1" "$hi_q3" "$(ratio "$hi" "$fhi")" \
			"${slo% *}" "${slo#* }" "${shi% *}" "${shi#* }" "$sz" "$rss" \
			>>"$WORK/table"
	done
	echo >>"$WORK/table"
	supervision >>"$WORK/table"
	echo >>"$WORK/table"
	relay >>"$WORK/table"
	echo >>"$WORK/table"
	# The soak's tables are written even when one of its checks failed.
	bench/soak.sh >>"$WORK/table" || soak=$?
	cp "$WORK/table" "$OUT"
	cat "$OUT"
	return "$soak"
}

if [ "${1:-}" = --reap ]; then
	PF=$2
	TOKEN=$3
	TARGET=$(readlink -f "$TARGET")
	trap - EXIT
	rmdir "$WORK"
	reap
	exit 0
fi
# The supervision rows alone, printed and not written to bench/RESULTS.md.
if [ "${1:-}" = --supervision ]; then
	supervision
	exit 0
fi
# The log relay rows alone, likewise.
if [ "${1:-}" = --relay ]; then
	relay
	exit 0
fi
main
