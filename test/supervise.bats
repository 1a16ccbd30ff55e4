#!/usr/bin/env bats
# -r and -n: the supervisor restarts its workers, keeps their ids, gives up
# at the limit, and says what it does in the -e file.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# An event line's timestamp: 2026-11-30T01:02:03.456+00:00.
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'

# The values of NAME in the environment PID was started with, one a line.
environ_values() {
	local -a env
	local e
	{ mapfile -d '' -t env <"/proc/$1/environ"; } 2>/dev/null || return 0
	for e in "${env[@]}"; do
		[[ $e == "$2="* ]] && printf '%s\n' "${e#*=}"
	done
	return 0
}

# The PID of worker I of supervisor SUP, empty if it has none: its live
# child started with DAEMONIZE_WORKER=I.  A child forked but not yet
# exec'd still shows the supervisor's environment, so it is not one.
worker_of() {
	local c
	for c in $(children_of "$1"); do
		if [ "$(environ_values "$c" DAEMONIZE_WORKER)" = "$2" ]; then
			printf '%s\n' "$c"
			return 0
		fi
	done
	return 0
}

# Waits until SUP has a worker I other than OLD (which may be empty) and
# prints its PID.
wait_worker() {
	local w
	wait_until 5 "w=\$(worker_of $1 $2); [ -n \"\$w\" ] && [ \"\$w\" != '${3:-}' ]" ||
		{
			echo "no new worker $2 of $1; children: $(children_of "$1")" >&2
			return 1
		}
	printf '%s\n' "$w"
}

# The event lines of FILE whose text is all of the extended regex RE.
events() {
	grep -E "^$TS daemonize\\[[0-9]+\\]: $2\$" "$1" || true
}

# How many event lines of FILE have a text all of RE.
count_events() {
	events "$1" "$2" | wc -l
}

# The time of an event line, in milliseconds since the epoch.
event_ms() {
	date -d "${1%% *}" +%s%3N
}

# A number of lines in FILE, 0 if there is no FILE.
lines_in() {
	if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# A copy of sleep at ./worker, to be removed or replaced.
worker_binary() {
	cp "$(command -v sleep)" worker
}

# --- restarts ---

@test "a worker killed by SIGKILL is restarted: new PID, same id, same supervisor" {
	"$DAEMONIZE" -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	[ "$w" != "$sup" ]
	[ "$(environ_values "$w" DAEMONIZE_WORKER)" = 0 ]
	kill -KILL "$w"
	w2=$(wait_worker "$sup" 0 "$w")
	[ "$(environ_values "$w2" DAEMONIZE_WORKER)" = 0 ]
	wait_exec "$w2" sleep
	[ "$(cmdline_of "$w2")" = "sleep 1000 " ]
	[ "$(pid_in "$PF")" = "$sup" ]
	is_alive "$sup"
}

@test "a command given by a relative path is restarted after the supervisor's chdir" {
	worker_binary
	"$DAEMONIZE" -r -p "$PF" ./worker 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	kill -KILL "$w"
	w2=$(wait_worker "$sup" 0 "$w")
	wait_until 5 "[ \"\$(readlink /proc/$w2/exe)\" = '$BATS_TEST_TMPDIR/worker' ]"
}

@test "a worker gets one DAEMONIZE_WORKER whatever the caller's environment had" {
	DAEMONIZE_WORKER=7 "$DAEMONIZE" -n 2 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w0=$(wait_worker "$sup" 0)
	w1=$(wait_worker "$sup" 1)
	[ "$(environ_values "$w0" DAEMONIZE_WORKER)" = 0 ]
	[ "$(environ_values "$w1" DAEMONIZE_WORKER)" = 1 ]
}

@test "on-failure: a worker that exits 0 is not restarted, and -f exits 0 without its pidfile" {
	run -0 "$DAEMONIZE" -f -r -p "$PF" sh -c 'echo $$ >>"$0"' "$BATS_TEST_TMPDIR/runs"
	[ "$(lines_in runs)" -eq 1 ]
	[ ! -e "$PF" ]
}

@test "on-failure: the supervisor exits and removes its pidfile once its workers exit 0" {
	"$DAEMONIZE" -n 2 -p "$PF" sh -c 'echo $$ >>"$0"; sleep 0.2' "$BATS_TEST_TMPDIR/runs"
	sup=$(pid_in "$PF")
	wait_until 5 "! is_alive $sup"
	[ ! -e "$PF" ]
	[ "$(lines_in runs)" -eq 2 ]
	assert_nothing_left
}

@test "--restart=always restarts a worker that exits 0" {
	"$DAEMONIZE" --restart=always -p "$PF" sh -c 'echo $$ >>"$0"' "$BATS_TEST_TMPDIR/runs"
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(lines_in runs)" -ge 3 ]'
	[ "$(sort -u runs | wc -l)" -eq "$(lines_in runs)" ]
	is_alive "$sup"
	[ "$(pid_in "$PF")" = "$sup" ]
}

@test "--restart=no: a killed worker is not restarted, the supervisor exits, no pidfile" {
	"$DAEMONIZE" --restart=no -p "$PF" -e events sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	[ "$w" != "$sup" ]
	kill -KILL "$w"
	wait_until 5 "! is_alive $sup"
	[ ! -e "$PF" ]
	[ "$(count_events events 'worker 0 started as pid [0-9]+')" -eq 1 ]
	assert_nothing_left
}

# --- giving up ---

@test "-f: after --max-restarts 2 rapid failures more, give up with the worker's status" {
	run -3 "$DAEMONIZE" -f -r --max-restarts 2 -p "$PF" -e events \
		sh -c 'echo $$ >>"$0"; exit 3' "$BATS_TEST_TMPDIR/runs"
	[ "$(lines_in runs)" -eq 3 ]
	[ ! -e "$PF" ]
	[ "$(count_events events 'worker 0 started as pid [0-9]+')" -eq 3 ]
	[ "$(count_events events 'worker 0 \(pid [0-9]+\) exited with status 3 after [0-9]+\.[0-9] s')" -eq 3 ]
	[ "$(count_events events 'worker 0 failed 3 times in a row; giving up')" -eq 1 ]
	assert_nothing_left
}

@test "a daemon that gives up removes its pidfile and leaves nothing running" {
	"$DAEMONIZE" -r --max-restarts 2 -p "$PF" -e events \
		sh -c 'echo $$ >>"$0"; sleep 0.1; exit 3' "$BATS_TEST_TMPDIR/runs"
	sup=$(pid_in "$PF")
	wait_until 5 "! is_alive $sup"
	[ ! -e "$PF" ]
	[ "$(lines_in runs)" -eq 3 ]
	[ "$(count_events events 'worker 0 failed 3 times in a row; giving up')" -eq 1 ]
	assert_nothing_left
}

@test "giving up stops the other workers" {
	# Worker 0 fails at once; worker 1 would run on.
	"$DAEMONIZE" -n 2 --max-restarts 1 -p "$PF" -e events sh -c \
		'[ "$DAEMONIZE_WORKER" = 0 ] && { sleep 0.1; exit 4; }; exec sleep 1000'
	sup=$(pid_in "$PF")
	w1=$(wait_worker "$sup" 1)
	wait_until 5 "! is_alive $sup"
	wait_until 5 "! is_alive $w1"
	[ ! -e "$PF" ]
	[ "$(count_events events 'worker 0 failed 2 times in a row; giving up')" -eq 1 ]
	assert_nothing_left
}

# Worker-side times bound the delays from below; the event times show each
# delay between an exit and the next start.  Upper bounds are generous.
@test "restart delays: the first restart at once, then 100, 200, 400 ms" {
	run -1 "$DAEMONIZE" -f -r --max-restarts 4 -p "$PF" -e events \
		bash -c 'echo "${EPOCHREALTIME/[.,]/}" >>"$0"; exit 1' "$BATS_TEST_TMPDIR/starts"
	mapfile -t exited < <(events events 'worker 0 \(pid [0-9]+\) exited with status 1 after [0-9]+\.[0-9] s')
	mapfile -t started < <(events events 'worker 0 started as pid [0-9]+')
	mapfile -t restarting < <(events events 'worker 0 restarting in [0-9]+ ms')
	mapfile -t starts <starts
	[ "${#exited[@]}" -eq 5 ]
	[ "${#started[@]}" -eq 5 ]
	[ "${#starts[@]}" -eq 5 ]
	[ "${#restarting[@]}" -eq 4 ]
	delays=()
	for line in "${restarting[@]}"; do
		d=${line##*restarting in }
		delays+=("${d% ms}")
	done
	[ "${delays[*]}" = "0 100 200 400" ]
	for k in 0 1 2 3; do
		gap=$(($(event_ms "${started[k + 1]}") - $(event_ms "${exited[k]}")))
		echo "restart $k: delay ${delays[k]} ms, events $gap ms apart" >&2
		((gap >= delays[k] - 2 && gap <= delays[k] + 2000))
		run_gap=$(((starts[k + 1] - starts[k]) / 1000))
		((run_gap >= delays[k]))
	done
}

# Runs alternate: one exits at once (rapid), the next after 1.2 s (not
# rapid with --min-uptime 1).  Without the reset the second rapid exit in
# a row would exceed --max-restarts 1.
@test "a run longer than --min-uptime resets the count of rapid failures" {
	"$DAEMONIZE" -r --max-restarts 1 --min-uptime 1 -p "$PF" -e events sh -c \
		'n=$(wc -l <"$0"); echo $$ >>"$0"; [ $((n % 2)) -eq 0 ] && exit 1; sleep 1.2; exit 1' \
		"$BATS_TEST_TMPDIR/runs"
	sup=$(pid_in "$PF")
	wait_until 8 '[ "$(lines_in runs)" -ge 5 ]'
	is_alive "$sup"
	[ -e "$PF" ]
	[ "$(count_events events 'worker 0 failed [0-9]+ times in a row; giving up')" -eq 0 ]
}

@test "--max-restarts 0 never gives up" {
	"$DAEMONIZE" -r --max-restarts 0 -p "$PF" -e events \
		sh -c 'echo $$ >>"$0"; exit 1' "$BATS_TEST_TMPDIR/runs"
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(lines_in runs)" -ge 4 ]'
	is_alive "$sup"
	[ "$(count_events events 'worker 0 failed [0-9]+ times in a row; giving up')" -eq 0 ]
}

@test "--min-uptime 0: no run is rapid, each restart at once, never giving up" {
	"$DAEMONIZE" -r --max-restarts 1 --min-uptime 0 -p "$PF" -e events \
		sh -c 'echo $$ >>"$0"; sleep 0.05; exit 1' "$BATS_TEST_TMPDIR/runs"
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(count_events events "worker 0 restarting in [0-9]+ ms")" -ge 4 ]'
	is_alive "$sup"
	[ "$(count_events events 'worker 0 restarting in [1-9][0-9]* ms')" -eq 0 ]
	[ "$(count_events events 'worker 0 failed [0-9]+ times in a row; giving up')" -eq 0 ]
}

# --- workers ---

@test "-n 3 runs workers 0, 1 and 2; a killed one comes back with its id alone" {
	"$DAEMONIZE" -n 3 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w0=$(wait_worker "$sup" 0)
	w1=$(wait_worker "$sup" 1)
	w2=$(wait_worker "$sup" 2)
	[ "$(children_of "$sup" | wc -l)" -eq 3 ]
	kill -KILL "$w1"
	new1=$(wait_worker "$sup" 1 "$w1")
	[ "$new1" != "$w1" ]
	[ "$(worker_of "$sup" 0)" = "$w0" ]
	[ "$(worker_of "$sup" 2)" = "$w2" ]
	wait_until 5 "[ \"\$(children_of $sup | wc -l)\" -eq 3 ]"
}

@test "-n 1024 starts 1024 workers with the ids 0 to 1023" {
	"$DAEMONIZE" -n 1024 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	mapfile -d " " -t kids <"/proc/$sup/task/$sup/children"
	[ "${#kids[@]}" -eq 1024 ]
	ids=$(printf '/proc/%s/environ\n' "${kids[@]}" | xargs grep -hzo '^DAEMONIZE_WORKER=[0-9]*' |
		tr '\0' '\n' | sort -t= -k2n)
	[ "$ids" = "$(seq 0 1023 | sed 's/^/DAEMONIZE_WORKER=/')" ]
	kill -TERM "$sup"	# a quicker teardown
	wait_until 10 "! is_alive $sup"
}

@test "each worker leads a process group of its own in the supervisor's session" {
	"$DAEMONIZE" -n 2 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	for i in 0 1; do
		w=$(wait_worker "$sup" "$i")
		[ "$(stat_field "$w" 5)" = "$w" ]
		[ "$(stat_field "$w" 6)" = "$(stat_field "$sup" 6)" ]
	done
	[ "$(stat_field "$sup" 5)" != "$w" ]
}

# The subshell starts the orphan and exits: its parent is then the nearest
# child subreaper, which must be the supervisor, not PID 1.
@test "an orphan of a worker is adopted by the supervisor" {
	"$DAEMONIZE" -r -p "$PF" sh -c \
		'(sleep 1000 & echo $! >"$0.tmp"; mv "$0.tmp" "$0"); exec sleep 1000' \
		"$BATS_TEST_TMPDIR/orphan"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s orphan ]'
	orphan=$(cat orphan)
	wait_until 5 "[ \"\$(status_field $orphan PPid)\" = $sup ]"
}

@test "a worker, first or restarted, has no signal blocked or ignored" {
	with_signals_disturbed "$DAEMONIZE" -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	wait_exec "$w" sleep
	[ "$(status_field "$w" SigBlk)" = 0000000000000000 ]
	[ "$(status_field "$w" SigIgn)" = 0000000000000000 ]
	kill -KILL "$w"
	w2=$(wait_worker "$sup" 0 "$w")
	wait_exec "$w2" sleep
	[ "$(status_field "$w2" SigBlk)" = 0000000000000000 ]
	[ "$(status_field "$w2" SigIgn)" = 0000000000000000 ]
}

@test "the supervisor and its workers work in / by default, in -c DIR with it" {
	"$DAEMONIZE" -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	[ "$(readlink "/proc/$sup/cwd")" = / ]
	[ "$(readlink "/proc/$w/cwd")" = / ]
	mkdir work
	"$DAEMONIZE" -c work -r -p "$PF.2" sleep 1000
	sup=$(pid_in "$PF.2")
	w=$(wait_worker "$sup" 0)
	[ "$(readlink "/proc/$sup/cwd")" = "$BATS_TEST_TMPDIR/work" ]
	[ "$(readlink "/proc/$w/cwd")" = "$BATS_TEST_TMPDIR/work" ]
}

# An upgrade renames a new file over the command: the restart runs it.
@test "a command replaced after the start: the restart runs the new file" {
	worker_binary
	"$DAEMONIZE" -r -p "$PF" "$PWD/worker" 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	printf '#!/bin/sh\necho new >"%s/marker"\nexec sleep "$1"\n' \
		"$BATS_TEST_TMPDIR" >new
	chmod +x new
	mv new worker
	kill -KILL "$w"
	wait_worker "$sup" 0 "$w" >/dev/null
	wait_until 5 '[ -s marker ]'
}

# --- exec failures ---

@test "-r: a command not found at the start exits 127, nothing left, no restart" {
	run -127 --separate-stderr "$DAEMONIZE" -r -p "$PF" -e events no-such-command-xyz
	assert_one_line "$stderr"
	assert_nothing_left
	[ "$(count_events events 'worker 0 restarting in [0-9]+ ms')" -eq 0 ]
}

@test "-n 2: a worker whose exec fails at the start exits 127, nothing left" {
	printf '#!/no/such/interpreter\n' >script
	chmod +x script
	run -127 --separate-stderr "$DAEMONIZE" -n 2 -p "$PF" -e events ./script
	assert_one_line "$stderr"
	assert_nothing_left
	[ "$(count_events events 'worker [01] restarting in [0-9]+ ms')" -eq 0 ]
}

# As without -r: one line on standard error, though -f sends events there.
@test "-f -r: a worker whose exec fails at the start exits 127 with one line" {
	printf '#!/no/such/interpreter\n' >script
	chmod +x script
	run -127 --separate-stderr "$DAEMONIZE" -f -r -p "$PF" ./script
	assert_one_line "$stderr"
	[ ! -e "$PF" ]
	assert_nothing_left
}

@test "-r: a command that is not executable exits 126, nothing left" {
	printf '#!/bin/sh\n' >script
	chmod 0644 script
	run -126 --separate-stderr "$DAEMONIZE" -r -p "$PF" ./script
	assert_one_line "$stderr"
	assert_nothing_left
}

# Killed at once (rapid 1), then two failed execs (rapid 2 and 3): the
# third rapid failure in a row exceeds --max-restarts 2.
@test "a command removed after the start: failed execs are rapid failures, then give up" {
	worker_binary
	"$DAEMONIZE" -f -r --max-restarts 2 -p "$PF" -e events "$PWD/worker" 1000 3>&- &
	sup=$!
	w=$(wait_worker "$sup" 0)
	rm worker
	kill -KILL "$w"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 127 ]
	[ ! -e "$PF" ]
	[ "$(count_events events 'worker 0: .*No such file or directory')" -eq 2 ]
	[ "$(count_events events 'worker 0 failed 3 times in a row; giving up')" -eq 1 ]
	assert_nothing_left
}

# strace fails every fork(2) or clone(2) (musl forks with the first, glibc
# with the second) of the supervisor after the first (worker 0's start):
# the kill is rapid failure 1, the two failed forks 2 and 3.
@test "a restart that cannot fork is a rapid failure: give up at the limit, 125" {
	require_strace
	strace -f -o /dev/null -e trace=fork,clone \
		-e inject=fork,clone:error=EAGAIN:when=2+ \
		"$DAEMONIZE" -f -r --max-restarts 2 -p "$PF" -e events sleep 1000 3>&- &
	traced=$!
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	kill -KILL "$w"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$traced" || rc=$?
	[ "$rc" -eq 125 ]
	[ ! -e "$PF" ]
	[ "$(count_events events 'worker 0: .*')" -eq 2 ]
	[ "$(count_events events 'worker 0 restarting in [0-9]+ ms')" -eq 2 ]
	[ "$(count_events events 'worker 0 failed 3 times in a row; giving up')" -eq 1 ]
	assert_nothing_left
}

# --- -f: the supervisor's exit status ---

@test "-f -r: TERM stops the supervisor and its worker, exit status 0" {
	"$DAEMONIZE" -f -r --kill-timeout 1 -p "$PF" -e events sleep 1000 3>&- &
	sup=$!
	w=$(wait_worker "$sup" 0)
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 0 ]
	wait_until 1 "! is_alive $w"
	[ ! -e "$PF" ]
	[ "$(count_events events 'stopping on signal 15')" -eq 1 ]
	assert_nothing_left
}

# A shell's & starts its job with SIGINT ignored: the supervisor must
# still take INT as a stop, as its design says.
@test "-f -r: INT stops a supervisor that a shell's & started with INT ignored" {
	sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status >ign 3>&- &
	wait "$!"
	(((0x$(cat ign) >> 1) & 1)) || skip "this shell's & leaves SIGINT alone"
	"$DAEMONIZE" -f -r --kill-timeout 1 -p "$PF" sleep 1000 3>&- &
	sup=$!
	wait_worker "$sup" 0 >/dev/null
	kill -INT "$sup"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 0 ]
	assert_nothing_left
}

# with_signals_disturbed runs daemonize under a subshell: the pidfile
# names the supervisor.
@test "-f -r: TERM stops a supervisor started with TERM blocked" {
	with_signals_disturbed "$DAEMONIZE" -f -r --kill-timeout 1 -p "$PF" \
		sleep 1000 3>&- &
	job=$!
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	wait_worker "$sup" 0 >/dev/null
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$job" || rc=$?
	[ "$rc" -eq 0 ]
	assert_nothing_left
}

# As under nohup: HUP ignored in the launcher.  sleep dies of the HUP the
# supervisor forwards, and is restarted.
@test "HUP is forwarded by a supervisor started with HUP ignored" {
	with_signals_disturbed "$DAEMONIZE" -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	kill -HUP "$sup"
	wait_worker "$sup" 0 "$w" >/dev/null
	is_alive "$sup"
	[ "$(pid_in "$PF")" = "$sup" ]
}

@test "-f --restart=no: a worker killed by signal 9 makes the supervisor exit 137" {
	"$DAEMONIZE" -f --restart=no -p "$PF" sleep 1000 3>&- &
	sup=$!
	w=$(wait_worker "$sup" 0)
	kill -KILL "$w"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 137 ]
	[ ! -e "$PF" ]
}

@test "-f -n 2: the supervisor exits 0 once both workers have exited 0" {
	run -0 "$DAEMONIZE" -f -n 2 -p "$PF" sh -c 'echo $$ >>"$0"' "$BATS_TEST_TMPDIR/runs"
	[ "$(lines_in runs)" -eq 2 ]
	[ ! -e "$PF" ]
}

# The TERM is sent once a restart waits 400 ms: whenever it lands, no
# worker may start after the supervisor said it stops.
@test "-f -r: TERM during a restart delay starts nothing more and exits 0" {
	"$DAEMONIZE" -f -r -p "$PF" -e events sh -c 'exit 1' 3>&- &
	sup=$!
	wait_until 5 "grep -q 'restarting in 400 ms' events"
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 0 ]
	[ ! -e "$PF" ]
	[ "$(count_events events 'stopping on signal 15')" -eq 1 ]
	[ "$(sed -n '/stopping on signal 15/,$p' events | grep -c 'started as pid')" -eq 0 ]
	assert_nothing_left
}

# Worker 1 fails first, worker 0 last: the design says the status is the
# last failed worker's.
@test "-f --restart=no -n 2: the supervisor exits with the status of the last to fail" {
	run -5 "$DAEMONIZE" -f --restart=no -n 2 -p "$PF" -e events sh -c \
		'[ "$DAEMONIZE_WORKER" = 1 ] && exit 3; sleep 0.5; exit 5'
	[ ! -e "$PF" ]
}

@test "-f -r: giving up after deaths by a signal exits 128 + its number" {
	run -138 "$DAEMONIZE" -f -r --max-restarts 1 -p "$PF" sh -c 'kill -USR1 $$'
	[ ! -e "$PF" ]
}

@test "-f without -e: the events go to standard error" {
	run -3 --separate-stderr "$DAEMONIZE" -f -r --max-restarts 1 -p "$PF" \
		sh -c 'exit 3'
	[ -z "$output" ]
	[ "$(grep -Ec "^$TS daemonize\\[[0-9]+\\]: worker 0 started as pid [0-9]+\$" <<<"$stderr")" -eq 2 ]
	grep -Eq "^$TS daemonize\\[[0-9]+\\]: worker 0 failed 2 times in a row; giving up\$" <<<"$stderr"
}

# --- output files ---

@test "-o is truncated once at the start, not at a restart, and workers append" {
	echo stale >out
	"$DAEMONIZE" -r -p "$PF" -o out sh -c 'echo "run $$"; exec sleep 1000'
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	wait_until 5 '[ "$(lines_in out)" -eq 1 ]'
	[ "$(cat out)" = "run $w" ]
	kill -KILL "$w"
	w2=$(wait_worker "$sup" 0 "$w")
	wait_until 5 '[ "$(lines_in out)" -eq 2 ]'
	[ "$(cat out)" = "run $w"$'\n'"run $w2" ]
	flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$w2/fdinfo/1")
	(((8#$flags & 8#2000) != 0))	# O_APPEND
}

@test "-a -o: the output file keeps what it had before the start" {
	echo old >out
	"$DAEMONIZE" -a -r -p "$PF" -o out sh -c 'echo "run $$"; exec sleep 1000'
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	wait_until 5 '[ "$(lines_in out)" -eq 2 ]'
	[ "$(cat out)" = "old"$'\n'"run $w" ]
}

@test "-n 2 -o -e: both workers write to the same two files" {
	"$DAEMONIZE" -n 2 -p "$PF" -o out -e err sh -c \
		'echo "out $DAEMONIZE_WORKER"; echo "err $DAEMONIZE_WORKER" >&2; exec sleep 1000'
	wait_until 5 'grep -qx "out 0" out && grep -qx "out 1" out'
	wait_until 5 'grep -qx "err 0" err && grep -qx "err 1" err'
	sup=$(pid_in "$PF")
	w0=$(worker_of "$sup" 0)
	w1=$(worker_of "$sup" 1)
	[ "$(stat -L -c %i "/proc/$w0/fd/1")" = "$(stat -c %i out)" ]
	[ "$(stat -L -c %i "/proc/$w1/fd/1")" = "$(stat -c %i out)" ]
	[ "$(stat -L -c %i "/proc/$w0/fd/2")" = "$(stat -c %i err)" ]
	[ "$(stat -L -c %i "/proc/$w1/fd/2")" = "$(stat -c %i err)" ]
}

# --- events ---

@test "events in the -e file: started, killed by signal, restarting, with the supervisor's PID" {
	"$DAEMONIZE" -r -p "$PF" -e events sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	wait_until 5 "grep -q 'started as pid $w\$' events"
	grep -Eqx "$TS daemonize\\[$sup\\]: worker 0 started as pid $w" events
	kill -KILL "$w"
	w2=$(wait_worker "$sup" 0 "$w")
	wait_until 5 "grep -q 'started as pid $w2\$' events"
	grep -Eqx "$TS daemonize\\[$sup\\]: worker 0 \\(pid $w\\) killed by signal 9 after [0-9]+\\.[0-9] s" events
	grep -Eqx "$TS daemonize\\[$sup\\]: worker 0 restarting in [0-9]+ ms" events
	grep -Eqx "$TS daemonize\\[$sup\\]: worker 0 started as pid $w2" events
	[ "$(wc -l <events)" -eq 4 ]
}

# Under a zone 5:30 east of UTC, the stamp must still name the right instant.
@test "event timestamps name the present instant, with the zone's offset" {
	TZ=XYZ-5:30 "$DAEMONIZE" -r -p "$PF" -e events sleep 1000
	wait_until 5 '[ -s events ]'
	now=$(date +%s%3N)
	line=$(head -n 1 events)
	[[ $line =~ ^$TS\  ]]
	then=$(event_ms "$line")
	((now - then >= 0 && now - then < 60000))
}

@test "event timestamps west of UTC carry a negative offset" {
	TZ=XYZ3:30 "$DAEMONIZE" -r -p "$PF" -e events sleep 1000
	wait_until 5 '[ -s events ]'
	line=$(head -n 1 events)
	[[ $line =~ ^$TS\  ]]
	[[ $line == *"-03:30 daemonize["* ]]
}

# --- usage errors ---

@test "a --restart word other than no, on-failure or always exits 2 with one line" {
	for word in bogus '' yes On-failure 'always '; do
		run -2 --separate-stderr "$DAEMONIZE" --restart="$word" -p "$PF" sleep 1000
		assert_one_line "$stderr"
		[ -z "$output" ]
	done
	assert_nothing_left
	for word in no on-failure always; do
		run -0 "$DAEMONIZE" --restart="$word" -p "$PF.$word" sleep 1000
	done
}

@test "-n outside 1 to 1024 or not a number exits 2 with one line" {
	for n in 0 1025 -1 '' abc 2x ' 2' 0x2 1e3 99999999999999999999; do
		run -2 --separate-stderr "$DAEMONIZE" -n "$n" -p "$PF" sleep 1000
		assert_one_line "$stderr"
		[ -z "$output" ]
	done
	assert_nothing_left
	run -0 "$DAEMONIZE" -n 1 -p "$PF.ok" sleep 1000
}

@test "--max-restarts, --min-uptime and --kill-timeout without -r or -n exit 2" {
	for opt in --max-restarts=3 --min-uptime=3 --kill-timeout=3; do
		run -2 --separate-stderr "$DAEMONIZE" "$opt" -p "$PF" sleep 1000
		assert_one_line "$stderr"
		[ -z "$output" ]
	done
	assert_nothing_left
	run -0 "$DAEMONIZE" -n 1 --max-restarts=3 --min-uptime=3 --kill-timeout=3 \
		-p "$PF.ok" sleep 1000
}

@test "--max-restarts, --min-uptime, --kill-timeout out of range or not integers exit 2" {
	for arg in --max-restarts={-1,1000001,abc,1.5,''} \
		--min-uptime={-1,86401,abc,0.5,''} \
		--kill-timeout={-1,86401,abc,0.5,''}; do
		run -2 --separate-stderr "$DAEMONIZE" -r "$arg" -p "$PF" sleep 1000
		assert_one_line "$stderr"
		[ -z "$output" ]
	done
	assert_nothing_left
	run -0 "$DAEMONIZE" -r --max-restarts=3 --min-uptime=3 --kill-timeout=3 \
		-p "$PF.ok" sleep 1000
}

@test "the limits of the numeric options are accepted" {
	"$DAEMONIZE" -r --max-restarts 1000000 --min-uptime 86400 \
		--kill-timeout 86400 -p "$PF" sleep 1000
	wait_worker "$(pid_in "$PF")" 0 >/dev/null
	"$DAEMONIZE" -n 1 --max-restarts 0 --min-uptime 0 --kill-timeout 0 \
		-p "$PF.2" sleep 1000
	wait_worker "$(pid_in "$PF.2")" 0 >/dev/null
}

# --- users ---

@test "-u nobody: the supervisor stays root, its workers run as nobody" {
	require_root
	"$DAEMONIZE" -u nobody -n 2 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	[ "$(status_field "$sup" Uid)" = $'0\t0\t0\t0' ]
	for i in 0 1; do
		w=$(wait_worker "$sup" "$i")
		[ "$(status_field "$w" Uid)" = $'65534\t65534\t65534\t65534' ]
		[ "$(status_field "$w" Gid)" = $'65534\t65534\t65534\t65534' ]
	done
}

@test "-u nobody: a worker killed is restarted as nobody" {
	require_root
	"$DAEMONIZE" -u nobody -r -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(wait_worker "$sup" 0)
	kill -KILL "$w"
	w2=$(wait_worker "$sup" 0 "$w")
	[ "$(status_field "$w2" Uid)" = $'65534\t65534\t65534\t65534' ]
}
