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

# --stop finds no pidfile, and looks at PIDFILE.workers: strace holds it
# there after it opened the file.  Meanwhile the live supervisor writes a
# new one in its place, and lets go of the one --stop opened, which looks
# like a killed supervisor's: only the file still named may go.
@test "--stop with no pidfile leaves the PIDFILE.workers a live supervisor wrote while it looked" {
	local log=$BATS_TEST_TMPDIR/strace.log sup old
	require_strace
	"$DAEMONIZE" -p "$PF" -n 1 --restart=always -- sleep 1000
	sup=$(cat "$PF")
	wait_until 5 '[ -n "$(worker0_pid)" ] && [ "$(worker0_pid)" != 0 ]'
	old=$(worker0_pid)
	rm "$PF"
	delay_on fcntl 2 "$log" "$DAEMONIZE" --stop -p "$PF"
	wait_until 5 "grep -qs F_GETLK '$log'"
	kill "$old"
	wait_until 5 '[ -n "$(worker0_pid)" ] && [ "$(worker0_pid)" != 0 ] &&
		[ "$(worker0_pid)" != "$old" ]'
	wait "$traced"
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
