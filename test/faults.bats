#!/usr/bin/env bats
# Fault injection (issue 10): the pidfile on a full or read-only file
# system, or not a regular file; too few descriptors; closed standard
# streams; no /dev/null; no fork.  Each: one line and its code, or a daemon
# with its pidfile; never a daemon without it, never a leftover.

bats_require_minimum_version 1.5.0
load helpers

# After a failed start: every process this test started is gone (a dying
# middle process may take a moment), then assert_nothing_left.
assert_all_gone() {
	wait_until 2 '[ -z "$(tagged_procs)" ]' || true
	assert_nothing_left
}

# --- the pidfile is not a regular file ---

@test "a pidfile that is a directory exits 125 with one line, the directory untouched" {
	mkdir "$PF"
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == *"$PF"* ]]
	[ -d "$PF" ] && [ ! -L "$PF" ]
	[ -z "$(ls -A "$PF")" ]
	[ -z "$(tagged_procs)" ]
}

@test "a pidfile that is a FIFO exits 125 at once with one line, the FIFO untouched" {
	mkfifo "$PF"
	run -125 --separate-stderr timeout 5 "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == *"$PF"* ]]
	[ -p "$PF" ]
	[ -z "$(tagged_procs)" ]
}

@test "a pidfile that is a dangling symbolic link exits 125, creating nothing at its target" {
	ln -s target "$PF"
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == *"$PF"* ]]
	[ -L "$PF" ] && [ "$(readlink "$PF")" = target ]
	[ ! -e target ] && [ ! -L target ]
	[ -z "$(tagged_procs)" ]
}

@test "/dev/full as the pidfile exits 125 with one line, /dev/full still a device" {
	run -125 --separate-stderr "$DAEMONIZE" -p /dev/full sleep 1000
	assert_one_line "$stderr"
	[[ $stderr == */dev/full* ]]
	[ -c /dev/full ]
	[ "$(stat -c %t:%T /dev/full)" = 1:7 ]
	[ -z "$(tagged_procs)" ]
}

# --- the pidfile's file system full or read-only ---

# Runs daemonize -p fs/d.pid ARGS in a mount namespace of its own, with a
# tiny tmpfs on fs prepared by the shell commands PREP; daemonize's stderr
# goes to err, and what fs holds afterwards (ls -A, then d.pid's bytes) to
# after, since fs is only mounted inside the namespace.
on_small_tmpfs() {
	local prep=$1
	shift
	mkdir -p fs
	unshare --mount sh -c '
		mount -t tmpfs -o "$1" tmpfs fs || exit 99
		eval "$2" || exit 98
		shift 2
		rc=0
		"$@" 2>err || rc=$?
		{ ls -A fs; echo --; cat fs/d.pid 2>/dev/null; } >after
		exit "$rc"' sh "${TMPFS_OPTS:-size=4k}" "$prep" \
		"$DAEMONIZE" -p fs/d.pid "$@"
}

@test "a pidfile on a full file system exits 125 with one line, no pidfile left" {
	require_mount_namespace
	run -125 on_small_tmpfs 'head -c 65536 /dev/zero >fs/fill 2>/dev/null; [ -s fs/fill ]' \
		sleep 1000
	assert_one_line "$(cat err)"
	grep -qF d.pid err
	[ "$(cat after)" = "$(printf 'fill\n--')" ]
	assert_all_gone
}

@test "a pidfile on a file system out of inodes exits 125 with one line, nothing left" {
	require_mount_namespace
	TMPFS_OPTS=size=64k,nr_inodes=2 run -125 on_small_tmpfs \
		'i=0; while touch fs/f$i 2>/dev/null; do i=$((i + 1)); done; [ -e fs/f0 ]' \
		sleep 1000
	assert_one_line "$(cat err)"
	grep -qF d.pid err
	[ "$(grep -c '^d\.pid$' after)" -eq 0 ]
	assert_all_gone
}

@test "a pidfile on a read-only file system exits 125 with one line, nothing left" {
	require_mount_namespace
	run -125 on_small_tmpfs 'mount -o remount,ro fs' sleep 1000
	assert_one_line "$(cat err)"
	grep -qF d.pid err
	[ "$(cat after)" = -- ]
	assert_all_gone
}

@test "a stale pidfile on a read-only file system exits 125 and is left as it was" {
	require_mount_namespace
	run -125 on_small_tmpfs 'echo 99999999 >fs/d.pid && mount -o remount,ro fs' \
		sleep 1000
	assert_one_line "$(cat err)"
	grep -qF d.pid err
	[ "$(cat after)" = "$(printf 'd.pid\n--\n99999999')" ]
	assert_all_gone
}

# --- too few descriptors ---

# Starts daemonize -p "$PF" ARGS with only 0, 1 and 2 open and `ulimit -n`
# at each of 3 to 12: it
# exits 0 with its daemon alive and named by the pidfile, or fails with
# one line and 125 leaving nothing; with 3 the dynamic loader itself may
# fail to open libc (127, its own line), before any of daemonize's code.
check_emfile() {
	local n pid
	# ASan's runtime (its leak checker) needs descriptors of its own, and
	# so does a coverage build, to write its counts at exit.
	[[ $DAEMONIZE != *-san ]] || skip "not under ASan"
	[ -z "${DAEMONIZE_COVERAGE:-}" ] || skip "not in a coverage build"
	for n in 3 4 5 6 7 8 9 10 11 12; do
		status=0
		bash -c 'fds=(/proc/$$/fd/*)
			for f in "${fds[@]}"; do
				f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"
			done
			ulimit -n "$1" && shift && exec "$@"' \
			sh "$n" "$DAEMONIZE" -p "$PF" "$@" 2>err || status=$?
		stderr=$(cat err)
		echo "ulimit -n $n: exit $status, said: $stderr"
		case $status in
		0)
			[ -z "$stderr" ]
			pid=$(pid_in "$PF")
			is_alive "$pid"
			tagged "$pid"
			stop_then_kill_test_processes
			wait_until 2 "! is_alive $pid"
			rm -f "$PF"
			;;
		125)
			assert_one_line "$stderr"
			assert_all_gone
			;;
		127)
			[ "$n" -eq 3 ]
			[[ $stderr == *"error while loading shared libraries"* ]]
			assert_one_line "$stderr"
			assert_all_gone
			;;
		*)
			return 1
			;;
		esac
	done
}

@test "ulimit -n 3 to 12: a daemon with its pidfile, or 125, one line and nothing left" {
	check_emfile sleep 1000
}

@test "ulimit -n 3 to 12 with -o: a daemon with its pidfile, or 125, one line and nothing left" {
	check_emfile -o out sleep 1000
}

@test "ulimit -n 3 to 12 with -w: a daemon with its pidfile, or 125, one line and nothing left" {
	check_emfile -w5 sh -c '"$1" --notify; exec sleep 1000' sh "$DAEMONIZE"
}

@test "ulimit -n 3 to 12 with -r: a supervisor with its pidfile, or 125, one line and nothing left" {
	check_emfile -r sleep 1000
}

@test "ulimit -n 3 to 12 with -n 2: a supervisor with its pidfile, or 125, one line and nothing left" {
	check_emfile -n 2 sleep 1000
}

@test "ulimit -n 3 to 12 with -T -H -o -e: a daemon with its pidfile, or 125, one line and nothing left" {
	check_emfile -T -H -o out -e out sleep 1000
}

@test "ulimit -n 3 to 12 with -S: a daemon with its pidfile, or 125, one line and nothing left" {
	check_emfile -S sleep 1000
}

# --- standard streams closed ---

# Runs daemonize with the redirections REDIRS applied first: with_closed
# '0<&- 2>&-' ARGS...
with_closed() {
	local redirs=$1
	shift
	bash -c "exec $redirs; exec \"\$@\"" sh "$@"
}

# Starts a daemon with REDIRS closing some of daemonize's 0, 1 and 2: it
# starts, its pidfile holds its PID and a newline, and its 0 to 2 are
# /dev/null.
check_closed_start() {
	local pid fd
	run -0 with_closed "$1" "$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$(cat "$PF")" = "$pid" ] && [ "$(wc -c <"$PF")" -eq $((${#pid} + 1)) ]
	wait_exec "$pid" sleep
	tagged "$pid"
	for fd in 0 1 2; do
		echo "fd $fd: $(readlink "/proc/$pid/fd/$fd")"
		[ "$(readlink "/proc/$pid/fd/$fd")" = /dev/null ]
		[ "$(stat -Lc %t:%T "/proc/$pid/fd/$fd")" = 1:3 ]
	done
}

@test "stdin closed at the start: the daemon runs, its pidfile right, its 0 to 2 /dev/null" {
	check_closed_start '0<&-'
}

@test "stdout closed at the start: the daemon runs, its pidfile right, its 0 to 2 /dev/null" {
	check_closed_start '1>&-'
}

@test "stderr closed at the start: the daemon runs, its pidfile right, its 0 to 2 /dev/null" {
	check_closed_start '2>&-'
}

@test "0, 1 and 2 all closed at the start: the daemon runs, its pidfile right, its 0 to 2 /dev/null" {
	check_closed_start '0<&- 1>&- 2>&-'
}

@test "0, 1 and 2 all closed, with -o and -e: the command's output reaches the file, not the pidfile" {
	run -0 with_closed '0<&- 1>&- 2>&-' "$DAEMONIZE" -p "$PF" -o out -e out \
		sh -c 'echo out; echo err >&2; exec sleep 1000'
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
	[ "$(cat "$PF")" = "$pid" ]
	[ "$(cat out)" = "$(printf 'out\nerr')" ]
	[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$pid/fd/1")" = "$BATS_TEST_TMPDIR/out" ]
	[ "$(readlink "/proc/$pid/fd/2")" = "$BATS_TEST_TMPDIR/out" ]
}

# A descriptor opened while 2 is closed may land on 2: the message of a
# failure must not be written into the pidfile or the lock file.
@test "0, 1 and 2 all closed, a failure exits 125, writing nothing into the lock file, nothing left" {
	mkdir odir
	echo 1234 >lock
	run -125 with_closed '0<&- 1>&- 2>&-' "$DAEMONIZE" -l lock -p "$PF" -o odir sleep 1000
	[ "$(cat lock)" = 1234 ]
	assert_all_gone
}

# --- no /dev/null ---

# Runs daemonize ARGS in a mount namespace whose /dev is an empty tmpfs;
# its stderr goes to err (a file outside /dev).
without_dev_null() {
	unshare --mount sh -c 'mount -t tmpfs -o size=16k tmpfs /dev || exit 99
		[ ! -e /dev/null ] || exit 98
		exec "$@" 2>err' sh "$@"
}

@test "no /dev/null exits 125 with one line naming it, nothing left" {
	require_mount_namespace
	run -125 without_dev_null "$DAEMONIZE" -p "$PF" sleep 1000
	assert_one_clean_line err
	grep -qF /dev/null err
	assert_all_gone
}

@test "no /dev/null with -o and -e exits 125 with one line, nothing left" {
	require_mount_namespace
	run -125 without_dev_null "$DAEMONIZE" -p "$PF" -o out -e out sleep 1000
	assert_one_clean_line err
	grep -qF /dev/null err
	[ ! -s out ]
	assert_all_gone
}

@test "no /dev/null with -r exits 125 with one line, nothing left" {
	require_mount_namespace
	run -125 without_dev_null "$DAEMONIZE" -r -p "$PF" sleep 1000
	assert_one_clean_line err
	grep -qF /dev/null err
	assert_all_gone
}

@test "no /dev/null and 0 to 2 closed: still exit 125, nothing left" {
	require_mount_namespace
	run -125 unshare --mount sh -c 'mount -t tmpfs -o size=16k tmpfs /dev || exit 99
		exec "$@" 0<&- 1>&- 2>&-' sh "$DAEMONIZE" -p "$PF" sleep 1000
	assert_all_gone
}

# --- fork failing ---

# Runs daemonize ARGS as a fresh user allowed N processes, itself included,
# in a public directory whose pidfile is d.pid; killed after 6 s.
# with_nproc N ARGS...
with_nproc() {
	local n=$1 uid
	shift
	uid=$(fresh_uid)
	timeout -s KILL 6 prlimit --nproc="$n" -- \
		setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
		"$DAEMONIZE" "$@"
}

# With N allowed, daemonize ARGS fails with exit 125, one line, and leaves
# no pidfile, no workers file, nothing running.
check_nproc() {
	local n=$1 dir
	shift
	require_root
	dir=$(public_dir)
	PF="$dir/d.pid"
	# LeakSanitizer stops the world with a thread of its own at exit:
	# under the same process limit, it could not.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		run -125 --separate-stderr with_nproc "$n" -p "$PF" "$@"
	assert_one_line "$stderr"
	[ ! -e "$PF.workers" ]
	[ -z "$(ls -A "$dir")" ]
	assert_all_gone
}

@test "the first fork failing (RLIMIT_NPROC) exits 125 with one line, no pidfile, nothing left" {
	check_nproc 1 sleep 1000
}

@test "-r: the first fork failing exits 125 with one line, no pidfile, nothing left" {
	check_nproc 1 -r sleep 1000
}

@test "-r: the supervisor's fork failing exits 125 with one line, no pidfile, nothing left" {
	check_nproc 2 -r sleep 1000
}

# The launcher blocks SIGTERM and SIGINT while it waits (it takes them
# through a signalfd): a hang here cannot be stopped but by SIGKILL.
@test "-w: the first fork failing exits 125 at once with one line, nothing left" {
	check_nproc 1 -w2 sh -c '"$1" --notify; exec sleep 1000' sh "$DAEMONIZE"
}

@test "-w: the second fork failing exits 125 with one line, nothing left" {
	check_nproc 2 -w2 sh -c '"$1" --notify; exec sleep 1000' sh "$DAEMONIZE"
}

@test "-S: the second fork failing exits 125 with one line, nothing left" {
	check_nproc 2 -S sleep 1000
}
