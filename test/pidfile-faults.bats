#!/usr/bin/env bats
# The pidfile's system calls failing: locks refused (a file system without
# them), a write cut short, the file or its directory changed underneath.
# Each: the exit status, one line saying why, and nothing left but what
# was there before.

bats_require_minimum_version 1.5.0
load helpers

# Runs ARGS under strace, making every call in CALLS on the pidfile
# (through its path or a descriptor of it) fail with ERRNO, or do what
# the inject spec SPEC says: on_pidfile CALLS SPEC ARGS...
on_pidfile() {
	local calls=$1 spec=$2
	shift 2
	timed_strace 20 -f -b execve -o /dev/null -P "$PF" -e trace="$calls" \
		-e inject="$calls:$spec" -- "$@"
}

@test "a file system without locks: a start exits 125 with one line, nothing running" {
	require_strace
	run -125 --separate-stderr on_pidfile fcntl error=ENOLCK \
		"$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: lock pidfile $PF: No locks available" ]
	wait_until 2 '[ -z "$(tagged_procs)" ]'
}

@test "a file system without locks: --status exits 4 with one line" {
	require_strace
	echo 99999999 >"$PF"
	run -4 --separate-stderr on_pidfile fcntl error=ENOLCK \
		"$DAEMONIZE" --status -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: No locks available" ]
	[ -z "$output" ]
}

@test "the pidfile cannot be emptied: a start exits 125 with one line, no pidfile left" {
	require_strace
	run -125 --separate-stderr on_pidfile ftruncate error=EIO \
		"$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == "daemonize: write pidfile $PF: "* ]]
	assert_gone_then_nothing_left
}

@test "the PID's write cut short: a start exits 125 with one line, no pidfile left" {
	require_strace
	run -125 --separate-stderr on_pidfile pwrite64 retval=1 \
		"$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == "daemonize: write pidfile $PF: "* ]]
	assert_gone_then_nothing_left
}

# The daemon opens its pidfile after the launcher checked the directory:
# held on that open, it finds the directory gone.
@test "the pidfile's directory removed before the daemon opens it: 125 with one line, nothing left" {
	require_strace
	mkdir dir
	PF=$BATS_TEST_TMPDIR/dir/d.pid
	strace -f -b execve -o log -P "$PF" -e trace=open,openat \
		-e inject=open,openat:delay_enter=1000000:when=1 -- \
		"$DAEMONIZE" -p "$PF" sleep 1000 2>err &
	traced=$!
	wait_in_syscall log 'open|openat'
	rmdir dir
	status=0
	wait "$traced" || status=$?
	[ "$status" -eq 125 ]
	[ "$(cat err)" = "daemonize: open pidfile $PF: No such file or directory" ]
	assert_gone_then_nothing_left
}

# The daemon, on TERM, puts a successor's PID in its pidfile first.
@test "--stop leaves a pidfile that names another PID once the daemon is gone" {
	"$DAEMONIZE" -p "$PF" sh -c 'trap "echo 99999999 >\"\$1\"; exit 0" TERM
		while :; do sleep 1; done' sh "$PF"
	pid=$(pid_in "$PF")
	run -0 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "stopped (pid $pid)" ]
	[ -z "$stderr" ]
	[ "$(cat "$PF")" = 99999999 ]
}

@test "--stop that may not remove a stale pidfile exits 0, and says so in one line" {
	require_root
	dir=$(public_dir)
	mkdir "$dir/ro"
	echo 99999999 >"$dir/ro/d.pid"
	chmod 666 "$dir/ro/d.pid"
	chmod 755 "$dir/ro"
	run -0 --separate-stderr as_nobody "$DAEMONIZE" --stop -p "$dir/ro/d.pid"
	[ "$output" = "not running" ]
	[ "$stderr" = "daemonize: remove pidfile $dir/ro/d.pid: Permission denied" ]
	[ "$(cat "$dir/ro/d.pid")" = 99999999 ]
}

@test "a supervisor leaves a pidfile that another file has replaced" {
	"$DAEMONIZE" -n 1 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	echo 99999999 >new
	mv new "$PF"
	kill -TERM "$sup"
	wait_until 5 '! is_alive "$sup"'
	[ "$(cat "$PF")" = 99999999 ]
}

# A stale pidfile, and which fcntl(2) on it is the remover's guard
# (F_SETLK) when --stop removes it: the last, after its look (F_GETLK)
# and what the libc adds (musl's open sets FD_CLOEXEC with one).
stale_pidfile_and_guard_call() {
	echo 99999999 >"$PF"
	strace -o dry -P "$PF" -e trace=fcntl -- "$DAEMONIZE" --stop -p "$PF" >/dev/null
	[ ! -e "$PF" ]
	guard=$(grep -c '^fcntl(' dry)
	echo 99999999 >"$PF"
}

@test "--stop whose guard on a stale pidfile is refused exits 0, says so in one line, and leaves it" {
	require_strace
	stale_pidfile_and_guard_call
	run -0 --separate-stderr on_pidfile fcntl "error=ENOLCK:when=$guard" \
		"$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	[ "$stderr" = "daemonize: remove pidfile $PF: No locks available" ]
	[ "$(cat "$PF")" = 99999999 ]
}

# Held on its guard, --stop finds another file under the pidfile's name.
@test "--stop leaves a pidfile that replaced the stale one while it took its guard" {
	require_strace
	stale_pidfile_and_guard_call
	strace -o log -P "$PF" -e trace=fcntl \
		-e inject=fcntl:delay_enter=1000000:when="$guard" -- \
		"$DAEMONIZE" --stop -p "$PF" >out 2>err &
	traced=$!
	wait_until 5 '[ "$(grep -cs "^fcntl(" log)" -ge "$guard" ]'
	echo 99999998 >new
	mv new "$PF"
	wait "$traced"
	[ "$(cat out)" = "not running" ]
	[ ! -s err ]
	[ "$(cat "$PF")" = 99999998 ]
}

@test "--status that meets a guard held over 5 s exits 4 with one line" {
	echo 99999999 >"$PF"
	hold_guard "$PF" 30
	run -4 --separate-stderr "$DAEMONIZE" --status -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: held by another process for too long" ]
	[ -z "$output" ]
}
