#!/usr/bin/env bats
# The launcher's less travelled paths: no PATH, no working directory, a
# pidfile name too long, its own system calls failing, the middle process
# killed, a signal before the daemon's PID is known, a failed start whose
# pidfile cannot be removed.  Each: the exit status, one line saying why,
# and nothing left running.

bats_require_minimum_version 1.5.0
load helpers

# A command for -w that says it is ready, then sleeps.
READY=(sh -c '"$1" --notify; exec sleep 1000' sh)

@test "without PATH, the command is found in the default one" {
	run -0 env -u PATH "$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	wait_until 5 '[ "$(cmdline_of "$pid")" = "sleep 1000 " ]'
	exe=$(readlink "/proc/$pid/exe")
	[[ :/usr/local/bin:/usr/bin:/bin: == *":${exe%/*}:"* ]]
}

@test "a relative command in a working directory since removed exits 127 with one line" {
	mkdir gone
	cp "$(command -v sleep)" gone/sleep
	run -127 --separate-stderr sh -c 'cd gone && rmdir ../gone 2>/dev/null ||
		{ rm -f sleep && rmdir ../gone; }; exec "$@"' sh \
		"$DAEMONIZE" -p "$PF" ./sleep 1000
	[ "$stderr" = "daemonize: find command ./sleep: No such file or directory" ]
	assert_nothing_left
}

@test "-f with a pidfile whose directory's name is too long exits 125 with one line" {
	long=$(printf 'd%.0s' $(seq 4100))
	run -125 --separate-stderr "$DAEMONIZE" -f -p "$long/d.pid" sleep 1000
	assert_one_line "$stderr"
	# The line is cut short (with ...) before the reason.
	[[ $stderr == "daemonize: open pidfile ddd"* ]]
	[ -z "$(tagged_procs)" ]
}

@test "the status pipe not created exits 125 with one line, nothing started" {
	require_strace
	run -125 --separate-stderr timed_strace 20 -f -o /dev/null \
		-e trace=pipe2 -e inject=pipe2:error=EMFILE:when=1 \
		"$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == "daemonize: create status pipe: "* ]]
	assert_nothing_left
}

@test "-w: the notification socket not created exits 125 with one line, nothing started" {
	require_strace
	run -125 --separate-stderr timed_strace 20 -f -o /dev/null \
		-e trace=socket -e inject=socket:error=EMFILE:when=1 \
		"$DAEMONIZE" -w5 -p "$PF" "${READY[@]}" "$DAEMONIZE"
	assert_one_line "$stderr"
	[[ $stderr == "daemonize: "* ]]
	assert_nothing_left
}

# Its first poll(2) is the launcher's, on the status pipe, before the
# daemon's PID is read: the PID comes next, and the daemon is stopped.
@test "-w: the launcher's wait failing before the daemon's PID is read stops the daemon" {
	require_strace
	run -125 --separate-stderr timed_strace 20 -f -b execve -o /dev/null \
		-e trace=poll -e inject=poll:error=ENOMEM:when=1 \
		"$DAEMONIZE" -w5 -p "$PF" sh -c 'sleep 0.5; exec sleep 1000'
	[[ $stderr == "daemonize: wait: wait for status pipe: "*"; pid "*" stopped" ]]
	assert_one_line "$stderr"
	assert_gone_then_nothing_left
}

# The launcher's first recvmsg(2) is its read of the daemon's notification.
@test "-w: the notification not read stops the daemon, and exits 125 with one line" {
	require_strace
	run -125 --separate-stderr timed_strace 20 -f -b execve -o /dev/null \
		-e trace=recvmsg -e inject=recvmsg:error=ENOMEM:when=1 \
		"$DAEMONIZE" -w5 -p "$PF" "${READY[@]}" "$DAEMONIZE"
	assert_one_line "$stderr"
	[[ $stderr == "daemonize: wait: read notify socket: "*"; pid "*" stopped" ]]
	assert_gone_then_nothing_left
}

@test "-w: a daemon that dies unready, its pidfile made a directory, leaves a warning and its status" {
	run -3 --separate-stderr "$DAEMONIZE" -w5 -p "$PF" \
		sh -c 'rm -f "$1" && mkdir "$1" && exit 3' sh "$PF"
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "daemonize: remove pidfile $PF: Is a directory" ]
	[[ ${stderr_lines[1]} == "daemonize: wait: pid "*" exited with status 3 before it was ready" ]]
	[ -d "$PF" ]
	wait_until 2 '[ -z "$(tagged_procs)" ]'
}

@test "-f: an exec that fails where the pidfile may not be removed says so, and exits 127" {
	require_root
	dir=$(public_dir)
	mkdir "$dir/ro"
	: >"$dir/ro/d.pid"
	chmod 666 "$dir/ro/d.pid"
	chmod 755 "$dir/ro"
	printf '#!/nonexistent/interpreter\n' >"$dir/cmd"
	chmod 755 "$dir/cmd"
	run -127 --separate-stderr as_nobody "$DAEMONIZE" -f -p "$dir/ro/d.pid" "$dir/cmd"
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "daemonize: remove pidfile $dir/ro/d.pid: Permission denied" ]
	[ "${stderr_lines[1]}" = "daemonize: execute $dir/cmd: interpreter not found" ]
}

# A supervisor opens its pidfile's directory after the pidfile: held on
# that open, it finds the directory gone.
@test "-r: the pidfile's directory removed before the supervisor opens it: 125 with one line, nothing left" {
	require_strace
	mkdir dir
	PF=$BATS_TEST_TMPDIR/dir/d.pid
	strace -f -b execve -o log -P "$BATS_TEST_TMPDIR/dir" -e trace=open,openat \
		-e inject=open,openat:delay_enter=1000000:when=1 -- \
		"$DAEMONIZE" -r -p "$PF" sleep 1000 2>err &
	traced=$!
	wait_in_syscall log 'open|openat'
	rm -r dir
	status=0
	wait "$traced" || status=$?
	[ "$status" -eq 125 ]
	[ "$(cat err)" = "daemonize: open directory of $PF: No such file or directory" ]
	assert_gone_then_nothing_left
}

# The middle process calls setsid(2) first: held there, it is killed
# before it can fork the daemon.
@test "the middle process killed before the daemon exists exits 125 with one line, nothing left" {
	require_strace
	strace -f -b execve -o log -e trace=setsid \
		-e inject=setsid:delay_enter=2000000 -- \
		"$DAEMONIZE" -p "$PF" sleep 1000 2>err &
	traced=$!
	wait_in_syscall log setsid
	kill -KILL "$(awk '/setsid\(/ { print $1; exit }' log)"
	status=0
	wait "$traced" || status=$?
	[ "$status" -eq 125 ]
	# strace may add a line of its own about the killed process.
	[ "$(grep '^daemonize:' err)" = "daemonize: start daemon: child exited abnormally" ]
	assert_gone_then_nothing_left
}

# The PID the process PID forked, from the strace log: the call's name
# begins its line, or its resumption (a path with "clone" in it, in a read
# of /proc/self/cmdline, is none).
forked_by() {
	awk -v p="$1" '$1 == p && / = [0-9]+$/ &&
		($2 ~ /^(clone3?|v?fork)\(/ || ($2 == "<..." && $3 ~ /^(clone3?|v?fork)$/)) {
			print $NF; exit
		}' log
}

stopped() {
	[[ $(proc_state "$1") == [tT] ]]
}

# Each process stops (SIGSTOP) at its first getpid(2).  The launcher's,
# before the fork, and the middle process's (a coverage build's calls it
# as it writes its counts) are let go; the daemon's comes just before it
# sends its PID, and it stays stopped there.
start_with_daemon_stopped() {
	strace -f -b execve -o log -e trace=getpid,read,clone,clone3,fork \
		-e inject=getpid:signal=SIGSTOP:when=1 -- \
		"$DAEMONIZE" -w10 -p "$PF" "${READY[@]}" "$DAEMONIZE" 2>err &
	traced=$!
	wait_until 5 '[ -s log ]'
	launcher=$(awk '{ print $1; exit }' log)
	wait_until 5 'stopped "$launcher"'
	kill -CONT "$launcher"
	wait_until 5 'middle=$(forked_by "$launcher"); [ -n "$middle" ]'
	wait_until 5 'daemon=$(forked_by "$middle"); [ -n "$daemon" ]'
	wait_until 5 'kill -CONT "$middle" 2>/dev/null; ! is_alive "$middle"'
	wait_until 5 'stopped "$daemon"'
}

# TERM to the launcher, which waits for the daemon's PID; then waits
# until it has read the signal (128 bytes) from its signalfd.
interrupt_launcher() {
	kill -TERM "$launcher"
	wait_until 5 'grep -Eq "^$launcher +(read\(|<\.\.\. read resumed).*= 128$" log'
}

@test "-w: a signal before the daemon's PID is read stops the daemon once it is, and exits 128+N" {
	require_strace
	start_with_daemon_stopped
	interrupt_launcher
	kill -CONT "$daemon"
	status=0
	wait "$traced" || status=$?
	[ "$status" -eq 143 ]
	[ "$(grep '^daemonize:' err)" = "daemonize: wait: interrupted by signal 15; pid $daemon stopped" ]
	assert_gone_then_nothing_left
}

@test "-w: a signal, then the daemon killed before it sent its PID, exits 128+N with one line" {
	require_strace
	start_with_daemon_stopped
	interrupt_launcher
	kill -KILL "$daemon"
	status=0
	wait "$traced" || status=$?
	[ "$status" -eq 143 ]
	[ "$(grep '^daemonize:' err)" = "daemonize: wait: interrupted by signal 15" ]
	assert_gone_then_nothing_left
}
