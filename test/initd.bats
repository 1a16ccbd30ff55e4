#!/usr/bin/env bats
# examples/init.d: each LSB action against a real daemon.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	export DAEMONIZE_TEST_TAG="$BATS_TEST_TMPDIR"
	PF="$BATS_TEST_TMPDIR/d.pid"
	printf '#!/bin/sh\ntrap "echo reloaded >>%s/log" HUP\nwhile :; do sleep 0.1; done\n' \
		"$BATS_TEST_TMPDIR" >exampled
	chmod +x exampled
	export DAEMON="$BATS_TEST_TMPDIR/exampled" PIDFILE="$PF" STOP_TIMEOUT=2
	export DAEMONIZE
	INIT="$BATS_TEST_DIRNAME/../examples/init.d/exampled"
}

@test "init script: start starts the daemon and exits 0" {
	run -0 "$INIT" start
	is_alive "$(pid_in "$PF")"
}

@test "init script: start when running exits 0 and starts no second one" {
	"$INIT" start
	pid=$(pid_in "$PF")
	run -0 "$INIT" start
	[ "$(pid_in "$PF")" = "$pid" ]
	# Every process of the test is in the daemon's session: it and its
	# sleeps.  A second daemon would have a session of its own.
	sid=$(stat_field "$pid" 6)
	for p in $(tagged_procs); do
		s=$(stat_field "$p" 6 2>/dev/null) || continue	# gone since
		[ "$s" = "$sid" ] || {
			echo "pid $p ($(cmdline_of "$p")) is in session $s, not $sid" >&2
			false
		}
	done
}

@test "init script: status exits 0 running, 1 dead with pidfile, 3 stopped" {
	run -3 "$INIT" status
	"$INIT" start
	run -0 "$INIT" status
	pid=$(pid_in "$PF")
	kill -KILL "$pid"
	wait_until 5 '! is_alive "$pid"'
	run -1 "$INIT" status
}

@test "init script: stop stops the daemon, and stopping again exits 0" {
	"$INIT" start
	pid=$(pid_in "$PF")
	run -0 "$INIT" stop
	run ! is_alive "$pid"
	[ ! -e "$PF" ]
	run -0 "$INIT" stop
}

@test "init script: restart replaces the daemon" {
	"$INIT" start
	old=$(pid_in "$PF")
	run -0 "$INIT" restart
	new=$(pid_in "$PF")
	[ "$new" != "$old" ]
	is_alive "$new"
	run ! is_alive "$old"
}

@test "init script: reload and force-reload send SIGHUP" {
	"$INIT" start
	run -0 "$INIT" reload
	wait_until 5 '[ "$(grep -c reloaded log)" -eq 1 ]'
	run -0 "$INIT" force-reload
	wait_until 5 '[ "$(grep -c reloaded log)" -eq 2 ]'
}

@test "init script: reload of a stopped daemon exits 7" {
	run -7 "$INIT" reload
}

# Verified with this build and the test daemon in place of the installed
# paths, which systemd-analyze checks for.
@test "the systemd units pass systemd-analyze verify" {
	require_command systemd-analyze
	bin=$(readlink -f "$DAEMONIZE")
	for unit in "$BATS_TEST_DIRNAME"/../examples/systemd/*.service; do
		sed -e "s|/usr/local/bin/daemonize|$bin|g" \
			-e "s|/usr/sbin/exampled|$DAEMON|g" "$unit" >"${unit##*/}"
		run -0 systemd-analyze verify --man=no "./${unit##*/}"
		# verify exits 0 after a setting it could not parse, which it
		# ignores with a warning: a clean unit says nothing.
		[ -z "$output" ] || {
			echo "${unit##*/}: $output" >&2
			false
		}
	done
}
