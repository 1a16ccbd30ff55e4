#!/usr/bin/env bats
# System calls that fail in a child between fork and exec (spawn.c), made
# to fail by strace's fault injection: checking and preparing an output,
# keeping a lock across the exec, the daemon's report of its PID, and a
# worker's parent-death signal.  Each: 125 and the one line that names
# the step (from the launcher, or as an event), the command not run,
# nothing left.  strace counts each
# process's calls from its start (or from its attach, -p): when=N is the
# Nth call of that process; with -P, of those that name that file.

bats_require_minimum_version 1.5.0
load helpers

# Runs daemonize ARGS under strace, with the calls in the class or list
# CALLS that name FILE failing as INJECT (error=E:when=N) says:
# inject_on FILE CALLS INJECT ARGS...
inject_on() {
	run --separate-stderr timed_strace 20 -f -o /dev/null -P "$1" \
		-e trace="$2" -e inject="$2:$3" "$DAEMONIZE" "${@:4}"
}

# Starts the test build in the background ($launcher), stopped at step
# STEP, with its standard error in err: start_paused STEP ARGS...
start_paused() {
	DAEMONIZE_TEST_PAUSE=$1 "$(testbin daemonize-hooks)" "${@:2}" \
		2>err 3>&- &
	launcher=$!
}

# Attaches strace ARGS, logging to log, to the process stopped at its
# step ($paused), and resumes it once traced: strace has seized it while
# it was stopped, so it makes no call untraced.  trace_paused ARGS...
trace_paused() {
	wait_until 5 'paused=$(stopped_proc); [ -n "$paused" ]'
	strace -o log -p "$paused" "$@" 2>/dev/null 3>&- &
	wait_until 5 '[ "$(status_field "$paused" TracerPid)" != 0 ]'
	kill -CONT "$paused"
}

# The launcher ($launcher) exits RC, with LINE alone on standard error:
# launcher_exits RC LINE
launcher_exits() {
	local rc=0
	wait_until 10 "! is_alive $launcher"
	wait "$launcher" || rc=$?
	echo "launcher: $rc $(cat err)"
	[ "$rc" -eq "$1" ]
	[ "$(cat err)" = "$2" ]
}

# True once the strace log (-f, each line after the PID and spaces) says
# that PID exited RC: exited_in_log PID RC
exited_in_log() {
	grep -Eq "^$1 +[+]{3} exited with $2 [+]{3}\$" log
}

# The number N, for when=N, of the first fcntl(2) on FILE whose command
# matches CMD (a fixed string), in a run of daemonize ARGS without a
# fault: a libc makes calls of its own (musl's open(2) with O_CLOEXEC sets
# FD_CLOEXEC again).  Its pidfile is removed.  fcntl_number FILE CMD ARGS...
fcntl_number() {
	strace -f -o calls -P "$1" -e trace=fcntl "$DAEMONIZE" "${@:3}" \
		>/dev/null 2>&1 3>&- || return 1
	rm -f "$PF"
	grep 'fcntl(' calls | grep -nF "$2" | head -n 1 | cut -d: -f1
}

# --- an output: fstat, the flags, ftruncate ---

# The file is checked before it is truncated: one that fails the check
# keeps what it held.
@test "-o whose fstat fails exits 125 with one line, the file untouched, nothing run" {
	require_strace
	echo kept >out
	inject_on "$PWD/out" %fstat error=EACCES:when=1 -p "$PF" -o out touch ran
	[ "$status" -eq 125 ]
	[ "$stderr" = "daemonize: open out: Permission denied" ]
	[ "$(cat out)" = kept ]
	[ ! -e ran ]
	assert_nothing_left
}

# F_GETFL, then F_SETFL, which clears O_NONBLOCK.
@test "-o whose flags cannot be read or set exits 125 with one line, the file untouched" {
	require_strace
	local cmd n
	for cmd in F_GETFL F_SETFL; do
		n=$(fcntl_number "$PWD/out" "$cmd" -p "$PF" -o out true)
		echo kept >out
		inject_on "$PWD/out" fcntl error=EPERM:when="$n" -p "$PF" -o out touch ran
		echo "$cmd ($n): $status $stderr"
		[ "$status" -eq 125 ]
		[ "$stderr" = "daemonize: open out: Operation not permitted" ]
		[ "$(cat out)" = kept ]
		[ ! -e ran ]
		assert_nothing_left
	done
}

@test "-o that cannot be truncated exits 125 with one line, nothing run" {
	require_strace
	echo kept >out
	inject_on "$PWD/out" ftruncate error=EPERM:when=1 -p "$PF" -o out touch ran
	[ "$status" -eq 125 ]
	[ "$stderr" = "daemonize: truncate out: Operation not permitted" ]
	[ ! -e ran ]
	assert_nothing_left
}

# --- the locks, kept open across the exec ---

@test "a lock that cannot be kept across the exec exits 125 with one line, nothing run" {
	require_strace
	local n
	n=$(fcntl_number "$PF" "F_SETFD, 0)" -p "$PF" true)
	inject_on "$PF" fcntl error=EBADF:when="$n" -p "$PF" touch ran
	[ "$status" -eq 125 ]
	[ "$stderr" = "daemonize: keep pidfile: Bad file descriptor" ]
	n=$(fcntl_number "$PWD/lock" "F_SETFD, 0)" -l "$PWD/lock" true)
	inject_on "$PWD/lock" fcntl error=EBADF:when="$n" -l "$PWD/lock" touch ran
	[ "$status" -eq 125 ]
	[ "$stderr" = "daemonize: keep lockfile: Bad file descriptor" ]
	[ ! -e ran ]
	assert_nothing_left
}

# --- the daemon's report of its PID ---

# The daemon holds the read end of the status pipe until its exec, so no
# kill of the launcher makes this write fail (test/kill-steps.bats): only
# an injected error can.  Its failure record still reaches the
# launcher, before it locked anything.
@test "a daemon that cannot report its PID exits 125 with one line, nothing left" {
	require_strace
	start_paused daemon-forked -p "$PF" touch ran
	trace_paused -e trace=write -e inject=write:error=EPERM:when=1
	launcher_exits 125 "daemonize: report daemon pid: Operation not permitted"
	grep -q '^write(.* = -1 EPERM (Operation not permitted) (INJECTED)$' log
	[ ! -e ran ]
	assert_gone_then_nothing_left "$paused"
}

# --- a worker's parent-death signal ---

# Traced from the supervisor's set-up, after its own prctl(2): the
# worker's first is the one that sets its parent-death signal.  A worker
# that cannot start fails the start: no restart, nothing left.
@test "a worker that cannot set its parent-death signal fails the start: 125, one line" {
	require_strace
	start_paused supervisor-set-up -r -p "$PF" touch ran
	trace_paused -f -e trace=prctl -e inject=prctl:error=EPERM:when=1
	launcher_exits 125 \
		"daemonize: set parent death signal: Operation not permitted"
	[ ! -e ran ]
	assert_gone_then_nothing_left "$paused"
}

# On a restart the failure is an event, and the worker that said it exits
# 125, a rapid failure like any other: with --max-restarts 1, after the
# worker killed, the supervisor gives up with that status.  (Traced from
# its pause before the restart.)
@test "a restarted worker that cannot set its parent-death signal is an event, then the supervisor gives up" {
	require_strace
	local sup worker
	run -0 env DAEMONIZE_TEST_PAUSE=restart "$(testbin daemonize-hooks)" \
		-r --max-restarts 1 --min-uptime 60 -e events -p "$PF" \
		sleep 1000 3>&-
	sup=$(pid_in "$PF")
	worker=$(children_of "$sup")
	kill -KILL "$worker"
	trace_paused -f -e trace=prctl -e inject=prctl:error=EPERM:when=1
	[ "$paused" = "$sup" ]
	wait_until 10 "exited_in_log $sup 125"
	grep -qF "daemonize[$sup]: worker 0: set parent death signal: Operation not permitted" events
	grep -qE "daemonize\[$sup\]: worker 0 \(pid [0-9]+\) exited with status 125 after" events
	grep -qF "daemonize[$sup]: worker 0 failed 2 times in a row; giving up" events
	assert_nothing_left
}

# The worker is held for 3 s on entry to umask(2), just before its
# prctl(2), while its supervisor is killed: its parent-death signal comes
# too late, and it sees the supervisor gone by its parent PID.  (A worker
# stopped at worker-started instead is killed by the SIGHUP of its
# process group, orphaned while stopped, before it gets there.)  The
# launcher reports the supervisor's death.
@test "a worker whose supervisor died before its parent-death signal exits 125, the command never run" {
	require_strace
	local worker
	start_paused supervisor-set-up -r -p "$PF" touch ran
	trace_paused -f -s 64 -e trace=umask,write \
		-e inject=umask:delay_enter=3000000:when=1
	wait_until 5 'worker=$(children_of "$paused"); [ -n "$worker" ]'
	wait_in_syscall log umask
	kill -KILL "$paused"
	launcher_exits 125 "daemonize: start daemon: supervisor pid $paused ended before its workers ran"
	wait_until 10 "exited_in_log $worker 125"
	grep -qF "supervisor $paused is gone" log
	[ ! -e ran ]
	assert_nothing_left
}
