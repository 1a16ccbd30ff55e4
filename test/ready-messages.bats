#!/usr/bin/env bats
# Readiness messages a test can send or spoil: --notify to a bad address,
# a manager's socket that is gone, the descriptor limit at the ready pipe,
# and the notify socket's own system calls failing (strace).

bats_require_minimum_version 1.5.0
load helpers

# --- --notify ---

@test "--notify to a NOTIFY_SOCKET that is no socket address exits 125 with one line" {
	run -125 --separate-stderr env NOTIFY_SOCKET=relative/path \
		"$DAEMONIZE" --notify
	[ "$stderr" = "daemonize: notify socket relative/path: not a socket address" ]
}

@test "--notify to a socket path where nothing listens exits 125 with one line" {
	run -125 --separate-stderr env NOTIFY_SOCKET="$BATS_TEST_TMPDIR/none.sock" \
		"$DAEMONIZE" --notify READY=1
	[ "$stderr" = "daemonize: notify $BATS_TEST_TMPDIR/none.sock: No such file or directory" ]
}

@test "--notify that cannot create its socket exits 125 with one line" {
	require_strace
	run -125 --separate-stderr strace -o /dev/null -e trace=socket \
		-e inject=socket:error=EACCES:when=1 \
		env NOTIFY_SOCKET="$BATS_TEST_TMPDIR/none.sock" "$DAEMONIZE" --notify
	[ "$stderr" = "daemonize: notify: create socket: Permission denied" ]
}

# --- a supervisor under a manager that is gone ---

# A supervisor under NOTIFY_SOCKET=$1 whose worker sends STATUS= and
# READY=1: the supervisor's one event about it ends in $2 (a grep pattern),
# and it keeps running with its worker; then it is stopped by TERM, so
# that a coverage build writes its counts.
assert_notify_warned_once() {
	NOTIFY_SOCKET=$1 "$DAEMONIZE" -n 1 -p "$PF" -e events \
		sh -c '"$0" --notify STATUS=up READY=1 && : >"$1" &&
			exec sleep 1000' "$DAEMONIZE" "$BATS_TEST_TMPDIR/sent"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -e sent ] && grep -q ": notify " events'
	cat events >&2
	[ "$(grep -c ": notify " events)" -eq 1 ]
	grep -q "daemonize\[$sup\]: notify $2\$" events
	is_alive "$sup"
	[ -n "$(children_of "$sup")" ]
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
}

# The worker's STATUS= and READY=1 reach the supervisor, which passes them
# on to a socket with nobody behind it: it says so once, and keeps running.
@test "a supervisor whose NOTIFY_SOCKET has no listener warns once and keeps its worker" {
	assert_notify_warned_once "$BATS_TEST_TMPDIR/none.sock" \
		"$BATS_TEST_TMPDIR/none.sock: No such file or directory"
}

# A NOTIFY_SOCKET that is no socket address (neither a path nor @name).
@test "a supervisor whose NOTIFY_SOCKET is not a socket address says so and keeps its worker" {
	assert_notify_warned_once relative "socket relative: not a socket address"
}

# The supervisor, alone traced, gets no socket to pass READY=1 on with;
# the worker, untraced, sends it once the tracer is there.
@test "a supervisor that gets no socket to pass READY=1 on says so and keeps its worker" {
	require_strace
	(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".bound", "w").close()
import time; time.sleep(1000)' "$BATS_TEST_TMPDIR/manager.sock" 3>&- &)
	wait_until 5 '[ -e manager.sock.bound ]'
	mkfifo go
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/manager.sock" "$DAEMONIZE" -n 1 \
		-p "$PF" -e events sh -c 'read -r _ <"$1" &&
			"$0" --notify READY=1 && exec sleep 1000' \
		"$DAEMONIZE" "$BATS_TEST_TMPDIR/go"
	sup=$(pid_in "$PF")
	# Its system calls are traced once strace shows the one it was in.
	timed_strace 20 -o trace -e trace=socket,restart_syscall \
		-e inject=socket:error=ENFILE -p "$sup" 3>&- &
	wait_in_syscall trace restart_syscall
	echo >go
	wait_until 5 'grep -q ": notify" events'
	cat events >&2
	grep -q "daemonize\[$sup\]: notify: create socket: Too many open files in system\$" events
	is_alive "$sup"
	[ -n "$(children_of "$sup")" ]
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
}

# --- the descriptor limit at the ready pipe ---

# Runs daemonize -w5 --ready-fd FD with only 0, 1 and 2 open, under
# `ulimit -n` LIMIT: run_with_limit LIMIT FD.
run_with_limit() {
	run --separate-stderr bash -c 'for f in /proc/$$/fd/*; do
			f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"
		done
		ulimit -n "$1" && exec "$3" -w5 --ready-fd "$2" -p "$4" \
			sh -c "echo >&$2; exec sleep 1000"' \
		sh "$1" "$2" "$DAEMONIZE" "$PF"
}

# 0 to 2 and /dev/null at 3 leave one descriptor under 5: no pipe fits.
# Under 6 the pipe is 4 and 5; its end at 5, the ready fd, has nowhere to
# go.
@test "--ready-fd with no room for the ready pipe exits 125 with one line" {
	[[ $DAEMONIZE != *-san ]] || skip "ASan needs descriptors of its own"
	for limit_fd in '5 3' '6 5'; do
		# shellcheck disable=SC2086 # two words
		run_with_limit $limit_fd
		[ "$status" -eq 125 ]
		# EMFILE, as glibc or musl words it.
		[ "$stderr" = "daemonize: create ready pipe: Too many open files" ] ||
			[ "$stderr" = "daemonize: create ready pipe: No file descriptors available" ]
		assert_nothing_left
	done
}

# --- the notify socket's system calls fail (-w) ---

# Runs daemonize -w5 -p "$PF" sleep 1000 under strace, the first call
# SYSCALL of each process failing with ERRNO: inject_first SYSCALL ERRNO.
inject_first() {
	run --separate-stderr timed_strace 20 -f -o /dev/null -e trace="$1" \
		-e inject="$1":error="$2":when=1 \
		"$DAEMONIZE" -w5 -p "$PF" sleep 1000
}

@test "-w that cannot create its notify socket exits 125 with one line" {
	require_strace
	inject_first socket EACCES
	[ "$status" -eq 125 ]
	[ "$stderr" = "daemonize: create notify socket: Permission denied" ]
	assert_nothing_left
}

@test "-w that cannot ask for senders' credentials exits 125 with one line" {
	require_strace
	inject_first setsockopt EINVAL
	[ "$status" -eq 125 ]
	[ "$stderr" = "daemonize: set SO_PASSCRED on notify socket: Invalid argument" ]
	assert_nothing_left
}

@test "-w that cannot bind its notify socket exits 125 with one line" {
	require_strace
	inject_first bind EACCES
	[ "$status" -eq 125 ]
	[[ $stderr == "daemonize: bind notify socket @daemonize/notify/"*": Permission denied" ]]
	is_one_line "$stderr"
	assert_nothing_left
}

# The daemon is running when the read fails: it is stopped, its pidfile
# removed.
@test "-w: a notification that cannot be read stops the daemon, 125" {
	require_strace
	run --separate-stderr timed_strace 20 -f -o /dev/null -e trace=recvmsg \
		-e inject=recvmsg:error=EINVAL:when=1 \
		"$DAEMONIZE" -w5 -p "$PF" sh -c '"$0" --notify; exec sleep 1000' \
		"$DAEMONIZE"
	[ "$status" -eq 125 ]
	[[ $stderr == "daemonize: wait: read notify socket: Invalid argument; pid "*" stopped" ]]
	is_one_line "$stderr"
	wait_until 5 '[ -z "$(tagged_procs)" ]'
	assert_nothing_left
}

# strace lets go of the daemon at its exec (-b execve), so as to end with
# the launcher.
@test "-w: a notification read that would block is tried again, and the start succeeds" {
	require_strace
	run --separate-stderr timed_strace 20 -f -b execve -o /dev/null -e trace=recvmsg \
		-e inject=recvmsg:error=EAGAIN:when=1 \
		"$DAEMONIZE" -w5 -p "$PF" sh -c '"$0" --notify; exec sleep 1000' \
		"$DAEMONIZE"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	wait_exec "$(pid_in "$PF")" sleep
}
