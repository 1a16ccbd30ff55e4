#!/usr/bin/env bats
# The log relay: -S, -t, -T and -H put the supervisor between the command
# and its outputs.  Options, the processes and pipes, signals, -T's
# stamps and -H's reopening.  Lines: relay-lines.bats; syslog, full disks:
# relay-syslog.bats.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# --- options ---

@test "-S and --syslog take no detached argument: the next word is the command" {
	run_relayed_true -S
	[ "$status" -eq 0 ]
	was_relayed
	run_relayed_true --syslog
	[ "$status" -eq 0 ]
	was_relayed
	# A word after -S is the command, not a facility.
	run -127 "$DAEMONIZE" -f -S daemon.notice
}

@test "-S takes FACILITY.LEVEL attached, --syslog after =, and FACILITY alone" {
	for opt in -Slocal0.info -Sdaemon --syslog=local0.info --syslog=user \
		--syslog=authpriv.debug -Slocal7.emerg; do
		run_relayed_true "$opt"
		echo "$opt: exit $status, said: $output"
		[ "$status" -eq 0 ]
		was_relayed
	done
}

@test "-t and --tag are accepted with -S" {
	run_relayed_true -S -t mytag
	[ "$status" -eq 0 ]
	was_relayed
	run_relayed_true --syslog=local1 --tag=my-tag
	[ "$status" -eq 0 ]
	was_relayed
}

@test "-T and --timestamps are accepted and put a relay in" {
	run_relayed_true -T
	[ "$status" -eq 0 ]
	was_relayed
	run_relayed_true --timestamps -o out
	[ "$status" -eq 0 ]
	was_relayed
}

@test "-H and --reopen are accepted with -o or -e and put a relay in" {
	run_relayed_true -H -o out
	[ "$status" -eq 0 ]
	was_relayed
	run_relayed_true --reopen -e err
	[ "$status" -eq 0 ]
	was_relayed
	run_relayed_true -H -o out -e err
	[ "$status" -eq 0 ]
	was_relayed
}

@test "a bad syslog facility exits 2 with one line naming the facilities, and starts nothing" {
	for opt in -Sbogus -Sbogus.notice --syslog=bogus --syslog=local8.info \
		--syslog=.notice -SDaemonx; do
		run --separate-stderr "$DAEMONIZE" "$opt" -p "$PF" sleep 1000
		echo "$opt: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		is_one_line "$stderr"
		has_word "$stderr" daemon
		assert_nothing_left
	done
}

@test "a bad syslog level exits 2 with one line naming the levels, and starts nothing" {
	for opt in -Sdaemon.bogus --syslog=daemon.bogus --syslog=daemon. \
		-Slocal0.information --syslog=daemon.notice.x; do
		run --separate-stderr "$DAEMONIZE" "$opt" -p "$PF" sleep 1000
		echo "$opt: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		is_one_line "$stderr"
		has_word "$stderr" notice
		assert_nothing_left
	done
}

@test "-t without -S exits 2 with one line, and starts nothing" {
	# With -S it is fine: what fails below is -S missing.
	run_relayed_true -t tag -S
	[ "$status" -eq 0 ]
	for args in "-t tag" "--tag=tag" "-t tag -T" "-t tag -H -o out"; do
		# shellcheck disable=SC2086 # split on purpose
		run --separate-stderr "$DAEMONIZE" $args -p "$PF" sleep 1000
		echo "$args: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		is_one_line "$stderr"
		assert_nothing_left
	done
}

@test "an empty -t TAG exits 2 with one line, and starts nothing" {
	run_relayed_true -S -t x
	[ "$status" -eq 0 ]
	run -2 --separate-stderr "$DAEMONIZE" -S -t '' -p "$PF" sleep 1000
	is_one_line "$stderr"
	assert_nothing_left
	run -2 --separate-stderr "$DAEMONIZE" --syslog --tag= -p "$PF" sleep 1000
	is_one_line "$stderr"
	assert_nothing_left
}

@test "a -t TAG with a space, a control character or DEL exits 2 with one line showing it escaped, and starts nothing" {
	local shown=('my tag' 'my\ttag' 'my\177tag') tags=('my tag' $'my\ttag' $'my\x7ftag') k
	for k in 0 1 2; do
		run -2 --separate-stderr "$DAEMONIZE" -S -t "${tags[k]}" -p "$PF" sleep 1000
		[ "$stderr" = "daemonize: option -t wants a tag of printable characters without spaces, not '${shown[k]}' (try 'daemonize --help')" ]
		assert_nothing_left
	done
}

@test "-H without -o or -e exits 2 with one line, and starts nothing" {
	run_relayed_true -H -T -S -e err
	[ "$status" -eq 0 ]
	for args in "-H" "--reopen" "-H -T" "-H -S"; do
		# shellcheck disable=SC2086 # split on purpose
		run --separate-stderr "$DAEMONIZE" $args -p "$PF" sleep 1000
		echo "$args: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		is_one_line "$stderr"
		assert_nothing_left
	done
}

# --- the supervisor and its pipes ---

@test "each of -S, -T, -H: the pidfile holds a supervisor whose one child runs the command" {
	exe=$(readlink -f "$DAEMONIZE")
	# Not $i: bats's run sets it.
	k=0
	for opts in -S "-T -o out" "-H -o out"; do
		k=$((k + 1))
		# shellcheck disable=SC2086 # split on purpose
		"$DAEMONIZE" $opts -p "$PF.$k" sleep 1000
		sup=$(pid_in "$PF.$k")
		echo "$opts: supervisor $sup" >&2
		[ "$(readlink "/proc/$sup/exe")" = "$exe" ]
		w=$(only_child "$sup")
		wait_exec "$w" sleep
		[ "$(cmdline_of "$w")" = "sleep 1000 " ]
		run -0 "$DAEMONIZE" --status -p "$PF.$k"
		[ "${lines[0]}" = "running (pid $sup)" ]
	done
}

@test "with a relay the command's stdout and stderr are pipes the supervisor reads" {
	"$DAEMONIZE" -T -o out -e err -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(only_child "$sup")
	wait_exec "$w" sleep
	out=$(readlink "/proc/$w/fd/1")
	err=$(readlink "/proc/$w/fd/2")
	echo "stdout $out, stderr $err" >&2
	[[ $out =~ ^pipe:\[[0-9]+\]$ ]]
	[[ $err =~ ^pipe:\[[0-9]+\]$ ]]
	# Two pipes, so that the supervisor knows a line's file.
	[ "$out" != "$err" ]
	fd_linked "$sup" "$out"
	fd_linked "$sup" "$err"
	# The files are the supervisor's, not the command's.
	holds_file "$sup" out
	holds_file "$sup" err
	run ! holds_file "$w" out
	run ! holds_file "$w" err
}

@test "without -S, -T or -H the command writes to the -o file itself: no pipe, no supervisor" {
	"$DAEMONIZE" -o out -e err -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	wait_exec "$pid" sleep
	[ "$(readlink "/proc/$pid/fd/1")" = "$BATS_TEST_TMPDIR/out" ]
	[ "$(readlink "/proc/$pid/fd/2")" = "$BATS_TEST_TMPDIR/err" ]
	[ -z "$(children_of "$pid")" ]
}

@test "the relay's files are open for appending" {
	"$DAEMONIZE" -T -o out -e err -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	for f in out err; do
		fd=$(fd_of_file "$sup" "$f")
		flags=$(fd_flags "$sup" "$fd")
		echo "$f: fd $fd, flags $flags" >&2
		(((8#$flags & 8#2000) != 0))
	done
}

@test "-f with a relay exits with the command's status" {
	run -3 "$DAEMONIZE" -f -T -o out sh -c \
		'readlink "/proc/$PPID/exe" >"$0"; exit 3' "$BATS_TEST_TMPDIR/parent-exe"
	was_relayed
}

@test "-f with a relay exits 128+9 when SIGKILL kills the command" {
	run -137 "$DAEMONIZE" -f -T -o out sh -c \
		'readlink "/proc/$PPID/exe" >"$0"; kill -KILL $$' "$BATS_TEST_TMPDIR/parent-exe"
	was_relayed
}

@test "without -r a relayed command killed is not restarted: the supervisor exits, no pidfile" {
	"$DAEMONIZE" -T -o out -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(only_child "$sup")
	kill -KILL "$w"
	wait_until 5 "! is_alive $sup"
	[ ! -e "$PF" ]
	assert_nothing_left
}

@test "--stop stops a relay's supervisor and its command, and removes the pidfile" {
	"$DAEMONIZE" -T -o out -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	w=$(only_child "$sup")
	run -0 "$DAEMONIZE" --stop -p "$PF"
	wait_until 5 "! is_alive $sup && ! is_alive $w"
	[ ! -e "$PF" ]
	assert_nothing_left
}

# --- signals ---

# The worker records each SIGHUP in ./hups, its PID in ./w once its trap
# is set, and a tick in ./ticks every 50 ms.
write_hup_worker() {
	script worker <<'EOF'
#!/bin/sh
trap 'echo hup >>hups' HUP
echo $$ >w.tmp && mv w.tmp w
while :; do
	echo "tick"
	echo >>ticks
	sleep 0.05
done
EOF
}

@test "without -H, SIGHUP to the supervisor goes to the command, and the supervisor lives" {
	write_hup_worker
	"$DAEMONIZE" -T -o log -c "$BATS_TEST_TMPDIR" -p "$PF" ./worker
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w ]'
	w=$(cat w)
	kill -HUP "$sup"
	wait_until 5 '[ -s hups ]'
	[ "$(cat hups)" = hup ]
	is_alive "$sup"
	is_alive "$w"
	[ "$(only_child "$sup")" = "$w" ]
	[ "$(pid_in "$PF")" = "$sup" ]
}

@test "with -H, SIGHUP reopens the files and is not forwarded to the command" {
	write_hup_worker
	"$DAEMONIZE" -H -o log -c "$BATS_TEST_TMPDIR" -p "$PF" ./worker
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w ] && [ -s log ]'
	w=$(cat w)
	mv log log.1
	kill -HUP "$sup"
	# Handled: the supervisor has a new log open.
	wait_until 5 "holds_file $sup log"
	# A HUP forwarded would have run the trap at the worker's next tick.
	t=$(lines_in ticks)
	wait_until 5 "[ \$(lines_in ticks) -ge $((t + 3)) ]"
	[ ! -e hups ]
	is_alive "$sup"
	is_alive "$w"
	# The worker's lines go on in the new file.
	wait_until 5 'grep -qx tick log'
}

# --- -T ---

@test "-T: each line starts with the local time to the millisecond and the zone's offset" {
	for zone in XYZ-5:30 ABC+3; do
		offset=$(TZ=$zone date +%:z)
		rm -f out err
		start=$(now_ms)
		TZ=$zone "$DAEMONIZE" -f -T -o out -e err sh -c \
			'echo one; echo two >&2; echo three'
		end=$(now_ms)
		echo "TZ=$zone:" >&2
		cat out err >&2
		[ "$(lines_in out)" -eq 2 ]
		[ "$(unstamped out)" = $'one\nthree' ]
		[ "$(without_events err | wc -l)" -eq 1 ]
		[[ $(without_events err) =~ ^$TS\ two$ ]]
		while read -r stamp _; do
			[[ $stamp == *"$offset" ]]
			t=$(date -d "$stamp" +%s%3N)
			((t >= start - 1000 && t <= end + 1000))
		done < <(cat out; without_events err)
	done
}

@test "-f -T without -o or -e stamps the lines on daemonize's own stdout and stderr" {
	run -0 --separate-stderr "$DAEMONIZE" -f -T sh -c 'echo out1; echo err1 >&2'
	echo "stdout: $output" >&2
	echo "stderr: $stderr" >&2
	[[ $output =~ ^$TS\ out1$ ]]
	printf '%s\n' "$stderr" >err
	[[ $(without_events err) =~ ^$TS\ err1$ ]]
}

# --- -H ---

@test "-H: three rotations while lines stream lose, repeat and split none" {
	# Each line in two writes, its number then its newline: a HUP may come
	# between them.
	"$DAEMONIZE" -H -o log -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c '
		i=0
		while [ ! -e stop ]; do i=$((i + 1)); printf %d $i; echo; done
		echo $i >count'
	sup=$(pid_in "$PF")
	for n in 1 2 3; do
		wait_until 5 '[ "$(lines_in log)" -ge 200 ]'
		mv log "log.$n"
		kill -HUP "$sup"
		# The new file appears and grows.
		wait_until 5 '[ "$(lines_in log)" -ge 200 ]'
	done
	: >stop
	wait_until 10 "! is_alive $sup"
	n=$(cat count)
	echo "$n lines: $(wc -l log.1 log.2 log.3 log | paste -sd ' ')" >&2
	for f in log.1 log.2 log.3 log; do
		[ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ]
	done
	run ! grep -Evx '[0-9]+' log.1 log.2 log.3 log
	cat log.1 log.2 log.3 log | sort -n | cmp - <(seq "$n")
	# And each line in the file of its time: before each HUP, or after.
	cat log.1 log.2 log.3 log | cmp - <(seq "$n")
}

@test "-H reopens by appending: a file made before the HUP keeps what it holds" {
	"$DAEMONIZE" -H -o log -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c \
		'echo one; while [ ! -e go ]; do sleep 0.02; done; echo two; exec sleep 1000'
	sup=$(pid_in "$PF")
	wait_until 5 'grep -qx one log'
	mv log log.1
	printf 'kept\n' >log
	kill -HUP "$sup"
	wait_until 5 "holds_file $sup log"
	: >go
	wait_until 5 'grep -qx two log'
	[ "$(cat log)" = $'kept\ntwo' ]
	[ "$(cat log.1)" = one ]
}

@test "-H with the file's directory removed: nothing blocks, and lines come back once it is made again" {
	mkdir logs
	# Lines of 1000 bytes, and their count in ./progress every 10.
	"$DAEMONIZE" -H -o logs/out -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c '
		pad=$(printf "%01000d" 0); i=0
		while :; do
			i=$((i + 1)); echo "line $i $pad"
			[ $((i % 10)) -eq 0 ] || continue
			echo $i >progress.tmp; mv progress.tmp progress; sleep 0.01
		done'
	sup=$(pid_in "$PF")
	w=$(only_child "$sup")
	wait_until 5 'grep -q "^line " logs/out && [ -s progress ]'
	rm -rf logs
	kill -HUP "$sup"
	# The command goes on writing, more than a pipe holds (up to 1 MiB),
	# and the supervisor answers.
	p=$(cat progress)
	wait_until 10 "[ \"\$(cat progress)\" -ge $((p + 1100)) ]"
	run -0 timeout 5 "$DAEMONIZE" --status -p "$PF"
	[ "${lines[0]}" = "running (pid $sup)" ]
	is_alive "$sup"
	is_alive "$w"
	mkdir logs
	kill -HUP "$sup"
	wait_until 5 'grep -Eq "^line [0-9]+ 0+$" logs/out' || {
		ls -la logs >&2
		return 1
	}
	is_alive "$sup"
	[ "$(only_child "$sup")" = "$w" ]
}
