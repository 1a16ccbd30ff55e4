#!/usr/bin/env bats
# valgrind's memcheck on the launcher, the supervisor and the relay: no
# invalid read or write, no use of an uninitialized value, no leak of the
# launcher's (which exits) and no descriptor left open by mistake.

bats_require_minimum_version 1.5.0
load helpers

# memcheck DAEMONIZE ARGS...: daemonize under memcheck, following its
# forks (not its exec of the command); exit 99 on any error it finds.
memcheck() {
	valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --trace-children=no \
		--child-silent-after-fork=no --log-file=vg.%p "$DAEMONIZE" "$@"
}

# What memcheck said, in every process it watched.
vg_said() {
	cat vg.* 2>/dev/null
}

setup() {
	require_command valgrind
	# The sanitizer build has a memory checker of its own.
	[[ $DAEMONIZE != *-san ]] || skip "not under ASan"
	cd "$BATS_TEST_TMPDIR" || return 1
	export DAEMONIZE_TEST_TAG="$BATS_TEST_TMPDIR"
	PF="$BATS_TEST_TMPDIR/d.pid"
}

@test "memcheck: a daemon's start, its launcher and its pidfile: no error" {
	run -0 memcheck -p "$PF" -o out sh -c 'echo started; exec sleep 1000'
	wait_until 10 '[ -s out ]'
	[ -z "$(vg_said)" ] || { vg_said >&2; return 1; }
}

@test "memcheck: a supervisor that restarts a killed worker, then stops: no error" {
	memcheck -r -p "$PF" -- sh -c 'echo $$ >>"$0/runs"; exec sleep 1000' \
		"$BATS_TEST_TMPDIR" &
	launcher=$!
	wait_until 20 '[ "$(wc -l <runs 2>/dev/null)" = 1 ]'
	kill -KILL "$(head -n 1 runs)"
	wait_until 20 '[ "$(wc -l <runs)" = 2 ]'
	wait_until 10 '[ -s "$PF" ]'
	"$DAEMONIZE" --stop -q --timeout 30 -p "$PF"
	# Not a bare wait: with BATS_TEST_TIMEOUT, bats has a child of its own.
	wait "$launcher"
	[ -z "$(vg_said)" ] || { vg_said >&2; return 1; }
}

@test "memcheck: the relay with stamps, a long line, a last line without newline and a reopen: no error" {
	run -0 memcheck -f -T -H -o out -- sh -c \
		'seq 3000; head -c 300000 /dev/zero | tr "\0" x; echo; printf tail'
	[ "$(tail -n 1 out | cut -d " " -f 2)" = tail ]
	[ "$(wc -l <out)" -eq 3002 ]
	[ -z "$(vg_said)" ] || { vg_said >&2; return 1; }
}
