# Shared by the log relay's tests (-S, -t, -T, -H): load relay-helpers,
# after load helpers.
# shellcheck shell=bash

# The stamp -T puts before a line, less its space:
# 2026-11-30T03:48:27.123+01:00.
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'

# A supervisor's event line, as it writes them to the -e file.
EVENT="$TS daemonize\\[[0-9]+\\]: "

# A supervisor forks its workers again after a kill: stop them all first.
teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# Milliseconds since the epoch.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# Writes standard input to the executable script NAME in the test's directory.
script() {
	cat >"$BATS_TEST_TMPDIR/$1" && chmod +x "$BATS_TEST_TMPDIR/$1"
}

# The number of lines in FILE, 0 if there is no FILE.
lines_in() {
	if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# The size of FILE in bytes, 0 if there is no FILE.
size_of() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# FILE less the -T stamp at the head of each line; fails at the first line
# that has none, and prints that line as it is.
unstamped() {
	sed -E "s/^$TS //; t; Q1" "$1"
}

# FILE less the supervisor's event lines.
without_events() {
	grep -Ev "^$EVENT" "$1" || true
}

# The one live child of SUP, once it has exactly one; fails otherwise.
only_child() {
	local c
	if ! wait_until 5 "c=\$(children_of $1); [[ \$c =~ ^[0-9]+\$ ]]"; then
		echo "supervisor $1 has not one child: $(children_of "$1")" >&2
		return 1
	fi
	printf '%s\n' "$c"
}

# True if PID has FILE open, by device and inode (FILE's name may change).
holds_file() {
	local want f
	want=$(stat -c '%d %i' "$2" 2>/dev/null) || return 1
	for f in "/proc/$1/fd"/*; do
		[ "$(stat -L -c '%d %i' "$f" 2>/dev/null)" = "$want" ] && return 0
	done
	return 1
}

# The descriptor of PID whose link reads LINK (pipe:[123]); fails if none.
fd_linked() {
	local f
	for f in "/proc/$1/fd"/*; do
		if [ "$(readlink "$f" 2>/dev/null)" = "$2" ]; then
			printf '%s\n' "${f##*/}"
			return 0
		fi
	done
	return 1
}

# The descriptor of PID open on FILE (by device and inode); fails if none.
fd_of_file() {
	local want f
	want=$(stat -c '%d %i' "$2") || return 1
	for f in "/proc/$1/fd"/*; do
		if [ "$(stat -L -c '%d %i' "$f" 2>/dev/null)" = "$want" ]; then
			printf '%s\n' "${f##*/}"
			return 0
		fi
	done
	return 1
}

# The open flags of descriptor FD of PID, in octal, from fdinfo.
fd_flags() {
	sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/$2"
}

# Runs daemonize -f with ARGS and a command that records the program of
# its parent in ./parent-exe: with a relay, daemonize itself (the
# supervisor); without, whatever ran daemonize, which executed the command.
# Sets $status as `run` does.
run_relayed_true() {
	run "$DAEMONIZE" -f "$@" sh -c 'readlink "/proc/$PPID/exe" >"$0"' \
		"$BATS_TEST_TMPDIR/parent-exe"
}

# True if the last run_relayed_true ran its command under daemonize.
was_relayed() {
	[ "$(cat "$BATS_TEST_TMPDIR/parent-exe")" = "$(readlink -f "$DAEMONIZE")" ]
}

# True if TEXT names WORD as a word of its own, not inside another
# ("daemon", not the "daemonize" of the message's head).
has_word() {
	[[ $1 =~ (^|[^[:alnum:]_])$2([^[:alnum:]_]|$) ]]
}
