#!/usr/bin/env bats
# -r and -n under attack, third round: a standard error that fills up,
# and a PIDFILE.workers that lags behind a worker's death.

bats_require_minimum_version 1.5.0
load helpers

# The supervisors' processes, then the tmpfs a test mounted.
teardown() {
	stop_then_kill_test_processes
	if [ -n "${MOUNTED:-}" ]; then
		umount -l "$MOUNTED" 2>/dev/null
	fi
	remove_public_dirs
}

# The one live child of SUP running COMMAND (a PATH name), once it runs.
worker_running() {
	local exe c
	exe=$(readlink -f "$(command -v "$2")")
	for c in $(children_of "$1"); do
		[ "$(readlink "/proc/$c/exe")" = "$exe" ] && printf '%s\n' "$c"
	done
	return 0
}

# Fills the pipe on standard output until it takes no more, without
# blocking, then leaves it full.
fill_stdout() {
	perl -MFcntl -e '
		my $fl = fcntl(STDOUT, F_GETFL, 0) or die "getfl: $!";
		fcntl(STDOUT, F_SETFL, $fl | O_NONBLOCK) or die "setfl: $!";
		1 while defined syswrite(STDOUT, "x" x 4096);
		1 while defined syswrite(STDOUT, "x");
		$!{EAGAIN} or die "write: $!";
		fcntl(STDOUT, F_SETFL, $fl) or die "setfl: $!";'
}

# Events must never block the supervisor.  It writes them through a non-
# blocking description of its own, opened again through /proc/self/fd;
# a user other than the pipe's creator may not open it so (a pipe made by
# root is mode 0600: the case of a container started with --user), and
# the supervisor then wrote the event on the shared, blocking standard
# error: with the pipe full, it hung in write(2) at "worker 0 started",
# and a TERM never stopped it.
@test "-f as another user: a full standard error pipe root made does not keep the supervisor from stopping" {
	require_root
	local dir sup
	dir=$(public_dir)
	# shellcheck disable=SC2216 # a reader that never reads
	{
		fill_stdout
		as_nobody "$DAEMONIZE" -f -r -p "$dir/d.pid" -- sleep 1000
		echo $? >"$BATS_TEST_TMPDIR/rc"
	} 2>&1 3>&- | sleep 1000 &
	wait_until 5 "[ -s '$dir/d.pid' ]"
	sup=$(pid_in "$dir/d.pid")
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ]"
	kill -TERM "$sup"
	if ! wait_until 5 "! is_alive $sup"; then
		echo "supervisor still there, in $(cat "/proc/$sup/wchan")" >&2
		return 1
	fi
	wait_until 5 "[ -s rc ]"
	[ "$(cat rc)" = 0 ]
}

# With -f -v, a restarted worker's -v lines ("exec ...") come to the
# supervisor, which printed them on standard error with a blocking write:
# with the pipe full (its reader stalled), the supervisor hung there at
# the first restart, and a TERM never stopped it.
@test "-f -v: a full standard error pipe does not keep a supervisor that restarts a worker from stopping" {
	local sup w
	# shellcheck disable=SC2216 # a reader that never reads
	"$DAEMONIZE" -f -v -r -p "$PF" -- sleep 1000 2>&1 >/dev/null 3>&- |
		sleep 1000 &
	wait_until 5 "[ -s '$PF' ]"
	sup=$(pid_in "$PF")
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ]"
	w=$(worker_running "$sup" sleep)
	# The reader stalls: its pipe fills up.
	fill_stdout >"/proc/$sup/fd/2"
	kill -KILL "$w"
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ] &&
		[ \"\$(worker_running $sup sleep)\" != $w ]"
	kill -TERM "$sup"
	if ! wait_until 5 "! is_alive $sup"; then
		echo "supervisor still there, in $(cat "/proc/$sup/wchan")" >&2
		return 1
	fi
}

# A worker died; what is left of its group ignores TERM, so the restart
# waits --kill-timeout for SIGKILL.  All that while PIDFILE.workers still
# said the dead worker ran ("worker 0: pid P, up 3s, 0 restarts, last exit
# none"): it was written only once the group was empty.
@test "--status does not show a killed worker as running while its group is stopped" {
	local sup w
	printf '%s\n' '#!/bin/sh' "(trap '' TERM; exec sleep 1000) &" \
		'exec sleep 1000' >w.sh
	chmod +x w.sh
	"$DAEMONIZE" -p "$PF" -e "$PWD/err" -r --kill-timeout=60 -- "$PWD/w.sh"
	sup=$(pid_in "$PF")
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ]"
	w=$(worker_running "$sup" sleep)
	# Its child, which ignores TERM, runs in its group.
	wait_until 5 "[ \$(pgrep -g $w -c sleep) = 2 ]"
	kill -KILL "$w"
	wait_until 5 "grep -q 'pid $w) killed by signal 9' err"
	# The group is being stopped: the dead worker stays a zombie.
	[ "$(proc_state "$w")" = Z ]
	run -0 "$DAEMONIZE" --status -p "$PF"
	echo "$output"
	[ "${lines[0]}" = "running (pid $sup)" ]
	[[ ${lines[1]} == "worker 0: "* ]]
	[[ ${lines[1]} != *"pid $w,"* ]]
}

# PIDFILE.workers could not be written on a full file system (/run is a
# small tmpfs): the old one stayed, naming a worker that was killed and
# reaped as running, for as long as the file system stayed full and no
# other event came.  A --status line for a PID that may be reused by now.
@test "--status shows no dead worker as running when PIDFILE.workers cannot be written" {
	require_root
	local sup w w2
	mkdir r
	mount -t tmpfs -o size=16k daemonize-test "$PWD/r"
	MOUNTED=$PWD/r
	"$DAEMONIZE" -p "$PWD/r/d.pid" -r -- sleep 1000
	sup=$(pid_in r/d.pid)
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ]"
	w=$(worker_running "$sup" sleep)
	wait_until 5 "grep -q '^0 $w ' r/d.pid.workers"
	# The file system is full.
	head -c 1M /dev/zero >r/fill 2>/dev/null || true
	[ "$(df --output=avail "$PWD/r" | tail -n 1)" -eq 0 ]
	kill -KILL "$w"
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ] &&
		[ \"\$(worker_running $sup sleep)\" != $w ]"
	w2=$(worker_running "$sup" sleep)
	wait_until 5 "! [ -e /proc/$w ]"
	run -0 "$DAEMONIZE" --status -p "$PWD/r/d.pid"
	echo "$output"
	[ "${lines[0]}" = "running (pid $sup)" ]
	[[ $output != *"pid $w,"* ]]
	[ -n "$w2" ]
}

# A worker restarted at once: PIDFILE.workers is written at the new
# worker's exec, not at the death.  A restart held before its exec (here
# by strace, at execve(2); as well a worker stopped, or slow to exec) left
# the killed and reaped worker's PID in the file, shown as running with
# its old uptime and "last exit none", for as long as it was held.
@test "--status shows no reaped worker as running while its restart has not exec'd" {
	require_strace
	local sup w
	"$DAEMONIZE" -p "$PF" -r -- sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 "[ -n \"\$(worker_running $sup sleep)\" ]"
	w=$(worker_running "$sup" sleep)
	timed_strace 60 -f -p "$sup" -o trace -e trace=execve,restart_syscall \
		-e inject=execve:delay_enter=30000000 2>/dev/null &
	wait_in_syscall trace restart_syscall
	kill -KILL "$w"
	wait_in_syscall trace execve
	wait_until 5 "! [ -e /proc/$w ]"
	run -0 "$DAEMONIZE" --status -p "$PF"
	echo "$output"
	[ "${lines[0]}" = "running (pid $sup)" ]
	[[ ${lines[1]} == "worker 0: "* ]]
	[[ ${lines[1]} != *"pid $w,"* ]]
}
