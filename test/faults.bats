#!/usr/bin/env bats
# Fault injection (issue 10): the pidfile on a full or read-only file
# system, or not a regular file; too few descriptors; closed standard
# streams; no /dev/null; no fork.  Each: one line and its code, or a daemon
# with its pidfile; never a daemon without it, never a leftover.

bats_require_minimum_version 1.5.0
load helpers

# After a failed start: every process this test started is gone (a dying
# middle process may take a moment), then assert_nothing_left.
assert_all_gone() {
	wait_until 2 '[ -z "$(tagged_procs)" ]' || true
	assert_nothing_left
}

# --- the pidfile is not a regular file ---

@test "a pidfile that is a directory exits 125 with one line, the directory untouched" {
	mkdir "$PF"
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == *"$PF"* ]]
	[ -d "$PF" ] && [ ! -L "$PF" ]
	[ -z "$(ls -A "$PF")" ]
	[ -z "$(tagged_procs)" ]
}

@test "a pidfile that is a FIFO exits 125 at once with one line, the FIFO untouched" {
	mkfifo "$PF"
	run -125 --separate-stderr timeout 5 "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == *"$PF"* ]]
	[ -p "$PF" ]
	[ -z "$(tagged_procs)" ]
}

@test "a pidfile that is a dangling symbolic link exits 125, creating nothing at its target" {
	ln -s target "$PF"
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == *"$PF"* ]]
	[ -L "$PF" ] && [ "$(readlink "$PF")" = target ]
	[ ! -e target ] && [ ! -L target ]
	[ -z "$(tagged_procs)" ]
}

@test "/dev/full as the pidfile exits 125 with one line, /dev/full still a device" {
	run -125 --separate-stderr "$DAEMONIZE" -p /dev/full sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == */dev/full* ]]
	[ -c /dev/full ]
	[ "$(stat -c %t:%T /dev/full)" = 1:7 ]
	[ -z "$(tagged_procs)" ]
}
