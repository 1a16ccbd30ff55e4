#!/usr/bin/env bats
# Readiness through a supervisor: a worker's --ready-fd pipe that says
# part of a line first, and a manager's NOTIFY_SOCKET that takes nothing.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

@test "-r --ready-fd: a worker's ready pipe that has text but no newline yet is not ready; its newline is" {
	run -0 "$DAEMONIZE" -w10 -r --ready-fd 3 -c "$PWD" -p "$PF" sh -c '
		printf x >&3; sleep 0.3; : >newline; echo >&3; exec sleep 1000'
	[ -e newline ]
}

# The READY=1 the supervisor sends once its worker is ready finds no
# socket at NOTIFY_SOCKET: it says so, and goes on.
@test "under a NOTIFY_SOCKET with no socket there, the supervisor says it could not notify, and runs on" {
	NOTIFY_SOCKET=$PWD/none "$DAEMONIZE" -r -e events -p "$PF" \
		sh -c '"$0" --notify && exec sleep 1000' "$DAEMONIZE"
	sup=$(pid_in "$PF")
	wait_until 5 "grep -q 'daemonize\\[$sup\\]: notify $PWD/none: No such file or directory\$' events"
	is_alive "$sup"
}

# A datagram socket at PATH whose datagrams go to LOG, one a line; it
# runs in the background, and LOG.bound says it is bound.
start_upstream() {
	perl -MSocket -e '
		socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
		bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!";
		open(my $log, ">>", $ARGV[1]) or die "open: $!";
		$log->autoflush(1);
		open(my $m, ">", "$ARGV[1].bound") and close $m;
		print $log "$_\n" while defined recv($s, $_, 4096, 0);
	' "$1" "$2" &
	wait_until 5 "[ -e '$2.bound' ]"
}

# Before its own STATUS=, the worker has a process of another session
# send READY=1 and a STATUS= of its own, and sends an empty datagram: the
# supervisor counts neither as the worker's word.
@test "under NOTIFY_SOCKET, neither a process outside the workers' groups nor an empty datagram makes a worker ready" {
	start_upstream "$PWD/up.sock" up.log
	NOTIFY_SOCKET=$PWD/up.sock "$DAEMONIZE" -r -c "$PWD" -e events -p "$PF" sh -c '
		setsid "$0" --notify READY=1 STATUS=outsider || exit 9
		perl -MSocket -e "
			socket(my \$s, AF_UNIX, SOCK_DGRAM, 0) or die;
			(my \$n = \$ENV{NOTIFY_SOCKET}) =~ s/^@/\\0/;
			defined send(\$s, \"\", 0, pack_sockaddr_un(\$n)) or die" ||
			exit 9
		"$0" --notify STATUS=worker || exit 9
		while [ ! -e go ]; do sleep 0.02; done
		"$0" --notify READY=1 || exit 9
		exec sleep 1000' "$DAEMONIZE"
	wait_until 5 'grep -qx STATUS=worker up.log'
	cat up.log >&2
	run ! grep -e READY=1 -e outsider up.log
	: >go
	wait_until 5 'grep -qx READY=1 up.log'
	[ "$(grep -c . up.log)" -eq 2 ]
	# One run: none of its steps failed.
	[ "$(grep -c 'started as pid' events)" -eq 1 ]
}

# A start, -w20 -n 1, in the background, whose worker sends READY=1 with
# --notify once a line is written to the fifo go: the supervisor ($sup) is
# traced by strace with the arguments given (and restart_syscall, to know
# when it is attached), the line written, and the start's exit status
# waited for; 0 if the supervisor counted the READY=1.
notify_while_traced() {
	mkfifo go
	( ("$DAEMONIZE" -w20 -n 1 -p "$PF" sh -c 'read -r _ <"$1" &&
		"$0" --notify READY=1 && exec sleep 1000' \
		"$DAEMONIZE" "$BATS_TEST_TMPDIR/go"; echo $? >launched) & )
	wait_until 5 '[ -s "$PF" ]'
	sup=$(pid_in "$PF")
	timed_strace 20 -o trace "$@" -p "$sup" 3>&- &
	wait_in_syscall trace restart_syscall
	echo >go
	wait_until 10 '[ -s launched ]'
	[ "$(cat launched)" = 0 ]
	is_alive "$sup"
}

# --notify waits only until its datagram is taken, then exits: the
# supervisor must know its sender (a process in a worker's group) before
# it takes the datagram, or it looks the sender up once it is gone.  The
# supervisor is held on each getpgid(2) it makes to find that group.
@test "-w -n 1: a worker's --notify READY=1 counts, though --notify exits once its datagram is taken" {
	require_strace
	notify_while_traced -e trace=getpgid,restart_syscall \
		-e inject=getpgid:delay_enter=500000
}

# A peek that would block saw no datagram: nothing may be taken then, or
# the one poll(2) found is dropped unread.  The supervisor's first
# recvmsg(2) after the worker's READY=1 is made to fail with EAGAIN.
@test "-w -n 1: a worker's READY=1 whose first read would block is read again, not dropped" {
	require_strace
	notify_while_traced -e trace=recvmsg,restart_syscall \
		-e inject=recvmsg:error=EAGAIN:when=1
}
