#!/bin/sh
# Runs each libFuzzer harness given for SECONDS, two at a time (the
# machines this runs on have two cores).  Each starts from its committed
# corpus, test/fuzz/NAME/, which it only reads: what it finds goes to a
# scratch corpus and any crash input to build/fuzz/, never into the clone.
# Prints each harness's last status line; exits 1 if any found anything.
# usage: test/fuzz/run.sh SECONDS build/fuzz/NAME ...
set -u
seconds=$1
shift
failed=0

run_one() {
	name=${1##*/}
	scratch=build/fuzz/corpus/$name
	rm -rf "$scratch" && mkdir -p "$scratch" || return 1
	"$1" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="build/fuzz/$name-" "$scratch" "test/fuzz/$name" \
	    >"build/fuzz/$name.log" 2>&1
}

report() {
	name=${1##*/}
	if [ "$2" -eq 0 ]; then
		printf '%s: ' "$name"
		grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' \
		    "build/fuzz/$name.log" | tail -n 1
		grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' \
		    "build/fuzz/$name.log" | tr '\n' ' '
		echo
	else
		echo "$name: FAILED (status $2), build/fuzz/$name.log:"
		tail -n 40 "build/fuzz/$name.log"
		failed=1
	fi
}

while [ $# -gt 0 ]; do
	a=$1
	b=${2:-}
	shift
	[ -n "$b" ] && shift
	run_one "$a" &
	pa=$!
	if [ -n "$b" ]; then
		run_one "$b" &
		pb=$!
	fi
	wait "$pa"
	report "$a" $?
	if [ -n "$b" ]; then
		wait "$pb"
		report "$b" $?
	fi
done
exit "$failed"
