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

# The daemon blocks opening a FIFO nobody reads, after writing its pidfile
# and before exec: the launcher is still waiting for the status pipe.
@test "a launcher killed before the daemon has exec'd stops it too" {
	mkfifo fifo
	"$DAEMONIZE" -w30 -p "$PF" -o fifo sleep 1000 &
	launcher=$!
	wait_until 5 '[ -s "$PF" ]'
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
