#!/usr/bin/env bats
# Supervision (-r, -n): stopping, forwarding, reaping, process groups,
# the supervisor's death, --status lines, readiness and sd_notify, syslog,
# and nginx recovering from a kill -9 of its master.

bats_require_minimum_version 1.5.0
load helpers

# Milliseconds since the epoch.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# Writes standard input to the executable script NAME in the test's directory.
script() {
	cat >"$BATS_TEST_TMPDIR/$1" && chmod +x "$BATS_TEST_TMPDIR/$1"
}

# The children of PID, live or zombie, one PID a line.
children_by_ps() {
	ps -o pid= --ppid "$1" | tr -d ' '
}

# True if no child of PID is a zombie.
no_zombie_child() {
	local states
	states=$(ps -o stat= --ppid "$1")
	[[ $states != *Z* ]]
}

# The PID of worker I of supervisor SUP, from /proc: its live child that
# leads its own process group and has DAEMONIZE_WORKER=I in its environment.
worker_pid() {
	local pid
	for pid in $(children_by_ps "$1"); do
		is_alive "$pid" && [ "$(stat_field "$pid" 5)" = "$pid" ] || continue
		if grep -qzx "DAEMONIZE_WORKER=$2" "/proc/$pid/environ" 2>/dev/null; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

# Waits up to SECS for PID, a child of this shell, to exit, and leaves
# its exit status in $rc: a supervisor that does not exit fails the test
# instead of hanging it.
wait_exit() {
	if ! wait_until "$2" "! is_alive $1"; then
		echo "pid $1 still running after $2 s" >&2
		return 1
	fi
	rc=0
	wait "$1" || rc=$?
}

# A TCP port nobody listens on here: none of /proc/net/tcp{,6} has it.
free_port() {
	local port hex
	for port in $(shuf -i 20000-60000 -n 50); do
		printf -v hex ':%04X ' "$port"
		if ! grep -qs "$hex" /proc/net/tcp /proc/net/tcp6; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# receiver.py PATH LOG binds a unix datagram socket at PATH and appends
# each line of each datagram to LOG as "SENDER_PID LINE", the PID from
# SO_PASSCRED; it creates LOG.bound once bound.
write_receiver() {
	cat >"$BATS_TEST_TMPDIR/receiver.py" <<'EOF'
import socket, struct, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
open(log + ".bound", "w").close()
with open(log, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        pid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        for line in msg.decode(errors="replace").split("\n"):
            if line:
                f.write("%d %s\n" % (pid, line))
EOF
}

# Starts the receiver in the background on PATH, logging to LOG; returns
# once it is bound.
start_receiver() {
	write_receiver
	python3 "$BATS_TEST_TMPDIR/receiver.py" "$1" "$2" 3>&- &
	wait_until 5 "[ -e '$2.bound' ]"
}

# --- stopping ---

# The worker leaves two orphans that the supervisor adopts, one in the
# worker's process group and one that called setsid, then ignores TERM and
# becomes a sleep.  The PIDs go to ingroup.pid, setsid.pid and worker.pid.
write_stop_worker() {
	script worker <<'EOF'
#!/bin/sh
cd "$1" || exit 1
sh -c 'sleep 1000 & echo $! >ingroup.tmp; mv ingroup.tmp ingroup.pid'
sh -c 'setsid sleep 1000 & echo $! >setsid.tmp; mv setsid.tmp setsid.pid'
trap '' TERM
echo $$ >worker.tmp; mv worker.tmp worker.pid
exec sleep 1000
EOF
}

# Sends SIG to a -f supervisor whose worker ignores TERM and left two
# orphans: it must stop them all, the worker by SIGKILL after the
# --kill-timeout of 1 s, and exit 0 without its pidfile.
assert_signal_stops_all() {
	local sup w g s start elapsed p
	write_stop_worker
	"$DAEMONIZE" -f -r --kill-timeout 1 -p "$PF" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR" 2>events 3>&- &
	sup=$!
	wait_until 5 '[ -s worker.pid ] && [ -s ingroup.pid ] && [ -s setsid.pid ]'
	w=$(cat worker.pid) g=$(cat ingroup.pid) s=$(cat setsid.pid)
	# What the test stands on: both orphans adopted by the supervisor, one
	# in the worker's group, one in a session of its own; TERM ignored.
	[ "$(pid_in "$PF")" = "$sup" ]
	wait_until 2 "[ \"\$(stat_field $g 4)\" = $sup ] &&
		[ \"\$(stat_field $s 4)\" = $sup ] && [ \"\$(stat_field $s 6)\" = $s ]"
	[ "$(stat_field "$g" 5)" = "$w" ]
	wait_exec "$w" sleep
	(((0x$(status_field "$w" SigIgn) >> 14) & 1))

	start=$(now_ms)
	kill -"$1" "$sup"
	wait_exit "$sup" 5
	elapsed=$(($(now_ms) - start))
	echo "exit status $rc after $elapsed ms" >&2
	[ "$rc" -eq 0 ]
	# SIGKILL comes after the timeout, not before, and not much later.
	((elapsed >= 900 && elapsed < 2500))
	for p in "$w" "$g" "$s"; do
		run ! is_alive "$p"
	done
	[ ! -e "$PF.workers" ]
	assert_nothing_left
}

@test "TERM to a -f supervisor stops a TERM-proof worker and every orphan within --kill-timeout, exit 0" {
	assert_signal_stops_all TERM
}

@test "INT to a -f supervisor stops a TERM-proof worker and every orphan within --kill-timeout, exit 0" {
	assert_signal_stops_all INT
}

# The worker's first run leaves an orphan that called setsid, which the
# supervisor adopts; every run exits 1.  The first waits until the orphan
# is out of its group, where the stop of the group would reach it.
write_orphan_then_fail_worker() {
	script worker <<'EOF'
#!/bin/sh
d=$1
if [ ! -e "$d/orphan" ]; then
	sh -c 'setsid sleep 1000 & echo $! >"$1/orphan.tmp"' sh "$d"
	o=$(cat "$d/orphan.tmp")
	until [ "$(ps -o sid= -p "$o" | tr -d ' ')" = "$o" ]; do sleep 0.01; done
	mv "$d/orphan.tmp" "$d/orphan"
fi
exit 1
EOF
}

# After five rapid failures the next restart is 800 ms away: no worker
# runs, but the orphan is still the supervisor's child.
@test "TERM while no worker runs (a restart delay) stops a dead worker's setsid'd orphan too" {
	write_orphan_then_fail_worker
	"$DAEMONIZE" -r -p "$PF" -e "$BATS_TEST_TMPDIR/events" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 'grep -q "worker 0 restarting in 800 ms" events'
	orphan=$(cat orphan)
	[ "$(stat_field "$orphan" 4)" = "$sup" ]
	[ "$(stat_field "$orphan" 6)" = "$orphan" ]
	kill -TERM "$sup"
	wait_until 5 "! is_alive $sup"
	cat events >&2
	assert_gone_then_nothing_left "$orphan"
}

@test "giving up stops a dead worker's setsid'd orphan too" {
	write_orphan_then_fail_worker
	"$DAEMONIZE" -r --max-restarts 1 -p "$PF" -e "$BATS_TEST_TMPDIR/events" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 "! is_alive $sup"
	cat events >&2
	grep -q 'giving up' events
	assert_gone_then_nothing_left "$(cat orphan)"
}

@test "the last worker's exit 0 stops the setsid'd orphan it left" {
	write_orphan_then_fail_worker
	sed -i 's/^exit 1$/exit 0/' worker
	"$DAEMONIZE" -r -p "$PF" -e "$BATS_TEST_TMPDIR/events" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 "! is_alive $sup"
	grep -q 'no worker left; exiting with status 0' events
	[ ! -e "$PF" ]
	assert_gone_then_nothing_left "$(cat orphan)"
}

# --- forwarding ---

@test "HUP and USR1 reach every worker; the supervisor stays and restarts nothing" {
	script worker <<'EOF'
#!/bin/sh
d=$1 i=$DAEMONIZE_WORKER
echo $$ >>"$d/starts.$i"
trap 'echo HUP >>"$d/got.$i"' HUP
trap 'echo USR1 >>"$d/got.$i"' USR1
: >"$d/trapped.$i"
while :; do sleep 0.05; done
EOF
	"$DAEMONIZE" -n 2 -p "$PF" "$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -e trapped.0 ] && [ -e trapped.1 ]'
	w0=$(cat starts.0) w1=$(cat starts.1)
	[ "$(stat_field "$w0" 4)" = "$sup" ]
	[ "$(stat_field "$w1" 4)" = "$sup" ]

	kill -HUP "$sup"
	wait_until 5 '[ "$(cat got.0 2>/dev/null)" = HUP ] && [ "$(cat got.1 2>/dev/null)" = HUP ]'
	kill -USR1 "$sup"
	wait_until 5 '[ "$(cat got.0)" = "HUP
USR1" ] && [ "$(cat got.1)" = "HUP
USR1" ]'
	is_alive "$sup"
	# Each worker started once, and still runs.
	[ "$(cat starts.0)" = "$w0" ]
	[ "$(cat starts.1)" = "$w1" ]
	is_alive "$w0"
	is_alive "$w1"
}

# --- reaping ---

# The worker leaves one long-lived orphan (the sentinel: it shows where
# orphans go) and 200 that exit at once.
@test "200 orphans of a worker that exit at once leave no zombie child of the supervisor" {
	script worker <<'EOF'
#!/bin/sh
d=$1
sh -c 'sleep 1000 & echo $! >"$1/sentinel"' sh "$d"
sh -c 'i=0; while [ $i -lt 200 ]; do : & i=$((i + 1)); done'
: >"$d/spawned"
exec sleep 1000
EOF
	"$DAEMONIZE" -r -p "$PF" "$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -e spawned ]'
	[ "$(stat_field "$(cat sentinel)" 4)" = "$sup" ]
	if ! wait_until 3 'no_zombie_child "$sup"'; then
		echo "zombie children of $sup: $(ps -o stat= --ppid "$sup" | grep -c Z)" >&2
		return 1
	fi
}

# --- a dead worker's process group ---

# The first run of the worker starts a child in its own group that takes
# 0.5 s to exit after TERM, and exits 1; the second run records what is
# left of the first run's group, then sleeps.  Lines of "starts" hold
# "PID TIME_NS"; child.log "term TIME_NS" and "gone TIME_NS".
@test "a dead worker's leftover group gets TERM, and the worker restarts only once it is gone" {
	script child <<'EOF'
#!/bin/sh
d=$1
trap 'echo "term $(date +%s%N)" >>"$d/child.log"; sleep 0.5
	echo "gone $(date +%s%N)" >>"$d/child.log"; exit 0' TERM
echo $$ >"$d/child.pid"
while :; do sleep 0.05; done
EOF
	script worker <<'EOF'
#!/bin/sh
d=$1
echo "$$ $(date +%s%N)" >>"$d/starts"
if [ "$(wc -l <"$d/starts")" -eq 1 ]; then
	"$d/child" "$d" &
	while [ ! -s "$d/child.pid" ]; do sleep 0.01; done
	exit 1
fi
pgrep -g "$(head -n 1 "$d/starts" | cut -d ' ' -f 1)" >"$d/left.tmp"
mv "$d/left.tmp" "$d/left"
exec sleep 1000
EOF
	"$DAEMONIZE" -r --kill-timeout 5 -p "$PF" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	wait_until 5 '[ -e left ]'
	cat starts child.log left >&2
	read -r _ started < <(sed -n 2p starts)
	# The child got TERM, and took its 0.5 s to go.
	grep -q '^term ' child.log
	wait_until 5 "grep -q '^gone ' child.log"
	read -r _ gone < <(grep '^gone ' child.log)
	[ ! -s left ]
	((gone < started))
}

# As above, but the child ignores TERM: the restart waits for the SIGKILL
# that comes after --kill-timeout (1 s).
@test "a leftover that ignores TERM gets SIGKILL after --kill-timeout, then the worker restarts" {
	script worker <<'EOF'
#!/bin/sh
d=$1
echo "$$ $(date +%s%N)" >>"$d/starts"
if [ "$(wc -l <"$d/starts")" -eq 1 ]; then
	sh -c 'trap "" TERM; echo $$ >"$1/child.pid"; exec sleep 1000' sh "$d" &
	while [ ! -s "$d/child.pid" ]; do sleep 0.01; done
	date +%s%N >"$d/exited"
	exit 1
fi
pgrep -g "$(head -n 1 "$d/starts" | cut -d ' ' -f 1)" >"$d/left.tmp"
mv "$d/left.tmp" "$d/left"
exec sleep 1000
EOF
	"$DAEMONIZE" -r --kill-timeout 1 -p "$PF" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	wait_until 5 '[ -e left ]'
	cat starts exited left >&2
	read -r _ started < <(sed -n 2p starts)
	waited=$(((started - $(cat exited)) / 1000000))
	echo "restarted after $waited ms" >&2
	[ ! -s left ]
	run ! is_alive "$(cat child.pid)"
	((waited >= 900 && waited < 3000))
}

# --- the supervisor's death ---

@test "kill -9 of the supervisor leaves no worker running" {
	"$DAEMONIZE" -n 2 -p "$PF" sh -c \
		'echo $$ >"$0/w.$DAEMONIZE_WORKER"; exec sleep 1000' "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w.0 ] && [ -s w.1 ]'
	w0=$(cat w.0) w1=$(cat w.1)
	wait_exec "$w0" sleep
	wait_exec "$w1" sleep
	[ "$(stat_field "$w0" 4)" = "$sup" ]
	[ "$(stat_field "$w1" 4)" = "$sup" ]
	kill -KILL "$sup"
	if ! wait_until 2 "! is_alive $w0 && ! is_alive $w1"; then
		echo "left running: $(tagged_procs | paste -sd ' ')" >&2
		return 1
	fi
}

# --- --status ---

@test "--status adds one line per worker, and counts a restart after kill -9" {
	"$DAEMONIZE" -n 2 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 "worker_pid $sup 0 >/dev/null && worker_pid $sup 1 >/dev/null"
	w0=$(worker_pid "$sup" 0) w1=$(worker_pid "$sup" 1)
	wait_until 5 '[ "$("$DAEMONIZE" --status -p "$PF" | wc -l)" -eq 3 ]'
	run -0 "$DAEMONIZE" --status -p "$PF"
	printf '%s\n' "$output" >&2
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "running (pid $sup)" ]
	[[ ${lines[1]} =~ ^"worker 0: pid $w0, up "[0-9]+"s, 0 restarts, last exit none"$ ]]
	[[ ${lines[2]} =~ ^"worker 1: pid $w1, up "[0-9]+"s, 0 restarts, last exit none"$ ]]

	kill -KILL "$w0"
	wait_until 5 "n0=\$(worker_pid $sup 0) && [ \"\$n0\" != $w0 ]"
	n0=$(worker_pid "$sup" 0)
	wait_until 5 '"$DAEMONIZE" --status -p "$PF" | grep -q "^worker 0: pid $n0,"'
	run -0 "$DAEMONIZE" --status -p "$PF"
	printf '%s\n' "$output" >&2
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "running (pid $sup)" ]
	[[ ${lines[1]} =~ ^"worker 0: pid $n0, up "[0-9]+"s, 1 restarts, last exit signal 9"$ ]]
	[[ ${lines[2]} =~ ^"worker 1: pid $w1, up "[0-9]+"s, 0 restarts, last exit none"$ ]]
}

@test "--status shows no worker lines once the supervisor is gone, whoever holds the pidfile next" {
	"$DAEMONIZE" -n 2 -p "$PF" sleep 1000
	sup=$(pid_in "$PF")
	wait_until 5 '[ -e "$PF.workers" ]'
	kill -KILL "$sup"
	wait_until 2 "! is_alive $sup"
	[ -e "$PF.workers" ]	# left behind by the kill
	run -1 "$DAEMONIZE" --status -p "$PF"
	printf '%s\n' "$output" >&2
	is_one_line "$output"
	[[ $output != *worker* ]]
	# A daemon that is no supervisor takes the pidfile over.
	"$DAEMONIZE" -p "$PF" sleep 1000
	run -0 "$DAEMONIZE" --status -p "$PF"
	printf '%s\n' "$output" >&2
	[ "$output" = "running (pid $(pid_in "$PF"))" ]
}

# --- readiness ---

# Worker I records "PID PPID" in w.I.  Worker 1 first creates "waiting"
# and waits for the file "go".  Then each says it is ready as $2 says
# (notify: daemonize --notify, $3 being daemonize; fd: a newline on fd 3),
# creates ready.I and sleeps; with $2 = exit, worker 1 exits 3 instead.
write_ready_worker() {
	script worker <<'EOF'
#!/bin/sh
d=$1 how=$2 i=$DAEMONIZE_WORKER
echo "$$ $PPID" >"$d/w.$i"
if [ "$i" = 1 ]; then
	: >"$d/waiting"
	while [ ! -e "$d/go" ]; do sleep 0.02; done
	[ "$how" = exit ] && exit 3
fi
if [ "$how" = fd ]; then
	echo >&3
else
	"$3" --notify || exit 9
fi
: >"$d/ready.$i"
exec sleep 1000
EOF
}

# Starts `daemonize OPTIONS -n 2` in the background with the worker above
# told HOW, and waits until worker 0 is ready and worker 1 waits.
# start_ready_pair HOW OPTIONS...
start_ready_pair() {
	local how=$1
	shift
	write_ready_worker
	"$DAEMONIZE" "$@" -n 2 -p "$PF" "$BATS_TEST_TMPDIR/worker" \
		"$BATS_TEST_TMPDIR" "$how" "$DAEMONIZE" 2>launcher.err 3>&- &
	launcher=$!
	wait_until 5 '[ -e ready.0 ] && [ -e waiting ]'
	# Time for a launcher that wrongly took one worker for all to return.
	sleep 0.5
}

# Completes the start above: the launcher must return only now, with 0.
assert_returns_once_both_ready() {
	is_alive "$launcher"
	: >go
	wait_exit "$launcher" 5
	cat launcher.err >&2
	[ "$rc" -eq 0 ]
	sup=$(pid_in "$PF")
	is_alive "$sup"
	read -r w0 _ <w.0
	read -r w1 _ <w.1
	is_alive "$w0"
	is_alive "$w1"
}

@test "-w -n 2 returns only after both workers said READY=1" {
	start_ready_pair notify -w10
	assert_returns_once_both_ready
}

@test "--ready-fd 3 -n 2 returns only after both workers wrote their newline" {
	start_ready_pair fd -w10 --ready-fd 3
	assert_returns_once_both_ready
}

@test "-w -n 2: a worker that exits 3 before it is ready fails the start with 3, nothing left" {
	start_ready_pair exit -w10
	read -r w0 sup <w.0
	: >go
	wait_exit "$launcher" 5
	cat launcher.err >&2
	[ "$rc" -eq 3 ]
	assert_one_line "$(cat launcher.err)"
	[[ $(cat launcher.err) == *"pid $sup exited with status 3 before it was ready" ]]
	assert_gone_then_nothing_left "$w0" "$sup"
	[ ! -e "$PF.workers" ]
}

# --- sd_notify proxy ---

# Worker 0 sends STATUS=w0 and READY=1 in one datagram; worker 1 waits for
# "go", then sends READY=1, then STATUS=after.
@test "under NOTIFY_SOCKET the supervisor sends one READY=1, from itself, once both workers are ready" {
	require_command python3
	script worker <<'EOF'
#!/bin/sh
d=$1
if [ "$DAEMONIZE_WORKER" = 0 ]; then
	"$2" --notify STATUS=w0 READY=1 || exit 9
	: >"$d/ready.0"
else
	while [ ! -e "$d/go" ]; do sleep 0.02; done
	"$2" --notify READY=1 || exit 9
	"$2" --notify STATUS=after || exit 9
fi
exec sleep 1000
EOF
	start_receiver "$BATS_TEST_TMPDIR/notify.sock" notify.log
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/notify.sock" "$DAEMONIZE" -n 2 -p "$PF" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR" "$DAEMONIZE"
	sup=$(pid_in "$PF")
	# Worker 0's STATUS= comes through, from the supervisor; its READY=1,
	# in the same datagram, does not.
	wait_until 5 '[ -e ready.0 ] && grep -qx "$sup STATUS=w0" notify.log'
	cat notify.log >&2
	run ! grep -q 'READY=1' notify.log
	: >go
	wait_until 5 'grep -q " STATUS=after$" notify.log'
	cat notify.log >&2
	[ "$(grep -c ' READY=1$' notify.log)" -eq 1 ]
	grep -qx "$sup READY=1" notify.log
}

@test "under NOTIFY_SOCKET a worker's STATUS= line goes up after a line with STATUS= inside it" {
	require_command python3
	start_receiver "$BATS_TEST_TMPDIR/notify.sock" notify.log
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/notify.sock" "$DAEMONIZE" -n 1 -p "$PF" \
		sh -c '"$0" --notify X_STATUS=no STATUS=yes READY=1 || exit 9
		exec sleep 1000' "$DAEMONIZE"
	sup=$(pid_in "$PF")
	# The supervisor passes the STATUS= line on before its READY=1.
	wait_until 5 'grep -q " READY=1$" notify.log'
	cat notify.log >&2
	grep -qx "$sup STATUS=yes" notify.log
	run ! grep -q 'X_STATUS' notify.log
}

# --- syslog ---

@test "events go to syslog: worker 0 started as pid P" {
	require_mount_namespace
	require_command python3
	write_receiver
	py=$(python3 -c 'import sys; print(sys.executable)')
	# A private /dev with only null and a log socket of the test's own.
	unshare -m sh -c '
		mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 || exit 1
		"$1" "$2/receiver.py" /dev/log "$2/syslog" &
		n=0
		while [ ! -e "$2/syslog.bound" ]; do
			n=$((n + 1)); [ $n -lt 250 ] || exit 1; sleep 0.02
		done
		exec "$3" -n 1 -p "$4" sh -c "echo \$\$ >\"\$0/w\"; exec sleep 1000" "$2"
	' sh "$py" "$BATS_TEST_TMPDIR" "$DAEMONIZE" "$PF"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w ]'
	w=$(cat w)
	# One datagram, as syslog(3) forms it: <daemon.notice>, the time.
	wait_until 5 "grep -Eq '^$sup <29>[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} daemonize\\[$sup\\]: worker 0 started as pid $w\$' syslog" || {
		cat syslog >&2
		return 1
	}
}

# --- nginx ---

# Runs inside a PID namespace of its own, so that whatever nginx leaves
# dies with the namespace (nginx overwrites its environment, and with it
# the tag teardown looks for).  nginx answers each request with the PID
# of the worker that served it.
write_nginx_test() {
	script nginx-test <<EOF
#!/bin/bash
$(declare -f wait_until proc_state is_alive stat_field children_by_ps)
EOF
	cat >>"$BATS_TEST_TMPDIR/nginx-test" <<'EOF'
set -u
dir=$1 dz=$2 port=$3
fail() { echo "$*" >&2; cat "$dir/error.log" >&2; exit 1; }

# Sets $answer to the PID nginx answered with; true on a 200.
ask() {
	local reply
	answer=
	reply=$(timeout 2 bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$1" &&
		printf "GET / HTTP/1.0\r\n\r\n" >&5 && cat <&5' sh "$port" 2>/dev/null) ||
		return 1
	[[ $reply == "HTTP/1.1 200 "* ]] || return 1
	answer=${reply##*$'\n'}
}

# The live children of PID, on one line.
live_children() {
	local p
	for p in $(children_by_ps "$1"); do
		is_alive "$p" && printf '%s ' "$p"
	done
}

cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	server {
		listen 127.0.0.1:$port;
		location / { return 200 "\$pid"; }
	}
}
CONF

"$dz" -r --kill-timeout 2 -p "$dir/d.pid" -e "$dir/events" -- nginx -p "$dir" \
	-e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off; master_process on;' ||
	fail "start failed"
sup=$(<"$dir/d.pid")
wait_until 5 ask || fail "nginx never answered"
master=$(live_children "$sup")
master=${master% }
[[ $master =~ ^[0-9]+$ ]] || fail "not one child of the supervisor: '$master'"
wait_until 5 '[ "$(live_children "$master" | wc -w)" -eq 2 ]' ||
	fail "nginx master $master has no 2 workers: $(live_children "$master")"
old=$(live_children "$master")
echo "supervisor $sup, master $master, workers $old" >&2

kill -KILL "$master"
for p in $old; do
	wait_until 5 "! is_alive $p" || fail "old nginx worker $p still runs"
done
wait_until 5 'ask && [ "$(stat_field "$answer" 4)" != "$master" ]' ||
	fail "no new nginx answers; last answer '$answer'; $(cat "$dir/events")"
new=$(stat_field "$answer" 4)
[ "$(stat_field "$new" 4)" = "$sup" ] ||
	fail "the nginx that answers ($answer, parent $new) is no child of a new master"
echo "new master $new, answered by $answer" >&2
EOF
}

@test "nginx under -r recovers from kill -9 of its master: old workers gone, a new master serves" {
	require_pid_namespace
	require_command nginx
	write_nginx_test
	port=$(free_port)
	in_new_pid_namespace "$BATS_TEST_TMPDIR/nginx-test" \
		"$BATS_TEST_TMPDIR" "$DAEMONIZE" "$port"
}
