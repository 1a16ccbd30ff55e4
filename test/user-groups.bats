#!/usr/bin/env bats
# -u with odd user databases: a user in many groups, in too many, a
# database that cannot be read; and -u naming the user we already are.

bats_require_minimum_version 1.5.0
load helpers

# Runs CMD in a mount namespace where FILE is bound over /etc/TARGET:
# with_etc FILE TARGET CMD...  Skips unless root may do that.
with_etc() {
	unshare --mount sh -c 'mount --bind "$1" "/etc/$2" || exit 99
		shift 2; exec "$@"' sh "$@"
}

# /etc/group with COUNT more groups of nobody, gids from 100001 up.
group_file_with() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "cov%d:x:%d:nobody\n", i, 100000 + i }' >groups
	cat /etc/group >>groups
}

@test "-u a user in 20 groups gives the daemon all 20 and its own" {
	require_mount_namespace
	group_file_with 20
	run -0 with_etc groups group "$DAEMONIZE" -p "$PF" -u nobody sleep 1000
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
	want=$({ seq 100001 100020; id -g nobody; } | sort -n | paste -sd ' ')
	[ "$(status_field "$pid" Groups | tr ' ' '\n' | sort -n | paste -sd ' ')" = "$want" ]
}

# More than the kernel takes (NGROUPS_MAX, 65536) is refused at once.
@test "-u a user in more than 65536 groups exits 125 with one line, starts nothing" {
	require_mount_namespace
	group_file_with 65537
	run -125 --separate-stderr with_etc groups group "$DAEMONIZE" -p "$PF" \
		-u nobody sleep 1000
	[ "$stderr" = "daemonize: find groups of user nobody: too many" ]
	assert_nothing_left
}

# The files alone name users (no other source fills in), and strace makes
# them unreadable: the failure is the database's, not "no such user".
@test "-u with a user or group database that cannot be read exits 125 with its error" {
	require_mount_namespace
	require_strace
	printf 'passwd: files\ngroup: files\n' >nsswitch
	for db in passwd:user:daemon group:group:daemon:daemon; do
		IFS=: read -r file what spec <<<"$db"
		# env: the strace wrapper's ASan setting, for a program.
		run -125 --separate-stderr with_etc nsswitch nsswitch.conf env \
			"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			strace -o /dev/null -P "/etc/$file" \
			-e inject=open,openat:error=EACCES \
			"$DAEMONIZE" -p "$PF" -u "$spec" sleep 1000
		[ "$stderr" = "daemonize: find $what daemon: Permission denied" ]
		assert_nothing_left
	done
}

# root -u root: nothing to change, in the launcher or the supervisor,
# which opens -o as the user.
@test "-u root as root with a supervisor and -o runs the worker as root" {
	require_root
	run -0 "$DAEMONIZE" -r -u root -o out -p "$PF" sh -c 'id -u; exec sleep 1000'
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s out ]'
	[ "$(cat out)" = 0 ]
	[ "$(stat -c %u out)" = 0 ]
	# Stopped by TERM, so that a coverage build writes its counts.
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
}
