#!/usr/bin/env bats
# --status, --stop and --signal: the pidfile's lock decides, not its number.

bats_require_minimum_version 1.5.0
load helpers

@test "--status of a running daemon exits 0 and names it" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	run -0 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "running (pid $(pid_in "$PF"))" ]
}

@test "--status with a stale pidfile exits 1" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	kill -KILL "$(pid_in "$PF")"
	wait_until 5 '! is_alive "$(pid_in "$PF")"'
	run -1 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "not running (stale pidfile $PF)" ]
}

@test "--status without a pidfile exits 3" {
	run -3 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "not running" ]
}

@test "--status of a live PID that holds no lock is not running" {
	sleep 1000 3>&- &
	echo $! >"$PF"
	run -1 "$DAEMONIZE" --status -p "$PF"
	kill $!
}

@test "--status when the pidfile cannot be read exits 4" {
	require_root
	dir=$(public_dir)
	PF="$dir/d.pid"
	"$DAEMONIZE" -p "$PF" sleep 1000
	chmod 0600 "$PF"
	run -4 --separate-stderr as_nobody "$DAEMONIZE" --status -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: Permission denied" ]
}

@test "--status of a FIFO at the pidfile's path exits 4 without waiting for a writer" {
	mkfifo "$PF"
	run -4 --separate-stderr timeout 5 "$DAEMONIZE" --status -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: not a regular file" ]
}

@test "--status does not follow a symbolic link at the pidfile's path" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	ln -s "$PF" link
	run -4 --separate-stderr "$DAEMONIZE" --status -p link
	[ "$stderr" = "daemonize: read pidfile link: is a symbolic link, not followed" ]
}

@test "--status from another PID namespace says running while the lock is held" {
	require_pid_namespace
	"$DAEMONIZE" -p "$PF" sleep 1000
	run -0 in_new_pid_namespace "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "running (pid outside this PID namespace)" ]
}

@test "--status -q prints nothing" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	run -0 "$DAEMONIZE" --status -q -p "$PF"
	[ -z "$output" ]
}

@test "--stop stops a running daemon and removes its pidfile" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	run -0 "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "stopped (pid $pid)" ]
	run ! is_alive "$pid"
	[ ! -e "$PF" ]
}

@test "--stop escalates to SIGKILL after --timeout for a daemon ignoring TERM" {
	"$DAEMONIZE" -p "$PF" sh -c 'trap "" TERM; while :; do sleep 1; done'
	pid=$(pid_in "$PF")
	start=$(date +%s%N)
	run -0 "$DAEMONIZE" --stop --timeout 1 -p "$PF"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	run ! is_alive "$pid"
	((elapsed_ms >= 1000 && elapsed_ms < 2000))
}

@test "--stop without pidfds, as on old kernels, escalates to SIGKILL too" {
	"$DAEMONIZE" -p "$PF" sh -c 'trap "" TERM; while :; do sleep 1; done'
	pid=$(pid_in "$PF")
	run -0 "$(testbin daemonize-no-pidfd)" --stop --timeout 1 -p "$PF"
	run ! is_alive "$pid"
	[ ! -e "$PF" ]
}

@test "--stop of a stopped daemon says not running and exits 0" {
	run -0 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	[ -z "$stderr" ]
	[ ! -e "$PF" ]
}

@test "--stop without a pidfile creates none, even where it could not" {
	dir=$(public_dir)
	chmod 0555 "$dir"
	run -0 --separate-stderr as_nobody "$DAEMONIZE" --stop -p "$dir/d.pid"
	[ "$output" = "not running" ]
	[ -z "$stderr" ]
}

@test "--stop of a FIFO at the pidfile's path exits 125 without waiting for a writer" {
	mkfifo "$PF"
	run -125 --separate-stderr timeout 5 "$DAEMONIZE" --stop -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: not a regular file" ]
	[ -p "$PF" ]
}

@test "--stop does not signal a live process a stale pidfile names" {
	sleep 1000 3>&- &
	victim=$!
	echo "$victim" >"$PF"
	run -0 "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	is_alive "$victim"
	kill "$victim"
}

@test "--stop signals nobody when the pidfile names another process than the lock holder" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	daemon=$(pid_in "$PF")
	sleep 1000 3>&- &
	victim=$!
	printf '%s\n' "$victim" >"$PF"
	run -1 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: it names pid $victim, but pid $daemon holds its lock; not signalling" ]
	is_alive "$victim"
	is_alive "$daemon"
	kill "$victim"
}

@test "--stop from another PID namespace signals nobody and exits 1" {
	require_pid_namespace
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	run -1 --separate-stderr in_new_pid_namespace "$DAEMONIZE" --stop -p "$PF"
	[ "$stderr" = "daemonize: read pidfile $PF: its lock is held by a process outside this PID namespace; not signalling" ]
	is_alive "$pid"
	[ "$(pid_in "$PF")" = "$pid" ]
}

@test "--stop on a lock file that holds no pid signals nobody and exits 1" {
	"$DAEMONIZE" -l d.lock sleep 1000
	wait_until 5 '[ -n "$(tagged_procs)" ]'
	daemon=$(tagged_procs)
	run -1 --separate-stderr "$DAEMONIZE" --stop -p d.lock
	[ "$stderr" = "daemonize: read pidfile d.lock: it names no pid, but pid $daemon holds its lock; not signalling" ]
	is_alive "$daemon"
}

@test "--stop --signal sends the given signal first" {
	"$DAEMONIZE" -o out -p "$PF" sh -c 'trap "echo got-int; exit 0" INT; while :; do sleep 0.1; done'
	run -0 "$DAEMONIZE" --stop --signal INT -p "$PF"
	grep -qx got-int out
}

@test "--signal without --stop sends the signal and leaves the daemon running" {
	"$DAEMONIZE" -o out -p "$PF" sh -c 'trap "echo reload" HUP; while :; do sleep 0.1; done'
	pid=$(pid_in "$PF")
	run -0 "$DAEMONIZE" --signal SIGHUP -p "$PF"
	wait_until 5 'grep -qx reload out'
	is_alive "$pid"
}

@test "--signal takes names with or without SIG, and numbers" {
	for sig in hup:HUP SIGHUP:HUP 1:HUP USR1:USR1; do
		"$DAEMONIZE" -o out -p "$PF" sh -c \
			'trap "echo HUP" HUP; trap "echo USR1" USR1; while :; do sleep 0.1; done'
		run -0 "$DAEMONIZE" --signal "${sig%:*}" -p "$PF"
		wait_until 5 '[ "$(cat out)" = "${sig#*:}" ]'
		"$DAEMONIZE" --stop -q -p "$PF"
	done
	run -2 "$DAEMONIZE" --signal NOPE -p "$PF"
}

@test "--stop needs -p" {
	run -2 --separate-stderr "$DAEMONIZE" --stop
	[ "$stderr" = "daemonize: --status, --stop and --signal need -p (try 'daemonize --help')" ]
}

# In a new PID namespace: starts a daemon with -p, runs daemonize ARGS -p
# under strace, held for 2 s on entry to pidfd_open (after it has found the
# lock holder), and meanwhile kills the daemon and gives its PID to a
# `sleep 1000` through ns_last_pid.  Exits 0 if that sleep survives, 1 if
# the control process killed it, 2 if the setup failed.
control_after_pid_reuse() {
	local script
	script=$(declare -f wait_until proc_state is_alive)'
		set -u
		D=$1 PF=$2
		shift 2
		"$D" -p "$PF" sleep 1000 || { echo "setup: start failed"; exit 2; }
		read -r daemon <"$PF"
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout 10 strace -f -o strace.log -e trace=pidfd_open \
			-e inject=pidfd_open:delay_enter=2000000 \
			-- "$D" "$@" -p "$PF" >control.out 2>&1 &
		control=$!
		wait_until 5 "grep -qs \"pidfd_open(\" strace.log" ||
			{ echo "setup: never in pidfd_open"; exit 2; }
		kill -KILL "$daemon"
		wait_until 5 "[ ! -e /proc/$daemon ]" ||
			{ echo "setup: daemon $daemon never reaped"; exit 2; }
		# No fork between the write and the sleep: it takes the next PID.
		for try in 1 2 3; do
			echo $((daemon - 1)) >/proc/sys/kernel/ns_last_pid
			sleep 1000 &
			victim=$!
			[ "$victim" = "$daemon" ] && break
			kill -KILL "$victim"
		done
		[ "$victim" = "$daemon" ] ||
			{ echo "setup: the sleep got pid $victim, not $daemon"; exit 2; }
		rc=0
		wait "$control" || rc=$?
		echo "control: exit $rc, said: $(cat control.out)"
		echo "strace: $(cat strace.log)"
		is_alive "$victim" ||
			{ echo "pid $victim, reused by a sleep, was killed"; exit 1; }
	'
	in_new_pid_namespace bash -c "$script" bash "$DAEMONIZE" "$PF" "$@"
}

@test "--stop never signals a process that took the daemon's PID after the lock was read" {
	require_pid_namespace
	require_strace
	run control_after_pid_reuse --stop
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--signal never signals a process that took the daemon's PID after the lock was read" {
	require_pid_namespace
	require_strace
	run control_after_pid_reuse --signal=TERM
	echo "$output"
	[ "$status" -eq 0 ]
}

# --stop on an unlocked FILE holding CONTENT: exit 0, "not running", a
# warning, and the file as it was, byte for byte and inode.
assert_stop_leaves() {
	printf '%s' "$1" >"$PF"
	cp "$PF" before
	inode=$(stat -c %i "$PF")
	run -0 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	[ "$stderr" = "daemonize: remove pidfile $PF: holds something other than a PID; left as it is" ]
	cmp before "$PF"
	[ "$(stat -c %i "$PF")" = "$inode" ]
}

@test "--stop leaves an unlocked file that holds no pid untouched" {
	assert_stop_leaves $'key=value\n'
}

@test "--stop leaves an unlocked file that holds a number and more untouched" {
	assert_stop_leaves $'42\nkey=value\n'
}

@test "--stop removes a stale pidfile that names a dead process" {
	sh -c 'echo $$' >"$PF"
	run -0 "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	[ ! -e "$PF" ]
}

@test "--stop removes an empty stale pidfile" {
	: >"$PF"
	run -0 "$DAEMONIZE" --stop -p "$PF"
	[ ! -e "$PF" ]
}

# A --stop that finds a stale pidfile (naming a dead process, unlocked) and
# is held for 1 s on entry to unlink(2) while it removes it; $traced is its
# strace.  Returns once the --stop is inside the delay.
stop_held_removing_stale_pidfile() {
	sh -c 'echo $$' >"$PF"
	delay_on unlink,unlinkat 1 strace.log "$DAEMONIZE" --stop -p "$PF" \
		>stop.out 2>&1
	wait_in_syscall strace.log 'unlink|unlinkat'
}

@test "--status does not take a --stop removing a stale pidfile for the daemon" {
	require_strace
	stop_held_removing_stale_pidfile
	run --separate-stderr "$DAEMONIZE" --status -p "$PF"
	echo "--status: exit $status, said: $output"
	[ "$status" -ne 0 ]
	[[ $output != running* ]]
	wait "$traced" || true
}

@test "a start while a --stop removes a stale pidfile succeeds, and its daemon holds the pidfile" {
	require_strace
	stop_held_removing_stale_pidfile
	run --separate-stderr timeout 10 "$DAEMONIZE" -p "$PF" sleep 1000
	echo "start: exit $status, said: $stderr"
	[ "$status" -eq 0 ]
	wait "$traced" || true
	pid=$(pid_in "$PF")
	[ "$(cmdline_of "$pid")" = "sleep 1000 " ]
	run -0 "$DAEMONIZE" --status -p "$PF"
	[[ $output == *"(pid $pid)"* ]]
}

# For about SECS seconds: starts a daemon, then stops it, again and again;
# records the PID of every daemonize it runs in `control`, and the exit
# status of every --stop in `stop.status`.
start_stop_loop() {
	local end=$((SECONDS + $1)) p rc
	while ((SECONDS < end)); do
		"$DAEMONIZE" -p "$PF" sleep 1000 2>>start.err &
		p=$!
		echo "$p" >>control
		wait "$p" || true
		"$DAEMONIZE" --stop -q -p "$PF" 2>>stop.err &
		p=$!
		echo "$p" >>control
		rc=0
		wait "$p" || rc=$?
		echo "$rc" >>stop.status
	done
}

@test "under concurrent starts and stops, --status and a start name only daemons" {
	start_stop_loop 3 &
	a=$!
	start_stop_loop 3 &
	b=$!
	end=$((SECONDS + 3))
	while ((SECONDS < end)); do
		"$DAEMONIZE" --status -p "$PF" >>status.out 2>>status.err &
		echo "$!" >>control
		wait "$!" || true
	done
	wait "$a" "$b"
	sort -u control >control.sorted
	echo "--status answers: $(sort status.out | uniq -c | sort -rn | head -3)"
	echo "--stop exit statuses: $(sort stop.status | uniq -c)"
	# The PIDs --status and refused starts took for the daemon: never one
	# of the daemonize processes.
	sed -n 's/^running (pid \([0-9]*\))$/\1/p' status.out | sort -u >by-status
	sed -n 's/.*already running (pid \([0-9]*\))$/\1/p' start.err |
		sort -u >by-start
	[ -s by-status ] || [ -s by-start ]
	mistaken=$(comm -12 by-status control.sorted)
	[ -z "$mistaken" ] || {
		echo "--status said running for daemonize processes: $mistaken" >&2
		false
	}
	mistaken=$(comm -12 by-start control.sorted)
	[ -z "$mistaken" ] || {
		echo "a start said already running for daemonize processes: $mistaken" >&2
		false
	}
	! grep -qx 1 stop.status || {
		echo "--stop exited 1:" >&2
		cat stop.err >&2
		false
	}
}

# The exit status answers the question; a lost line of output does not
# turn a stop that happened into a failure.
@test "--stop with standard output closed still exits 0 once stopped" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	run -0 bash -c '"$0" --stop -p "$1" >&-' "$DAEMONIZE" "$PF"
	run ! is_alive "$pid"
	[ ! -e "$PF" ]
}

@test "--status takes a remover's guard for no daemon" {
	echo 99999999 >"$PF"
	hold_guard "$PF" 1
	run -1 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "not running (stale pidfile $PF)" ]
}

@test "--stop waits for another remover's guard, then removes the stale pidfile" {
	echo 99999999 >"$PF"
	hold_guard "$PF" 1
	run -0 "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "not running" ]
	[ ! -e "$PF" ]
}

# Each --stop either stops the daemon or finds it stopped (by another, or
# gone between its look and its signal): all exit 0, the daemon is gone,
# and no stop signals anything else (no other process of the test dies).
@test "50 concurrent --stops of one daemon all exit 0, and it is gone with its pidfile" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	sleep 1000 &
	bystander=$!
	for i in $(seq 50); do
		{
			rc=0
			"$DAEMONIZE" --stop -p "$PF" >"out.$i" 2>"err.$i" || rc=$?
			echo "$rc" >"status.$i"
		} &
		stoppers+=($!)
	done
	# Not a bare wait: with BATS_TEST_TIMEOUT, bats has a child of its own.
	wait "${stoppers[@]}"
	[ "$(cat status.* | grep -c '^0$')" -eq 50 ]
	[ -z "$(cat err.*)" ]
	[ "$(cat out.* | grep -cx "stopped (pid $pid)\|not running")" -eq 50 ]
	[ "$(cat out.* | grep -cx "stopped (pid $pid)")" -ge 1 ]
	wait_until 5 '! is_alive "$pid"'
	[ ! -e "$PF" ]
	is_alive "$bystander"
	kill "$bystander"
}
