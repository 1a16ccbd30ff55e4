#!/usr/bin/env bats
# The log relay to syslog (-S, -t), through a /dev/log the test binds in a
# mount namespace of its own; and what nothing may block: no log daemon, a
# log daemon that reads nothing, a full disk.  As root.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# The time syslog(3) puts after <PRI>: Nov 30 03:48:27 (or Nov  3).
STIME='[A-Z][a-z]{2} [ 0-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}'

# receiver.py PATH LOG [deaf] binds a unix datagram socket at PATH and
# appends each datagram to LOG as one line, "SENDER_PID MESSAGE", the PID
# from SO_PASSCRED, a newline in MESSAGE as \n; it creates LOG.bound once
# bound.  A deaf one binds and reads nothing.
write_receiver() {
	cat >"$BATS_TEST_TMPDIR/receiver.py" <<'EOF'
import socket, struct, sys, time
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
open(log + ".bound", "w").close()
if sys.argv[3:] == ["deaf"]:
    while True:
        time.sleep(1000)
with open(log, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(12))
        pid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        text = msg.decode(errors="replace").replace("\n", "\\n")
        f.write("%d %s\n" % (pid, text))
EOF
}

# Runs CMD (daemonize) in a mount namespace of its own whose /dev holds
# only null, and with MODE listen a log socket whose datagrams go to
# ./syslog, with MODE deaf one that reads nothing, with MODE none none.
# At most 30 s: a -f that hangs fails.  in_private_dev MODE CMD...
in_private_dev() {
	local py
	require_mount_namespace
	require_command python3
	write_receiver
	py=$(python3 -c 'import sys; print(sys.executable)')
	timeout 30 unshare -m sh -c '
		mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 || exit 1
		mode=$1 py=$2 dir=$3
		shift 3
		if [ "$mode" != none ]; then
			# Not a child of this shell: daemonize -f, which it
			# becomes, would stop it with the orphans it reaps.
			("$py" "$dir/receiver.py" /dev/log "$dir/syslog" "$mode" \
				>"$dir/receiver.log" 2>&1 3>&- &)
			n=0
			while [ ! -e "$dir/syslog.bound" ]; do
				n=$((n + 1)); [ $n -lt 250 ] || exit 1; sleep 0.02
			done
		fi
		exec "$@"
	' sh "$1" "$py" "$BATS_TEST_TMPDIR" "${@:2}"
}

# A worker that records its PID in ./w, writes out1 to stdout and err1 to
# stderr, then sleeps.
write_worker() {
	script worker <<'EOF'
#!/bin/sh
echo $$ >"$1/w.tmp" && mv "$1/w.tmp" "$1/w"
echo out1
echo err1 >&2
exec sleep 1000
EOF
}

# Starts daemonize ARGS... -p $PF ./worker in a private /dev with a log
# socket, and waits for the worker's two lines in ./syslog; sets $sup and
# $w.
start_logged_worker() {
	write_worker
	in_private_dev listen "$DAEMONIZE" "$@" -p "$PF" \
		"$BATS_TEST_TMPDIR/worker" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	wait_until 5 '[ -s w ]'
	w=$(cat w)
	wait_until 5 'grep -q ": out1$" syslog && grep -q ": err1$" syslog' || {
		cat syslog >&2
		return 1
	}
	cat syslog >&2
}

# --- messages ---

@test "-S: stdout at daemon.notice, stderr at daemon.err, from the supervisor, as COMMAND's basename[worker's PID]" {
	start_logged_worker -S
	grep -Eqx "$sup <29>$STIME worker\\[$w\\]: out1" syslog
	grep -Eqx "$sup <27>$STIME worker\\[$w\\]: err1" syslog
	[ "$(grep -c ': out1$' syslog)" -eq 1 ]
	[ "$(grep -c ': err1$' syslog)" -eq 1 ]
}

@test "-t TAG is the syslog tag" {
	start_logged_worker -S -t my-tag
	grep -Eqx "$sup <29>$STIME my-tag\\[$w\\]: out1" syslog
	grep -Eqx "$sup <27>$STIME my-tag\\[$w\\]: err1" syslog
}

@test "-Slocal0.info: stdout at <134>, stderr at <131>" {
	start_logged_worker -Slocal0.info
	grep -Eqx "$sup <134>$STIME worker\\[$w\\]: out1" syslog
	grep -Eqx "$sup <131>$STIME worker\\[$w\\]: err1" syslog
}

@test "--syslog=user: the level is notice, stdout at <13>, stderr at <11>" {
	start_logged_worker --syslog=user
	grep -Eqx "$sup <13>$STIME worker\\[$w\\]: out1" syslog
	grep -Eqx "$sup <11>$STIME worker\\[$w\\]: err1" syslog
}

@test "-S with -o and -e: lines go to both, and -T stamps the files' only" {
	start_logged_worker -S -T -o out -e err
	grep -Eqx "$sup <29>$STIME worker\\[$w\\]: out1" syslog
	grep -Eqx "$sup <27>$STIME worker\\[$w\\]: err1" syslog
	wait_until 5 '[ -s out ] && grep -q "err1$" err'
	[[ $(cat out) =~ ^$TS\ out1$ ]]
	[[ $(without_events err) =~ ^$TS\ err1$ ]]
}

@test "a line over 1024 bytes goes to syslog in messages of at most 1024 bytes, each after the first after '... '" {
	in_private_dev listen "$DAEMONIZE" -f -S -t long perl -e 'print "x" x 2500, "\n"'
	wait_until 5 '[ "$(grep -c " long\[[0-9]*\]: " syslog)" -ge 3 ]' || {
		cat syslog >&2
		return 1
	}
	mapfile -t texts < <(sed -nE "s/^[0-9]+ <29>$STIME long\\[[0-9]+\\]: //p" syslog)
	whole=
	for i in "${!texts[@]}"; do
		t=${texts[$i]}
		echo "message $i: ${#t} bytes: ${t:0:8}..." >&2
		((${#t} <= 1024))
		if ((i == 0)); then
			[ "$t" = "${t//[^x]/}" ]
		else
			[[ $t == "... "* ]]
			t=${t#... }
		fi
		whole+=$t
	done
	[ "$whole" = "$(long_line 2500 x)" ]
}

# Prints COUNT characters C, without a newline.
long_line() {
	perl -e 'print $ARGV[1] x $ARGV[0]' "$1" "$2"
}

# --- nothing blocks ---

@test "-S with nothing on /dev/log: the command runs and its lines reach -o" {
	run -0 in_private_dev none "$DAEMONIZE" -f -S -o out seq 10000
	cmp out <(seq 10000)
}

@test "-S with a log socket that reads nothing: the command is not blocked, and its lines reach -o" {
	run -0 in_private_dev deaf "$DAEMONIZE" -f -S -o out seq 10000
	cmp out <(seq 10000)
}

# A worker that writes lines of 100 bytes as fast as it goes, and its
# count in ./progress every 100.
write_fast_worker() {
	script worker <<'EOF'
#!/usr/bin/perl
$| = 1;
my $i = 0;
while (1) {
	$i++;
	printf "line %08d %s\n", $i, "x" x 85;
	next if $i % 100;
	open(my $p, ">", "progress.tmp") or die "progress: $!";
	print $p "$i\n";
	close $p;
	rename("progress.tmp", "progress") or die "rename: $!";
	select(undef, undef, undef, 0.01);
}
EOF
}

# Starts daemonize ARGS... -c DIR -p $PF ./worker in a mount namespace of
# its own where ./small is a file system of 64 KiB, 16 KiB of it taken by
# ./small/filler; sets $sup, $w, and $small, the path to ./small from
# outside; returns once it is full.
start_on_small_fs() {
	require_mount_namespace
	write_fast_worker
	mkdir small
	timeout 10 unshare -m sh -c '
		mount -t tmpfs -o size=64k tmpfs "$1/small" || exit 1
		head -c 16384 /dev/zero >"$1/small/filler" || exit 1
		dir=$1
		shift
		exec "$@" "$dir/worker"
	' sh "$BATS_TEST_TMPDIR" "$DAEMONIZE" "$@" -c "$BATS_TEST_TMPDIR" -p "$PF"
	sup=$(pid_in "$PF")
	w=$(only_child "$sup")
	# The file system, seen from the supervisor's mount namespace.
	small=/proc/$sup/root$BATS_TEST_TMPDIR/small
	wait_until 5 "[ \"\$(stat -f -c %a $small)\" -eq 0 ]"
	wait_until 5 '[ -s progress ]'
}

# The disk full, the command writes on: 12,000 lines of 100 bytes, more
# than a pipe holds (up to 1 MiB), that could go nowhere.
assert_progress_on_full_disk() {
	local p
	p=$(cat progress)
	wait_until 10 "[ \"\$(cat progress)\" -ge $((p + 12000)) ]" || {
		echo "stuck at $(cat progress): state $(proc_state "$w"), in $(cat "/proc/$w/wchan")" >&2
		return 1
	}
	[ "$(stat -f -c %a "$small")" -eq 0 ]
	is_alive "$sup"
}

@test "a full disk does not block the command; once there is room the file says how many bytes were lost" {
	start_on_small_fs -T -o "$BATS_TEST_TMPDIR/small/out"
	assert_progress_on_full_disk
	rm "$small/filler"
	wait_until 10 "grep -aEqx '($TS )?daemonize: [0-9]+ bytes lost: No space left on device' $small/out" || {
		grep -a daemonize "$small/out" >&2
		return 1
	}
	grep -aEx "($TS )?daemonize: [0-9]+ bytes lost: No space left on device" "$small/out" >&2
	is_alive "$sup"
	[ "$(only_child "$sup")" = "$w" ]
}

@test "a loss the disk never let the relay tell in the file is told in the -e file when the supervisor exits" {
	start_on_small_fs -T -o "$BATS_TEST_TMPDIR/small/out" -e err
	assert_progress_on_full_disk
	run -0 "$DAEMONIZE" --stop -p "$PF"
	wait_until 5 "! is_alive $sup"
	cat err >&2
	grep -Eq '[1-9][0-9]* bytes lost: No space left on device' err
}

# --- a log daemon that goes away ---

# Starts daemonize -S -o out -p $PF ./echoer in a private /dev with
# a log socket; the echoer writes each line the test writes into ./fifo.
# Sets $sup; returns once the first line is in ./syslog.
start_echoer() {
	mkfifo fifo
	script echoer <<'EOF2'
#!/bin/sh
while :; do read -r l <"$1/fifo" && echo "$l"; done
EOF2
	in_private_dev listen "$DAEMONIZE" -S -o out -p "$PF" \
		"$BATS_TEST_TMPDIR/echoer" "$BATS_TEST_TMPDIR"
	sup=$(pid_in "$PF")
	echo first >fifo
	wait_until 5 'grep -q ": first$" syslog'
}

# Kills the log daemon the test started, and removes its socket.
stop_receiver() {
	local pid
	for pid in $(tagged_pids); do
		grep -qzF receiver.py "/proc/$pid/cmdline" 2>/dev/null || continue
		kill -KILL "$pid"
		wait_until 5 "! is_alive $pid"
	done
	rm "/proc/$sup/root/dev/log"
}

# Starts a log daemon again on the supervisor's /dev/log, writing to LOG.
restart_receiver() {
	# Not a job of the test's shell, which would report its kill.
	(python3 "$BATS_TEST_TMPDIR/receiver.py" "/proc/$sup/root/dev/log" \
		"$BATS_TEST_TMPDIR/$1" >/dev/null 2>&1 3>&- &)
	wait_until 5 "[ -e '$1.bound' ]"
}

@test "-S: a log daemon restarted on a new socket gets the next line at once" {
	start_echoer
	stop_receiver
	restart_receiver syslog2
	echo second >fifo
	wait_until 5 'grep -q ": second$" syslog2'
	[ "$(grep -c ': second$' syslog2)" -eq 1 ]
	run -1 grep -q ': second$' syslog
}

@test "-S: with the log daemon gone, lines still reach -o, and once it is back, syslog again" {
	start_echoer
	stop_receiver
	echo gone >fifo
	wait_until 5 'grep -qx gone out'
	restart_receiver syslog2
	# The relay tries the socket again a second after it found none.
	for ((i = 0; i < 5; i++)); do
		echo "back $i" >fifo
		wait_until 1 'grep -q ": back" syslog2' && break
	done
	grep -q ": back" syslog2
	run -1 grep -q ': gone$' syslog syslog2
	is_alive "$sup"
}

@test "-S: with no socket to be had for syslog, the lines still reach -o and the command's status is the exit status" {
	require_strace
	run -3 in_private_dev listen env \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -o /dev/null -e trace=socket -e inject=socket:error=ENFILE \
		"$DAEMONIZE" -f -S -o out sh -c 'seq 100; exit 3'
	cmp out <(seq 100)
	[ ! -s syslog ]
}
