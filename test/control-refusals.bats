#!/usr/bin/env bats
# --status, --stop and --signal where the pidfile or the daemon is not what
# it should be: the control commands refuse, say why in one line, and
# signal nobody they cannot be sure of.

bats_require_minimum_version 1.5.0
load helpers

# A daemon of root's whose pidfile, in a public directory, nobody may read.
start_root_daemon() {
	dir=$(public_dir)
	PF="$dir/d.pid"
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
}

@test "--stop of another user's daemon exits 1 with one line, and it runs on" {
	require_root
	start_root_daemon
	run -1 --separate-stderr as_nobody "$DAEMONIZE" --stop -p "$PF"
	[ "$stderr" = "daemonize: stop pid $pid: Operation not permitted" ]
	is_alive "$pid"
	[ "$(pid_in "$PF")" = "$pid" ]
}

@test "--signal to another user's daemon exits 1 with one line" {
	require_root
	start_root_daemon
	run -1 --separate-stderr as_nobody "$DAEMONIZE" --signal=TERM -p "$PF"
	[ "$stderr" = "daemonize: signal pid $pid: Operation not permitted" ]
	is_alive "$pid"
}

@test "--signal with a pidfile that is a directory exits 125 with one line" {
	mkdir "$PF"
	run -125 --separate-stderr "$DAEMONIZE" --signal=HUP -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: not a regular file" ]
	[ -d "$PF" ]
}

@test "--stop of a pidfile held by an open file description lock signals nobody, exits 1" {
	: >"$PF"
	perl -e 'open(F, "+<", $ARGV[0]) or die "open: $!";
		my $fl = pack("s s x4 q q i x4", 1, 0, 0, 0, 0);
		fcntl(F, 37, $fl) or die "F_OFD_SETLK: $!";
		open(R, ">", "locked") and close(R); sleep 1000' "$PF" \
		>/dev/null 2>&1 3>&- &
	holder=$!
	wait_until 5 '[ -e locked ]'
	run -1 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: its lock is held with no pid; not signalling" ]
	is_alive "$holder"
	[ -e "$PF" ]
}

@test "--stop of a daemon whose pidfile holds something else signals nobody, exits 1" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	# Written through another file description: the daemon's lock stays.
	printf 'not a pid\n' >>"$PF"
	run -1 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: it holds something other than a pid, but pid $pid holds its lock; not signalling" ]
	is_alive "$pid"
}

@test "--stop --signal=HUP stops a daemon that HUP ends, and removes its pidfile" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
	run -0 --separate-stderr "$DAEMONIZE" --stop --signal=HUP --timeout=30 -p "$PF"
	[ "$output" = "stopped (pid $pid)" ]
	[ -z "$stderr" ]
	run ! is_alive "$pid"
	[ ! -e "$PF" ]
}

@test "--status shows the exit status of a worker's last run" {
	"$DAEMONIZE" -n 1 -p "$PF" sh -c 'if [ -e "$1" ]; then exec sleep 1000; fi
		: >"$1"; exit 3' sh "$BATS_TEST_TMPDIR/ran"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -e ran ] && [ -n "$(children_of "$sup")" ] &&
		[ "$(cmdline_of "$(children_of "$sup")")" = "sleep 1000 " ]'
	# The workers file is written once the new worker has exec'd.
	wait_until 5 '"$DAEMONIZE" --status -p "$PF" | grep -q "1 restarts"'
	run -0 "$DAEMONIZE" --status -p "$PF"
	[ "${lines[0]}" = "running (pid $sup)" ]
	[[ ${lines[1]} == "worker 0: pid $(children_of "$sup"), up "*"s, 1 restarts, last exit status 3" ]]
}

# Without pidfds, each signal is sent only while the PID holds the lock:
# here the daemon dies of TERM, and is reaped (-f: this shell's child),
# while --stop is held stopped after sending it, so its SIGCONT would go
# to a PID that may be another process's.
@test "without pidfds, --stop sends no SIGCONT once the daemon has let go of its lock" {
	require_strace
	"$DAEMONIZE" -f -p "$PF" sleep 1000 &
	pid=$!
	wait_exec "$pid" sleep
	wait_until 5 '[ "$(pid_in "$PF")" = "$pid" ]'
	strace -o log -e trace=kill -e inject=kill:signal=SIGSTOP:when=1 \
		"$(testbin daemonize-no-pidfd)" --stop -p "$PF" >out 2>err &
	traced=$!
	wait_until 5 'grep -q "^kill($pid, SIGTERM)" log'
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	# $traced is the shell that runs strace, the parent of --stop's.
	stopper=$(children_of "$(children_of "$traced")")
	[ "$(proc_state "$stopper")" = t ]
	kill -CONT "$stopper"
	wait "$traced"
	cat log
	[ "$(cat out)" = "stopped (pid $pid)" ]
	[ ! -s err ]
	run ! grep -q "^kill($pid, SIGCONT)" log
	[ ! -e "$PF" ]
}

# PIDFILE.workers is 8 bytes longer than PIDFILE, here too long a path.
@test "--status of a supervisor whose pidfile's name leaves no room for its workers file: running" {
	local d=$BATS_TEST_TMPDIR
	while [ "${#d}" -lt 3850 ]; do
		d=$d/$(printf 'd%.0s' $(seq 200))
	done
	mkdir -p "$d"
	PF=$d/$(printf 'p%.0s' $(seq $((4089 - ${#d}))))
	[ "${#PF}" -eq 4090 ]
	"$DAEMONIZE" -n 1 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 '[ -n "$(children_of "$sup")" ]'
	run -0 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "running (pid $sup)" ]
}
