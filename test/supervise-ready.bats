#!/usr/bin/env bats
# Readiness through a supervisor: a worker's --ready-fd pipe that says
# part of a line first, and a manager's NOTIFY_SOCKET that takes nothing.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

@test "-r --ready-fd: a worker's ready pipe that has text but no newline yet is not ready; its newline is" {
	run -0 "$DAEMONIZE" -w10 -r --ready-fd 3 -c "$PWD" -p "$PF" sh -c '
		printf x >&3; sleep 0.3; : >newline; echo >&3; exec sleep 1000'
	[ -e newline ]
}

# The READY=1 the supervisor sends once its worker is ready finds no
# socket at NOTIFY_SOCKET: it says so, and goes on.
@test "under a NOTIFY_SOCKET with no socket there, the supervisor says it could not notify, and runs on" {
	NOTIFY_SOCKET=$PWD/none "$DAEMONIZE" -r -e events -p "$PF" \
		sh -c '"$0" --notify && exec sleep 1000' "$DAEMONIZE"
	sup=$(pid_in "$PF")
	wait_until 5 "grep -q 'daemonize\\[$sup\\]: notify $PWD/none: No such file or directory\$' events"
	is_alive "$sup"
}
