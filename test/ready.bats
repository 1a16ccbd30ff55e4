#!/usr/bin/env bats
# -w and --ready-fd: return only once the daemon is ready; --notify.

bats_require_minimum_version 1.5.0
load helpers

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

@test "-w returns once the daemon sends READY=1, not before" {
	start=$(now_ms)
	run -0 "$DAEMONIZE" -w10 -p "$PF" sh -c \
		'sleep 1; "$0" --notify; exec sleep 1000' "$DAEMONIZE"
	(($(now_ms) - start >= 1000))
	is_alive "$(pid_in "$PF")"
}

@test "-w passes NOTIFY_SOCKET to the daemon" {
	"$DAEMONIZE" -w10 -p "$PF" sh -c \
		'echo "$NOTIFY_SOCKET" >"$1"; "$0" --notify; exec sleep 1000' \
		"$DAEMONIZE" "$BATS_TEST_TMPDIR/socket"
	[[ $(cat socket) == @* ]]
}

@test "-w accepts READY=1 among other lines, and shows STATUS= with -v" {
	run -0 --separate-stderr "$DAEMONIZE" -v -w10 -p "$PF" sh -c \
		'"$0" --notify STATUS=warming READY=1; exec sleep 1000' "$DAEMONIZE"
	[[ $stderr == *"daemonize: status: warming"* ]]
	[[ $stderr == *"daemonize: ready"* ]]
}

@test "-w times out with 124, stops the daemon and removes the pidfile" {
	start=$(now_ms)
	run -124 --separate-stderr "$DAEMONIZE" -w1 -p "$PF" sleep 1000
	(($(now_ms) - start < 3000))
	[[ $stderr == "daemonize: wait: not ready after 1 s; pid "*" stopped" ]]
	assert_nothing_left
}

@test "-w returns at once with the status of a daemon that exits first" {
	start=$(now_ms)
	run -3 --separate-stderr "$DAEMONIZE" -w30 -p "$PF" sh -c 'exit 3'
	(($(now_ms) - start < 3000))
	[[ $stderr == "daemonize: wait: pid "*" exited with status 3 before it was ready" ]]
	assert_nothing_left
}

@test "-w without pidfds still returns at once for a daemon that exits first" {
	start=$(now_ms)
	run -3 "$(testbin daemonize-no-pidfd)" -w30 -p "$PF" sh -c 'exit 3'
	(($(now_ms) - start < 3000))
	assert_nothing_left
}

@test "-w returns 128+N for a daemon killed by signal N before it is ready" {
	run -137 "$DAEMONIZE" -w30 -p "$PF" sh -c 'kill -KILL $$'
	assert_nothing_left
}

@test "-w ignores a notification from a process outside the daemon's session" {
	"$DAEMONIZE" -w2 -p "$PF" sh -c \
		'echo "$NOTIFY_SOCKET" >"$1"; exec sleep 1000' \
		"$DAEMONIZE" "$BATS_TEST_TMPDIR/socket" &
	launcher=$!
	wait_until 5 '[ -s socket ]'
	NOTIFY_SOCKET=$(cat socket) "$DAEMONIZE" --notify
	rc=0
	wait "$launcher" || rc=$?
	[ "$rc" -eq 124 ]
}

# Anyone may send to the abstract socket.  An empty datagram peeked is
# one of 0 bytes, as is none at all: left there, it stayed at the head of
# the queue, the launcher spun on it and never read the READY=1 after it.
@test "-w: an empty datagram before READY=1 is taken, and READY=1 counts" {
	require_command python3
	run -0 "$DAEMONIZE" -w3 -p "$PF" python3 -c 'import os, socket, time
name = os.environ["NOTIFY_SOCKET"].replace("@", "\0", 1)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"", name)
s.sendto(b"READY=1\n", name)
time.sleep(1000)'
	is_alive "$(pid_in "$PF")"
}

# Stops the background launcher with SIGTERM: it must exit 143 and leave
# neither the daemon nor its pidfile.
assert_interrupt_stops_daemon() {
	local rc=0 daemon
	daemon=$(pid_in "$PF")
	kill -TERM "$launcher"
	wait "$launcher" || rc=$?
	[ "$rc" -eq 143 ]
	run ! is_alive "$daemon"
	assert_nothing_left
}

@test "a launcher killed while it waits stops the daemon and removes the pidfile" {
	"$DAEMONIZE" -w30 -p "$PF" sleep 1000 &
	launcher=$!
	wait_until 5 '[ -s "$PF" ]'
	wait_exec "$(pid_in "$PF")" sleep
	assert_interrupt_stops_daemon
}

# The test build stops the daemon after it has written its pidfile and
# before exec: the launcher is still waiting for the status pipe.
@test "a launcher killed before the daemon has exec'd stops it too" {
	DAEMONIZE_TEST_PAUSE=daemon-locked \
		"$(testbin daemonize-hooks)" -w30 -p "$PF" sleep 1000 &
	launcher=$!
	wait_until 5 '[ -s "$PF" ] && [ "$(proc_state "$(pid_in "$PF")")" = T ]'
	assert_interrupt_stops_daemon
}

# The daemon is sleep, since a shell would clear its mask itself.
@test "-w leaves no signal blocked in the daemon" {
	with_signals_disturbed "$DAEMONIZE" -w30 -p "$PF" sleep 1000 &
	job=$!
	wait_until 5 '[ -s "$PF" ]'
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
	blocked=$(status_field "$pid" SigBlk)
	ignored=$(status_field "$pid" SigIgn)
	kill -TERM "$(stat_field "$pid" 4)"	# the launcher, its subreaper
	wait "$job" || true
	[ "$blocked" = 0000000000000000 ]
	[ "$ignored" = 0000000000000000 ]
}

@test "--ready-fd returns once the daemon writes a newline on fd N" {
	start=$(now_ms)
	run -0 "$DAEMONIZE" --ready-fd 5 -p "$PF" sh -c \
		'sleep 1; echo >&5; exec sleep 1000'
	(($(now_ms) - start >= 1000))
	pid=$(pid_in "$PF")
	is_alive "$pid"
	[[ " $(open_fds "$pid") " == *" 5 "* ]]
}

@test "--ready-fd with a daemon that closes the fd unready waits for its exit" {
	run -4 "$DAEMONIZE" -w5 --ready-fd 7 -p "$PF" sh -c \
		'exec 7>&-; sleep 0.5; exit 4'
	assert_nothing_left
}

@test "--notify without NOTIFY_SOCKET fails with 125" {
	run -125 --separate-stderr env -u NOTIFY_SOCKET "$DAEMONIZE" --notify
	[ "$stderr" = "daemonize: notify: NOTIFY_SOCKET is not set" ]
}

@test "--notify with lines over 4 KiB exits 2 with one line" {
	long=$(printf '%04096d' 0)
	run -2 --separate-stderr env NOTIFY_SOCKET=@daemonize-test/none \
		"$DAEMONIZE" --notify "STATUS=$long" READY=1
	[ "$stderr" = "daemonize: notify: message too long" ]
}

@test "-w does not go with -f" {
	run -2 "$DAEMONIZE" -f -w sleep 1
}

# The launcher had /dev/null on fd 3 for the daemon's standard streams.
@test "--ready-fd 3: output on standard output is not readiness" {
	run -124 "$DAEMONIZE" -w1 --ready-fd 3 -p "$PF" sh -c \
		'echo out; exec sleep 1000'
	assert_nothing_left
}

# Each daemon writes to standard output, says so in a file, and writes the
# newline on fd N only once the test creates its go file.
@test "--ready-fd 3, 4 or 5 with -p and -l: ready on fd N only, stdout /dev/null" {
	for n in 3 4 5; do
		PF="$BATS_TEST_TMPDIR/$n.pid"
		"$DAEMONIZE" -w10 --ready-fd "$n" -p "$PF" -l "$BATS_TEST_TMPDIR/$n.lock" \
			sh -c 'echo out; : >"$0.wrote"
				while [ ! -e "$0.go" ]; do sleep 0.01; done
				echo >&'"$n"'; exec sleep 1000' "$BATS_TEST_TMPDIR/$n" &
		launcher=$!
		wait_until 5 "[ -e '$BATS_TEST_TMPDIR/$n.wrote' ]"
		is_alive "$launcher"
		: >"$BATS_TEST_TMPDIR/$n.go"
		wait "$launcher"
		pid=$(pid_in "$PF")
		[ "$(readlink "/proc/$pid/fd/1")" = /dev/null ]
		run -0 "$DAEMONIZE" --status -p "$PF"
	done
}

# The daemon's children must not outlive a start that failed.  The daemon
# writes the PID of its child to the file "child".
@test "-w: a timeout stops the daemon's children too" {
	run -124 "$DAEMONIZE" -w1 -p "$PF" sh -c \
		'sleep 302 & echo $! >"$0"; exec sleep 303' "$BATS_TEST_TMPDIR/child"
	assert_gone_then_nothing_left "$(cat child)"
}

@test "-w: a timeout stops a child that left the daemon's session" {
	run -124 "$DAEMONIZE" -w1 -p "$PF" sh -c \
		'setsid sleep 302 & echo $! >"$0"; exec sleep 303' "$BATS_TEST_TMPDIR/child"
	assert_gone_then_nothing_left "$(cat child)"
}

@test "-w: a daemon that exits before it is ready leaves no child behind" {
	run -3 "$DAEMONIZE" -w30 -p "$PF" sh -c \
		'sleep 302 & echo $! >"$0"; exit 3' "$BATS_TEST_TMPDIR/child"
	assert_gone_then_nothing_left "$(cat child)"
}

@test "-w: an interrupted launcher stops the daemon's children too" {
	"$DAEMONIZE" -w30 -p "$PF" sh -c \
		'sleep 302 & echo $! >"$0"; exec sleep 303' "$BATS_TEST_TMPDIR/child" &
	launcher=$!
	wait_until 5 '[ -s child ] && [ -s "$PF" ]'
	wait_exec "$(pid_in "$PF")" sleep
	kill -TERM "$launcher"
	rc=0
	wait "$launcher" || rc=$?
	[ "$rc" -eq 143 ]
	assert_gone_then_nothing_left "$(cat child)"
}

# strace delays the middle process's return from fork, so the daemon's
# failure reaches the status pipe before the middle process reports the
# daemon's PID.  The failure is one only the daemon can meet: executing a
# script without #! (ENOEXEC).  Standard error goes to a file: it may hold
# any byte.
check_failure_before_pid() {
	local rc=0
	mkdir -p "$1"
	printf 'echo no interpreter line\n' >"$1/script"
	chmod +x "$1/script"
	strace -f -o /dev/null -e trace=clone,clone3 \
		-e inject=clone,clone3:delay_exit=300000 -- \
		"$DAEMONIZE" -w10 -p "$PF" "$1/script" 2>err || rc=$?
	[ "$rc" -eq 126 ]
	assert_one_clean_line err
	assert_nothing_left
}

@test "-w: a failure that comes before the daemon's PID is one clean line" {
	require_strace
	check_failure_before_pid "$BATS_TEST_TMPDIR/bin"
}

# The message fills the launcher's buffer of 1024 bytes.
@test "-w: a failure of 1000 bytes that comes before the daemon's PID is one clean line" {
	require_strace
	name=$(printf '%0200d' 0)
	check_failure_before_pid "$BATS_TEST_TMPDIR/$name/$name/$name/$name/$name"
}

# Every poll(2) from the third on fails: the daemon's PID is known by then,
# so the daemon must be stopped and its pidfile removed.  Calls are counted
# in a build without sanitizers, whose runtime makes calls of its own.
@test "-w: a failure after the daemon's PID is known stops the daemon" {
	require_strace
	run -125 --separate-stderr timed_strace 20 -f -b execve -o /dev/null \
		-e trace=poll \
		-e inject=poll:error=ENOMEM:when=3+ \
		"$(testbin daemonize-hooks)" -w3 -p "$PF" sh -c 'sleep 0.5; exec sleep 1000'
	is_one_line "$stderr"
	[[ $stderr == "daemonize: wait: "*"; pid "*" stopped" ]]
	wait_until 5 '[ -z "$(tagged_procs)" ]'
	assert_nothing_left
}

@test "--ready-fd 1023 works under a soft descriptor limit of 1024" {
	run -0 bash -c 'ulimit -Sn 1024 && exec "$0" -w5 --ready-fd 1023 \
		-p "$1" bash -c "echo >&1023; exec sleep 1000"' "$DAEMONIZE" "$PF"
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
	[ "$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")" = 1024 ]
}

@test "--ready-fd 1023 works under a hard descriptor limit of 1024" {
	run -0 bash -c 'ulimit -n 1024 && exec "$0" -w5 --ready-fd 1023 \
		-p "$1" bash -c "echo >&1023; exec sleep 1000"' "$DAEMONIZE" "$PF"
	wait_exec "$(pid_in "$PF")" sleep
}

@test "--ready-fd at or above the soft descriptor limit exits 125, starts nothing" {
	run -125 --separate-stderr prlimit --nofile=10:1024 "$DAEMONIZE" -w5 \
		--ready-fd 20 -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: option --ready-fd 20: not under the descriptor limit (10)" ]
	assert_nothing_left
}

# The second read(2) fails, before the daemon's PID has been read: with -w
# the PID is read again, and the daemon stopped.  (A build without
# sanitizers, as above.)
@test "-w: a failure before the daemon's PID is read still stops the daemon" {
	require_strace
	run -125 --separate-stderr timed_strace 20 -f -b execve -o /dev/null \
		-e trace=read -e inject=read:error=EIO:when=2 \
		"$(testbin daemonize-hooks)" -w3 --ready-fd 5 -p "$PF" \
		sh -c 'echo >&5; exec sleep 1000'
	is_one_line "$stderr"
	wait_until 5 '[ -z "$(tagged_procs)" ]'
	assert_nothing_left
}

@test "--ready-fd just under a full descriptor limit says there is no room" {
	run -125 --separate-stderr bash -c 'ulimit -n 10 && exec "$0" -p "$1" \
		-l lock -w5 --ready-fd 9 sleep 1000' "$DAEMONIZE" "$PF"
	is_one_line "$stderr"
	# EMFILE, as glibc or musl words it.
	[[ $stderr == *": Too many open files" ||
		$stderr == *": No file descriptors available" ]]
	assert_nothing_left
}
