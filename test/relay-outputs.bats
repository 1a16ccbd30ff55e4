#!/usr/bin/env bats
# The relay's destinations of every kind: a device that takes nothing, a
# pipe whose reader goes, a pipe of another user's, a FIFO whose reader
# stops reading and is replaced, and the streams of orphans that outlive
# their workers' restarts.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# Five lines of 2 bytes, each after a stamp of 29 and its space: 160 bytes.
@test "-f -T with standard output /dev/full: the command's status, and the 160 bytes lost told on standard error at the exit" {
	run -3 --separate-stderr sh -c 'exec "$0" -f -T -p "$1" sh -c \
		"seq 5; exit 3" >/dev/full' "$DAEMONIZE" "$PF"
	echo "$stderr"
	[[ ${stderr_lines[-1]} =~ ^$TS\ daemonize\[[0-9]+\]:\ standard\ output:\ 160\ bytes\ lost:\ No\ space\ left\ on\ device$ ]]
}

# As without a relay: the command gets SIGPIPE at its next write.
@test "-f -T into a pipe whose reader exits: the command gets SIGPIPE, and daemonize exits 141" {
	"$DAEMONIZE" -f -T -p "$PF" yes 2>err | head -n 1 >out || true
	rc=${PIPESTATUS[0]}
	cat err >&2
	[ "$rc" -eq 141 ]
	grep -Eqx "$TS y" out
	grep -q 'worker 0 (pid [0-9]*) killed by signal 13 after' err
}

# A pipe the shell (root) made is not one nobody may open again through
# /proc/self/fd: the relay writes to it as it is.
@test "-f -T run by another user than the one whose pipe is its standard output: every line passes, in order" {
	require_root
	pub=$(public_dir)
	as_nobody "$DAEMONIZE" -f -T -p "$pub/d.pid" seq 2000 | cat >out
	[ "$(wc -l <out)" -eq 2000 ]
	run ! grep -Evq "^$TS [0-9]+\$" out
	sed 's/^[^ ]* //' out | cmp - <(seq 2000)
}

# A worker of four runs: the first three each leave an orphan, in a
# session of its own (once there, out of reach of the TERM to its group),
# that holds their pipes and writes on, and exit 1; the fourth stays.  Their streams,
# eight, are more than the four the relay first has room for.
@test "-r: the orphans of three runs all keep their lines flowing to -o once the fourth run started" {
	"$DAEMONIZE" -r --min-uptime 0 -T -c "$PWD" -o out -e err -p "$PF" sh -c '
		n=$(cat runs 2>/dev/null || echo 0); echo $((n + 1)) >runs
		echo "run $n"
		[ "$n" -lt 3 ] || exec sleep 1000
		setsid sh -c ": >orphan.$n; while :; do
			echo \"orphan $n\"; echo \"orphan $n\" >&2; sleep 0.05; done" &
		while [ ! -e "orphan.$n" ]; do sleep 0.01; done
		exit 1'
	wait_until 10 'grep -Eqx "$TS run 3" out'
	wait_until 5 '[ "$(orphans_after_run_3)" -eq 3 ]'
}

# How many orphans wrote to out after the fourth run's first line.
orphans_after_run_3() {
	sed -E "s/^$TS //; 1,/^run 3\$/d" out | grep -x 'orphan [012]' |
		sort -u | wc -l
}

# Holds FIFO open, reading and writing, taking nothing: a reader for the
# relay's opens that never reads.
hold_open() {
	sleep 1000 0<>"$1" &
	wait_until 5 "[ \"\$(readlink /proc/$!/fd/0)\" = '$PWD/$1' ]"
}

# A FIFO as -o whose reader takes nothing: what the relay holds for it
# past what the FIFO holds waits.  -H then opens a new FIFO at that path;
# what waited is lost with the old reader, and the new one is told so,
# with a reason.
@test "-H: a FIFO's reader that never read is replaced; the new one is told how much was lost, and why" {
	mkfifo f
	hold_open f
	"$DAEMONIZE" -H -c "$PWD" -o f -e err -p "$PF" sh -c '
		head -c 600000 /dev/zero | tr "\0" a; echo; : >written
		while [ ! -e go ]; do sleep 0.02; done
		echo after; exec sleep 1000'
	sup=$(pid_in "$PF")
	# 600,001 bytes written: more than the worker's pipe and the FIFO
	# hold, so the relay holds some.
	wait_until 10 '[ -e written ]'
	rm f
	mkfifo f
	hold_open f
	cat f >got &
	kill -HUP "$sup"
	: >go
	wait_until 5 'grep -qx after got'
	cat got >&2
	grep -Eqx 'daemonize: [1-9][0-9]* bytes lost: Resource temporarily unavailable' got
	is_alive "$sup"
}

# A worker under -H whose three lines of 1,000 bytes the file size limit
# (RLIMIT_FSIZE, 1,500) cuts inside the second, the rest lost; the limit
# is lifted after, and the worker writes "after" once ./go.2 is there.
start_cut_by_size_limit() {
	"$DAEMONIZE" -H -c "$PWD" -o out -p "$PF" sh -c '
		while [ ! -e go.1 ]; do sleep 0.02; done
		for i in 1 2 3; do printf "%01000d\n" 0; done
		while [ ! -e go.2 ]; do sleep 0.02; done
		echo after; exec sleep 1000'
	sup=$(pid_in "$PF")
	prlimit --pid "$sup" --fsize=1500:
	: >go.1
	wait_until 5 '[ "$(stat -c %s out)" -eq 1500 ]'
	prlimit --pid "$sup" --fsize=unlimited:
}

# Once the file takes lines again, the loss is told on a line of its own,
# after a newline that ends the cut one.
@test "-o cut mid-line by the file size limit: once it is lifted, the loss is told on a line of its own" {
	start_cut_by_size_limit
	: >go.2
	wait_until 5 'grep -qx after out'
	awk '{ print length($0) ": " substr($0, 1, 40) }' out >&2
	[ "$(wc -l <out)" -eq 4 ]
	[ "$(sed -n 1p out)" = "$(printf '%01000d' 0)" ]
	[ "$(sed -n 2p out)" = "$(printf '%0499d' 0)" ]
	[ "$(sed -n 3p out)" = "daemonize: 1503 bytes lost: File too large" ]
}

# After the cut, -H opens a new file that holds TEXT (printf's format):
# the loss is told there, once "after" comes.
rotate_after_cut() {
	start_cut_by_size_limit
	mv out out.1
	# shellcheck disable=SC2059 # a format
	printf "$1" >out
	kill -HUP "$sup"
	: >go.2
	wait_until 5 'grep -qx after out'
	cat out >&2
}

# A new file that already ends in a newline needs none before the loss's
# line; nor does an empty one.
@test "-H after a cut: a new file that ends in a newline gets the loss's line right after its own" {
	rotate_after_cut 'kept\n'
	[ "$(cat out)" = $'kept\ndaemonize: 1503 bytes lost: File too large\nafter' ]
}

@test "-H after a cut: a new empty file gets the loss's line first" {
	rotate_after_cut ''
	[ "$(cat out)" = $'daemonize: 1503 bytes lost: File too large\nafter' ]
}
