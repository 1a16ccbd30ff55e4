#!/usr/bin/env bash
# make soak (and the last part of make bench): daemonize run for a long
# while, to see that nothing builds up and nothing is lost.
#
# 1. Crash loop: a supervisor, `daemonize -f -r --min-uptime=0 -p PIDFILE`,
#    whose worker (bench/crash) kills itself at once, restarted
#    SOAK_RESTARTS times (default 100000), by each build (gcc and static).
#    --min-uptime=0 makes no run rapid, so every restart is immediate and
#    the supervisor never gives up.  The supervisor's descriptors and VmRSS
#    after 100 restarts and at the end must be equal; the restarts are
#    counted three ways (the workers' own records, --status, the events),
#    which must agree; no child of the supervisor may be a zombie, and
#    nothing may be left after its stop.
# 2. Start/stop: SOAK_SHELLS shells (default 4) at once, each starting
#    `daemonize -p PIDFILE sleep 1000 TOKEN` and stopping it with
#    `--stop -p PIDFILE` SOAK_CYCLES times (default 250), all on one
#    pidfile, while a sampler counts the daemons alive: never more than
#    one; every daemon started is stopped once, none is left, no zombie.
#    As root, in a PID namespace of its own, whose first process (this
#    script) reaps the daemons as they die, so that a zombie is ours.
#
# Prints a markdown section; exits 1, with a "soak: FAILED" line for each
# check that failed, if any did.  bench/README.md explains the method.
set -euo pipefail
cd "$(dirname "$0")/.."

RESTARTS=${SOAK_RESTARTS:-100000}
SHELLS=${SOAK_SHELLS:-4}
CYCLES=${SOAK_CYCLES:-250}
TARGET=$(readlink -f "$(command -v sleep)")
# The run before the second sample, and the one that is held at the end.
WARM=101
LAST=$((RESTARTS + 1))
[ "$RESTARTS" -gt "$WARM" ] || {
	echo "soak: SOAK_RESTARTS must be over $WARM" >&2
	exit 2
}

FAILED=()
SUPS=()
SHELL_PIDS=()

fail() {
	FAILED+=("$1")
	echo "soak: FAILED: $1" >&2
}

now() {
	echo "$EPOCHREALTIME"
}

# The state letter of PID (R, S, Z, ...), empty when it is gone.
state_of() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
	stat=${stat##*) }
	echo "${stat%% *}"
}

# True if PID is a zombie named NAME.
is_zombie() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	case $stat in
	*" ($2) Z "*) return 0 ;;
	*) return 1 ;;
	esac
}

# Our processes: those whose command line holds WORD (the work directory,
# or the token) and whose program is one of ours.  Not zombies, which
# have no command line.
ours() {
	local pid
	for pid in $(pgrep -f -- "$1" || true); do
		[ "$pid" = "$$" ] && continue
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		"$TARGET" | "$PWD"/daemonize* | "$PWD"/bench/crash) echo "$pid" ;;
		esac
	done
	return 0
}

# Kills by PID what this script started: the supervisors and the shells,
# then every process of ours left; waits until they are gone or zombies.
cleanup() {
	local pid pids
	for pid in "${SUPS[@]}" "${SHELL_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	pids=$(ours "$WORK"; ours "$TOKEN")
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${SUPS[@]}" "${SHELL_PIDS[@]}" $pids; do
		while [ -n "$(state_of "$pid")" ] &&
			[ "$(state_of "$pid")" != Z ]; do
			sleep 0.01
		done
	done
}

# ---- 1. Crash loop ----

# Descriptors and VmRSS of PID, as "COUNT KIB"; its descriptors, one
# "fd target" a line, to the file FDS.
sample() {
	local pid=$1 fds=$2 f n=0
	: >"$fds"
	for f in /proc/"$pid"/fd/*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		echo "${f##*/} $(readlink "$f")" >>"$fds"
		n=$((n + 1))
	done
	echo "$n $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")"
}

# User + system CPU of PID, in clock ticks.
cpu_of() {
	local stat
	read -r stat <"/proc/$1/stat"
	stat=${stat##*) }
	# shellcheck disable=SC2086 # the fields, split
	set -- $stat
	echo $((${12} + ${13}))
}

# Children of PID that are zombies.
zombie_children() {
	local f c n=0
	for f in /proc/"$1"/task/*/children; do
		for c in $(cat "$f" 2>/dev/null); do
			[ "$(state_of "$c")" = Z ] && n=$((n + 1))
		done
	done
	echo "$n"
}

# Waits until run N of the crash worker (its record is the Nth in COUNT)
# is held, the supervisor SUP knows it runs (--status -p PF names it) and
# is idle (asleep); prints its PID.  Fails after DEADLINE seconds, or if
# the supervisor is gone or the worker was not held.
wait_hold() {
	local count=$1 n=$2 pf=$3 sup=$4 deadline=$5 size pid end
	end=$((EPOCHSECONDS + deadline))
	while :; do
		size=$(stat -c %s "$count" 2>/dev/null || echo 0)
		[ "$size" -ge $((n * 8)) ] && break
		case $(state_of "$sup") in
		'' | Z) echo "soak: supervisor $sup is gone" >&2 && return 1 ;;
		esac
		[ "$EPOCHSECONDS" -lt "$end" ] || {
			echo "soak: run $n not reached in $deadline s" >&2
			return 1
		}
		sleep 0.05
	done
	[ "$size" -eq $((n * 8)) ] || {
		echo "soak: run $n was not held" >&2
		return 1
	}
	pid=$(tail -c 8 "$count" | tr -d ' \n')
	until ./daemonize --status -p "$pf" 2>/dev/null |
		grep -q "^worker 0: pid $pid,"; do
		[ "$EPOCHSECONDS" -lt "$end" ] || {
			echo "soak: --status never named run $n (pid $pid)" >&2
			return 1
		}
		sleep 0.01
	done
	until [ "$(state_of "$sup")" = S ]; do
		sleep 0.01
	done
	echo "$pid"
}

# The crash loop of one build; prints its table row.
crash_loop() {
	local bin=$2 name=$3 dir=$WORK/$1
	local pf=$dir/pid count=$dir/count events=$dir/events
	local sup held s0 s1 s2 t0 t1 c0 c1 zomb restarts st rc left
	local starts kills delays immediate records secs rate cpu deadline
	mkdir "$dir"
	deadline=$((RESTARTS / 100 + 60))
	"$bin" -f -r --min-uptime=0 -p "$pf" -- "$PWD/bench/crash" "$count" 1 \
		"$WARM" "$LAST" </dev/null >/dev/null 2>"$events" &
	sup=$!
	SUPS+=("$sup")
	echo "soak: crash loop, $name: $RESTARTS restarts" >&2
	held=$(wait_hold "$count" 1 "$pf" "$sup" 10) || {
		fail "$name: the first worker was not held"
		return
	}
	s0=$(sample "$sup" "$dir/fds.0")
	kill -KILL "$held"
	held=$(wait_hold "$count" "$WARM" "$pf" "$sup" 60) || {
		fail "$name: run $WARM was not held"
		return
	}
	s1=$(sample "$sup" "$dir/fds.1")
	c0=$(cpu_of "$sup")
	t0=$(now)
	kill -KILL "$held"
	held=$(wait_hold "$count" "$LAST" "$pf" "$sup" "$deadline") || {
		fail "$name: run $LAST was not held"
		return
	}
	t1=$(now)
	c1=$(cpu_of "$sup")
	s2=$(sample "$sup" "$dir/fds.2")
	zomb=$(zombie_children "$sup")
	st=$(./daemonize --status -p "$pf" 2>&1 || true)
	restarts=$(sed -n 's/^worker 0: .* \([0-9]*\) restarts,.*/\1/p' <<<"$st")
	kill -TERM "$sup"
	rc=0
	wait "$sup" || rc=$?
	SUPS=()
	# The last worker too, had the supervisor left it unreaped (a zombie,
	# now init's, which has no command line).
	left=$(ours "$dir" | wc -w)
	[ -z "$(state_of "$held")" ] || left=$((left + 1))
	records=$(($(stat -c %s "$count") / 8))
	starts=$(grep -c 'worker 0 started as pid' "$events" || true)
	kills=$(grep -c 'killed by signal 9 after' "$events" || true)
	delays=$(grep -c 'restarting in' "$events" || true)
	immediate=$(grep -c 'restarting in 0 ms' "$events" || true)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	rate=$(awk -v a="$t0" -v b="$t1" -v n=$((LAST - WARM)) \
		'BEGIN { printf "%.0f", n / (b - a) }')
	cpu=$(awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
		-v n=$((LAST - WARM)) 'BEGIN { printf "%.0f", c / hz * 1e6 / n }')
	[ "$records" -eq "$LAST" ] && [ "${restarts:-x}" = "$RESTARTS" ] &&
		[ "$starts" -eq "$LAST" ] && [ "$kills" -eq "$RESTARTS" ] ||
		fail "$name: restarts counted: $((records - 1)) by the workers, ${restarts:-none} by --status, $((starts - 1)) started and $kills killed by the events; $RESTARTS expected"
	[ "$delays" -eq "$immediate" ] ||
		fail "$name: $((delays - immediate)) of $delays restarts were delayed"
	[ "$s2" = "$s1" ] ||
		fail "$name: descriptors and VmRSS KiB after $((WARM - 1)) restarts ($s1) and after $RESTARTS ($s2) differ"
	cmp -s "$dir/fds.1" "$dir/fds.2" ||
		fail "$name: the descriptors differ: $(diff "$dir/fds.1" "$dir/fds.2" | grep '^[<>]' | tr '\n' ' ')"
	[ "$zomb" -eq 0 ] || fail "$name: $zomb zombie children at the end"
	[ "$left" -eq 0 ] || fail "$name: $left processes left after the stop"
	[ "$rc" -eq 0 ] || fail "$name: exit status $rc after SIGTERM"
	printf '| %s | %s | %s / %s / %s | %s of %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s | %s | %s |\n' \
		"$name" "$RESTARTS" "$((records - 1))" "${restarts:-none}" \
		"$((starts - 1))" "$immediate" "$delays" "$secs" "$rate" "$cpu" \
		"${s0% *}" "${s1% *}" "${s2% *}" "${s0#* }" "${s1#* }" "${s2#* }" \
		"$zomb" "$left" "$rc"
}

crash_loops() {
	echo "| supervisor | restarts | counted: records / --status / events | immediate | s for the last $((LAST - WARM)) | restarts/s | supervisor CPU µs per restart | fds: start / after $((WARM - 1)) / end | VmRSS KiB: start / after $((WARM - 1)) / end | zombie children | left after stop | exit after SIGTERM |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	crash_loop dyn ./daemonize "daemonize"
	crash_loop static ./daemonize-static "daemonize, static"
}

# ---- 2. Start/stop cycles ----

# One shell's cycles: a line per command, "start RC started PID",
# "start RC running", "stop RC stopped PID", "stop RC not-running", or
# "start|stop RC other: MESSAGE".
cycle_shell() {
	local pf=$1 out=$2 i rc msg pid
	for ((i = 0; i < CYCLES; i++)); do
		rc=0
		msg=$(./daemonize -v -p "$pf" -- "$TARGET" 1000 "$TOKEN" 2>&1) ||
			rc=$?
		pid=$(sed -n 's/^daemonize: daemon pid \([0-9]*\)$/\1/p' <<<"$msg")
		if [ "$rc" -eq 0 ] && [ -n "$pid" ]; then
			echo "start 0 started $pid"
		elif [ "$rc" -eq 1 ] && grep -q 'already running' <<<"$msg"; then
			echo "start 1 running"
		else
			echo "start $rc other: $(tail -n 1 <<<"$msg")"
		fi
		rc=0
		msg=$(./daemonize --stop -p "$pf" 2>&1) || rc=$?
		case $rc:$msg in
		"0:stopped (pid "*")") pid=${msg#*pid }; echo "stop 0 stopped ${pid%)}" ;;
		"0:not running") echo "stop 0 not-running" ;;
		*) echo "stop $rc other: $(tail -n 1 <<<"$msg")" ;;
		esac
	done >"$out"
}

# The daemons alive now, in LIVE: the processes, not zombies, that run
# $TARGET with the token as their last argument (a launcher has the same
# arguments, but daemonize's name first).  Builtins only: no fork, so that
# the sampler looks as often as it can.
daemons() {
	local d args stat
	LIVE=()
	for d in /proc/[0-9]*; do
		{ mapfile -d '' args <"$d/cmdline"; } 2>/dev/null || continue
		[ ${#args[@]} -eq 3 ] && [ "${args[0]}" = "$TARGET" ] &&
			[ "${args[2]}" = "$TOKEN" ] || continue
		{ read -r stat <"$d/stat"; } 2>/dev/null || continue
		stat=${stat##*) }
		[ "${stat%% *}" = Z ] || LIVE+=("${d#/proc/}")
	done
	return 0
}

# How many of LIVE have descriptors open: a daemon that --stop killed
# has none left once it has let go of its lock, though it may still be
# exiting, not yet a zombie, when the next start has begun.
holding() {
	local pid f
	HOLDING=0
	for pid in "${LIVE[@]}"; do
		for f in /proc/"$pid"/fd/*; do
			[ -L "$f" ] && HOLDING=$((HOLDING + 1)) && break
		done
	done
	return 0
}

# Counts the daemons alive until the file DONE exists; writes "samples
# alive holding doubles" to OUT: the most alive at once, the most of
# them with descriptors open at once, and how often two or more were
# still alive 50 ms after they were seen together.
sampler() {
	local done=$1 out=$2 n=0 max=0 most=0 doubles=0 pid alive
	while [ ! -e "$done" ]; do
		daemons
		holding
		n=$((n + 1))
		[ ${#LIVE[@]} -gt "$max" ] && max=${#LIVE[@]}
		[ "$HOLDING" -gt "$most" ] && most=$HOLDING
		[ ${#LIVE[@]} -gt 1 ] || continue
		sleep 0.05
		alive=0
		for pid in "${LIVE[@]}"; do
			case $(state_of "$pid") in
			'' | Z) ;;
			*) alive=$((alive + 1)) ;;
			esac
		done
		if [ "$alive" -gt 1 ]; then
			doubles=$((doubles + 1))
			echo "soak: daemons alive at once: ${LIVE[*]}" >&2
		fi
	done
	echo "$n $max $most $doubles" >"$out"
}

# The cycles themselves, from the shells to the state at the end, in
# the files of $WORK/cycles.  Run as a PID namespace's first process
# where it can be: then it reaps the daemons as they die.
cycles() {
	local dir=$WORK/cycles pf i t0 t1 spid pid n end left zomb st
	pf=$dir/pid
	trap cleanup EXIT
	sampler "$dir/done" "$dir/sampler" &
	spid=$!
	SHELL_PIDS+=("$spid")
	t0=$(now)
	for ((i = 0; i < SHELLS; i++)); do
		cycle_shell "$pf" "$dir/shell.$i" &
		SHELL_PIDS+=($!)
	done
	for pid in "${SHELL_PIDS[@]:1}"; do
		wait "$pid" || true
	done
	t1=$(now)
	touch "$dir/done"
	wait "$spid" || true
	SHELL_PIDS=()
	# What is left: daemons alive; then zombies, given 5 s to be reaped,
	# found by the PIDs the starts reported (a zombie has no command
	# line to find it by).
	daemons
	left=${#LIVE[@]}
	cat "$dir"/shell.* | awk '$3 == "started" { print $4 }' >"$dir/pids"
	end=$((EPOCHSECONDS + 5))
	while :; do
		zomb=0
		while read -r pid; do
			is_zombie "$pid" sleep && zomb=$((zomb + 1))
		done <"$dir/pids"
		[ "$zomb" -eq 0 ] || [ "$EPOCHSECONDS" -ge "$end" ] && break
		sleep 0.05
	done
	st=0
	./daemonize --status -q -p "$pf" || st=$?
	n=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "$n $left $zomb $st" >"$dir/end"
}

# Runs the cycles, in a PID namespace where we may; prints the table.
start_stop() {
	local dir=$WORK/cycles ns=no secs left zomb st samples max most doubles
	local started running stopped notrun other lost dup pidfile shared
	mkdir "$dir"
	echo "soak: start/stop, $SHELLS shells × $CYCLES cycles on one pidfile" >&2
	if [ "$(id -u)" = 0 ] &&
		unshare --pid --fork --mount-proc true 2>/dev/null; then
		ns=yes
		unshare --pid --kill-child --mount-proc \
			"$0" --cycles "$WORK" "$TOKEN" &
	else
		"$0" --cycles "$WORK" "$TOKEN" &
	fi
	SHELL_PIDS+=($!)
	wait "${SHELL_PIDS[0]}" || fail "start/stop: the cycles failed"
	SHELL_PIDS=()
	[ -f "$dir/end" ] && [ -f "$dir/sampler" ] || {
		fail "start/stop: the cycles or their sampler ended early"
		return 0
	}
	read -r secs left zomb st <"$dir/end"
	read -r samples max most doubles <"$dir/sampler"
	cat "$dir"/shell.* >"$dir/all"
	started=$(grep -c '^start 0 started' "$dir/all" || true)
	running=$(grep -c '^start 1 running' "$dir/all" || true)
	stopped=$(grep -c '^stop 0 stopped' "$dir/all" || true)
	notrun=$(grep -c '^stop 0 not-running' "$dir/all" || true)
	other=$(grep -c ' other: ' "$dir/all" || true)
	awk '$3 == "started" { print $4 }' "$dir/all" | sort >"$dir/started"
	# Two stops at once may both stop the same daemon, and say so.
	awk '$3 == "stopped" { print $4 }' "$dir/all" | sort -u >"$dir/stopped"
	shared=$((stopped - $(wc -l <"$dir/stopped")))
	# Started and never stopped; stopped but never started (a start
	# that said it failed); started twice; two alive at once.
	lost=$(comm -23 "$dir/started" "$dir/stopped" | wc -l)
	dup=$(($(comm -13 "$dir/started" "$dir/stopped" | wc -l) +
		$(uniq -d "$dir/started" | wc -l) + doubles))
	case $st in
	3) pidfile="gone" ;;
	1) pidfile="stale" ;;
	*) pidfile="--status $st" ;;
	esac
	[ $((started + running)) -eq $((SHELLS * CYCLES)) ] &&
		[ $((stopped + notrun)) -eq $((SHELLS * CYCLES)) ] ||
		fail "start/stop: commands that ended otherwise: $other: $(grep -h ' other: ' "$dir/all" | sort | uniq -c |
			sed 's/^ *\([0-9]*\) /\1 × /' | head -n 5 | tr '\n' ';')"
	[ "$lost" -eq 0 ] || fail "start/stop: $lost daemons started were never stopped"
	[ "$dup" -eq 0 ] || fail "start/stop: $dup daemons alive beside another, or started twice, or stopped and never started"
	[ "$most" -le 1 ] && [ "$doubles" -eq 0 ] ||
		fail "start/stop: up to $most daemons with descriptors open at once; $doubles times two or more alive together for 50 ms"
	[ "$left" -eq 0 ] || fail "start/stop: $left daemons left at the end"
	[ "$zomb" -eq 0 ] || fail "start/stop: $zomb zombies left at the end"
	[ "$st" = 1 ] || [ "$st" = 3 ] ||
		fail "start/stop: --status at the end: $st, not 1 or 3"
	echo "| shells × cycles | in a PID namespace | s | starts: 0 started / 1 running / other | stops: 0 stopped (of them, a daemon another stop stopped too) / 0 not running / other | daemons at once, at most: alive / with descriptors (samples) | lost | duplicated | left | zombies | pidfile at the end |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	printf '| %s × %s | %s | %s | %s / %s / %s | %s (%s) / %s / %s | %s / %s (%s) | %s | %s | %s | %s | %s |\n' \
		"$SHELLS" "$CYCLES" "$ns" "$secs" "$started" "$running" \
		"$(grep -c '^start .* other: ' "$dir/all" || true)" "$stopped" "$shared" \
		"$notrun" "$(grep -c '^stop .* other: ' "$dir/all" || true)" \
		"$max" "$most" "$samples" "$lost" "$dup" "$left" "$zomb" "$pidfile"
}

main() {
	local t0 load
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	t0=$(date +%s)
	for bin in daemonize daemonize-static bench/crash; do
		[ -x "$bin" ] || {
			echo "soak: $bin is missing (make $bin)" >&2
			exit 2
		}
	done
	echo "## Soak"
	echo
	echo "Crash loop: \`daemonize -f -r --min-uptime=0 -p PIDFILE -- bench/crash ...\`, whose worker appends its PID to a file and kills itself with SIGKILL at once; $RESTARTS restarts. The worker is held (paused) at its start, after $((WARM - 1)) restarts and at the end, while the supervisor, idle, is sampled: its descriptors (/proc/PID/fd) and VmRSS; those after $((WARM - 1)) and at the end must be equal. Restarts counted by the workers' records, by --status and by the supervisor's events (\"started as pid\"); immediate: the \"restarting in 0 ms\" events. Files in $(stat -f -c %T "$WORK") ($WORK). Date: $(date -u +%Y-%m-%d); load average when it began: $load."
	echo
	crash_loops
	echo
	echo "Start/stop: $SHELLS shells at once, each $CYCLES times \`daemonize -p PIDFILE $TARGET 1000 TOKEN\` then \`daemonize --stop -p PIDFILE\`, one pidfile; a sampler counts the daemons alive meanwhile, and of them those with descriptors open (one that was killed may still be exiting, its lock let go, when the next has started). Lost: started and never stopped; duplicated: two with descriptors open at once, or two alive still 50 ms after they were seen together, or a daemon stopped that no start reported (\`-v\`: \"daemon pid N\"). Zombies: the daemons left as zombies 5 s after the last stop$( [ "$(id -u)" = 0 ] && echo ', in a PID namespace of its own whose first process reaps them')."
	echo
	start_stop
	echo
	if [ ${#FAILED[@]} -eq 0 ]; then
		echo "Soak: every check passed, in $(($(date +%s) - t0)) s."
	else
		echo "Soak: FAILED (${#FAILED[@]}):"
		printf -- '- %s\n' "${FAILED[@]}"
		return 1
	fi
}

if [ "${1:-}" = --cycles ]; then
	WORK=$2
	TOKEN=$3
	trap 'exit 143' TERM
	trap 'exit 130' INT
	cycles
	exit 0
fi
# The pidfiles in a tmpfs, as in /run: SOAK_DIR, else /dev/shm where it is
# one, else /tmp.  (On a disk, PIDFILE.workers, written anew at each
# restart, costs what the file system charges; see bench/README.md.)
base=${SOAK_DIR:-/tmp}
[ -n "${SOAK_DIR:-}" ] || [ "$(stat -f -c %T /dev/shm 2>/dev/null)" != tmpfs ] ||
	base=/dev/shm
WORK=$(mktemp -d "$base/daemonize-soak.XXXXXX")
# A unique argument of the daemons (sleep adds its arguments up), so that
# ours, and only they, can be found in /proc.
TOKEN=0.$$$RANDOM
trap 'cleanup; rm -rf "$WORK"' EXIT
# The EXIT trap runs on these too, once they are trapped.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
main
