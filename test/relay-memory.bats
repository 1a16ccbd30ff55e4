#!/usr/bin/env bats
# The relay out of memory: a data limit (RLIMIT_DATA, the heap and private
# mappings) set on the running supervisor at the size it has, so that it
# can take no more.  What it cannot hold it passes on as it can, in
# order, or counts as lost and says so.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# daemonize ARGS, whose malloc(3) may return NULL in the ASan build too
# (its allocator would abort instead).
daemonize_short_of_memory() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1 \
		"$DAEMONIZE" "$@"
}

# The supervisor's data size now, in kB.
data_kb() {
	local kb
	kb=$(status_field "$1" VmData)
	printf '%s\n' "${kb% kB}"
}

# No more memory for PID than it has now.
limit_data() {
	prlimit --pid "$1" --data=$(($(data_kb "$1") * 1024))
}

# A worker that writes, once ./go.1 is there, 70,000 bytes of "a" with no
# newline, then, once ./go.2 is there, 100,000 of "b" and a newline, then
# "end".
start_split_line() {
	daemonize_short_of_memory -c "$PWD" -T -o out -p "$PF" sh -c '
		while [ ! -e go.1 ]; do sleep 0.02; done
		head -c 70000 /dev/zero | tr "\0" a
		while [ ! -e go.2 ]; do sleep 0.02; done
		head -c 100000 /dev/zero | tr "\0" b; echo; echo end
		exec sleep 1000'
	sup=$(pid_in "$PF")
}

# The relay passed the line on as it came, in pieces on lines of their
# own, each after the first after "... ": all of its bytes, in order, and
# "end" on a line of its own after them.
assert_split_in_order() {
	wait_until 10 'grep -Eqx "$TS end" out'
	awk '{ print length($0) }' out | paste -sd ' ' >&2
	sed -E "s/^$TS (\\.\\.\\. )?//" out | tr -d '\n' |
		cmp - <(head -c 70000 /dev/zero | tr '\0' a
			head -c 100000 /dev/zero | tr '\0' b; printf end)
	run ! grep -Ev "^$TS \\.\\.\\. " <<<"$(sed '1d; $d' out)"
}

@test "a line the relay has no memory to gather goes on as it came, in order" {
	start_split_line
	limit_data "$sup"
	: >go.1
	: >go.2
	assert_split_in_order
	is_alive "$sup"
}

# The first 70,000 bytes are in a mapping of 128 KiB; the line's rest
# would need it larger.
@test "a line the relay has no memory to gather further goes on as it came, in order" {
	start_split_line
	grown=$(($(data_kb "$sup") + 128))
	: >go.1
	wait_until 5 "[ \"\$(data_kb $sup)\" -ge $grown ]"
	limit_data "$sup"
	: >go.2
	assert_split_in_order
	is_alive "$sup"
}

# A FIFO as -o whose reader takes nothing yet: what the FIFO does not
# hold of a line of 600,000 bytes would wait in the relay, which has no
# memory for it.  Once the reader reads, the next line is told what was
# lost first, on a line of its own.  (Its reason is the last write's that
# failed: no memory, or, for a piece that came after, the FIFO full.)
@test "what waits for a slow reader, with no memory to hold it, is counted as lost and told" {
	mkfifo f
	sleep 1000 0<>f &
	wait_until 5 "[ \"\$(readlink /proc/$!/fd/0)\" = '$PWD/f' ]"
	daemonize_short_of_memory -c "$PWD" -T -o f -p "$PF" sh -c '
		while [ ! -e go.1 ]; do sleep 0.02; done
		head -c 600000 /dev/zero | tr "\0" a; echo; : >written
		while [ ! -e go.2 ]; do sleep 0.02; done
		echo after; exec sleep 1000'
	sup=$(pid_in "$PF")
	limit_data "$sup"
	: >go.1
	wait_until 10 '[ -e written ]'
	cat f >got &
	wait_until 5 '[ "$(wc -c <got)" -ge 16384 ]'
	: >go.2
	wait_until 5 'grep -Eqx "$TS after" got'
	grep -av 'aaaa' got >&2
	[ "$(grep -Eac '^daemonize: [1-9][0-9]* bytes lost: (Cannot allocate memory|Out of memory|Resource temporarily unavailable)$' got)" -eq 1 ]
	tail -n 1 got | grep -Eqx "$TS after"
	is_alive "$sup"
}
