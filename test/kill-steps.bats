#!/usr/bin/env bats
# SIGKILL at every step of a start and of a supervisor's life.  The test
# build (daemonize-hooks) stops itself at the step DAEMONIZE_TEST_PAUSE
# names (proc.h lists them); each test waits for that stop, kills one
# process there (the launcher, the process paused, or the supervisor of a
# paused worker), resumes the rest, and checks what is left:
#  - whatever runs is the daemon the pidfile names (and its workers), and
#    the pidfile holds exactly its PID and a newline, under its lock;
#  - nothing runs otherwise, and a pidfile left holds a whole PID or
#    nothing; after a failure the launcher reports, none is left;
#  - the launcher exits with the status expected, on at most one line;
#  - --stop then leaves no process and no pidfile, and a new start on the
#    same pidfile succeeds.
#
# Not every kill can be told from a command that exits at once: a daemon
# killed after it has reported its PID and before its exec closes the
# status pipe just as the exec would.  Without -w the launcher then exits
# 0, as it does for a command that exits at once, and the pidfile is left
# stale (empty if the daemon was killed before it wrote it), which
# --status reports and the next start takes over.  With -w, the launcher
# sees the death and removes the pidfile.  A supervisor says when all its
# workers run: killed before, its launcher exits 125 and removes it.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# The command line of each way to start, by name; $workers is how many
# workers it runs (0: the daemon is the command).
start_args() {
	local ready=(--ready-fd 5 sh -c 'echo >&5; exec sleep 1000')
	case $1 in
	plain) args=(-p "$PF" sleep 1000) workers=0 ;;
	wait) args=(-w5 -p "$PF" "${ready[@]}") workers=0 ;;
	stubborn) args=(-p "$PF" sh -c 'trap "" TERM; exec sleep 1000')
		workers=0 ;;
	r) args=(-r -p "$PF" sleep 1000) workers=1 ;;
	relay) args=(-r -T -o out -p "$PF" sleep 1000) workers=1 ;;
	n2) args=(-n 2 -p "$PF" sleep 1000) workers=2 ;;
	wait-n2) args=(-w5 -n 2 -p "$PF" "${ready[@]}") workers=2 ;;
	esac
}

# Waits until a process of this test has stopped at its step: $paused.
wait_paused() {
	local pid
	wait_until 5 'paused=$(stopped_proc); [ -n "$paused" ]' || {
		echo "nothing stopped at $1:" >&2
		for pid in $(tagged_pids); do
			cut -d ' ' -f 1-4 "/proc/$pid/stat" >&2
		done
		return 1
	}
}

# SIGCONT to every stopped process of this test: the step, hit again by
# the next worker or by a restart.  Always true.
resume_stopped() {
	local pid
	for pid in $(tagged_pids); do
		[ "$(proc_state "$pid")" = T ] && kill -CONT "$pid" 2>/dev/null
	done
	return 0
}

# Kills the process VICTIM names (launcher, paused, supervisor: the
# paused worker's parent) and, once it is gone, resumes the paused one
# if it lives.
kill_victim() {
	case $1 in
	launcher) victim=$launcher ;;
	paused) victim=$paused ;;
	supervisor) victim=$(stat_field "$paused" 4) ;;
	*) victim=$1 ;;
	esac
	tagged "$victim" || {
		echo "$1 ($victim) is no process of this test" >&2
		return 1
	}
	kill -KILL "$victim"
	# Gone (or a zombie): its descriptors are closed before the paused
	# one goes on, as they would be had it died at that step.
	wait_until 5 "! is_alive $victim"
	[ "$victim" = "$paused" ] || kill -CONT "$paused"
}

# Waits for the background process PID to exit with status RC, and with
# at most one line on standard error (file ERR), one if it failed.
assert_exits() {
	local pid=$1 want=$2 err=$3 rc=0
	wait_until 5 "resume_stopped; ! is_alive $pid" || {
		echo "$pid still running" >&2
		return 1
	}
	wait "$pid" || rc=$?
	if [ "$rc" -ne "$want" ] || [ "$(wc -l <"$err")" -gt 1 ] ||
		{ [ "$rc" -ne 0 ] && [ "$rc" -ne 137 ] && [ ! -s "$err" ]; }; then
		echo "exited $rc (not $want), saying:" >&2
		cat "$err" >&2
		return 1
	fi
}

# The program PID runs is the command (sleep).
runs_command() {
	[ "$(readlink "/proc/$1/exe")" = "$(readlink -f "$(command -v sleep)")" ]
}

# True once nothing of the test runs, or the daemon the pidfile names
# does, with all of its workers, each the command: every other process of
# the test is one of them; and twice in a row the same, since a process
# in the middle of an exec shows an empty environment, untagged, for a
# moment.  Resumes what stopped meanwhile.
settled() {
	local seen=$last_seen procs
	last_seen=
	resume_stopped
	procs_settled || return 1
	procs=$(tagged_procs)
	last_seen="${procs//$'\n'/ }/$(cat "$PF" 2>/dev/null)"
	[ "$last_seen" = "$seen" ]
}

wait_settled() {
	last_seen=
	wait_until 5 settled
}

procs_settled() {
	local procs p pid n=0
	procs=$(tagged_procs)
	[ -z "$procs" ] && return 0
	pid=$(pid_in "$PF" 2>/dev/null) && [ -n "$pid" ] || return 1
	for p in $procs; do
		if [ "$p" = "$pid" ]; then
			[ "$workers" -gt 0 ] || runs_command "$p" || return 1
		elif [ "$(stat_field "$p" 4)" = "$pid" ] && runs_command "$p"; then
			n=$((n + 1))
		else
			return 1
		fi
	done
	[[ $'\n'$procs$'\n' == *$'\n'$pid$'\n'* ]] && [ "$n" -eq "$workers" ]
}

# Waits until settled, then checks the state against END (runs, none);
# GONE (yes, no): whether no pidfile may be left (after a failure the
# launcher reported, or a stop).
assert_state() {
	local end=$1 gone=$2 pid
	wait_settled || {
		echo "never settled: running $(tagged_procs | paste -sd ' ');" \
			"pidfile: $(od -c "$PF" 2>&1)" >&2
		return 1
	}
	if [ -n "$(tagged_procs)" ]; then
		[ "$end" = runs ] || { echo "still running" >&2; return 1; }
		pid=$(pid_in "$PF")
		printf '%s\n' "$pid" | cmp - "$PF"
		run -0 "$DAEMONIZE" --status -p "$PF"
		[ "${lines[0]}" = "running (pid $pid)" ]
		return 0
	fi
	[ "$end" = none ] || { echo "nothing runs" >&2; return 1; }
	if [ -e "$PF" ]; then
		[ "$gone" = no ] || { echo "$PF left" >&2; return 1; }
		[ ! -s "$PF" ] || grep -qxE '[0-9]+' "$PF" ||
			{ od -c "$PF" >&2; return 1; }
		[ "$(wc -c <"$PF")" -eq 0 ] || [ "$(tail -c 1 "$PF")" = "" ]
	fi
	run "$DAEMONIZE" --status -p "$PF"
	[ "$status" -eq 1 ] || [ "$status" -eq 3 ]
}

# --stop leaves nothing; then a start of the normal build on the same
# pidfile succeeds, and is stopped (SIGKILL after 1 s, for a daemon that
# ignores SIGTERM).
assert_stop_then_start() {
	run -0 "$DAEMONIZE" --stop -p "$PF"
	wait_until 2 '[ -z "$(tagged_procs)" ]' || {
		echo "left running: $(tagged_procs | paste -sd ' ')" >&2
		return 1
	}
	[ ! -e "$PF" ]
	[ ! -e "$PF.workers" ]
	[ ! -e "$PF.workers.tmp" ]
	run -0 "$DAEMONIZE" "${args[@]}" 3>&-
	wait_settled
	[ -n "$(tagged_procs)" ]
	run -0 "$DAEMONIZE" --stop --timeout 1 -p "$PF"
}

# kill_at STEP VICTIM RC END HOW [LEFT]: starts the test build as HOW
# says, paused at STEP; kills VICTIM there.  The launcher, unless it is
# the victim, exits RC; what runs in the end is END (runs, none); the
# pidfile left is LEFT, if given: empty, or the PID of the one paused.
kill_at() {
	local step=$1 who=$2 rc=$3 end=$4 left=${6:-} failed=no
	start_args "$5"
	DAEMONIZE_TEST_PAUSE=$step "$(testbin daemonize-hooks)" "${args[@]}" \
		2>err 3>&- &
	launcher=$!
	wait_paused "$step"
	kill_victim "$who"
	if [ "$who" = launcher ]; then
		assert_exits "$launcher" 137 err
	else
		assert_exits "$launcher" "$rc" err
		[ "$rc" -eq 0 ] || failed=yes
	fi
	assert_state "$end" "$failed"
	if [ "$left" = empty ]; then
		[ -e "$PF" ]
		[ ! -s "$PF" ]
	elif [ "$left" = pid ]; then
		[ "$(cat "$PF")" = "$paused" ]
	fi
	assert_stop_then_start
}

# A supervisor started with the test build, its workers running; the
# step STEP is armed for what comes after the start.
start_armed() {
	start_args "$2"
	run -0 env DAEMONIZE_TEST_PAUSE="$1" "$(testbin daemonize-hooks)" \
		"${args[@]}" 3>&-
	wait_settled
	sup=$(pid_in "$PF")
}

# kill_in_stop STEP: a supervisor stopped by SIGTERM is killed at STEP
# of its stop.  Its workers die with it (their parent-death signal); its
# pidfile is left, stale, for --stop to remove.  (The test sends the
# signal itself: --stop would send SIGCONT after it, which may come
# after the pause.)
kill_in_stop() {
	start_armed "$1" n2
	kill -TERM "$sup"
	wait_paused "$1"
	[ "$paused" = "$sup" ]
	kill_victim paused
	assert_state none no
	[ "$(cat "$PF")" = "$sup" ]
	assert_stop_then_start
}

# kill_stopper VICTIM HOW: --stop of the test build, paused once it has
# sent its signal to a daemon started as HOW says; VICTIM (stopper,
# daemon) is killed there.  Either way the stop completes: nothing runs,
# and the pidfile is gone.
kill_stopper() {
	start_args "$2"
	run -0 "$DAEMONIZE" "${args[@]}" 3>&-
	wait_settled
	sup=$(pid_in "$PF")
	DAEMONIZE_TEST_PAUSE=stop-signalled "$(testbin daemonize-hooks)" \
		--stop -p "$PF" >out 2>err 3>&- &
	stopper=$!
	wait_paused stop-signalled
	[ "$paused" = "$stopper" ]
	if [ "$1" = stopper ]; then
		kill_victim paused
		assert_exits "$stopper" 137 err
	else
		kill_victim "$sup"
		assert_exits "$stopper" 0 err
		[ "$(cat out)" = "stopped (pid $sup)" ]
	fi
	assert_state none yes
	assert_stop_then_start
}

@test "child-forked: launcher killed: the daemon starts, with its pidfile" {
	kill_at child-forked launcher - runs plain
}

@test "child-forked: child killed: exit 125, nothing left" {
	kill_at child-forked paused 125 none plain
	grep -qx 'daemonize: start daemon: child exited abnormally' err
}

@test "middle-forked: launcher killed: the daemon starts, with its pidfile" {
	kill_at middle-forked launcher - runs plain
}

@test "middle-forked: middle killed: the daemon starts, reported" {
	kill_at middle-forked paused 0 runs plain
}

@test "daemon-forked: launcher killed: the daemon starts, with its pidfile" {
	kill_at daemon-forked launcher - runs plain
}

@test "daemon-forked: daemon killed: exit 125, nothing left" {
	kill_at daemon-forked paused 125 none plain
	grep -qx 'daemonize: start daemon: child exited before the daemon started' err
}

@test "daemon-forked -w: daemon killed: exit 125, nothing left" {
	kill_at daemon-forked paused 125 none wait
}

@test "pidfile-locked: launcher killed: the daemon starts, with its pidfile" {
	kill_at pidfile-locked launcher - runs plain
}

# Killed before it wrote the pidfile: an empty, unlocked file is left.
@test "pidfile-locked: daemon killed: nothing runs, the pidfile is empty" {
	kill_at pidfile-locked paused 0 none plain empty
}

@test "pidfile-locked -w: daemon killed: exit 137, nothing left" {
	kill_at pidfile-locked paused 137 none wait
	grep -qx "daemonize: wait: pid $paused killed by signal 9 before it was ready" err
}

@test "pidfile-truncated: launcher killed: the daemon starts, with its pidfile" {
	kill_at pidfile-truncated launcher - runs plain
}

@test "pidfile-truncated: daemon killed: nothing runs, no partial pidfile" {
	kill_at pidfile-truncated paused 0 none plain empty
}

@test "pidfile-truncated -w: daemon killed: exit 137, nothing left" {
	kill_at pidfile-truncated paused 137 none wait
}

@test "daemon-locked: launcher killed: the daemon starts, with its pidfile" {
	kill_at daemon-locked launcher - runs plain
}

@test "daemon-locked: daemon killed: nothing runs, a stale pidfile" {
	kill_at daemon-locked paused 0 none plain pid
}

# The command writes its readiness into a pipe nobody reads any more, and
# dies of SIGPIPE, as it would writing to any pipe whose reader is gone:
# its pidfile is left, stale.
@test "daemon-locked -w: launcher killed: the command dies of SIGPIPE at ready" {
	kill_at daemon-locked launcher - none wait
}

@test "daemon-locked -w: daemon killed: exit 137, nothing left" {
	kill_at daemon-locked paused 137 none wait
}

@test "before-exec: launcher killed: the daemon starts, with its pidfile" {
	kill_at before-exec launcher - runs plain
}

@test "before-exec: daemon killed: nothing runs, a stale pidfile" {
	kill_at before-exec paused 0 none plain pid
}

@test "before-exec -w: daemon killed: exit 137, nothing left" {
	kill_at before-exec paused 137 none wait
}

@test "daemon-locked -r: launcher killed: the supervisor starts, with its pidfile" {
	kill_at daemon-locked launcher - runs r
}

@test "daemon-locked -r: supervisor killed: exit 125, nothing left" {
	kill_at daemon-locked paused 125 none r
	grep -qx "daemonize: start daemon: supervisor pid $paused ended before its workers ran" err
}

@test "supervisor-set-up -T: launcher killed: the supervisor starts" {
	kill_at supervisor-set-up launcher - runs relay
}

@test "supervisor-set-up -T: supervisor killed: exit 125, nothing left" {
	kill_at supervisor-set-up paused 125 none relay
}

@test "worker-forked -n 2: launcher killed: the supervisor starts" {
	kill_at worker-forked launcher - runs n2
}

@test "worker-forked -n 2: supervisor killed: exit 125, nothing left" {
	kill_at worker-forked paused 125 none n2
}

@test "worker-forked -w -n 2: supervisor killed: exit 137, nothing left" {
	kill_at worker-forked paused 137 none wait-n2
}

@test "worker-started -n 2: launcher killed: the supervisor starts" {
	kill_at worker-started launcher - runs n2
}

# A worker killed before its exec is restarted, as one killed after.
@test "worker-started -n 2: worker killed: it is restarted, exit 0" {
	kill_at worker-started paused 0 runs n2
}

@test "worker-started -n 2: supervisor killed: exit 125, nothing left" {
	kill_at worker-started supervisor 125 none n2
}

@test "before-exec -n 2: worker killed: it is restarted, exit 0" {
	kill_at before-exec paused 0 runs n2
}

@test "before-exec -n 2: supervisor killed: exit 125, nothing left" {
	kill_at before-exec supervisor 125 none n2
}

@test "workers-writing -n 2: launcher killed: the supervisor starts" {
	kill_at workers-writing launcher - runs n2
}

@test "workers-writing -n 2: supervisor killed: exit 125, nothing left" {
	kill_at workers-writing paused 125 none n2
}

# The workers die with their supervisor; its pidfile is left, stale.
@test "restart: supervisor killed: nothing runs, a stale pidfile" {
	start_armed restart r
	kill -KILL "$(children_of "$sup")"
	wait_paused restart
	[ "$paused" = "$sup" ]
	kill_victim paused
	assert_state none no
	[ "$(cat "$PF")" = "$sup" ]
	assert_stop_then_start
}

@test "stop-signalled: --stop killed: the supervisor stops, nothing left" {
	kill_stopper stopper n2
}

# A daemon that ignores SIGTERM is still there to be killed.
@test "stop-signalled: daemon killed: --stop completes, nothing left" {
	kill_stopper daemon stubborn
}

@test "stopping: supervisor killed: nothing runs, a stale pidfile" {
	kill_in_stop stopping
}

@test "stopped: supervisor killed: nothing runs, a stale pidfile" {
	kill_in_stop stopped
}
