#!/usr/bin/env bats
# -H: SIGHUP opens -o and -e again from the directory daemonize was
# started in, then goes back to -c's: what it does when either is gone.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# A worker that writes "line N" to -o every 20 ms, its directory ./work,
# with -H, its events in ./events; $sup the supervisor.
start_writer() {
	mkdir work
	"$DAEMONIZE" -H -c "$PWD/work" -o "$PWD/out" -e "$PWD/events" -p "$PF" \
		sh -c 'i=0; while :; do i=$((i + 1)); echo "line $i"; sleep 0.02; done'
	sup=$(pid_in "$PF")
	wait_until 5 'grep -q "^line " out'
}

# strace fails its fchdir(2): the old files are kept.
@test "-H: a reopen that cannot go back to the start directory says so, and the lines go on to the old file" {
	require_strace
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 start_writer
	strace -o strace.log -e inject=fchdir:error=EACCES -p "$sup" 2>/dev/null &
	wait_until 5 '[ "$(status_field "$sup" TracerPid)" != 0 ]'
	mv out out.1
	kill -HUP "$sup"
	wait_until 5 "grep -Eq '${EVENT}reopen: open the start directory: Permission denied$' events"
	wait_until 5 "[ \"\$(wc -l <out.1)\" -ge $(($(wc -l <out.1) + 5)) ]"
	[ ! -e out ]
	is_alive "$sup"
}

@test "-H: a reopen whose -c directory is gone says so, and the lines go on to the new file" {
	start_writer
	rmdir work
	mv out out.1
	kill -HUP "$sup"
	wait_until 5 "grep -Eq '${EVENT}change directory to $PWD/work: No such file or directory$' events"
	wait_until 5 'grep -q "^line " out'
	is_alive "$sup"
}
