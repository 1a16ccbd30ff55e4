#!/usr/bin/env bats
# Each failure: its exit code, its one-line message, and nothing left behind.

bats_require_minimum_version 1.5.0
load helpers

@test "a command not in PATH exits 127 and starts nothing" {
	run -127 --separate-stderr "$DAEMONIZE" -p "$PF" no-such-command-xyz
	[ "$stderr" = "daemonize: find command no-such-command-xyz: not found in PATH" ]
	assert_nothing_left
}

@test "a missing command path exits 127 and starts nothing" {
	run -127 --separate-stderr "$DAEMONIZE" -p "$PF" ./missing
	[ "$stderr" = "daemonize: find command ./missing: No such file or directory" ]
	assert_nothing_left
}

@test "a command that is not executable exits 126 and starts nothing" {
	printf '#!/bin/sh\n' >script
	chmod 0644 script
	run -126 --separate-stderr "$DAEMONIZE" -p "$PF" ./script
	[ "$stderr" = "daemonize: execute ./script: Permission denied" ]
	assert_nothing_left
}

@test "a directory as the command exits 126" {
	mkdir dir
	run -126 --separate-stderr "$DAEMONIZE" -p "$PF" ./dir
	[ "$stderr" = "daemonize: execute ./dir: Is a directory" ]
	assert_nothing_left
}

@test "a script whose interpreter is missing exits 127, no daemon, no pidfile" {
	printf '#!/no/such/interpreter\n' >script
	chmod +x script
	run -127 --separate-stderr "$DAEMONIZE" -p "$PF" ./script
	[ "$stderr" = "daemonize: execute ./script: interpreter not found" ]
	assert_nothing_left
}

@test "a missing working directory exits 125 and starts nothing" {
	run -125 --separate-stderr "$DAEMONIZE" -c /no/such/dir -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: change directory to /no/such/dir: No such file or directory" ]
	assert_nothing_left
}

@test "a working directory that is a file exits 125" {
	touch file
	run -125 --separate-stderr "$DAEMONIZE" -c file -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: change directory to file: Not a directory" ]
	assert_nothing_left
}

@test "an unknown user exits 125 and starts nothing" {
	run -125 --separate-stderr "$DAEMONIZE" -u no-such-user-xyz -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: find user no-such-user-xyz: no such user" ]
	assert_nothing_left
}

@test "an unknown group exits 125 and starts nothing" {
	run -125 --separate-stderr "$DAEMONIZE" -u "$(id -un):no-such-group-xyz" \
		-p "$PF" sleep 1000
	[ "$stderr" = "daemonize: find group no-such-group-xyz: no such group" ]
	assert_nothing_left
}

@test "a pidfile in a missing directory exits 125 and starts nothing" {
	run -125 --separate-stderr "$DAEMONIZE" -p /no/such/dir/d.pid sleep 1000
	[ "$stderr" = "daemonize: open pidfile /no/such/dir/d.pid: No such file or directory" ]
	assert_nothing_left
}

@test "a lockfile in a missing directory exits 125 and starts nothing" {
	run -125 --separate-stderr "$DAEMONIZE" -l /no/such/dir/d.lock sleep 1000
	[ "$stderr" = "daemonize: open lockfile /no/such/dir/d.lock: No such file or directory" ]
	assert_nothing_left
}

@test "an unwritable pidfile exits 125 and starts nothing" {
	dir=$(public_dir)
	chmod 0555 "$dir"
	PF="$dir/d.pid"
	run -125 --separate-stderr as_nobody "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: open pidfile $PF: Permission denied" ]
	assert_nothing_left
}

@test "an output file that cannot be opened exits 125 and removes the pidfile" {
	mkdir out
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" -o out sleep 1000
	[ "$stderr" = "daemonize: open out: Is a directory" ]
	assert_nothing_left
}

@test "a failed start leaves an existing stale pidfile removed, not half-written" {
	echo 99999999 >"$PF"
	printf '#!/no/such/interpreter\n' >script
	chmod +x script
	run -127 "$DAEMONIZE" -p "$PF" ./script
	assert_nothing_left
}

# RLIMIT_NPROC counts every process of the real user: allow a user that
# has none just the launcher and the middle process.  Root is exempt.
@test "a second fork that fails exits 125 with one line and starts nothing" {
	require_root
	uid=$(fresh_uid)
	run -125 --separate-stderr prlimit --nproc=2 -- \
		setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
		"$DAEMONIZE" sleep 1000
	[ "$stderr" = "daemonize: fork daemon: Resource temporarily unavailable" ]
	assert_nothing_left
}

@test "a failure in the foreground exits with its code and removes the pidfile" {
	mkdir out
	run -125 --separate-stderr "$DAEMONIZE" -f -p "$PF" -o out sleep 1000
	[ "$stderr" = "daemonize: open out: Is a directory" ]
	assert_nothing_left
}

@test "errors in the foreground reach the caller's stderr after -e" {
	printf '#!/no/such/interpreter\n' >script
	chmod +x script
	run -127 --separate-stderr "$DAEMONIZE" -f -e err ./script
	[ "$stderr" = "daemonize: execute ./script: interpreter not found" ]
	[ ! -s err ]
}

# A script without #! fails to execute (ENOEXEC) after the daemon has
# changed directory: a relative pidfile must still name the launcher's file.
@test "a failure after -c removes the relative pidfile, not its namesake in -c's directory" {
	mkdir run victim
	echo 99999 >victim/app.pid
	printf 'echo no interpreter line\n' >run/script
	chmod +x run/script
	cd run
	run -126 --separate-stderr "$DAEMONIZE" -c ../victim -p app.pid ./script
	assert_one_line "$stderr"
	[ "$(cat ../victim/app.pid)" = 99999 ]
	[ ! -e app.pid ]
	PF="$BATS_TEST_TMPDIR/run/app.pid"
	assert_nothing_left
}

# The pidfile's directory is root's: the daemon, once nobody, cannot unlink.
@test "a failure after switching user still removes the pidfile" {
	require_root
	dir=$(public_dir)
	mkdir -m 0755 "$dir/run"
	PF="$dir/run/app.pid"
	printf 'echo no interpreter line\n' >"$dir/script"
	chmod 0755 "$dir/script"
	run -126 --separate-stderr "$DAEMONIZE" -u nobody -p "$PF" "$dir/script"
	assert_one_line "$stderr"
	assert_nothing_left
}

# -w cannot bound a daemon blocked for ever opening a FIFO nobody reads.
# Output to files, not to a pipe of bats, which a blocked daemon would hold.
check_unread_fifo() {
	local rc=0
	mkfifo fifo
	timeout 5 "$DAEMONIZE" -p "$PF" "$1" "$BATS_TEST_TMPDIR/fifo" \
		sleep 1000 >out 2>err || rc=$?
	[ "$rc" -eq 125 ]
	assert_one_line "$(cat err)"
	grep -qF "$BATS_TEST_TMPDIR/fifo" err
	assert_nothing_left
}

@test "-o naming a FIFO nobody reads exits 125 at once, naming the FIFO" {
	check_unread_fifo -o
}

@test "-e naming a FIFO nobody reads exits 125 at once, naming the FIFO" {
	check_unread_fifo -e
}

# glibc's daemon(3) checks that /dev/null is the null character device.
@test "a file bound over /dev/null is refused: exit 125, the file untouched" {
	require_mount_namespace
	touch bound
	run --separate-stderr unshare --mount sh -c \
		'mount --bind "$1" /dev/null && exec "$2" -p "$3" sh -c "$4"' \
		sh "$BATS_TEST_TMPDIR/bound" "$DAEMONIZE" "$PF" \
		'echo leak; echo leak >&2; exec sleep 1000'
	[ "$status" -eq 125 ]
	assert_one_line "$stderr"
	[[ $stderr == */dev/null* ]]
	[ ! -s bound ]
	assert_nothing_left
}

# After the switch the process is not dumpable and has no capabilities:
# LeakSanitizer, which works through ptrace, cannot run there at exit.
@test "-f -u: a failure after the switch still removes the pidfile, one line" {
	require_root
	chmod 0700 "$BATS_TEST_TMPDIR"
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		run -125 --separate-stderr "$DAEMONIZE" -f -u nobody -p "$PF" \
		-o out true
	[ "$stderr" = "daemonize: open out: Permission denied" ]
	[ ! -e "$PF" ]
}

@test "a message about a long path keeps its reason at the end" {
	long=/no/such/$(printf 'd%.0s' $(seq 1500))
	run -125 --separate-stderr "$DAEMONIZE" -c "$long" -p "$PF" sleep 1000
	is_one_line "$stderr"
	[[ $stderr == *"...: No such file or directory" ]]
}

@test "-o naming a socket is refused with the system's reason, not as a FIFO" {
	perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => "sock",
		Listen => 1) or die "socket: $!"'
	[ -S sock ]
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" -o sock sleep 1000
	[ "$stderr" = "daemonize: open sock: No such device or address" ]
	assert_nothing_left
}

# /dev/fd/N in the daemon may name the status pipe: an output there would
# keep the launcher waiting for the command to exit.
@test "-o naming a descriptor of daemonize's own never keeps the launcher waiting" {
	for n in 3 4 5 6 7 8 9; do
		run --separate-stderr timeout 5 "$DAEMONIZE" -p "$PF" \
			-o "/dev/fd/$n" sh -c 'echo hi; exec sleep 1000'
		echo "/dev/fd/$n: exit $status, said: $stderr"
		[ "$status" -ne 124 ]
		kill_test_processes
		rm -f "$PF"
	done
}
