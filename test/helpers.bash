# Shared by every test file: load helpers
# shellcheck shell=bash

DAEMONIZE=${DAEMONIZE:-"$BATS_TEST_DIRNAME/../daemonize"}

# The builds forced onto a fallback (make's TESTBINS: daemonize-no-pidfd,
# daemonize-close-proc, daemonize-close-loop) sit next to $DAEMONIZE, so
# that each suite (gcc, clang, static, coverage) runs its own.
testbin() {
	printf '%s/%s\n' "$(dirname "$DAEMONIZE")" "$1"
}

# Each test runs in its own directory, and tags every process it starts
# through the environment, so teardown can find them in /proc by PID.
setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	export DAEMONIZE_TEST_TAG="$BATS_TEST_TMPDIR"
	# shellcheck disable=SC2034 # the tests' pidfile
	PF="$BATS_TEST_TMPDIR/d.pid"
}

teardown() {
	kill_test_processes
	remove_public_dirs
}

# A coverage build writes its counts when a process exits, not when it is
# killed: there (DAEMONIZE_COVERAGE=1), each tagged process gets TERM and
# CONT first, and the coverage build's processes up to 2 s to exit, so
# that what a test ran in a daemon it left running is counted.
let_daemons_exit() {
	local pid pids
	[ -n "${DAEMONIZE_COVERAGE:-}" ] || return 0
	pids=$(tagged_pids | grep -vx "$BASHPID") || true
	for pid in $pids; do
		kill -TERM "$pid" 2>/dev/null
		kill -CONT "$pid" 2>/dev/null
	done
	wait_until 2 "none_alive $(coverage_builds $pids)" || true
	return 0
}

# Those of the PIDs that run a program of $DAEMONIZE's directory.
coverage_builds() {
	local pid
	for pid; do
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "${DAEMONIZE%/*}"/* ]] &&
			echo "$pid"
	done
	return 0
}

# True if none of the PIDs runs.
none_alive() {
	local pid
	for pid; do
		is_alive "$pid" && return 1
	done
	return 0
}

# Kills, by PID, every process whose environment carries this test's tag:
# the daemons it started, whether or not they wrote a pidfile.
kill_test_processes() {
	local pid
	let_daemons_exit
	for pid in $(tagged_pids); do
		[ "$pid" = "$BASHPID" ] && continue
		kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# The PIDs whose environment carries this test's tag, one a line: one grep
# over every environ in /proc (a program per process would take seconds),
# run without the tag itself.  A shell's export does not change its own
# /proc/PID/environ, so neither the test's shell nor a subshell is listed.
tagged_pids() {
	local f
	env -u DAEMONIZE_TEST_TAG grep -lzsxF \
		"DAEMONIZE_TEST_TAG=$BATS_TEST_TMPDIR" /proc/[0-9]*/environ |
		while read -r f; do
			f=${f#/proc/}
			printf '%s\n' "${f%/environ}"
		done
}

# A stopped process of this test, if any.
stopped_proc() {
	local pid
	for pid in $(tagged_pids); do
		if [ "$(proc_state "$pid")" = T ]; then
			printf '%s\n' "$pid"
			return 0
		fi
	done
}

# True if PID carries this test's tag in the environment it was started with.
tagged() {
	local -a env
	local e
	{ mapfile -d '' -t env <"/proc/$1/environ"; } 2>/dev/null || return 1
	for e in "${env[@]}"; do
		[ "$e" = "DAEMONIZE_TEST_TAG=$BATS_TEST_TMPDIR" ] && return 0
	done
	return 1
}

# The process state letter of PID (R, S, Z, ...), empty when gone.
proc_state() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
	stat=${stat##*) }
	printf '%s\n' "${stat%% *}"
}

# True if PID exists and is not a zombie (PID 1 reaps orphans late here).
is_alive() {
	local s
	s=$(proc_state "$1")
	[ -n "$s" ] && [ "$s" != Z ]
}

# Field N of /proc/PID/stat, numbered as in proc(5) (3 is the state).
stat_field() {
	local stat fields
	stat=$(cat "/proc/$1/stat") || return 1
	read -ra fields <<<"${stat##*) }"
	printf '%s\n' "${fields[$2 - 3]}"
}

# The command line of PID, with a space after each argument.
cmdline_of() {
	tr '\0' ' ' <"/proc/$1/cmdline"
}

# The value of a field of /proc/PID/status, e.g. status_field 42 SigIgn.
status_field() {
	sed -n "s/^$2:[[:space:]]*//; T; s/[[:space:]]*\$//; p" "/proc/$1/status"
}

# The descriptors PID has open, sorted, on one line.
open_fds() {
	local f
	for f in "/proc/$1/fd"/*; do
		printf '%s\n' "${f##*/}"
	done | sort -n | paste -sd ' '
}

# The PID in a pidfile.
pid_in() {
	local pid
	read -r pid <"$1" && printf '%s\n' "$pid"
}

# Polls until the shell condition COND holds, or SECS pass and it fails:
# wait_until 2 '[ -s out ]'.  COND is evaluated anew each time.
wait_until() {
	local deadline=$((${EPOCHREALTIME/[.,]/} + $1 * 1000000))
	until eval "$2"; do
		((${EPOCHREALTIME/[.,]/} < deadline)) || return 1
		sleep 0.02
	done
}

# Waits until PID runs the program COMMAND names in PATH.
wait_exec() {
	local exe
	exe=$(readlink -f "$(command -v "$2")")
	wait_until 5 "[ \"\$(readlink /proc/$1/exe)\" = '$exe' ]"
}

# Skips the test for want of what REASON names; but CI runs as root and
# must run every test, so there (CI=true, root) it fails the test instead.
# Without root, root-only tests still skip, in CI too.
skip_unless_ci() {
	if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
		echo "CI=true as root: this test must run, but $1" >&2
		return 1
	fi
	skip "$1"
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# Skips unless COMMAND is installed (fails instead in CI as root).
require_command() {
	command -v "$1" >/dev/null || skip_unless_ci "$1 is not installed"
}

# Skips unless this test may run a command in a new PID namespace.
require_pid_namespace() {
	require_root
	unshare --pid --fork --mount-proc true 2>/dev/null ||
		skip_unless_ci "cannot create a PID namespace here"
}

# Runs CMD in a new PID namespace: a process outside it has no PID there,
# and F_GETLK reports such a lock holder as PID 0.
in_new_pid_namespace() {
	unshare --pid --fork --mount-proc "$@"
}

# strace, for every test: LeakSanitizer cannot work under ptrace, and in
# the ASan build (make sanitize) it would abort a traced daemonize at exit.
strace() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 command strace "$@"
}

# strace ARGS, killed after SECS: timed_strace SECS ARGS...
timed_strace() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout "$1" strace "${@:2}"
}

# Blocks SIGUSR1 and SIGTERM and ignores SIGHUP and SIGPIPE, then runs CMD,
# as a careless caller (a script, a supervisor) might.
with_signals_disturbed() {
	perl -MPOSIX -e '
		sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1, SIGTERM))
			or die "sigprocmask: $!";
		$SIG{HUP} = $SIG{PIPE} = "IGNORE";
		exec { $ARGV[0] } @ARGV or die "exec: $!";
	' -- "$@"
}

# A directory anyone may write in, as /tmp, removed by teardown; its path
# on stdout.  The test's own directory is private to root under bats.
public_dir() {
	local dir
	dir=$(mktemp -d /tmp/daemonize-test.XXXXXX) || return 1
	chmod 1777 "$dir"
	printf '%s\n' "$dir" >>"$BATS_TEST_TMPDIR/.public-dirs"
	printf '%s\n' "$dir"
}

remove_public_dirs() {
	local dir
	[ -f "$BATS_TEST_TMPDIR/.public-dirs" ] || return 0
	while read -r dir; do
		rm -rf -- "$dir"
	done <"$BATS_TEST_TMPDIR/.public-dirs"
}

# A user ID no process has: RLIMIT_NPROC counts every process of the real
# user, zombies too (PID 1 here reaps late), so nobody's count would drift,
# and another suite run at once may start and end processes as nobody.
fresh_uid() {
	local uid
	while :; do
		uid=$((3000000 + RANDOM * 32 + RANDOM % 32))
		[ -z "$(ps -o pid= -u "$uid")" ] && break
	done
	printf '%s\n' "$uid"
}

# Runs CMD as nobody when root; as the current user otherwise.
as_nobody() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
	else
		"$@"
	fi
}

# Live processes carrying this test's tag, one PID per line.  A program
# reading this through a pipe carries the tag too, and is listed: read it
# into a variable first.
tagged_procs() {
	local pid
	for pid in $(tagged_pids); do
		is_alive "$pid" && printf '%s\n' "$pid"
	done
	return 0
}

# After a failed start: no process of this test left, and no pidfile.
assert_nothing_left() {
	local left
	left=$(tagged_procs)
	if [ -n "$left" ]; then
		echo "left running: $left" >&2
		return 1
	fi
	if [ -e "$PF" ]; then
		echo "pidfile left: $PF" >&2
		return 1
	fi
}

# --- control-side helpers ---

# True if TEXT is exactly one non-empty line (`run` strips the last newline).
is_one_line() {
	[ -n "$1" ] && [[ $1 != *$'\n'* ]]
}

# Skips without strace; in CI (CI=true) a missing strace is a failure,
# so that the tests that force races with it cannot quietly vanish.
require_strace() {
	command -v strace >/dev/null && return 0
	if [ "${CI:-}" = true ]; then
		echo "strace is not installed" >&2
		return 1
	fi
	skip "needs strace"
}

# Runs CMD in the background under strace, which holds it stopped for SECS
# seconds on entry to each of the system calls in the comma-separated list
# SYSCALLS; strace's log of those calls goes to LOG.  The PID of strace is
# left in $traced (the exit status of strace is that of CMD).
# delay_on SYSCALLS SECS LOG CMD...
delay_on() {
	local calls=$1 usecs=$(($2 * 1000000)) log=$3
	shift 3
	strace -f -o "$log" -e trace="$calls" \
		-e inject="$calls":delay_enter="$usecs" -- "$@" &
	# shellcheck disable=SC2034 # the caller's
	traced=$!
}

# Waits until the strace LOG shows its tracee inside one of the system
# calls in the extended regex CALLS: strace logs a call's name and
# arguments on entry, before it delays it.  A process strace attaches to
# (-p) runs on untraced for a while after TracerPid shows; trace
# restart_syscall and wait for it, the call it was blocked in, to know
# that its calls are traced from then on.
wait_in_syscall() {
	wait_until 5 "grep -Eqs '(^|[[:space:]])($2)\\(' '$1'" || {
		echo "never entered $2; strace log:" >&2
		cat "$1" >&2
		return 1
	}
}

# --- launch-side helpers ---

# Skips unless this test may bind-mount in a mount namespace of its own.
require_mount_namespace() {
	require_root
	unshare --mount mount --bind /dev/null /dev/null 2>/dev/null ||
		skip "cannot create a mount namespace here"
}

# TEXT is one line, not empty: what a failure prints.
assert_one_line() {
	if [ -z "$1" ] || [[ $1 == *$'\n'* ]]; then
		printf 'not one line: %q\n' "$1" >&2
		return 1
	fi
}

# FILE holds one line of printable characters and its newline, nothing more.
assert_one_clean_line() {
	local lines others
	lines=$(wc -l <"$1")
	others=$(LC_ALL=C tr -d '[:print:]\n' <"$1" | wc -c)
	if [ "$lines" -ne 1 ] || [ "$others" -ne 0 ] ||
		[ "$(tail -c 1 "$1" | od -An -tx1)" != " 0a" ]; then
		echo "not one clean line:" >&2
		od -c "$1" >&2
		return 1
	fi
}

# As assert_nothing_left, after giving each PID up to 2 s to be gone: a
# killed process takes a moment to exit.  (Scanning /proc at each poll
# would take far longer than the deadline.)
assert_gone_then_nothing_left() {
	local pid
	for pid; do
		if ! wait_until 2 "! is_alive $pid"; then
			echo "left running: $pid" >&2
			return 1
		fi
	done
	assert_nothing_left
}

# True if signal SIG (a number) is pending for PID, or PID is gone.
signal_pending_or_gone() {
	local pending
	is_alive "$1" || return 0
	pending=$(status_field "$1" ShdPnd) || return 0
	(((0x$pending >> ($2 - 1)) & 1))
}

# Holds a remover's guard, a write lock on the first byte only, on FILE
# for SECS seconds, in the background (tagged, so teardown kills it);
# returns once it is held.  struct flock as on 64-bit Linux.
hold_guard() {
	perl -MFcntl -e 'open(F, "+<", $ARGV[0]) or die "open: $!";
		my $fl = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 1, 0);
		fcntl(F, F_SETLK, $fl) or die "lock: $!";
		open(M, ">", "$ARGV[0].held") and close(M);
		sleep $ARGV[1]' "$1" "$2" >/dev/null 2>&1 3>&- &
	wait_until 5 "[ -e '$1.held' ]"
}

# A supervisor forks its workers again after a kill: stop every tagged
# process first, so none can replace one that is killed, then kill them
# all; kill_test_processes takes what a fork under way had not yet shown.
stop_then_kill_test_processes() {
	local pid pids
	let_daemons_exit
	pids=$(tagged_pids)
	for pid in $pids; do
		[ "$pid" = "$BASHPID" ] || kill -STOP "$pid" 2>/dev/null
	done
	for pid in $pids; do
		[ "$pid" = "$BASHPID" ] || kill -KILL "$pid" 2>/dev/null
	done
	kill_test_processes
}

# The live children of PID, one a line (zombies are not listed).
children_of() {
	local f c
	for f in /proc/"$1"/task/*/children; do
		for c in $(cat "$f" 2>/dev/null); do
			is_alive "$c" && printf '%s\n' "$c"
		done
	done
	return 0
}

# The test build stops a start (sleep 1000, pidfile $PF) between its
# failed try at the lock and its question who holds it; the daemon that
# held it is killed, SECS pass, and the start goes on: it must succeed,
# its daemon ($paused) named in the pidfile.
# start_with_holder_gone SECS
start_with_holder_gone() {
	local first launcher rc=0
	"$DAEMONIZE" -p "$PF" sleep 1000
	first=$(pid_in "$PF")
	DAEMONIZE_TEST_PAUSE=lock-busy "$(testbin daemonize-hooks)" \
		-p "$PF" sleep 1000 2>err 3>&- &
	launcher=$!
	wait_until 5 '[ -n "$(stopped_proc)" ]'
	paused=$(stopped_proc)
	kill -KILL "$first"
	wait_until 5 "! is_alive $first"
	sleep "$1"
	kill -CONT "$paused"
	wait "$launcher" || rc=$?
	cat err >&2
	[ "$rc" -eq 0 ]
	[ "$(pid_in "$PF")" = "$paused" ]
}
