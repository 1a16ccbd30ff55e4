#!/usr/bin/env bats
# The supervisor's set-up failing, each way it can: the start exits with
# one line, and leaves nothing running and no pidfile.  The test build
# stops the daemon once it holds its pidfile, before the supervisor sets
# up; the test then takes something away (memory, a directory) or has
# strace make a system call fail, and lets it go on.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# The test build with ARGS, stopped before its supervisor sets up: $sup
# that process, $launcher the launcher, which waits for it and writes
# its standard error to launcher.err.
start_paused() {
	DAEMONIZE_TEST_PAUSE=daemon-locked "$(testbin daemonize-hooks)" \
		-p "$PF" "$@" 2>launcher.err &
	launcher=$!
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(proc_state "$sup")" = T ]'
}

# Lets the supervisor go on under strace, which makes the system calls
# of INJECT fail as strace's -e inject= says; its log in strace.log.
continue_under_strace() {
	strace -o strace.log -e inject="$1" -p "$sup" 2>/dev/null &
	tracer=$!
	wait_until 5 '[ "$(status_field "$sup" TracerPid)" != 0 ]'
	kill -CONT "$sup"
}

# Lets the supervisor go on with no memory more than it has: a data limit
# (RLIMIT_DATA: the heap and private mappings) at its present size.
continue_without_memory() {
	local kb
	kb=$(status_field "$sup" VmData)
	prlimit --pid "$sup" --data=$((${kb% kB} * 1024))
	kill -CONT "$sup"
}

# The launcher exits STATUS with one line, "daemonize: " and the glob
# pattern LINE, and nothing is left.
start_fails_with() {
	local rc=0
	wait "$launcher" || rc=$?
	[ -z "${tracer:-}" ] || wait "$tracer" || true
	echo "status $rc: $(cat launcher.err)"
	[ "$rc" -eq "$1" ]
	assert_one_line "$(cat launcher.err)"
	# shellcheck disable=SC2053 # a pattern
	[[ $(cat launcher.err) == "daemonize: "$2 ]]
	assert_gone_then_nothing_left "$sup"
}

@test "-n 1024 with no memory for the workers' tables exits 125 with one line, nothing left" {
	start_paused -n 1024 sleep 1000
	continue_without_memory
	start_fails_with 125 "allocate memory: *"
}

@test "-T with no memory for the relay's buffers exits 125 with one line, nothing left" {
	start_paused -T -o out sleep 1000
	continue_without_memory
	start_fails_with 125 "allocate memory: *"
	[ ! -s out ]
}

@test "a supervisor that cannot become a subreaper exits 125 with one line, nothing left" {
	require_strace
	start_paused -r sleep 1000
	continue_under_strace prctl:error=EPERM
	start_fails_with 125 "become subreaper: Operation not permitted"
}

# Every sigprocmask fails: the C library's own, after the stop, too.
@test "a supervisor that cannot block its signals exits 125 with one line, nothing left" {
	require_strace
	start_paused -r sleep 1000
	continue_under_strace rt_sigprocmask:error=EINVAL:when=1+
	start_fails_with 125 "block signals: Invalid argument"
}

@test "a supervisor that cannot create its signalfd exits 125 with one line, nothing left" {
	require_strace
	start_paused -r sleep 1000
	continue_under_strace signalfd4,signalfd:error=ENFILE
	start_fails_with 125 "create signalfd: Too many open files in system"
}

@test "-o whose directory is removed as the supervisor starts exits 125 with one line naming it, nothing left" {
	mkdir logs
	start_paused -r -o "$PWD/logs/out" sleep 1000
	rm -r logs
	kill -CONT "$sup"
	start_fails_with 125 "open $PWD/logs/out: No such file or directory"
}

# -H opens -o and -e again from the directory the daemon was started in,
# which it keeps open from the start.
@test "-H started in a directory its user cannot search exits 125 with one line, nothing left" {
	require_root
	pub=$(public_dir)
	mkdir -m 700 private
	PF=$pub/d.pid
	cd private
	run -125 --separate-stderr as_nobody "$DAEMONIZE" -H -o "$pub/out" \
		-p "$PF" sleep 1000
	[ "$stderr" = "daemonize: open the working directory: Permission denied" ]
	assert_nothing_left
}

@test "-c DIR removed as the supervisor starts exits 125 with one line naming it, nothing left" {
	mkdir work
	start_paused -r -c "$PWD/work" sleep 1000
	rmdir work
	kill -CONT "$sup"
	start_fails_with 125 "change directory to $PWD/work: No such file or directory"
	[ ! -e work ]
}

# -u: the supervisor opens -o as the user, its Nth setgroups(2) failing:
# the first, as it becomes the user; the second, as it takes back root.
start_failing_setgroups() {
	require_root
	require_strace
	start_paused -r -u nobody -o "$PWD/out" sleep 1000
	continue_under_strace "setgroups:error=EPERM:when=$1"
}

@test "-u: a supervisor that cannot become the user to open -o exits 125 with one line, nothing left" {
	start_failing_setgroups 1
	start_fails_with 125 "become user nobody: Operation not permitted"
	[ ! -e out ]
}

@test "-u: a supervisor that cannot take back root after opening -o exits 125 with one line, nothing left" {
	start_failing_setgroups 2
	start_fails_with 125 "take back root from user nobody: Operation not permitted"
}

# Only the fcntl(2) that sets O_APPEND is to fail; the calls before it
# are the C library's and ours (musl's open adds one), so the count is
# found by trying: a run whose failure hit another call is cleared away.
@test "a supervisor that cannot set -o to append exits 125 with one line, nothing left" {
	require_strace
	for n in 3 4 5; do
		rm -f out
		start_paused -r -o "$PWD/out" sleep 1000
		continue_under_strace "fcntl:error=EBADF:when=$n"
		wait "$tracer" || true
		grep -q 'F_SETFL, .*O_APPEND.*INJECTED' strace.log && break
		wait "$launcher" || true
		assert_gone_then_nothing_left "$sup"
	done
	start_fails_with 125 "set outputs to append: Bad file descriptor"
}

@test "under NOTIFY_SOCKET, a supervisor that cannot create its workers' socket exits 125 with one line, nothing left" {
	require_strace
	NOTIFY_SOCKET=@daemonize-test/none start_paused -r sleep 1000
	continue_under_strace socket:error=ENFILE
	start_fails_with 125 "create notify socket: Too many open files in system"
}

# A TERM sent as soon as the pidfile is there, before the worker runs,
# fails the start, as it would a daemon's without a supervisor.
@test "TERM at the supervisor before its worker runs fails the start with 143 and one line, nothing left" {
	start_paused -r sleep 1000
	kill -TERM "$sup"
	kill -CONT "$sup"
	start_fails_with 143 "start: interrupted by signal 15"
}

# The first start forks each worker once the one before has exec'd.
@test "-n 2: the second worker's fork failing exits 125 with one line, the first stopped, nothing left" {
	require_strace
	start_paused -n 2 sleep 1000
	continue_under_strace clone,clone3,fork:error=EAGAIN:when=2
	start_fails_with 125 "fork worker 1: Resource temporarily unavailable"
}

# strace follows the fork: the worker's own setpgid(2) fails, as the
# supervisor's for it, which it does not need.
@test "a worker that cannot make its process group fails the start with 125 and one line, nothing left" {
	require_strace
	start_paused -r sleep 1000
	strace -f -o strace.log -e inject=setpgid:error=EPERM -p "$sup" \
		2>/dev/null &
	tracer=$!
	wait_until 5 '[ "$(status_field "$sup" TracerPid)" != 0 ]'
	kill -CONT "$sup"
	start_fails_with 125 "set process group: Operation not permitted"
}

# The first pipe2(2) is the worker's status pipe, the second the relay's
# for its standard output.
@test "-T: the relay's pipe for the first worker failing exits 125 with one line, nothing left" {
	require_strace
	start_paused -T -o out sleep 1000
	continue_under_strace pipe2:error=ENFILE:when=2
	start_fails_with 125 "create pipe: Too many open files in system"
}
