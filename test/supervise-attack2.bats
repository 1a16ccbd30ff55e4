#!/usr/bin/env bats
# -r and -n under attack, second round: the sequential start, readiness
# pipes, restarts under a low open-file limit, and a PIDFILE.workers that
# someone else wrote.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# The live children of SUP whose environment holds DAEMONIZE_WORKER=I.
workers_numbered() {
	local c kids
	kids=$(children_of "$1")
	for c in $kids; do
		grep -qzsx "DAEMONIZE_WORKER=$2" "/proc/$c/environ" &&
			printf '%s\n' "$c"
	done
	return 0
}

# Worker 0 fails at once on its first run, while the start goes on with
# worker 1; its restart then execs while the start is still under way.
# strace holds the supervisor a moment before each poll(2), so that the
# restarted worker 0 and the last worker have both exec'd when it looks:
# it reads worker 0's pipe first.  Seeing that exec must not fork a
# worker 1 (the next in the start) a second time: two processes would run
# as worker 1, one of them unknown to --status and never restarted.
@test "a worker restarted during the start does not start the next worker twice" {
	require_strace
	printf '%s\n' '#!/bin/sh' \
		"if [ \"\$DAEMONIZE_WORKER\" = 0 ] && [ ! -e '$PWD/failed' ]; then" \
		"	: >'$PWD/failed'; exit 1" \
		'fi' \
		'exec sleep 1000' >w.sh
	chmod +x w.sh
	strace -f -o /dev/null -e trace=poll,ppoll \
		-e inject=poll,ppoll:delay_enter=500000 -- \
		"$DAEMONIZE" -n 3 -e events -p "$PF" "$PWD/w.sh" 3>&- &
	wait_until 15 "grep -qs 'worker 2 started as pid' events"
	sup=$(pid_in "$PF")
	[ -e failed ]
	run -0 workers_numbered "$sup" 1
	echo "worker 1: ${lines[*]}"
	[ "${#lines[@]}" -eq 1 ]
}

# --ready-fd gives each worker a pipe of its own; while a worker starts,
# the supervisor polls both its status pipe and its ready pipe, one entry
# more than its table holds: the heap is overwritten, and the supervisor
# dies of SIGABRT (glibc's free()) or SIGSEGV when it stops.  A TERM before
# the worker is ready stops it as any stop does: it exits (the launcher
# then fails the start with 125 or 143), it is not killed by signal 6 or
# 11 (134, 139).
@test "--ready-fd: a supervisor stopped before its worker is ready exits, it does not crash" {
	{
		"$DAEMONIZE" -r --ready-fd 3 -p "$PF" sleep 1000 2>launcher.err ||
			echo $? >launcher.rc
		[ -s launcher.rc ] || echo 0 >launcher.rc
	} 3>&- &
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	wait_until 5 "[ -n \"\$(children_of $sup)\" ]"
	w=$(children_of "$sup")
	wait_exec "$w" sleep
	kill -TERM "$sup"
	wait_until 10 '[ -s launcher.rc ]'
	cat launcher.err
	rc=$(cat launcher.rc)
	[ "$rc" -eq 125 ] || [ "$rc" -eq 143 ]
	assert_gone_then_nothing_left "$sup" "$w"
}

# The same table overflow with -n 3 -w --ready-fd: workers 0 and 1 have
# exec'd and are not ready yet while worker 2 starts.
@test "-n 3 -w --ready-fd: a supervisor stopped before its workers are ready exits, it does not crash" {
	{
		"$DAEMONIZE" -n 3 -w --ready-fd 3 -p "$PF" sleep 1000 \
			2>launcher.err || echo $? >launcher.rc
		[ -s launcher.rc ] || echo 0 >launcher.rc
	} 3>&- &
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	wait_until 5 "[ \"\$(children_of $sup | wc -l)\" -eq 3 ]"
	for w in $(children_of "$sup"); do
		wait_exec "$w" sleep
	done
	kill -TERM "$sup"
	wait_until 10 '[ -s launcher.rc ]'
	cat launcher.err
	rc=$(cat launcher.rc)
	[ "$rc" -eq 125 ] || [ "$rc" -eq 143 ]
}

# A TERM before every worker has exec'd fails the start with 128+15; with
# -w the start is not over until every worker is ready, and a TERM then
# must fail it the same way (as it does a plain -w daemon killed by TERM
# before it is ready), not as "exited with status 0 before it was ready".
@test "-w: a TERM to the supervisor before its workers are ready fails the start with 143" {
	{
		NOTIFY_SOCKET='' "$DAEMONIZE" -n 2 -w -p "$PF" sleep 1000 \
			2>launcher.err || echo $? >launcher.rc
		[ -s launcher.rc ] || echo 0 >launcher.rc
	} 3>&- &
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	wait_until 5 "[ \"\$(children_of $sup | wc -l)\" -eq 2 ]"
	for w in $(children_of "$sup"); do
		wait_exec "$w" sleep
	done
	kill -TERM "$sup"
	wait_until 10 '[ -s launcher.rc ]'
	cat launcher.err
	[ "$(cat launcher.rc)" -eq 143 ]
	assert_one_line "$(cat launcher.err)"
	assert_gone_then_nothing_left "$sup"
}

# The first start forks one worker at a time, so that a low open-file
# limit cannot fail it; restarts of many workers at once hold a status
# pipe each until they exec.  A pipe the supervisor cannot create for
# want of descriptors is no failure of the worker's: it must not count
# towards --max-restarts, and the supervisor must not give up on a
# service whose every worker can run.
@test "many workers killed at once under a low open-file limit are all restarted, not given up on" {
	(ulimit -n 24 && exec "$DAEMONIZE" -n 40 --max-restarts 2 \
		-e events -p "$PF" sleep 1000)
	sup=$(pid_in "$PF")
	wait_until 5 "[ \"\$(children_of $sup | wc -l)\" -eq 40 ]"
	old=$(children_of "$sup")
	# shellcheck disable=SC2086 # a list of PIDs
	kill -KILL $old
	wait_until 10 "! is_alive $sup || [ \"\$(children_of $sup | grep -vxF \"\$old\" | wc -l)\" -eq 40 ]" || true
	is_alive "$sup" || {
		grep -v ' started as pid ' events >&2
		return 1
	}
	[ -e "$PF" ]
	[ "$(children_of "$sup" | grep -vxF "$old" | wc -l)" -eq 40 ]
}

# A plain daemon whose pidfile sits in a directory anyone may write to:
# another user puts a PIDFILE.workers beside it, whose header names the
# daemon's PID and start time (both public in /proc) and a stop time of
# weeks.  --stop --timeout 1 must still SIGKILL the daemon, which ignores
# TERM, after a second, not wait for the time the file claims.
@test "--stop is not held past --timeout by a PIDFILE.workers another user wrote" {
	require_root
	dir=$(public_dir)
	pf=$dir/d.pid
	"$DAEMONIZE" -p "$pf" sh -c 'trap "" TERM; exec sleep 1000'
	d=$(pid_in "$pf")
	wait_exec "$d" sleep
	as_nobody sh -c 'printf "daemonize-workers %s %s %s\n0 %s 0 0 0 0\n" \
		"$1" "$2" 604800000 "$1" >"$3.workers"' sh \
		"$d" "$(stat_field "$d" 22)" "$pf"
	run timeout 8 "$DAEMONIZE" --stop --timeout 1 -p "$pf"
	echo "$output"
	[ "$status" -eq 0 ]
	! is_alive "$d"
}

# The same forged file: --status on that plain daemon must not print the
# worker lines another user made up.
@test "--status shows no worker lines from a PIDFILE.workers another user wrote" {
	require_root
	dir=$(public_dir)
	pf=$dir/d.pid
	"$DAEMONIZE" -p "$pf" sleep 1000
	d=$(pid_in "$pf")
	as_nobody sh -c 'printf "daemonize-workers %s %s %s\n7 1 0 99 1 42\n" \
		"$1" "$2" 1000 >"$3.workers"' sh \
		"$d" "$(stat_field "$d" 22)" "$pf"
	run -0 "$DAEMONIZE" --status -p "$pf"
	echo "$output"
	[ "${lines[0]}" = "running (pid $d)" ]
	[ "${#lines[@]}" -eq 1 ]
}
