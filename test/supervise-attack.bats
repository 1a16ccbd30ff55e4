#!/usr/bin/env bats
# -r and -n under attack: open-file limits, slow log readers, stops that
# give up early, stopped workers, stale state and early signals.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# The only live child of SUP other than OLD (which may be empty), once
# there is one.
wait_child() {
	local c
	wait_until 5 "c=\$(children_of $1 | grep -vx '${2:-0}'); [ -n \"\$c\" ]" ||
		{
			echo "no new child of $1" >&2
			return 1
		}
	printf '%s\n' "$c"
}

# The live tagged processes in process group PGID, one a line.
group_members() {
	local pid procs
	procs=$(tagged_procs)
	for pid in $procs; do
		[ "$(stat_field "$pid" 5 2>/dev/null)" = "$1" ] &&
			printf '%s\n' "$pid"
	done
	return 0
}

# True while PID sleeps in poll(2): a supervisor waiting for what comes.
in_poll() {
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == *poll* ]]
}

# Holds the FIFO FILE open for reading, its pipe at its smallest (a
# page), reading nothing; returns once the FIFO is open.
stalled_reader() {
	perl -e 'open(F, "+<", $ARGV[0]) or die "open: $!";
		fcntl(F, 1031, 4096) or die "F_SETPIPE_SZ: $!";
		open(M, ">", "$ARGV[0].held") and close(M);
		sleep 1000' "$1" 3>&- &
	wait_until 5 "[ -e '$1.held' ]"
}

# True when the FIFO FILE is full but for less than an event line: its
# unread bytes (FIONREAD) against its size (F_GETPIPE_SZ).
fifo_full() {
	perl -e 'open(F, "+<", $ARGV[0]) or die "open: $!";
		my $n = pack("i", 0);
		ioctl(F, 0x541B, $n) or die "FIONREAD: $!";
		my $size = fcntl(F, 1032, 0) or die "F_GETPIPE_SZ: $!";
		exit(unpack("i", $n) > $size - 256 ? 0 : 1)' "$1"
}

# poll(2) fails with EINVAL when given more descriptors than RLIMIT_NOFILE
# allows: the supervisor must not poll one per worker whether it is open
# or not (-n 1024 under the usual soft limit of 1024 hit this at once).
@test "-n above the open-file limit: the supervisor goes on running its workers" {
	(ulimit -n 64 && exec "$DAEMONIZE" -n 100 -p "$PF" -e events sleep 1000)
	sup=$(pid_in "$PF")
	wait_until 5 "! is_alive $sup || in_poll $sup" || true
	is_alive "$sup" || {
		grep -v ' started as pid ' events >&2
		return 1
	}
	[ -e "$PF" ]
	[ "$(children_of "$sup" | wc -l)" -eq 100 ]
}

# --stop SIGKILLs the supervisor when its --timeout is up; the workers
# die with it (PR_SET_PDEATHSIG), but what else is in their groups must
# not be left running.  With both timeouts at their default of 10 s the
# same race is lost too.
@test "--stop with a --timeout shorter than --kill-timeout leaves nothing of a worker's group" {
	"$DAEMONIZE" -r --kill-timeout 3 -p "$PF" bash -c \
		'trap "" TERM; bash -c "trap \"\" TERM; exec sleep 1000" & wait'
	sup=$(pid_in "$PF")
	w=$(wait_child "$sup")
	wait_until 5 "[ \"\$(group_members $w | wc -l)\" -eq 2 ]"
	members=$(group_members "$w")
	run -0 "$DAEMONIZE" --stop --timeout 1 -p "$PF"
	for pid in $members; do
		wait_until 2 "! is_alive $pid" || {
			echo "left running: $pid ($(cmdline_of "$pid"))" >&2
			return 1
		}
	done
}

# The -e file is a FIFO whose reader has stopped reading: once the pipe
# is full, an event must not block the supervisor, which would then
# neither reap nor restart nor stop.
@test "a -e FIFO nobody reads cannot keep the supervisor from stopping on TERM" {
	mkfifo fifo
	stalled_reader fifo
	"$DAEMONIZE" -r --min-uptime 0 --max-restarts 0 --kill-timeout 1 \
		-e fifo -p "$PF" sh -c 'exit 1'
	sup=$(pid_in "$PF")
	# Each restart writes events: the pipe (a page) fills at once.
	wait_until 5 'fifo_full fifo'
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup" || {
		echo "supervisor $sup still in $(cat "/proc/$sup/wchan")" >&2
		return 1
	}
	[ ! -e "$PF" ]
}

# As without -r: -m is the umask of the files the service creates.
@test "-m applies to the -o and -e files a supervisor creates" {
	"$DAEMONIZE" -r -m 077 -o out -e err -p "$PF" sleep 1000
	[ "$(stat -c %a out)" = 600 ]
	[ "$(stat -c %a err)" = 600 ]
}

# A restart whose worker is stopped (SIGSTOP) between its fork and its
# exec: strace, attached to the supervisor, stops the new worker as it
# enters prctl(2), then lets go.  The supervisor must still act on TERM.
@test "a restarted worker stopped before its exec does not hang the supervisor" {
	require_root
	require_strace
	"$DAEMONIZE" -r --kill-timeout 1 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_child "$sup")
	wait_exec "$w" sleep
	timed_strace 20 -f -o trace -p "$sup" -e trace=prctl,restart_syscall \
		-e inject=prctl:signal=SIGSTOP 3>&- &
	wait_in_syscall trace restart_syscall
	tracer=$(status_field "$sup" TracerPid)
	kill -KILL "$w"
	w2=$(wait_child "$sup" "$w")
	wait_until 5 "[[ \$(proc_state $w2) == [tT] ]]"
	kill -TERM "$tracer"
	wait_until 5 "! is_alive $tracer"
	[ "$(proc_state "$w2")" = T ]
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup" || {
		echo "supervisor $sup still in $(cat "/proc/$sup/wchan")" >&2
		return 1
	}
	wait_until 2 "! is_alive $w2"
}

# A supervisor killed by SIGKILL leaves PIDFILE.workers; a plain daemon
# that later gets the same PID (forced here through ns_last_pid) holds the
# pidfile's lock, and --status must not show the dead supervisor's workers.
# The new start waits until the namespace holds only its shell: a worker
# not yet reaped keeps its session's ID, the PID below the supervisor's,
# from being given out again.
@test "--status shows no worker lines for a plain daemon with a killed supervisor's PID" {
	require_pid_namespace
	run -0 in_new_pid_namespace env D="$DAEMONIZE" bash -c '
		"$D" -r -p pf sleep 1000 || exit 90
		sup=$(cat pf)
		kill -KILL "$sup"
		alone() { local p=(/proc/[0-9]*); [ "${p[*]}" = /proc/1 ]; }
		for ((i = 0; i < 500; i++)); do alone && break; sleep 0.02; done
		echo $((sup - 3)) >/proc/sys/kernel/ns_last_pid
		"$D" -p pf sleep 1000 || exit 91
		[ "$(cat pf)" = "$sup" ] || exit 92
		"$D" --status -p pf'
	echo "$output"
	[[ ${lines[0]} == "running (pid "* ]]
	[ "${#lines[@]}" -eq 1 ]
}

# The test build stops the daemon right after it has written its pidfile,
# before the supervisor is set up; a HUP sent then (a reload as soon as the
# pidfile is there) is one the supervisor forwards, and must not kill it.
@test "a HUP at the supervisor once its pidfile is written does not kill it" {
	DAEMONIZE_TEST_PAUSE=daemon-locked \
		"$(testbin daemonize-hooks)" -r -p "$PF" sleep 1000 3>&- &
	launcher=$!
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(proc_state "$sup")" = T ]'
	kill -HUP "$sup"
	kill -CONT "$sup"
	rc=0
	wait "$launcher" || rc=$?
	[ "$rc" -eq 0 ]
	is_alive "$sup"
	w=$(wait_child "$sup")
	wait_exec "$w" sleep
}
