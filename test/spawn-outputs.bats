#!/usr/bin/env bats
# What the child meets between fork and exec: a directory the user may
# not enter, an output that is a block device, and no descriptor left for
# an output or for the copy of standard error that -f -e keeps.

bats_require_minimum_version 1.5.0
load helpers

@test "-u -c a directory the user may not enter exits 125 with one line, starts nothing" {
	require_root
	mkdir -m 700 private
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" -u nobody \
		-c "$BATS_TEST_TMPDIR/private" sleep 1000
	[ "$stderr" = "daemonize: change directory to $BATS_TEST_TMPDIR/private: Permission denied" ]
	assert_nothing_left
}

# A node of our own for the first loop device: opened, never written.
@test "-o a block device exits 125 with one line, starts nothing" {
	require_root
	mknod blk b 7 0
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" -o blk sleep 1000
	[ "$stderr" = "daemonize: open blk: not a regular file, FIFO or character device" ]
	assert_nothing_left
}

# Runs daemonize ARGS with only 0, 1 and 2 open, under `ulimit -n` LIMIT:
# with_limit LIMIT ARGS...
with_limit() {
	bash -c 'for f in /proc/$$/fd/*; do
			f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"
		done
		ulimit -n "$1" && shift && exec "$@"' sh "$1" "$DAEMONIZE" "${@:2}"
}

# The daemon opens -o at 9, the --ready-fd target, and has no room above
# (with no pidfile: its descriptors would move it).
@test "-o that lands on the --ready-fd target with no room above exits 125 with one line" {
	[[ $DAEMONIZE != *-san ]] || skip "ASan needs descriptors of its own"
	run -125 --separate-stderr with_limit 10 -o out -w5 --ready-fd 9 \
		sh -c 'echo >&9; exec sleep 1000'
	# EMFILE, as glibc or musl words it.
	[ "$stderr" = "daemonize: open out: Too many open files" ] ||
		[ "$stderr" = "daemonize: open out: No file descriptors available" ]
	assert_nothing_left
}

# -e takes the last descriptor, and the copy of standard error has none.
@test "-f -e with no descriptor for the copy of standard error exits 125 with one line" {
	[[ $DAEMONIZE != *-san ]] || skip "ASan needs descriptors of its own"
	# A coverage build writes its counts through a descriptor at exit.
	[ -z "${DAEMONIZE_COVERAGE:-}" ] || skip "not in a coverage build"
	run -125 --separate-stderr with_limit 5 -f -e err touch ran
	# EMFILE, as glibc or musl words it.
	[ "$stderr" = "daemonize: duplicate standard error: Too many open files" ] ||
		[ "$stderr" = "daemonize: duplicate standard error: No file descriptors available" ]
	[ ! -e ran ]
}
