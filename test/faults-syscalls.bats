#!/usr/bin/env bats
# System calls that fail, or claim a success they did not have, through
# strace's fault injection: the user switch (-u) in a daemon, in -f and in
# a supervisor, and the redirections of a daemon.  Each: 125 and the one
# line that names the step, nothing left; never a command that runs with
# less of the switch than was asked for.  strace counts each process's
# calls from its start: when=N is the Nth call of that process.

bats_require_minimum_version 1.5.0
load helpers

# Runs daemonize ARGS under strace, with call SYSCALL getting the fault
# INJECT (error=E, retval=N) at its Nth call in each process:
# inject SYSCALL INJECT N ARGS...
inject() {
	run --separate-stderr timed_strace 20 -f -o /dev/null -e trace="$1" \
		-e inject="$1:$2:when=$3" "$DAEMONIZE" "${@:4}"
}

# --- -u in the daemon ---

# Runs the cases, each "SYSCALL|INJECT|N|LINE|ARGS", as inject does,
# each to exit 125 with LINE alone: check_cases CASE...
check_cases() {
	local c call what n line args
	for c; do
		IFS='|' read -r call what n line args <<<"$c"
		# shellcheck disable=SC2086 # args: words
		inject "$call" "$what" "$n" $args
		echo "$c: $status $stderr"
		[ "$status" -eq 125 ]
		[ "$stderr" = "daemonize: $line" ]
	done
}

# The daemon's first prctl(2) is the one that clears the ambient set; a
# setgid(2) that says it worked and did nothing is seen by the check after.
@test "-u: each step of the switch that fails in the daemon exits 125 with its line" {
	require_root
	require_strace
	local e='Operation not permitted' u="-p $PF -u nobody sleep 1000"
	check_cases \
		"setgroups|error=EPERM|1|set groups of user nobody: $e|$u" \
		"setgid|error=EPERM|1|set group ID $(id -g nobody): $e|$u" \
		"setuid|error=EPERM|1|set user ID $(id -u nobody): $e|$u" \
		"prctl|error=EPERM|1|clear ambient capabilities: $e|$u" \
		"setgid|retval=0|1|switch to user nobody: the change did not take|$u"
	assert_nothing_left
}

# setgroups(2) says it worked, and did nothing: root's groups (1 and 2,
# or none) are not nobody's.
@test "-u: groups that did not take exit 125 with one line, with groups of root's or none" {
	require_root
	require_strace
	for groups in --groups=1,2 --clear-groups; do
		# env: the strace wrapper's ASan setting, for a program.
		run --separate-stderr setpriv "$groups" -- env \
			"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			timeout 20 strace -f -o /dev/null -e trace=setgroups \
			-e inject=setgroups:retval=0:when=1 \
			"$DAEMONIZE" -p "$PF" -u nobody sleep 1000
		[ "$status" -eq 125 ]
		[ "$stderr" = "daemonize: switch to user nobody: the change did not take" ]
		assert_nothing_left
	done
}

# --- -f -u: root kept in the saved user ID, capabilities dropped ---

# capget(2) or capset(2) fails, or capset says it worked and did nothing:
# the permitted set read back is not empty.  The command never runs.
@test "-f -u: capabilities that cannot be dropped exit 125 with one line" {
	require_root
	require_strace
	local line='drop capabilities: Operation not permitted'
	check_cases "capget|error=EPERM|1|$line|-f -u nobody touch ran" \
		"capset|error=EPERM|1|$line|-f -u nobody touch ran" \
		"capset|retval=0|1|$line|-f -u nobody touch ran"
	[ ! -e ran ]
}

# --- -u in a supervisor, which opens -o as the user ---

# It reads its groups (getgroups 1 and 2), becomes the user (setgroups),
# opens -o, and takes back root: seteuid(0), which is setresuid(-1, 0, -1)
# in glibc and musl, its second.
@test "-f -r -u -o: a supervisor that cannot become the user or root again exits 125 with its line" {
	require_root
	require_strace
	local a='-f -r -u nobody -o out true'
	check_cases "getgroups|error=EINVAL|1|get groups: Invalid argument|$a" \
		"getgroups|error=EINVAL|2|get groups: Invalid argument|$a" \
		"setgroups|error=EPERM|1|become user nobody: Operation not permitted|$a"
	[ ! -e out ]
	check_cases "setresuid|error=EPERM|2|take back root from user nobody: Operation not permitted|$a"
}

# --- the daemon's redirections ---

# A daemon puts /dev/null on 0 to 2 first (dup2 1 to 3), then -o, -e or
# the ready fd (dup2 4).
@test "a redirection that fails in the daemon exits 125 with one line naming it" {
	require_strace
	local -a cases=(
		"1|standard input|"
		"4|standard output|-o out"
		"4|standard error|-e err"
		"4|the ready fd|-w5 --ready-fd 5"
	)
	local c n what opts
	for c in "${cases[@]}"; do
		IFS='|' read -r n what opts <<<"$c"
		# shellcheck disable=SC2086 # opts: words
		inject dup2 error=EBADF "$n" -p "$PF" $opts sh -c 'echo >&5 2>/dev/null; exec sleep 1000'
		echo "$c: $status $stderr"
		[ "$status" -eq 125 ]
		[ "$stderr" = "daemonize: redirect $what: Bad file descriptor" ]
		assert_nothing_left
	done
}
