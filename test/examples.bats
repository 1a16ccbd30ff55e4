#!/usr/bin/env bats
# The examples: examples/init.d/exampled-supervised,
# examples/container/entrypoint.sh and examples/logrotate/exampled, each
# against a real supervisor.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	export DAEMONIZE_TEST_TAG="$BATS_TEST_TMPDIR"
	PF="$BATS_TEST_TMPDIR/d.pid"
	# The test daemon: notes each SIGHUP with its worker number.
	printf '#!/bin/sh\ntrap "echo reloaded \\$DAEMONIZE_WORKER >>%s/log" HUP\nwhile :; do sleep 0.1; done\n' \
		"$BATS_TEST_TMPDIR" >exampled
	chmod +x exampled
	export DAEMON="$BATS_TEST_TMPDIR/exampled" PIDFILE="$PF" WORKERS=2
	export KILL_TIMEOUT=2 STOP_TIMEOUT=5
	export DAEMONIZE
	INIT="$BATS_TEST_DIRNAME/../examples/init.d/exampled-supervised"
	ENTRY="$BATS_TEST_DIRNAME/../examples/container/entrypoint.sh"
}

# The daemon is stopped as a stop would, before the tagged processes are
# killed: nginx overwrites the environment that tags its processes, and
# its workers outlive a master killed with SIGKILL.
teardown() {
	[ -e "$PF" ] && "$DAEMONIZE" --stop -q --timeout 5 -p "$PF"
	kill_test_processes
	remove_public_dirs
}

# The DAEMONIZE_WORKER of PID, empty if it has none.
worker_id() {
	local -a env
	local e
	{ mapfile -d '' -t env <"/proc/$1/environ"; } 2>/dev/null || return 0
	for e in "${env[@]}"; do
		[ "${e%%=*}" = DAEMONIZE_WORKER ] && printf '%s\n' "${e#*=}"
	done
	return 0
}

# The workers of supervisor SUP that run the test daemon, as "id pid"
# lines sorted by id: its live children that lead a process group of their
# own (orphans it adopted do not) and have executed $DAEMON, a script of
# /bin/sh, so that their environment is the one they were given.
workers_of() {
	local sup=$1 pid sh
	sh=$(readlink -f /bin/sh)
	for pid in $(cat "/proc/$sup/task/$sup/children" 2>/dev/null); do
		is_alive "$pid" || continue
		[ "$(stat_field "$pid" 5 2>/dev/null)" = "$pid" ] || continue
		[ "$(readlink "/proc/$pid/exe")" = "$sh" ] || continue
		printf '%s %s\n' "$(worker_id "$pid")" "$pid"
	done | sort -n
}

# The worker numbers of SUP on one line: "0 1".
worker_ids() {
	workers_of "$1" | cut -d ' ' -f 1 | paste -sd ' '
}

# The PID of worker ID of SUP.
worker_pid() {
	workers_of "$1" | sed -n "s/^$2 //p"
}

@test "supervised init script: start returns with every worker running, numbered" {
	run -0 "$INIT" start
	sup=$(pid_in "$PF")
	is_alive "$sup"
	[ "$(worker_ids "$sup")" = "0 1" ]
}

@test "supervised init script: status exits 0 and shows a line for each worker" {
	"$INIT" start
	sup=$(pid_in "$PF")
	w0=$(worker_pid "$sup" 0)
	w1=$(worker_pid "$sup" 1)
	run -0 "$INIT" status
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == *"$sup"* ]]
	[[ ${lines[1]} == "worker 0: pid $w0,"* ]]
	[[ ${lines[2]} == "worker 1: pid $w1,"* ]]
}

@test "supervised init script: a worker killed with SIGKILL comes back with its number" {
	"$INIT" start
	sup=$(pid_in "$PF")
	old=$(worker_pid "$sup" 1)
	kill -KILL "$old"
	wait_until 5 'new=$(worker_pid "$sup" 1); [ -n "$new" ] && [ "$new" != "$old" ]'
	[ "$(pid_in "$PF")" = "$sup" ]
	is_alive "$sup"
	[ "$(worker_ids "$sup")" = "0 1" ]
	run -0 "$INIT" status
	[[ ${lines[2]} == "worker 1: pid $new, "*"1 restarts, last exit signal 9" ]]
}

@test "supervised init script: stop stops the supervisor and its workers, and again exits 0" {
	"$INIT" start
	sup=$(pid_in "$PF")
	read -ra pids <<<"$(workers_of "$sup" | cut -d ' ' -f 2 | paste -sd ' ')"
	[ "${#pids[@]}" -eq 2 ]
	run -0 "$INIT" stop
	run ! is_alive "$sup"
	assert_gone_then_nothing_left "${pids[@]}"
	[ ! -e "$PF.workers" ]
	run -3 "$INIT" status
	run -0 "$INIT" stop
}

@test "supervised init script: reload sends SIGHUP on to every worker" {
	"$INIT" start
	sup=$(pid_in "$PF")
	run -0 "$INIT" reload
	wait_until 5 '[ "$(sort log 2>/dev/null | paste -sd " ")" = "reloaded 0 reloaded 1" ]'
	is_alive "$sup"
	[ "$(worker_ids "$sup")" = "0 1" ]
}

@test "supervised init script: LOGFILE gets the supervisor's events" {
	LOGFILE="$BATS_TEST_TMPDIR/app.log" "$INIT" start
	sup=$(pid_in "$PF")
	w0=$(worker_pid "$sup" 0)
	wait_until 5 'grep -q "daemonize\[$sup\]: worker 0 started as pid $w0\$" app.log'
}

@test "entrypoint: runs WORKERS numbered copies of its command under daemonize -f" {
	WORKERS=3 "$ENTRY" "$DAEMON" >out 2>err 3>&- &
	sup=$!
	wait_until 5 '[ "$(worker_ids "$sup")" = "0 1 2" ]'
	# The script exec'd daemonize: process 1 of a container is daemonize.
	[ "$(readlink "/proc/$sup/exe")" = "$(readlink -f "$DAEMONIZE")" ]
}

@test "entrypoint: runs server from PATH when given no command" {
	mkdir bin
	cp exampled bin/server
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" "$ENTRY" >out 2>err 3>&- &
	sup=$!
	wait_until 5 '[ "$(worker_ids "$sup")" = "0 1" ]'
	w0=$(worker_pid "$sup" 0)
	[[ $(cmdline_of "$w0") == *"/bin/server "* ]]
}

@test "entrypoint: a worker killed with SIGKILL comes back with its number" {
	"$ENTRY" "$DAEMON" >out 2>err 3>&- &
	sup=$!
	wait_until 5 '[ "$(worker_ids "$sup")" = "0 1" ]'
	old=$(worker_pid "$sup" 0)
	kill -KILL "$old"
	wait_until 5 'new=$(worker_pid "$sup" 0); [ -n "$new" ] && [ "$new" != "$old" ]'
	is_alive "$sup"
}

@test "entrypoint: SIGTERM stops every worker and daemonize exits 0" {
	"$ENTRY" "$DAEMON" >out 2>err 3>&- &
	sup=$!
	wait_until 5 '[ "$(worker_ids "$sup")" = "0 1" ]'
	read -ra pids <<<"$(workers_of "$sup" | cut -d ' ' -f 2 | paste -sd ' ')"
	kill -TERM "$sup"
	# Not "run wait": run's subshell cannot wait for the test's child.
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 0 ]
	assert_gone_then_nothing_left "${pids[@]}"
}

# A shell starts a background job with SIGINT ignored; daemonize must
# reset that, or ^C and docker's SIGINT would never reach the supervisor.
@test "entrypoint: SIGINT stops every worker and daemonize exits 0, even started as a background job" {
	"$ENTRY" "$DAEMON" >out 2>err 3>&- &
	sup=$!
	wait_until 5 '[ "$(worker_ids "$sup")" = "0 1" ]'
	read -ra pids <<<"$(workers_of "$sup" | cut -d ' ' -f 2 | paste -sd ' ')"
	kill -INT "$sup"
	# Not "run wait": run's subshell cannot wait for the test's child.
	rc=0
	wait "$sup" || rc=$?
	[ "$rc" -eq 0 ]
	assert_gone_then_nothing_left "${pids[@]}"
}

# A TCP port on 127.0.0.1 that nothing listens on just now.
free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(
		Listen => 1, LocalAddr => "127.0.0.1:0") ->sockport, "\n"'
}

# True if http://127.0.0.1:PORT/ answers with a body that says ok.  The
# exchange runs in a subshell that ignores SIGPIPE: a connection that a
# dying nginx resets would otherwise end the test's own shell.
http_ok() {
	local reply
	reply=$( (trap '' PIPE
		exec 3<>"/dev/tcp/127.0.0.1/$1" &&
			printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3) 2>/dev/null) ||
		return 1
	[[ $reply == *$'\r\n\r\n'ok* ]]
}

# In a container the entry point is process 1 of a PID namespace, which
# the kernel gives only the signals it has asked for.
@test "entrypoint as process 1 of a PID namespace: SIGTERM from outside stops it, exit 0" {
	require_pid_namespace
	# unshare itself, not in_new_pid_namespace, whose subshell $! would name.
	unshare --pid --fork --mount-proc "$ENTRY" "$DAEMON" >out 2>err 3>&- &
	ns=$!
	wait_until 5 'sup=$(tr -d " " <"/proc/$ns/task/$ns/children") &&
		[ -n "$sup" ] && [ "$(worker_ids "$sup")" = "0 1" ]'
	[ "$(status_field "$sup" NSpid)" = "$sup	1" ]
	read -ra pids <<<"$(workers_of "$sup" | cut -d ' ' -f 2 | paste -sd ' ')"
	kill -TERM "$sup"
	rc=0
	wait "$ns" || rc=$?
	[ "$rc" -eq 0 ]
	assert_gone_then_nothing_left "${pids[@]}"
}

# The README's nginx example, with a configuration of the test's own.
@test "nginx under -r: a master killed with SIGKILL comes back and serves, its old workers gone" {
	require_command nginx
	port=$(free_port)
	d=$BATS_TEST_TMPDIR
	cat >nginx.conf <<-EOF
		pid $d/nginx.pid;
		error_log $d/error.log;
		worker_processes 2;
		events {}
		http {
			access_log off;
			client_body_temp_path $d;
			proxy_temp_path $d;
			fastcgi_temp_path $d;
			uwsgi_temp_path $d;
			scgi_temp_path $d;
			server { listen 127.0.0.1:$port; return 200 "ok\n"; }
		}
	EOF
	run -0 "$DAEMONIZE" -r -e events -p "$PF" -- nginx -c "$d/nginx.conf" -g 'daemon off;'
	sup=$(pid_in "$PF")
	wait_until 5 'http_ok "$port"'
	master=$(tr -d ' ' <"/proc/$sup/task/$sup/children")
	wait_until 5 '[ "$(wc -w <"/proc/$master/task/$master/children")" -eq 2 ]'
	read -ra old_workers <<<"$(cat "/proc/$master/task/$master/children")"
	kill -KILL "$master"
	wait_until 10 'new=$(tr -d " " <"/proc/$sup/task/$sup/children"); [ -n "$new" ] && [ "$new" != "$master" ] && http_ok "$port"'
	for pid in "${old_workers[@]}"; do
		run ! is_alive "$pid"
	done
	run ! grep -q "Address already in use" error.log
	[ "$(pid_in "$PF")" = "$sup" ]
}

# --- the logrotate stanza ---

# examples/logrotate/exampled, its paths moved into the test's directory,
# run by logrotate(8) itself (forced, with a state file of its own) while
# numbered lines stream: the log is renamed, the daemon's supervisor opens
# a new one on SIGHUP, and the two files hold every line once.
@test "logrotate stanza: a forced rotation renames the log, a new one fills, no line lost or repeated" {
	require_command logrotate
	local log="$BATS_TEST_TMPDIR/exampled.log"
	sed -e "s|/var/log/exampled.log|$log|" -e "s|/run/exampled.pid|$PF|" \
		-e "s|daemonize --signal|$DAEMONIZE --signal|" \
		"$BATS_TEST_DIRNAME/../examples/logrotate/exampled" >rotate.conf
	chmod 0644 rotate.conf
	"$DAEMONIZE" -H -a -o "$log" -e "$log" -p "$PF" -- sh -c \
		'i=0; while [ $i -lt 3000 ]; do i=$((i + 1)); echo $i; sleep 0.001; done; sleep 1000'
	wait_until 5 '[ "$(wc -l <"$log")" -ge 100 ]'
	logrotate -f -s state rotate.conf
	[ -s "$log.1" ]
	wait_until 5 '[ -s "$log" ]'
	wait_until 20 'grep -qx 3000 "$log"'
	# Events (worker started) go to the same file: keep the numbers.
	cat "$log.1" "$log" | grep -x '[0-9]*' | sort -n >all
	seq 3000 | cmp - all
}
