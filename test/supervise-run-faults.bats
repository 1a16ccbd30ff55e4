#!/usr/bin/env bats
# A running supervisor whose system calls fail (strace makes them fail in
# it), or whose resources run out: it says so in an event, and stops or
# goes on as each case wants, never leaving a wrong state file behind.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# Before a daemonize to be traced, in the background: env(1), which keeps
# the job's PID, sets LeakSanitizer off, as it cannot work under ptrace
# and would fail the ASan build's exit (the strace wrapper sets it off
# only in what strace starts).
TRACEABLE=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")

# -f -r sleep 1000, its events in the file events, in the
# background: $fg its PID (the supervisor), $w its worker.
start_foreground() {
	"${TRACEABLE[@]}" "$DAEMONIZE" -f -r -e events -p "$PF" sleep 1000 &
	fg=$!
	wait_until 5 'grep -q "worker 0 started as pid" events'
	w=$(only_child "$fg")
	wait_exec "$w" sleep
}

# The one child of PID.
only_child() {
	local c
	c=$(children_of "$1")
	[ -n "$c" ] && [[ $c != *$'\n'* ]] && printf '%s\n' "$c"
}

# Puts the supervisor $fg under strace, which makes the system calls of
# INJECT fail as strace's -e inject= says; its log in strace.log.
inject_into_supervisor() {
	strace -o strace.log -e inject="$1" -p "$fg" 2>/dev/null &
	wait_until 5 '[ "$(status_field "$fg" TracerPid)" != 0 ]'
	# Out of the poll(2) it was in when strace came, which the kernel
	# restarts as it was: WINCH, which it passes to the worker, who
	# ignores it.
	kill -WINCH "$fg"
}

# The supervisor exits STATUS, its event log has a line ending in TEXT,
# and its worker is gone.
stops_with() {
	local rc=0
	wait "$fg" || rc=$?
	cat events >&2
	[ "$rc" -eq "$1" ]
	grep -q "daemonize\[$fg\]: $2\$" events
	assert_gone_then_nothing_left "$w"
}

@test "poll failing in a supervisor stops its workers and exits 125, with an event" {
	require_strace
	start_foreground
	inject_into_supervisor poll,ppoll:error=EINVAL
	stops_with 125 "poll: Invalid argument"
}

@test "a supervisor that cannot read its signalfd stops its workers and exits 125, with an event" {
	require_strace
	start_foreground
	# The first read only: a coverage build reads its counts at exit,
	# and one that cannot writes over them.
	inject_into_supervisor read:error=EINVAL:when=1
	stops_with 125 "read signals: Invalid argument"
}

# The worker exits, leaving a process in its group; the supervisor's
# kill(2)s all fail, so that neither TERM nor SIGKILL empties the group.
@test "a dead worker's group that even SIGKILL does not empty is given up on, with an event, and the worker restarted" {
	require_strace
	"${TRACEABLE[@]}" "$DAEMONIZE" -f -r --kill-timeout 0 -c "$PWD" -e events -p "$PF" sh -c '
		[ -e again ] && exec sleep 1000
		: >again; sleep 1000 &
		while [ ! -e go ]; do sleep 0.02; done; exit 1' &
	fg=$!
	wait_until 5 'grep -q "worker 0 started as pid" events'
	inject_into_supervisor kill:error=EPERM:when=1+
	: >go
	wait_until 10 'grep -q "worker 0: processes left in its group after SIGKILL$" events'
	wait_until 5 '[ "$(grep -c "worker 0 started as pid" events)" -eq 2 ]'
	is_alive "$fg"
}

@test "a stop whose signals all fail says processes are left after SIGKILL, and the supervisor still exits" {
	require_strace
	"${TRACEABLE[@]}" "$DAEMONIZE" -f -r --kill-timeout 0 -e events -p "$PF" \
		sleep 1000 &
	fg=$!
	wait_until 5 'grep -q "worker 0 started as pid" events'
	w=$(only_child "$fg")
	inject_into_supervisor kill:error=EPERM:when=1+
	kill -TERM "$fg"
	rc=0
	wait "$fg" || rc=$?
	cat events >&2
	[ "$rc" -eq 0 ]
	grep -q "daemonize\[$fg\]: processes left after SIGKILL$" events
}

# The second unlinkat(2) at the exit, after the state file's, is the
# pidfile's.
@test "a pidfile the supervisor cannot remove at its exit is named in an event" {
	require_strace
	start_foreground
	strace -o strace.log -e inject=unlinkat:error=EROFS:when=2 -p "$fg" \
		2>/dev/null &
	wait_until 5 '[ "$(status_field "$fg" TracerPid)" != 0 ]'
	kill -TERM "$fg"
	rc=0
	wait "$fg" || rc=$?
	cat events >&2
	[ "$rc" -eq 0 ]
	grep -q "unlinkat(.*\"${PF##*/}\".*INJECTED" strace.log
	grep -q "daemonize\[$fg\]: remove pidfile ${PF##*/}: Read-only file system$" events
	[ -e "$PF" ]
}
