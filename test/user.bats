#!/usr/bin/env bats
# -u USER[:GROUP]: groups, group and user switched for good; root only.

bats_require_minimum_version 1.5.0
load helpers

@test "-u runs the daemon as the user, with the user's groups only" {
	require_root
	"$DAEMONIZE" -u nobody -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$(status_field "$pid" Uid)" = $'65534\t65534\t65534\t65534' ]
	[ "$(status_field "$pid" Gid)" = $'65534\t65534\t65534\t65534' ]
	[ "$(status_field "$pid" Groups)" = "65534" ]
}

@test "-u sets HOME, USER and LOGNAME from the user's entry" {
	require_root
	"$DAEMONIZE" -u nobody -p "$PF" sleep 1000
	env=$(tr '\0' '\n' <"/proc/$(pid_in "$PF")/environ")
	grep -qx "HOME=$(getent passwd nobody | cut -d: -f6)" <<<"$env"
	grep -qx 'USER=nobody' <<<"$env"
	grep -qx 'LOGNAME=nobody' <<<"$env"
}

@test "-E wins over the variables -u sets" {
	require_root
	"$DAEMONIZE" -u nobody -E HOME=/srv -p "$PF" sleep 1000
	tr '\0' '\n' <"/proc/$(pid_in "$PF")/environ" | grep -qx 'HOME=/srv'
}

@test "-u USER:GROUP sets the group" {
	require_root
	group=$(getent group 65534 | cut -d: -f1)
	"$DAEMONIZE" -u "nobody:$group" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$(status_field "$pid" Gid)" = $'65534\t65534\t65534\t65534' ]
}

@test "-u opens the pidfile as root and the output files as the user" {
	require_root
	chmod 0700 "$BATS_TEST_TMPDIR"
	dir=$(public_dir)
	"$DAEMONIZE" -u nobody -p "$PF" -o "$dir/out" sleep 1000
	[ "$(stat -c %U "$PF")" = root ]
	[ "$(stat -c %U "$dir/out")" = nobody ]
	[ "$(status_field "$(pid_in "$PF")" Uid)" = $'65534\t65534\t65534\t65534' ]
}

@test "-u: an output file the user may not open exits 125 and starts nothing" {
	require_root
	chmod 0700 "$BATS_TEST_TMPDIR"
	run -125 --separate-stderr "$DAEMONIZE" -u nobody -p "$PF" -o out sleep 1000
	[ "$stderr" = "daemonize: open out: Permission denied" ]
	[ ! -e out ]
	assert_nothing_left
}

@test "switching to another user needs root: exit 125, nothing started" {
	require_root
	dir=$(public_dir)
	PF="$dir/d.pid"
	run -125 --separate-stderr as_nobody "$DAEMONIZE" -u root -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: switch to user root: only root can do that" ]
	assert_nothing_left
}

@test "-u naming the current user needs no root" {
	require_root
	dir=$(public_dir)
	PF="$dir/d.pid"
	run -0 as_nobody "$DAEMONIZE" -u nobody -p "$PF" sleep 1000
	[ "$(status_field "$(pid_in "$PF")" Uid)" = $'65534\t65534\t65534\t65534' ]
}

@test "a setuid daemonize refuses to run" {
	require_root
	dir=$(public_dir)
	cp "$DAEMONIZE" "$dir/daemonize"
	chmod 4755 "$dir/daemonize"
	run -125 --separate-stderr as_nobody "$dir/daemonize" -p "$dir/d.pid" sleep 1000
	[ "$stderr" = "daemonize: start: refusing to run setuid or setgid" ]
	[ ! -e "$dir/d.pid" ]
	[ -z "$(tagged_procs)" ]
}
