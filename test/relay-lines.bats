#!/usr/bin/env bats
# The log relay's lines: long ones whole, the last one without a newline,
# all of them at an exit, two workers' never mixed, restarts and outside
# truncations that leave the file whole, events between lines.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# Prints COUNT characters C and a newline: a line of COUNT + 1 bytes.
long_line() {
	perl -e 'print $ARGV[1] x $ARGV[0], "\n"' "$1" "$2"
}

# --- long lines ---

@test "a line of 1 MiB passes whole to -o" {
	run -0 "$DAEMONIZE" -f -H -o out perl -e 'print "a" x 1048576, "\n"'
	cmp out <(long_line 1048576 a)
}

@test "-T: a line of 1 MiB gets one stamp, then the whole line" {
	run -0 "$DAEMONIZE" -f -T -o out perl -e 'print "a" x 1048576, "\n"'
	[ "$(lines_in out)" -eq 1 ]
	[[ $(head -c 30 out) =~ ^$TS\ $ ]]
	tail -c +31 out | cmp - <(long_line 1048576 a)
}

@test "a line longer than 16 MiB is cut after 16 MiB, and the rest goes on a line of its own after '... '" {
	run -0 "$DAEMONIZE" -f -H -o out perl -e 'print "a" x (16 * 1048576 + 10), "\n"'
	cmp out <(long_line 16777216 a; printf '... '; long_line 10 a)
}

@test "-T: a line cut after 16 MiB goes on after a stamp and '... '" {
	run -0 "$DAEMONIZE" -f -T -o out perl -e 'print "a" x (16 * 1048576 + 10), "\n"'
	[ "$(lines_in out)" -eq 2 ]
	[[ $(head -c 30 out) =~ ^$TS\ $ ]]
	[[ $(tail -n 1 out) =~ ^$TS\ \.\.\.\ a{10}$ ]]
	head -n 1 out | tail -c +31 | cmp - <(long_line 16777216 a)
}

@test "a last line without a newline is delivered, with a newline" {
	run -0 "$DAEMONIZE" -f -H -o out printf 'one\ntwo'
	cmp out <(printf 'one\ntwo\n')
}

@test "-T: a last line without a newline is delivered stamped, with a newline" {
	run -0 "$DAEMONIZE" -f -T -o out printf 'one\ntwo'
	[ "$(lines_in out)" -eq 2 ]
	[ "$(unstamped out)" = $'one\ntwo' ]
	[ "$(tail -c 1 out | od -An -c | tr -d ' ')" = '\n' ]
}

# --- at an exit, at a restart ---

@test "-T: 20,000 lines written just before the command exits are all there, in order" {
	run -0 "$DAEMONIZE" -f -T -o out seq 20000
	[ "$(lines_in out)" -eq 20000 ]
	unstamped out | cmp - <(seq 20000)
}

@test "-H: 20,000 lines written just before the command exits are all there, in order" {
	run -0 "$DAEMONIZE" -f -H -o out seq 20000
	cmp out <(seq 20000)
}

@test "a daemon's 20,000 last lines are all there when its supervisor has exited" {
	"$DAEMONIZE" -T -o out -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c \
		'while [ ! -e go ]; do sleep 0.02; done; exec seq 20000'
	sup=$(pid_in "$PF")
	: >go
	wait_until 5 "! is_alive $sup"
	[ ! -e "$PF" ]
	unstamped out | cmp - <(seq 20000)
}

# The supervisor stopped while the command writes and exits: it sees the
# exit and the lines together, and must write them all before it exits.
# 10,000 lines fit in a pipe of 64 KiB, so the command never waits.
@test "lines still in the pipe when the supervisor sees the exit are all written before it exits" {
	"$DAEMONIZE" -T -o out -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c \
		'echo $$ >w; while [ ! -e go ]; do sleep 0.02; done; exec seq 10000'
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w ]'
	w=$(cat w)
	kill -STOP "$sup"
	: >go
	wait_until 5 "[ \"\$(proc_state $w)\" = Z ]"
	kill -CONT "$sup"
	wait_until 5 "! is_alive $sup"
	unstamped out | cmp - <(seq 10000)
}

@test "-r: 20,000 lines written before a SIGKILL are all there before the restart's" {
	"$DAEMONIZE" -r -H -o out -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c '
		if [ -e once ]; then echo restarted; exec sleep 1000; fi
		: >once; seq 20000; kill -KILL $$'
	wait_until 5 'grep -qx restarted out'
	cmp out <(seq 20000; echo restarted)
}

@test "-r: a restart does not truncate, and the first run's lines stay" {
	"$DAEMONIZE" -r -T -o out -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c '
		echo "run $$"
		if [ ! -e once ]; then : >once; kill -KILL $$; fi
		echo second; exec sleep 1000'
	wait_until 5 'grep -Eq "^$TS second$" out'
	mapfile -t l < <(unstamped out)
	printf '%s\n' "${l[@]}" >&2
	[ "${#l[@]}" -eq 3 ]
	[[ ${l[0]} =~ ^run\ [0-9]+$ ]]
	[[ ${l[1]} =~ ^run\ [0-9]+$ ]]
	[ "${l[0]}" != "${l[1]}" ]
	[ "${l[2]}" = second ]
}

# --- two workers ---

@test "-n 2: lines of 100,000 bytes from two workers never mix inside a line" {
	# Each worker writes its lines in pieces of 1000 bytes, its own letter.
	run -0 "$DAEMONIZE" -f -n 2 -H -o out perl -e '
		my $line = chr(ord("a") + $ENV{DAEMONIZE_WORKER}) x 100000 . "\n";
		for (1 .. 200) {
			for (my $o = 0; $o < length $line; $o += 1000) {
				syswrite(STDOUT, $line, 1000, $o) or die "write: $!";
			}
		}'
	run -0 awk '
		{ c = substr($0, 1, 1); s = $0; n = gsub(c, "", s) }
		(c != "a" && c != "b") || n != 100000 || s != "" { bad++ }
		c == "a" { a++ }
		c == "b" { b++ }
		END { print NR, a + 0, b + 0, bad + 0 }' out
	echo "lines, a, b, bad: $output" >&2
	[ "$output" = "400 200 200 0" ]
}

# --- the file under the relay ---

@test "a truncation from outside while lines stream leaves no zero bytes in the file" {
	"$DAEMONIZE" -H -o out -c "$BATS_TEST_TMPDIR" -p "$PF" sh -c \
		'i=0; while :; do i=$((i + 1)); echo "line $i"; done'
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(size_of out)" -gt 100000 ]'
	: >out
	# The relay goes on at the new end.
	wait_until 5 '[ "$(lines_in out)" -ge 100 ]'
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
	echo "$(size_of out) bytes" >&2
	[ "$(tr -d '\0' <out | wc -c)" -eq "$(size_of out)" ]
	# The first line may be the end of one cut by the truncation.
	run ! grep -Evx 'line [0-9]+' <(tail -n +2 out)
}

@test "events go to the shared -e file as whole lines, never inside a relayed line" {
	# seq writes its lines in blocks that end inside a line, and is killed
	# three times mid-stream.
	"$DAEMONIZE" -r --min-uptime 0 -T -o log -e log -p "$PF" seq 1000000000
	sup=$(pid_in "$PF")
	for _ in 1 2 3; do
		w=$(only_child "$sup")
		size=$(size_of log)
		wait_until 5 "[ \$(size_of log) -gt $((size + 100000)) ]"
		kill -KILL "$w"
		wait_until 5 "c=\$(children_of $sup); [ -n \"\$c\" ] && [ \"\$c\" != $w ]"
	done
	wait_until 5 '[ "$(grep -Ec "^${EVENT}worker 0 started as pid [0-9]+$" log)" -ge 4 ]'
	kill -STOP "$sup" "$(only_child "$sup")"
	grep -Ev "^$TS [0-9]*$" log >&2 || true
	run ! grep -Evx "${EVENT}worker 0 .*|$TS [0-9]*" log
	[ "$(grep -Ec "^${EVENT}worker 0 \\(pid [0-9]+\\) killed by signal 9" log)" -eq 3 ]
}
