#!/usr/bin/env bats
# Where /proc cannot be read (a container that mounts none, or one that
# hides it): the supervisor falls back on what its own children tell it.

bats_require_minimum_version 1.5.0
load helpers

# Runs daemonize ARGS as nobody, in a mount namespace whose /proc is an
# empty tmpfs nobody may read; its files go in a public directory, $dir.
# Its processes are seen from outside the namespace, through the real
# /proc.
without_proc() {
	unshare --mount sh -c 'mount -t tmpfs -o mode=000 tmpfs /proc || exit 99
		exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"' \
		sh "$DAEMONIZE" "$@"
}

no_proc_setup() {
	require_mount_namespace
	dir=$(public_dir)
	PF="$dir/d.pid"
}

@test "without /proc: --stop ends a supervisor whose workers leave on TERM, with no SIGKILL" {
	no_proc_setup
	run -0 without_proc -n 2 --kill-timeout=2 -p "$PF" -e "$dir/events" \
		sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(children_of "$sup" | wc -l)" -eq 2 ]'
	mapfile -t workers < <(children_of "$sup")
	run -0 --separate-stderr "$DAEMONIZE" --stop -p "$PF"
	[ "$output" = "stopped (pid $sup)" ]
	for w in "${workers[@]}"; do ! is_alive "$w"; done
	[ ! -e "$PF" ]
	cat "$dir/events"
	grep -q 'stopping on signal 15' "$dir/events"
	! grep -q 'SIGKILL' "$dir/events"
}
