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

# $dir/nobody: a directory nobody owns, not world-writable, so that
# fs.protected_symlinks does not stop a link in it from being followed.
make_nobody_dir() {
	dir=$(public_dir)
	mkdir -m 0755 "$dir/nobody"
	chown nobody: "$dir/nobody"
}

# A 0600 file of root's, and a link to it planted by nobody in its directory.
plant_link_to_root_file() {
	make_nobody_dir
	printf 'secret\n' >"$dir/rootfile"
	chmod 0600 "$dir/rootfile"
	as_nobody ln -s "$dir/rootfile" "$dir/nobody/link"
}

# Debian's daemonize switches user before it opens the output files.
check_planted_link() {
	require_root
	plant_link_to_root_file
	PF="$dir/d.pid"
	run --separate-stderr "$DAEMONIZE" -u nobody "$1" "$dir/nobody/link" \
		-p "$PF" sleep 1000
	[ "$(cat "$dir/rootfile")" = secret ]
	[ "$(stat -c %a:%U "$dir/rootfile")" = 600:root ]
	[ "$status" -eq 125 ]
	assert_one_line "$stderr"
	assert_nothing_left
}

@test "-u: -o does not follow the user's link to truncate a root file" {
	check_planted_link -o
}

@test "-u: -e does not follow the user's link to truncate a root file" {
	check_planted_link -e
}

# The name service is read by the launcher alone: the daemon, which holds
# the pidfile's lock, never opens its files.  The trace is complete up to
# the daemon's execve once that line is in it (strace pads the PID column
# to 5 characters, so a shorter PID is followed by more than one space).
@test "-u: the daemon never reads the user and group databases" {
	require_root
	require_strace
	sleep=$(readlink -f "$(command -v sleep)")
	strace -f -o trace -e trace=open,openat,execve -- \
		"$DAEMONIZE" -u nobody -p "$PF" "$sleep" 1000 &
	wait_until 5 '[ -s "$PF" ]'
	pid=$(pid_in "$PF")
	wait_until 5 "grep -Eq '^$pid +execve\\(\"$sleep\"' trace"
	run ! grep -E "^$pid .*(/etc/passwd|/etc/group|/etc/nsswitch.conf|libnss_)" trace
}

# A user with supplementary groups if the system has one, else nobody.
@test "-u: the daemon has the groups id -G lists for the user" {
	require_root
	user=$(getent group | awk -F: '$4 != "" { split($4, m, ","); print m[1]; exit }')
	id "$user" >/dev/null 2>&1 || user=nobody
	"$DAEMONIZE" -u "$user" -p "$PF" sleep 1000
	got=$(status_field "$(pid_in "$PF")" Groups | tr ' ' '\n' | sort -n | paste -sd ' ')
	[ "$got" = "$(id -G "$user" | tr ' ' '\n' | sort -n | paste -sd ' ')" ]
}

@test "-u sets SHELL to the user's login shell" {
	require_root
	SHELL=/bin/bash "$DAEMONIZE" -u nobody -p "$PF" sleep 1000
	tr '\0' '\n' <"/proc/$(pid_in "$PF")/environ" |
		grep -qx "SHELL=$(getent passwd nobody | cut -d: -f7)"
}

@test "-u drops the launcher's XDG_RUNTIME_DIR" {
	require_root
	XDG_RUNTIME_DIR=/run/user/0 "$DAEMONIZE" -u nobody -p "$PF" sleep 1000
	env=$(tr '\0' '\n' <"/proc/$(pid_in "$PF")/environ")
	run ! grep -q '^XDG_RUNTIME_DIR=' <<<"$env"
}

# -f -u keeps root in the saved user ID until the exec; the kernel then
# leaves ambient capabilities, which the exec would pass on.
@test "-f -u passes no ambient capability to the command" {
	require_root
	require_command capsh
	capsh --caps="cap_net_raw,cap_setuid,cap_setgid,cap_setpcap+eip" \
		--addamb=cap_net_raw -- -c "grep CapAmb /proc/self/status >before;
		'$DAEMONIZE' -f -u nobody -- grep -E '^(Cap(Amb|Prm|Eff)|Uid)' \
			/proc/self/status >after"
	[ "$(cut -f2 before)" = 0000000000002000 ]
	[ "$(grep -c $'\t0000000000000000$' after)" -eq 3 ]
	grep -q $'^Uid:\t65534\t65534\t65534\t65534$' after
}

# A process that is not dumpable has its /proc/PID files owned by root.
# A command that gains file capabilities must not be dumpable, or the
# user could read its memory through a core dump.
@test "-f -u: a command that gains file capabilities is not dumpable" {
	require_root
	require_command setcap
	dir=$(public_dir)
	cp "$(readlink -f "$(command -v sleep)")" "$dir/capsleep"
	setcap cap_net_bind_service=+ep "$dir/capsleep"
	"$DAEMONIZE" -f -u nobody -p "$PF" "$dir/capsleep" 1000 &
	wait_until 5 '[ -s "$PF" ] && [ "$(readlink "/proc/$(pid_in "$PF")/exe")" = "$dir/capsleep" ]'
	pid=$(pid_in "$PF")
	[ "$(status_field "$pid" CapPrm)" = 0000000000000400 ]
	[ "$(stat -c %u "/proc/$pid/environ")" = 0 ]
}
