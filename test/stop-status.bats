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
