#!/usr/bin/env bats
# Pidfiles and lock files: exact, locked, single instance, safe.

bats_require_minimum_version 1.5.0
load helpers

@test "pidfile holds the daemon's pid and a newline when the launcher returns" {
	for i in $(seq 50); do
		"$DAEMONIZE" -p "$PF" sleep 1000
		IFS= read -rd '' content <"$PF" || true
		pid=${content%$'\n'}
		[ "$content" = "$pid"$'\n' ]
		[ "$(cmdline_of "$pid")" = "sleep 1000 " ] || {
			echo "run $i: pid $pid is not the daemon" >&2
			false
		}
		kill -KILL "$pid"
		wait_until 5 '! is_alive "$pid"'
	done
}

@test "the daemon holds a POSIX write lock on its pidfile" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	inode=$(stat -c %i "$PF")
	grep -E "^[0-9]+: POSIX +ADVISORY +WRITE +$pid [0-9a-f]+:[0-9a-f]+:$inode " \
		/proc/locks
}

@test "a second start while the lock is held exits 1 and changes nothing" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	before=$(stat -c '%i %s %y' "$PF")
	run -1 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1001
	[ "$stderr" = "daemonize: already running (pid $pid)" ]
	[ "$(stat -c '%i %s %y' "$PF")" = "$before" ]
	[ "$(pid_in "$PF")" = "$pid" ]
	[ "$(tagged_procs)" = "$pid" ]
}

# The test build stops the new daemon between its failed try at the lock
# and its question who holds it; the daemon that held it is gone by then.
@test "a start that finds the lock taken, and its holder gone before it asks who, starts" {
	start_with_holder_gone 0
	wait_exec "$paused" sleep
}

@test "a second start from another PID namespace exits 1 and leaves the first" {
	require_pid_namespace
	"$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	run -1 --separate-stderr in_new_pid_namespace "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: already running (pid outside this PID namespace)" ]
	[ "$(pid_in "$PF")" = "$pid" ]
	is_alive "$pid"
}

@test "a stale pidfile naming a dead process is taken over" {
	sh -c 'echo $$' >"$PF"
	dead=$(pid_in "$PF")
	run -0 "$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$pid" != "$dead" ]
	[ "$(cmdline_of "$pid")" = "sleep 1000 " ]
}

# A start on $PF, which holds no PID: exit 125 with one line, the file as
# it was, nothing started.
assert_refused_as_is() {
	cp "$PF" before
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: open pidfile $PF: holds something other than a PID; left as it is" ]
	cmp "$PF" before
	[ -z "$(tagged_procs)" ]
}

@test "a pidfile holding anything but a PID is refused and left as it is" {
	printf 'key=value\nmore, longer than any pid\n' >"$PF"
	assert_refused_as_is
}

@test "a pidfile holding a PID, a NUL byte and more is refused and left as it is" {
	printf '1234\0binary data' >"$PF"
	assert_refused_as_is
}

@test "a pidfile whose first 31 bytes are digits but which goes on is refused" {
	printf '%031d and then some text\n' 1 >"$PF"
	assert_refused_as_is
}

@test "an empty stale pidfile is taken over" {
	: >"$PF"
	run -0 "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$(cmdline_of "$(pid_in "$PF")")" = "sleep 1000 " ]
}

@test "the pidfile of a daemon killed by SIGKILL is taken over" {
	"$DAEMONIZE" -p "$PF" sleep 1000
	old=$(pid_in "$PF")
	kill -KILL "$old"
	wait_until 5 '! is_alive "$old"'
	run -0 "$DAEMONIZE" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$pid" != "$old" ]
	[ "$(cmdline_of "$pid")" = "sleep 1000 " ]
}

@test "100 concurrent starts leave exactly one daemon, named by the pidfile" {
	for i in $(seq 100); do
		{
			rc=0
			"$DAEMONIZE" -p "$PF" sleep 1000 2>"err.$i" || rc=$?
			echo "$rc" >"status.$i"
		} &
		starters+=($!)
	done
	# Not a bare wait: with BATS_TEST_TIMEOUT, bats has a child of its own.
	wait "${starters[@]}"
	[ "$(cat status.* | grep -c '^0$')" -eq 1 ]
	[ "$(cat status.* | grep -c '^1$')" -eq 99 ]
	pid=$(pid_in "$PF")
	[ "$(cat err.* | sort -u)" = "daemonize: already running (pid $pid)" ]
	wait_until 5 '[ "$(tagged_procs)" = "$pid" ]'
}

@test "a symbolic link at the pidfile's path is refused, its target untouched" {
	echo precious >target
	ln -s target "$PF"
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: open pidfile $PF: is a symbolic link, not followed" ]
	[ "$(cat target)" = precious ]
	[ -z "$(tagged_procs)" ]
}

@test "a new pidfile is mode 0644 whatever the umask" {
	umask 077
	"$DAEMONIZE" -m 077 -p "$PF" sleep 1000
	[ "$(stat -c %a "$PF")" = 644 ]
}

@test "a pidfile that is not a regular file is refused" {
	mkfifo "$PF"
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: open pidfile $PF: not a regular file" ]
	[ -z "$(tagged_procs)" ]
}

@test "-l keeps a second instance out without a pidfile" {
	"$DAEMONIZE" -l lock sleep 1000
	wait_until 5 '[ -n "$(tagged_procs)" ]'
	pid=$(tagged_procs)
	run -1 --separate-stderr "$DAEMONIZE" -l lock sleep 1000
	[ "$stderr" = "daemonize: already running (pid $pid)" ]
	[ "$(tagged_procs)" = "$pid" ]
	[ ! -s lock ]
}

@test "-l and -p may name the same file, kept open once" {
	"$DAEMONIZE" -l "$PF" -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	[ "$(open_fds "$pid" | wc -w)" -eq 4 ]
	run -1 "$DAEMONIZE" -p "$PF" sleep 1000
}

@test "-l and -p naming two files lock both" {
	"$DAEMONIZE" -l lock -p "$PF" sleep 1000
	pid=$(pid_in "$PF")
	run -1 "$DAEMONIZE" -l lock sleep 1000
	run -1 "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$(tagged_procs)" = "$pid" ]
}

# Closing any descriptor of a file drops the POSIX locks on it: an output
# file that is the pidfile or the lock file would unlock it at exec.  A
# start with ARGS (and a command) must be refused: exit 2, one line that
# names WHAT (pidfile or lockfile), and nothing started.
refused_as_same_file() {
	local what=$1
	shift
	local pid
	run --separate-stderr "$DAEMONIZE" "$@" sleep 1000
	echo "exit $status, said: $stderr"
	for pid in $(tagged_procs); do
		echo "started pid $pid, holding $(grep -c "POSIX .* $pid " /proc/locks) locks"
	done
	[ "$status" -eq 2 ]
	is_one_line "$stderr"
	[[ $stderr == *"$what"* ]]
	[ -z "$(tagged_procs)" ]
}

@test "-o naming the pidfile is refused, nothing started" {
	refused_as_same_file pidfile -o "$PF" -p "$PF"
	assert_nothing_left
}

@test "-e naming the pidfile is refused, nothing started" {
	refused_as_same_file pidfile -e "$PF" -p "$PF"
	assert_nothing_left
}

@test "-o naming the lock file is refused, nothing started" {
	refused_as_same_file lockfile -o lock -l lock
}

@test "-e naming the lock file is refused, nothing started" {
	refused_as_same_file lockfile -e lock -l lock
}

@test "-o naming the pidfile under another spelling is refused" {
	refused_as_same_file pidfile -o ./d.pid -p d.pid
	assert_nothing_left
}

@test "-e naming the pidfile by its absolute path is refused" {
	refused_as_same_file pidfile -e "$PF" -p d.pid
	assert_nothing_left
}

@test "-o naming a stale pidfile is refused, nothing started" {
	sh -c 'echo $$' >"$PF"
	refused_as_same_file pidfile -o "$PF" -p "$PF"
}

@test "-e naming a stale pidfile under another spelling is refused" {
	sh -c 'echo $$' >"$PF"
	refused_as_same_file pidfile -e ./d.pid -p d.pid
}

@test "-o naming a hard link to a stale pidfile is refused" {
	sh -c 'echo $$' >"$PF"
	ln "$PF" out
	refused_as_same_file pidfile -o out -p "$PF"
}

@test "-e naming a hard link to the lock file is refused" {
	: >lock
	ln lock err
	refused_as_same_file lockfile -e err -l lock
}

# Closing any descriptor of a file drops the process's locks on it: a
# caller's stream on the pidfile, closed when the daemon's is replaced,
# would take the lock with it.  The daemon replaces them before it locks.
@test "a caller's standard input on the pidfile is replaced before the lock is taken" {
	: >"$PF"
	"$DAEMONIZE" -p "$PF" sleep 1000 <"$PF"
	pid=$(pid_in "$PF")
	run -0 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "running (pid $pid)" ]
	[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ]
}

@test "a caller's standard error on the lock file is replaced before the lock is taken" {
	: >lock
	"$DAEMONIZE" -v -l lock sleep 1000 2>>lock
	wait_until 5 '[ -n "$(tagged_procs)" ]'
	run -1 "$DAEMONIZE" -l lock sleep 1000
	grep -q "^daemonize: exec " lock
}

@test "-f with standard output on the pidfile and -o elsewhere is refused: exit 2" {
	: >"$PF"
	rc=0
	"$DAEMONIZE" -f -o /dev/null -p "$PF" true >>"$PF" 2>err || rc=$?
	[ "$rc" -eq 2 ]
	[ "$(cat err)" = "daemonize: standard output is the pidfile; closing it would drop its lock" ]
}

@test "-p naming a link to the -l file is refused, the lock file left empty" {
	: >real.lock
	ln -s real.lock plink
	run -125 --separate-stderr "$DAEMONIZE" -l real.lock -p plink sleep 1000
	[ "$stderr" = "daemonize: open pidfile plink: is a symbolic link, not followed" ]
	[ ! -s real.lock ]
	[ -z "$(tagged_procs)" ]
}

# An open file description lock (F_OFD_SETLK, 37 on Linux) has no owner
# process: F_GETLK reports its pid as -1.
@test "a pidfile held by an open file description lock is running, with no pid" {
	: >"$PF"
	perl -e 'open(F, "+<", $ARGV[0]) or die "open: $!";
		my $fl = pack("s s x4 q q i x4", 1, 0, 0, 0, 0);
		fcntl(F, 37, $fl) or die "F_OFD_SETLK: $!";
		open(R, ">", "locked") and close(R); sleep 1000' "$PF" \
		>/dev/null 2>&1 3>&- &
	wait_until 5 '[ -e locked ]'
	run -0 "$DAEMONIZE" --status -p "$PF"
	[ "$output" = "running (lock held with no pid)" ]
	run -1 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: already running (lock held with no pid)" ]
}

@test "a start waits for a remover's guard to go, then takes the pidfile" {
	echo 99999999 >"$PF"
	hold_guard "$PF" 1
	run -0 "$DAEMONIZE" -p "$PF" sleep 1000
	wait_exec "$(pid_in "$PF")" sleep
}

@test "a guard held longer than 5 s makes a start exit 125 with one line" {
	echo 99999999 >"$PF"
	hold_guard "$PF" 30
	run -125 --separate-stderr "$DAEMONIZE" -p "$PF" sleep 1000
	[ "$stderr" = "daemonize: lock pidfile $PF: held by another process for too long" ]
	[ "$(cat "$PF")" = 99999999 ]
}
