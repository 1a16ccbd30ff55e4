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
