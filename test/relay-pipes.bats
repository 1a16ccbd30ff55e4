#!/usr/bin/env bats
# The relay's pipes: each starts as any new pipe does, and only one whose
# writer filled it grows, to 1 MiB, so that a fast writer waits less and a
# user's quota of pipe memory goes to the streams that need it.

bats_require_minimum_version 1.5.0
load helpers
load relay-helpers

# The worker: "size" gets what its standard output, the relay's pipe,
# holds at first and what a new pipe holds; then, once "go" has a line, it
# writes FILL ("full": what its pipe holds, exactly; "line": one line),
# says so in "written", and once WANT ("grown": a pipe of 1 MiB; "read":
# "out" has its line) holds, or 5 s have passed, adds what the pipe holds.
write_worker() {
	script worker <<'PERL'
#!/usr/bin/perl
use strict;
my ($fill, $want) = @ARGV;
my $size = fcntl(STDOUT, 1032, 0) or die "F_GETPIPE_SZ: $!";
pipe(my $r, my $w) or die "pipe: $!";
my $fresh = fcntl($w, 1032, 0) or die "F_GETPIPE_SZ: $!";
open(my $go, "<", "go") or die "go: $!";
<$go>;
$| = 1;
print STDOUT ($fill eq "full" ? "x" x ($size - 1) . "\n" : "a line\n");
open(my $m, ">", "written") or die "written: $!";
close $m;
my $now = $size;
for (1 .. 500) {
	$now = fcntl(STDOUT, 1032, 0);
	last if $want eq "grown" ? $now == 1048576 : -s "out";
	select(undef, undef, undef, 0.01);
}
$now = fcntl(STDOUT, 1032, 0) if $want eq "read";
open(my $s, ">", "size.tmp") or die "size: $!";
print $s "$size $fresh $now\n";
close $s;
rename "size.tmp", "size";
sleep 1000;
PERL
	mkfifo go
}

@test "-H: a pipe its writer filled grows to 1 MiB" {
	write_worker
	"$DAEMONIZE" -H -c "$PWD" -o out -p "$PF" ./worker full grown
	sup=$(pid_in "$PF")
	# The relay stopped, the pipe fills with what it holds, no more.
	kill -STOP "$sup"
	timeout 5 sh -c "echo >go"
	wait_until 5 '[ -e written ]'
	kill -CONT "$sup"
	wait_until 10 '[ -e size ]'
	read -r first fresh now <size
	[ "$first" = "$fresh" ]
	[ "$now" = 1048576 ]
}

@test "-H: a pipe whose writer writes a line holds what any new pipe holds" {
	write_worker
	"$DAEMONIZE" -H -c "$PWD" -o out -p "$PF" ./worker line read
	timeout 5 sh -c "echo >go"
	wait_until 10 '[ -e size ]'
	read -r first fresh now <size
	[ "$first" = "$fresh" ]
	[ "$now" = "$fresh" ]
	[ "$(cat out)" = "a line" ]
}

# The supervisor's anonymous memory, in kB.
anonymous_kb() {
	awk '/^Anonymous:/ { print $2 }' "/proc/$1/smaps_rollup"
}

# A burst through the relay of OPTION (-H, -T): the worker fills its pipe
# until it grows, then fills the grown pipe, with the relay stopped each
# time; once the burst is over, the relay must keep no more of its buffers
# than a new pipe's worth each: its anonymous memory grows by less than
# 256 KiB (a burst's buffers, kept, are 1 MiB to read and 512 KiB to
# stamp).
assert_burst_given_back() {
	script worker <<'PERL'
#!/usr/bin/perl
use strict;
sub fill { my $n = shift; syswrite(STDOUT, ("x" x 1023 . "\n") x ($n / 1024)) == $n or die "write: $!"; }
sub mark { open(my $f, ">", shift) or die "mark: $!"; close $f; }
sub wait_for { open(my $f, "<", shift) or die "fifo: $!"; <$f>; }
wait_for("go");
fill(fcntl(STDOUT, 1032, 0));
mark("filled");
select(undef, undef, undef, 0.01) while fcntl(STDOUT, 1032, 0) != 1048576;
mark("grown");
wait_for("go2");
fill(1048576);
mark("full");
$| = 1;
print "end\n";
sleep 1000;
PERL
	mkfifo go go2
	"$DAEMONIZE" "$1" -c "$PWD" -o out -p "$PF" ./worker
	sup=$(pid_in "$PF")
	wait_until 5 '[ -n "$(children_of "$sup")" ]'
	before=$(anonymous_kb "$sup")
	kill -STOP "$sup"
	timeout 5 sh -c "echo >go"
	wait_until 5 '[ -e filled ]'
	kill -CONT "$sup"
	wait_until 5 '[ -e grown ]'
	kill -STOP "$sup"
	timeout 5 sh -c "echo >go2"
	wait_until 5 '[ -e full ]'
	kill -CONT "$sup"
	wait_until 10 '[[ $(tail -n 1 out) == *end ]]'
	echo "anonymous: $before kB before, $(anonymous_kb "$sup") kB after" >&2
	(($(anonymous_kb "$sup") - before < 256))
}

@test "-H: once a burst that filled a grown pipe is over, the relay keeps no more of its read buffer than a new pipe's worth" {
	assert_burst_given_back -H
}

@test "-T: once a burst that filled a grown pipe is over, the relay keeps no more of its buffers than a new pipe's worth each" {
	assert_burst_given_back -T
}

# A reader that never reads: what waits for it stays near PENDING_CAP
# (4 MiB), however fast the worker writes and however much -T makes of its
# lines (16 times as much for 2-byte lines); the rest is lost, and counted.
@test "-T to a FIFO whose reader never reads: a worker writing at full speed grows the relay by less than 24 MiB" {
	mkfifo fifo go
	# (A reader that never reads: sleep holds the FIFO open.)
	# shellcheck disable=SC2217
	(sleep 1000 <fifo &)
	"$DAEMONIZE" -T -c "$PWD" -o fifo -p "$PF" sh -c 'read -r _ <go; exec yes'
	sup=$(pid_in "$PF")
	wait_until 5 '[ -n "$(children_of "$sup")" ]'
	# shellcheck disable=SC2034 # read in the conditions below
	worker=$(children_of "$sup")
	before=$(awk '/^VmHWM:/ { print $2 }' "/proc/$sup/status")
	timeout 5 sh -c "echo >go"
	# Settled: the worker blocked on its full pipe, the relay asleep in
	# poll(2), its streams paused for the reader.
	wait_until 10 '[[ $(cat "/proc/$worker/wchan") == *pipe_write ]] &&
		[[ $(cat "/proc/$sup/wchan") == *poll* ]]'
	after=$(awk '/^VmHWM:/ { print $2 }' "/proc/$sup/status")
	echo "relay's peak: $before kB, then $after kB" >&2
	((after - before < 24576))
}

# The reader takes 64 KiB each 50 ms: what waits for it passes 1 MiB, and
# the streams pause; the worker's end must still come after its last line.
# (Its second run only sleeps: the supervisor, running on, has no exit's
# deadline for what the reader has yet to take.)
@test "-H to a slow reader: a worker's last line comes before the news of its exit" {
	mkfifo fifo
	(perl -e '$| = 1; while (sysread STDIN, my $b, 65536) {
		print $b; select undef, undef, undef, 0.05 }' <fifo >out &)
	"$DAEMONIZE" -H -r -c "$PWD" -o fifo -e fifo -p "$PF" sh -c '
		[ -e ran ] && exec sleep 1000
		: >ran; seq 300000; echo LAST; exit 3'
	wait_until 30 'grep -q "worker 0 started as pid" out &&
		[ "$(grep -c "worker 0 started as pid" out)" -eq 2 ]'
	last=$(grep -n -x LAST out | cut -d: -f1)
	exited=$(grep -n "worker 0 (pid [0-9]*) exited with status 3" out | cut -d: -f1)
	echo "LAST at line $last, the exit at line $exited" >&2
	[ -n "$last" ] && [ -n "$exited" ]
	[ "$last" -lt "$exited" ]
	[ "$(grep -c -x '[0-9]*' out)" -eq 300000 ]
}
