#!/usr/bin/env bats
# The daemon's process state: detached, clean, and running the command.

bats_require_minimum_version 1.5.0
load helpers

@test "launcher exits 0 and the daemon runs the command" {
	run -0 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	[ -z "$output" ]
	[ -z "$stderr" ]
	pid=$(pid_in "$PF")
	is_alive "$pid"
	[ "$(cmdline_of "$pid")" = "sleep 1000 " ]
}

@test "the daemon is in a session of its own and is not its leader" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	sid=$(stat_field "$pid" 6)
	[ "$sid" != "$pid" ]
	[ "$sid" != "$(stat_field "$BASHPID" 6)" ]
}

# strace holds the launcher for 2 s as it enters exit_group: the middle
# process (the daemon's session ID) must be gone by then, reaped, since
# only the launcher, its parent, can reap it; and the daemon must not be
# the launcher's child.  Measured while the launcher is still there.
@test "the middle process has exited and been reaped by the launcher" {
	require_command strace
	strace -o trace -e trace=exit_group \
		-e inject=exit_group:delay_enter=2000000 \
		sh -c 'echo $$ >launcher; exec "$@"' sh "$DAEMONIZE" -p "$PF" sleep 1000 &
	tracer=$!
	wait_until 5 'grep -qs "^exit_group(" trace'
	launcher=$(cat launcher)
	pid=$(pid_in "$PF")
	sid=$(stat_field "$pid" 6)
	[ "$sid" != "$pid" ]
	[ ! -e "/proc/$sid" ]
	[ "$(stat_field "$pid" 4)" != "$launcher" ]
	[ "$(proc_state "$launcher")" = t ]	# still held: the checks count
	wait "$tracer"				# and it exits 0
}

# Measured inside the terminal's session: once it ends, the kernel takes
# the terminal away from every process in it, leader or not.
@test "the daemon has no controlling terminal when the launcher had one" {
	script -qec "cut -d' ' -f7 /proc/\$\$/stat >tty_nr
		'$DAEMONIZE' -p '$PF' sleep 1000
		cut -d' ' -f7 /proc/\$(cat '$PF')/stat >daemon_tty_nr" /dev/null </dev/null
	[ "$(cat tty_nr)" -ne 0 ]
	[ "$(cat daemon_tty_nr)" -eq 0 ]
}

@test "the working directory is / by default" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	[ "$(readlink "/proc/$(pid_in "$PF")/cwd")" = / ]
}

@test "-c sets the working directory" {
	mkdir work
	"$DAEMONIZE" -c work -p "$PF" sleep 1000
	[ "$(readlink "/proc/$(pid_in "$PF")/cwd")" = "$BATS_TEST_TMPDIR/work" ]
}

@test "the umask is 022 by default, whatever the launcher's" {
	umask 077
	"$DAEMONIZE" -p "$PF" sleep 1000
	[ "$(status_field "$(pid_in "$PF")" Umask)" = 0022 ]
}

@test "-m sets the umask" {
	"$DAEMONIZE" -m 027 -p "$PF" sleep 1000
	[ "$(status_field "$(pid_in "$PF")" Umask)" = 0027 ]
}

@test "standard input, output and error are /dev/null by default" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	for fd in 0 1 2; do
		[ "$(readlink "/proc/$pid/fd/$fd")" = /dev/null ]
	done
}

# The control run shows the launcher really had those descriptors; the
# background child opens them only after fork, so wait for them.
check_no_fd_leaks() {
	sleep 1000 5</dev/null 9</dev/null 1500</dev/null &
	control=$!
	wait_until 5 '[ -e /proc/$control/fd/5 ] && [ -e /proc/$control/fd/9 ] &&
		[ -e /proc/$control/fd/1500 ]'
	kill "$control"
	"$1" -p "$PF" sleep 1000 5</dev/null 9</dev/null 1500</dev/null
	pid=$(pid_in "$PF")
	read -ra fds <<<"$(open_fds "$pid")"
	[ "${#fds[@]}" -eq 4 ] || {
		echo "open descriptors: ${fds[*]}" >&2
		false
	}
	[ "${fds[*]:0:3}" = "0 1 2" ]
	[ "$(readlink "/proc/$pid/fd/${fds[3]}")" = "$PF" ]
}

@test "only 0-2 and the pidfile stay open when the launcher had 5, 9 and 1500" {
	check_no_fd_leaks "$DAEMONIZE"
}

@test "without a pidfile only 0-2 stay open" {
	"$DAEMONIZE" sleep 1000 5</dev/null 9</dev/null 1500</dev/null
	wait_until 5 '[ -n "$(tagged_procs)" ]'
	[ "$(open_fds "$(tagged_procs)")" = "0 1 2" ]
}

@test "the /proc/self/fd fallback closes inherited descriptors" {
	check_no_fd_leaks "$(testbin daemonize-close-proc)"
}

@test "the loop fallback closes inherited descriptors" {
	check_no_fd_leaks "$(testbin daemonize-close-loop)"
}

@test "no signal is ignored or blocked when the launcher had some" {
	run -0 with_signals_disturbed cat /proc/self/status
	(($(sed -n 's/^SigBlk:\t/0x/p' <<<"$output") & 0x4200))
	(($(sed -n 's/^SigIgn:\t/0x/p' <<<"$output") & 0x1001))
	with_signals_disturbed "$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$(status_field "$pid" SigBlk)" = 0000000000000000 ]
	[ "$(status_field "$pid" SigIgn)" = 0000000000000000 ]
}

# GNU make leaves them ignored in its commands; glibc's signal() and
# sigaction() refuse to touch them.
@test "the real-time signals glibc reserves are reset too" {
	printf 'all:\n\t@grep ^SigIgn /proc/self/status\n\t@"$(D)" -p "$(P)" sleep 1000\n' >mk
	run -0 make -s -f mk D="$DAEMONIZE" P="$PF"
	(($(sed -n 's/^SigIgn:\t/0x/p' <<<"$output") & 0x180000000)) ||
		skip_unless_ci "make does not leave signals 32 and 33 ignored here"
	[ "$(status_field "$(pid_in "$PF")" SigIgn)" = 0000000000000000 ]
}

@test "a bare command name is looked up in PATH" {
	mkdir bin
	printf '#!/bin/sh\nexec sleep 1000\n' >bin/mycommand
	chmod +x bin/mycommand
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" "$DAEMONIZE" -p "$PF" mycommand
	pid=$(pid_in "$PF")
	wait_until 5 '[ "$(cmdline_of "$pid")" = "sleep 1000 " ]'
}

@test "a relative command path is taken from the launcher's directory" {
	mkdir bin
	printf '#!/bin/sh\nexec sleep 1000\n' >bin/mycommand
	chmod +x bin/mycommand
	run -0 "$DAEMONIZE" -p "$PF" ./bin/mycommand
	is_alive "$(pid_in "$PF")"
}

@test "arguments reach the command exactly" {
	"$DAEMONIZE" -o out printf '[%s]\n' 'a b' '' $'new\nline' 'é✓' '-v'
	wait_until 5 '[ "$(wc -l <out)" -eq 6 ]'
	[ "$(cat out)" = "$(printf '[%s]\n' 'a b' '' $'new\nline' 'é✓' '-v')" ]
}

@test "options end at the first non-option, so the command keeps its own" {
	"$DAEMONIZE" -o out printf '%s\n' -p -v
	wait_until 5 '[ "$(wc -l <out)" -eq 2 ]'
	[ "$(cat out)" = $'-p\n-v' ]
}

@test "-E sets a variable and the rest of the environment is kept" {
	export KEPT=yes
	"$DAEMONIZE" -E NEW=value -E 'SPACED=a b=c' -p "$PF" sleep 1000
	env=$(tr '\0' '\n' <"/proc/$(pid_in "$PF")/environ")
	grep -qx 'NEW=value' <<<"$env"
	grep -qx 'SPACED=a b=c' <<<"$env"
	grep -qx 'KEPT=yes' <<<"$env"
}

@test "-E PATH=... is the PATH the command is looked up in" {
	mkdir bin
	printf '#!/bin/sh\nexec sleep 1000\n' >bin/onlyhere
	chmod +x bin/onlyhere
	run -0 "$DAEMONIZE" -E "PATH=$BATS_TEST_TMPDIR/bin:/usr/bin:/bin" \
		-p "$PF" onlyhere
	is_alive "$(pid_in "$PF")"
}

@test "-o and -e send output and errors to files" {
	"$DAEMONIZE" -o out -e err sh -c 'echo to-out; echo to-err >&2'
	wait_until 5 '[ -s out ] && [ -s err ]'
	[ "$(cat out)" = to-out ]
	[ "$(cat err)" = to-err ]
}

@test "-o and -e naming one file share one offset, as 2>&1 would" {
	"$DAEMONIZE" -o log -e ./log sh -c 'echo 1; echo 2 >&2; echo 3'
	wait_until 5 '[ "$(wc -l <log)" -eq 3 ]'
	[ "$(cat log)" = $'1\n2\n3' ]
}

@test "output files are truncated without -a" {
	echo "old old old old" >log
	"$DAEMONIZE" -o log echo new
	wait_until 5 'grep -q new log'
	[ "$(cat log)" = new ]
}

@test "-a appends to the output files" {
	echo old >log
	"$DAEMONIZE" -a -o log -e log sh -c 'echo new; echo err >&2'
	wait_until 5 '[ "$(wc -l <log)" -eq 3 ]'
	[ "$(cat log)" = $'old\nnew\nerr' ]
}

@test "output files get the umask of -m" {
	"$DAEMONIZE" -m 077 -o log true
	wait_until 5 '[ -e log ]'
	[ "$(stat -c %a log)" = 600 ]
}

@test "relative output paths are taken from the launcher's directory" {
	mkdir logs
	"$DAEMONIZE" -c / -o logs/out echo here
	wait_until 5 'grep -qx here logs/out'
}

@test "-f execs the command in the launcher and returns its exit status" {
	run -7 "$DAEMONIZE" -f sh -c 'exit 7'
}

@test "-f writes the launcher's own PID to the pidfile" {
	"$DAEMONIZE" -f -p "$PF" sh -c 'echo $$ >"$0"' "$BATS_TEST_TMPDIR/self"
	[ "$(pid_in "$PF")" = "$(cat self)" ]
}

@test "-f keeps standard output unless -o is given" {
	run -0 "$DAEMONIZE" -f echo hello
	[ "$output" = hello ]
}

@test "-f resets signals like the daemon" {
	run -0 with_signals_disturbed "$DAEMONIZE" -f grep -E '^Sig(Blk|Ign)' \
		/proc/self/status
	[ "${lines[0]}" = "SigBlk:	0000000000000000" ]
	[ "${lines[1]}" = "SigIgn:	0000000000000000" ]
}

@test "-v reports each step on the launcher's standard error" {
	run -0 --separate-stderr "$DAEMONIZE" -v -o out -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ -z "$output" ]
	[[ $stderr == *"daemonize: daemon pid $pid"* ]]
	[[ $stderr == *"daemonize: pidfile $PF written"* ]]
	[[ $stderr == *"daemonize: exec $(command -v sleep)"* ]]
	[ ! -s out ]
}

# The reader opens the FIFO read-write, so it never waits for a writer.
@test "-o naming a FIFO with a reader sends the output to it" {
	mkfifo fifo
	cat <>fifo >got &
	reader=$!
	wait_until 5 "[ \"\$(readlink /proc/$reader/fd/0)\" = '$BATS_TEST_TMPDIR/fifo' ]"
	run -0 "$DAEMONIZE" -p "$PF" -o fifo echo through-the-fifo
	wait_until 5 'grep -qx through-the-fifo got'
}

# The test build stops the middle process right after its fork; killing
# it then must not lose track of the daemon, which reports itself.
@test "a middle process killed after its fork leaves a started daemon, reported" {
	DAEMONIZE_TEST_PAUSE=middle-forked \
		"$(testbin daemonize-hooks)" -p "$PF" sleep 1000 2>err &
	launcher=$!
	wait_until 5 '[ -s "$PF" ]'
	middle=$(stat_field "$(pid_in "$PF")" 6)
	wait_until 5 '[ "$(proc_state "$middle")" = T ]'
	kill -KILL "$middle"
	rc=0
	wait "$launcher" || rc=$?
	[ "$rc" -eq 0 ]
	[ ! -s err ]
	wait_exec "$(pid_in "$PF")" sleep
}

# A pipe whose reader has gone: writing to it raises SIGPIPE.
with_broken_pipe_on() {
	perl -e 'pipe(R, W) or die; close(R);
		open(STDOUT, ">&W") or die if $ARGV[0] == 1;
		open(STDERR, ">&W") or die if $ARGV[0] == 2;
		shift; exec { $ARGV[0] } @ARGV or die "exec: $!"' "$@"
}

@test "-v with standard error a broken pipe still starts the daemon: exit 0" {
	run -0 with_broken_pipe_on 2 "$DAEMONIZE" -v -p "$PF" sleep 1000
	wait_exec "$(pid_in "$PF")" sleep
	[ "$(status_field "$(pid_in "$PF")" SigIgn)" = 0000000000000000 ]
}

@test "-V on a broken pipe exits 125 with one line" {
	run -125 --separate-stderr with_broken_pipe_on 1 "$DAEMONIZE" -V
	[ "$stderr" = "daemonize: write standard output: Broken pipe" ]
}
