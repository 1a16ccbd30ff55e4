#!/usr/bin/env bats
# The removal of a killed supervisor's PIDFILE.workers, and the report
# that a supervisor's workers run, under attack.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# The PID worker 0 has in PIDFILE.workers; nothing if it has none.
worker0_pid() {
	awk '$1 == 0 { print $2 }' "$PF.workers" 2>/dev/null
}

# Starts a supervisor of one worker, always restarted, and removes its
# pidfile: $sup, and $old, the worker PIDFILE.workers names.
start_then_remove_pidfile() {
	"$DAEMONIZE" -p "$PF" -n 1 --restart=always -- sleep 1000
	sup=$(cat "$PF")
	wait_until 5 '[ -n "$(worker0_pid)" ] && [ "$(worker0_pid)" != 0 ]'
	old=$(worker0_pid)
	rm "$PF"
}

# The pidfile of a live supervisor replaced by a stale one: --stop removes
# that, and looks at PIDFILE.workers; strace holds it there after it
# opened the file.  Meanwhile the supervisor writes a new one in its
# place, and lets go of the one --stop opened, which looks like a killed
# supervisor's: only the file still named may go.
@test "--stop of a stale pidfile leaves the PIDFILE.workers a live supervisor wrote while it looked" {
	local log=$BATS_TEST_TMPDIR/strace.log sup old
	require_strace
	start_then_remove_pidfile
	: >"$PF"
	# Only the calls on PIDFILE.workers are held: a coverage build locks
	# its count files with fcntl(2) too as it exits.
	strace -f -y -o "$log" -P "$PF.workers" -e trace=fcntl \
		-e inject=fcntl:delay_enter=2000000 -- \
		"$DAEMONIZE" --stop -p "$PF" 3>&- &
	traced=$!
	wait_until 20 "grep -qs 'workers>, F_GETLK' '$log'"
	kill "$old"
	wait_until 5 '[ -n "$(worker0_pid)" ] && [ "$(worker0_pid)" != 0 ] &&
		[ "$(worker0_pid)" != "$old" ]'
	wait "$traced"
	[ ! -e "$PF" ]
	is_alive "$sup"
	[ -e "$PF.workers" ]
}

# The holder lets go while the start is stopped between its lock and its
# question (a ^Z, a loaded machine), for longer than a guard is waited
# for (GUARD_WAIT_MS, pidfile.c): the lock is free, and taken; no "held
# by another process for too long".
@test "a start stopped past the guard's wait, whose lock's holder went meanwhile, starts" {
	start_with_holder_gone 5.5
}

# A live supervisor whose pidfile went creates PIDFILE.workers.tmp, empty
# and unlocked until its next call: strace holds it before each fcntl(2).
# A --stop that finds no pidfile has no business with the state files.
@test "--stop with no pidfile leaves the empty PIDFILE.workers.tmp a live supervisor is about to lock" {
	local sup old
	require_strace
	start_then_remove_pidfile
	timed_strace 30 -o trace -e trace=fcntl,restart_syscall \
		-e inject=fcntl:delay_enter=1000000 -p "$sup" 3>&- &
	wait_in_syscall trace restart_syscall
	kill "$old"
	wait_until 20 '[ -e "$PF.workers.tmp" ]'
	run -0 "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	wait_until 20 'new=$(children_of "$sup"); [ -n "$new" ] && [ "$new" != "$old" ]'
	# shellcheck disable=SC2154 # set in the condition above
	wait_until 20 '[ "$(worker0_pid)" = "$new" ]'
	is_alive "$sup"
}
