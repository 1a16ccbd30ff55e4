#!/usr/bin/env bats
# PIDFILE.workers, the supervisor's state file for --status: never one
# that someone else put there, never a wrong one, none where its name
# does not fit.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# Its name is the pidfile's and ".workers.tmp" while it is written: with
# a pidfile name of 250 bytes, that is more than a name may be (255).
@test "a pidfile name too long for PIDFILE.workers.tmp: the supervisor runs, with no state file, and --status says so" {
	PF=$BATS_TEST_TMPDIR/$(printf 'p%.0s' {1..250})
	"$DAEMONIZE" -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	run -0 "$DAEMONIZE" --status -p "$PF"
	[ "${lines[0]}" = "running (pid $sup)" ]
	[ "$(find . -name 'p*.workers*' | wc -l)" -eq 0 ]
}

# A killed supervisor's PIDFILE.workers.tmp, or one put there: a symbolic
# link to a file of someone else's.  It is removed, not followed.
@test "a symbolic link at PIDFILE.workers.tmp is replaced, the file it names untouched" {
	echo keep >target
	ln -s "$PWD/target" "$PF.workers.tmp"
	"$DAEMONIZE" -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 '[ -f "$PF.workers" ]'
	[ "$(cat target)" = keep ]
	[ ! -e "$PF.workers.tmp" ] && [ ! -L "$PF.workers.tmp" ]
	[ ! -L "$PF.workers" ]
	read -r header pid _ <"$PF.workers"
	[ "$header" = daemonize-workers ] && [ "$pid" = "$sup" ]
}

# --status believes only a state file its supervisor holds locked: one it
# cannot lock (strace fails every F_SETLK) is not left behind.
@test "a state file the supervisor cannot lock is removed, not left with no lock on it" {
	require_strace
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		"$DAEMONIZE" -r --min-uptime 0 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 '[ -f "$PF.workers" ]'
	w=$(children_of "$sup")
	strace -o strace.log -e inject=fcntl:error=ENOLCK:when=1+ -p "$sup" \
		2>/dev/null &
	tracer=$!
	wait_until 5 '[ "$(status_field "$sup" TracerPid)" != 0 ]'
	kill -KILL "$w"
	wait_until 5 '[ -n "$(children_of "$sup" | grep -vx "$w")" ]'
	wait_until 5 '[ ! -e "$PF.workers" ]'
	[ ! -e "$PF.workers.tmp" ]
	grep -q 'F_SETLK.*INJECTED' strace.log
	# Gone before the supervisor exits: a coverage build locks its
	# counts' files at exit.
	kill "$tracer"
	wait "$tracer" || true
}
