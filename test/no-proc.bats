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
	# ASan's runtime reads /proc/self/maps as it starts.
	[[ $DAEMONIZE != *-san ]] || skip "not under ASan"
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
	for w in "${workers[@]}"; do run ! is_alive "$w"; done
	[ ! -e "$PF" ]
	cat "$dir/events"
	grep -q 'stopping on signal 15' "$dir/events"
	run ! grep -q SIGKILL "$dir/events"
}

@test "without /proc: the /proc/self/fd fallback gives way to the loop, which closes inherited descriptors" {
	no_proc_setup
	DAEMONIZE=$(testbin daemonize-close-proc) \
		run -0 without_proc -p "$PF" sleep 1000 5</dev/null 9</dev/null 300</dev/null
	pid=$(pid_in "$PF")
	read -ra fds <<<"$(open_fds "$pid")"
	echo "open descriptors: ${fds[*]}"
	[ "${#fds[@]}" -eq 4 ]
	[ "${fds[*]:0:3}" = "0 1 2" ]
	[ "$(readlink "/proc/$pid/fd/${fds[3]}")" = "$PF" ]
}

# The child of PID that runs `sleep 1`: an orphan it adopted, not a worker.
sleeping_one() {
	local c
	for c in $(children_of "$1"); do
		[ "$(cmdline_of "$c")" = "sleep 1 " ] && printf '%s\n' "$c"
	done
	return 0
}

# A kernel built without CONFIG_PROC_CHILDREN has no children list: the
# supervisor (-f: this PID, traced from its start) finds its children in
# all of /proc instead.
@test "without the kernel's children list, the supervisor still reaps the orphans it adopts" {
	require_strace
	# Traced, LeakSanitizer could not check it at its exit.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		sh -c 'kill -STOP $$; exec "$@"' sh "$DAEMONIZE" -f -n 1 -p "$PF" \
		sh -c '(sleep 1 &); exec sleep 1000' 2>err &
	sup=$!
	wait_until 5 '[ "$(proc_state "$sup")" = T ]'
	strace -f -o log -p "$sup" -P "/proc/self/task/$sup/children" \
		-e trace=open,openat -e inject=open,openat:error=ENOENT 2>/dev/null &
	wait_until 5 '[ "$(status_field "$sup" TracerPid)" != 0 ]'
	kill -CONT "$sup"
	wait_until 5 'orphan=$(sleeping_one "$sup"); [ -n "$orphan" ]'
	wait_until 5 '[ ! -e "/proc/$orphan" ]'
	grep -q 'children.*ENOENT.*INJECTED' log
	kill -TERM "$sup"
	wait "$sup"
}
