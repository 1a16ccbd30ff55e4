#!/usr/bin/env bats
# The log relay (-S, -T, -H) under attack: what an outsider can do to it
# with its input, its outputs, its signals and its workers.

bats_require_minimum_version 1.5.0
load helpers

# The supervisors' processes, then the tmpfs a test mounted.
teardown() {
	stop_then_kill_test_processes
	if [ -n "${MOUNTED:-}" ]; then
		umount -l "$MOUNTED" 2>/dev/null
	fi
	remove_public_dirs
}

script() {
	cat >"$BATS_TEST_TMPDIR/$1" && chmod +x "$BATS_TEST_TMPDIR/$1"
}

# How many descriptors PID has open.
fd_count() {
	local -a fds=("/proc/$1/fd"/*)
	printf '%s\n' "${#fds[@]}"
}

# How many lines of FILE match the extended regex RE (0 if none, or no
# file).
count_lines() {
	local n
	n=$(grep -Eac -- "$2" "$1" 2>/dev/null)
	printf '%s\n' "${n:-0}"
}

# The resident memory of PID, in kB.
rss_kb() {
	local v
	v=$(status_field "$1" VmRSS)
	printf '%s\n' "${v%% *}"
}

# True if PID sleeps in a write to a full pipe.
in_pipe_write() {
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == *pipe_write* ]]
}

# Starts daemonize -f -T --kill-timeout 1 -p $PF with WORKER (a shell
# command) as its worker, its standard output one end of a socket pair
# whose other end a holder keeps, unread, until the file "release" is
# there; then the holder writes daemonize's exit status to "rc".  Sets sup
# and w, the supervisor's PID and the worker's, once the worker writes to
# a pipe no one reads any more, the socket behind the relay being full.
start_behind_unread_socket() {
	require_command python3
	cat >holder.py <<'EOF'
import os, socket, sys, time
a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    b.close()
    os.dup2(a.fileno(), 1)
    a.close()
    os.execv(sys.argv[1], sys.argv[1:])
a.close()
with open("sup.tmp", "w") as f:
    f.write("%d\n" % pid)
os.rename("sup.tmp", "sup.pid")
while not os.path.exists("release"):
    time.sleep(0.02)
b.close()
_, status = os.waitpid(pid, 0)
with open("rc.tmp", "w") as f:
    f.write("%d\n" % os.waitstatus_to_exitcode(status))
os.rename("rc.tmp", "rc")
EOF
	python3 holder.py "$DAEMONIZE" -f -T --kill-timeout 1 -p "$PF" \
		sh -c 'echo $$ >"$0/w.tmp" && mv "$0/w.tmp" "$0/w" && '"$1" \
		"$BATS_TEST_TMPDIR" 2>events 3>&- &
	wait_until 5 '[ -s sup.pid ] && [ -s w ]'
	sup=$(cat sup.pid) w=$(cat w)
	[ "$(pid_in "$PF")" = "$sup" ]
	[[ $(readlink "/proc/$sup/fd/1") == socket:* ]]
	wait_until 5 "in_pipe_write $w"
}

# A socket, not a pipe, on standard output (systemd gives a service one
# to the journal): the relay could not open it again as a non-blocking
# description of its own, and wrote to it as it was, blocking.  With its
# reader no longer reading, the supervisor hung in sendmsg(2) and never
# read its signals: a TERM stopped nothing.
@test "-f -T: a standard output socket whose reader stopped reading does not keep TERM from stopping the worker" {
	start_behind_unread_socket 'exec yes 0123456789abcdef'
	kill -TERM "$sup"
	if ! wait_until 3 "! is_alive $w"; then
		echo "worker $w still runs 3 s after TERM (kill-timeout 1 s);" \
			"supervisor in $(cat "/proc/$sup/wchan")" >&2
		return 1
	fi
	# Once the reader goes, what waited for it goes too, and it exits 0.
	touch release
	wait_until 7 '[ -s rc ]'
	[ "$(cat rc)" = 0 ]
}

# At its exit the relay reads what the worker's pipe still holds: -T
# makes 16 times as much of short lines, more than it keeps for a slow
# reader, and the loss is told at the end, to that same socket: a write
# that waited for a reader that never reads.
@test "-f -T: a standard output socket whose reader stopped reading does not keep the supervisor from exiting once stopped" {
	start_behind_unread_socket 'exec yes'
	kill -TERM "$sup"
	if ! wait_until 6 "! is_alive $sup"; then
		echo "supervisor $sup still runs 6 s after TERM;" \
			"in $(cat "/proc/$sup/wchan")" >&2
		return 1
	fi
	touch release
	wait_until 5 '[ -s rc ]'
	[ "$(cat rc)" = 0 ]
}

# spawn_open_outputs() opens -o and -e each, and when they are one file,
# keeps the first descriptor for both: the second, never closed, leaked
# at each reopen.
@test "-H with -o and -e naming one file: reopening it leaves the supervisor no descriptor more" {
	"$DAEMONIZE" -H -o log -e log -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 "grep -q 'worker 0 started' log"
	before=$(fd_count "$sup")
	for i in $(seq 20); do
		mv log "log.$i"
		kill -HUP "$sup"
		wait_until 5 '[ -e log ]'
	done
	after=$(fd_count "$sup")
	if [ "$after" -ne "$before" ]; then
		echo "descriptors: $before before 20 reopens, $after after" >&2
		ls -l "/proc/$sup/fd" >&2
		return 1
	fi
}

# take_line() counts the newline in the 16 MiB: a line of 16 MiB and its
# newline was cut after the 16 MiB, and the newline alone made a second
# line, "... ".
@test "a line of exactly 16 MiB and its newline goes to the file whole, with no '... ' line after it" {
	run "$DAEMONIZE" -f -H -o out -p "$PF" \
		perl -e 'print "a" x 16777216, "\n", "end\n"'
	[ "$status" -eq 0 ]
	lengths=$(awk '{ print length($0) }' out | paste -sd ' ')
	if [ "$lengths" != "16777216 3" ]; then
		echo "line lengths: $lengths" >&2
		grep -n '^\.\.\. ' out | cut -c 1-20 >&2
		return 1
	fi
	[ "$(tail -n 1 out)" = end ]
}

# stop_all() waits for the workers to exit (and SIGKILLs them after
# --kill-timeout) without reading their pipes: a worker that writes more
# than a pipe holds as it stops blocks in write(2), is killed, and what it
# wrote is lost.
@test "a worker that writes 20,000 lines as it stops on TERM has them all relayed, and is not killed" {
	script worker <<'EOF'
#!/usr/bin/perl
$SIG{TERM} = sub {
	printf "stopping %05d %s\n", $_, "x" x 90 for 1 .. 20000;
	close STDOUT;
	exit 0;
};
open my $f, ">", "$ARGV[0]/w.tmp" or die; print $f "$$\n"; close $f;
rename "$ARGV[0]/w.tmp", "$ARGV[0]/w" or die;
sleep 1 while 1;
EOF
	"$DAEMONIZE" -T -o "$BATS_TEST_TMPDIR/out" -e "$BATS_TEST_TMPDIR/events" \
		--kill-timeout 2 -p "$PF" "$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w ]'
	kill -TERM "$sup"
	wait_until 8 "! is_alive $sup"
	n=$(count_lines out ' stopping [0-9]{5} x{90}$')
	if [ "$n" -ne 20000 ]; then
		echo "$n of 20000 lines relayed; events:" >&2
		cat events >&2
		return 1
	fi
	! grep -q 'SIGKILL' events
}

# take_exec_pipes() and take_ready_pipes() read sv->which[k] for every
# poll entry, the relay's among them, but which[] has room for the status
# and ready pipes only: with workers restarting, and so the relay's old
# streams, the index read past it was garbage, and the supervisor died of
# SIGSEGV (ASan: heap-buffer-overflow, with any relay).
@test "eight workers restarting in a loop with a relay: the supervisor keeps running" {
	"$DAEMONIZE" -T -o out -e events -n 8 --restart=always --min-uptime 0 \
		-p "$PF" sh -c 'echo x; exit 1'
	sup=$(pid_in "$PF")
	if ! wait_until 5 '[ "$(count_lines events "restarting in")" -ge 200 ]'; then
		echo "supervisor $sup: state '$(proc_state "$sup")';" \
			"$(count_lines events 'restarting in') restarts" >&2
		tail -n 3 events >&2
		return 1
	fi
	is_alive "$sup"
}

# The line buffer of a 16 MiB line is freed once the line is written, but
# glibc's malloc raises its mmap threshold when the first such buffer is
# unmapped: the next one comes from the heap, and stays there, 16 MiB more
# for each stream that ever held a long line.
@test "the supervisor's memory comes back down once its 16 MiB lines are written" {
	if grep -q __asan_init "$DAEMONIZE"; then
		skip "ASan's allocator keeps freed memory in quarantine"
	fi
	"$DAEMONIZE" -H -o out -p "$PF" \
		perl -e '$| = 1; print "a" x 16000000, "\n" for 1 .. 2; sleep 1000'
	sup=$(pid_in "$PF")
	wait_until 10 '[ "$(awk "length(\$0) == 16000000" out | wc -l)" -eq 2 ]'
	if ! wait_until 3 '[ "$(rss_kb "$sup")" -lt 8192 ]'; then
		echo "VmRSS $(rss_kb "$sup") kB after the lines were written" >&2
		return 1
	fi
}

# relay_pipes() ends a worker's old streams when it starts again: the
# streams of the run before last, which an orphan may still write to.  At
# the second restart its pipe was closed under it, and the orphan died of
# SIGPIPE.
@test "an orphan that writes on after its worker restarted twice is still relayed" {
	script worker <<'EOF'
#!/bin/sh
cd "$1" || exit 1
n=$(cat runs 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >runs
if [ "$n" -eq 1 ]; then
	setsid sh -c 'echo $$ >orphan.tmp; mv orphan.tmp orphan.pid
		i=0; while :; do i=$((i + 1)); echo "orphan $i"; sleep 0.02; done' &
	while [ ! -s orphan.pid ]; do sleep 0.01; done
fi
echo "worker run $n"
[ "$n" -ge 3 ] && exec sleep 1000
exit 1
EOF
	"$DAEMONIZE" -T -o "$BATS_TEST_TMPDIR/out" -e "$BATS_TEST_TMPDIR/events" \
		--restart=always --min-uptime 0 -p "$PF" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	wait_until 5 '[ "$(count_lines out "worker run 3$")" -eq 1 ]'
	o=$(cat orphan.pid)
	wait_until 5 '[ "$(count_lines events "started as pid")" -eq 3 ]'
	seen=$(count_lines out ' orphan [0-9]+$')
	if ! wait_until 3 "[ \"\$(count_lines out ' orphan [0-9]+\$')\" -ge $((seen + 20)) ]"; then
		echo "orphan $o: state '$(proc_state "$o")'; its lines stopped at" \
			"$(count_lines out ' orphan [0-9]+$')" >&2
		return 1
	fi
	is_alive "$o"
}

# reopen_outputs() opens -o then -e, and if either fails, takes neither:
# with -e's directory gone, the -o file, opened again all right, was
# dropped (its descriptor left open), and every line of standard output
# counted as lost with those of standard error.
@test "-H: when -e cannot be opened again, -o still gets its lines after the reopen" {
	mkdir od ed
	"$DAEMONIZE" -H -o "$PWD/od/out" -e "$PWD/ed/err" -p "$PF" sh -c '
		i=0
		while :; do
			i=$((i + 1)); echo "out $i"; echo "err $i" >&2; sleep 0.01
		done'
	sup=$(pid_in "$PF")
	wait_until 5 '[ "$(count_lines od/out "^out [0-9]+$")" -ge 5 ]'
	rm -r ed
	mv od/out od/out.1
	kill -HUP "$sup"
	wait_until 5 '[ -e od/out ]'
	if ! wait_until 3 '[ "$(count_lines od/out "^out [0-9]+$")" -ge 10 ]'; then
		echo "od/out after the reopen: $(wc -c <od/out) bytes" >&2
		return 1
	fi
}

# A file size limit (ulimit -f) is inherited by the daemon.  Without a
# relay, the command that writes past it gets SIGXFSZ; with one, the
# supervisor writes, and SIGXFSZ, at its default, killed it: no exit
# status of the command's, the pidfile left behind, the worker killed by
# its parent's death.  A file that takes no more is a loss, as a full
# disk is.
@test "a relay that reaches the file size limit (ulimit -f) counts the rest as lost and exits with the command's status" {
	run bash -c 'ulimit -f 64 && exec "$0" -f -T -o out -p "$1" sh -c "
		i=0
		while [ \$i -lt 5000 ]; do
			i=\$((i + 1)); echo \"line \$i of the output\"
		done"' "$DAEMONIZE" "$PF"
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	[ ! -e "$PF" ]
	[ "$(stat -c %s out)" -le 65536 ]
}

# With -f, the relay writes standard output and standard error through a
# description of its own for each, and tells that they are one only by
# their numbers (1 and 2).  When both are one pipe (2>&1 |, or the one
# socket systemd gives for both), a line too long for the pipe was written
# in pieces through one description, and the other's lines went in
# between: inside the line.
@test "-f -T with standard output and error one pipe: a long line on each stream stays whole" {
	"$DAEMONIZE" -f -T -p "$PF" perl -e '
		for (1 .. 50) {
			syswrite STDOUT, "a" x 100000 . "\n";
			syswrite STDERR, "b" x 100000 . "\n";
		}' 2>&1 | cat >out
	whole=$(awk 'length($0) == 100030 && substr($0, 31) ~ /^(a+|b+)$/' out |
		wc -l)
	if [ "$whole" -ne 100 ]; then
		echo "$whole whole lines of 100 written; line lengths:" >&2
		awk '{ print length($0) }' out | paste -sd ' ' >&2
		return 1
	fi
}
