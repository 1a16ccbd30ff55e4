#!/usr/bin/env bats
# Where a supervisor's words go: its events to a socket as standard error,
# and its workers' -v lines to the launcher while it waits.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# CMD with its standard error one end of a socket pair; what comes out
# of the other end goes to standard output; CMD's exit status.
with_stderr_a_socket() {
	perl -MSocket -e '
		socketpair(my $r, my $w, AF_UNIX, SOCK_STREAM, 0)
			or die "socketpair: $!";
		my $pid = fork // die "fork: $!";
		if ($pid == 0) {
			close $r;
			open(STDERR, ">&", $w) or die "dup: $!";
			exec { $ARGV[0] } @ARGV or die "exec: $!";
		}
		close $w;
		print while <$r>;
		waitpid($pid, 0);
		exit($? >> 8);
	' -- "$@"
}

# A socket cannot be opened again through /proc/self/fd as a description
# of the supervisor's own: events are sent to it without waiting.
@test "-f with standard error a socket: the events come through it, whole lines, in order" {
	run -0 with_stderr_a_socket "$DAEMONIZE" -f -n 1 -p "$PF" true
	echo "$output"
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} =~ \ daemonize\[[0-9]+\]:\ worker\ 0\ started\ as\ pid\ [0-9]+$ ]]
	[[ ${lines[1]} =~ \ daemonize\[[0-9]+\]:\ worker\ 0\ \(pid\ [0-9]+\)\ exited\ with\ status\ 0\ after\ [0-9.]+\ s$ ]]
	[[ ${lines[2]} =~ \ daemonize\[[0-9]+\]:\ no\ worker\ left\;\ exiting\ with\ status\ 0$ ]]
}

# While the launcher waits, the workers' -v lines go on to it.
@test "-v -r: the worker's exec line comes through the launcher before 'daemon started'" {
	run -0 --separate-stderr "$DAEMONIZE" -v -r -p "$PF" sleep 1000
	printf '%s\n' "${stderr_lines[@]}" >&2
	exec_at=$(printf '%s\n' "${stderr_lines[@]}" |
		grep -nx "daemonize: exec $(command -v sleep)" | cut -d: -f1)
	started_at=$(printf '%s\n' "${stderr_lines[@]}" |
		grep -nx 'daemonize: daemon started' | cut -d: -f1)
	[ -n "$exec_at" ] && [ -n "$started_at" ]
	[ "$exec_at" -lt "$started_at" ]
}
