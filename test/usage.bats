#!/usr/bin/env bats
# The command line: bad input gets one line and exit 2, never a crash.

bats_require_minimum_version 1.5.0
load helpers

TRY="(try 'daemonize --help')"

@test "--help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr "$DAEMONIZE" --help
	[[ ${lines[0]} == "usage: daemonize "* ]]
	[ -z "$stderr" ]
	for opt in append chdir env stderr foreground help lockfile umask \
		stdout pidfile user verbose version quiet wait ready-fd notify \
		signal status stop timeout; do
		[[ $output == *"--$opt"* ]]
	done
}

@test "-h is --help" {
	run -0 "$DAEMONIZE" -h
	[[ ${lines[0]} == "usage: daemonize "* ]]
}

@test "-V prints the version and exits 0" {
	run -0 "$DAEMONIZE" -V
	[[ $output =~ ^daemonize\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "--help that cannot be written exits 125 with one line" {
	run -125 --separate-stderr sh -c '"$0" --help >/dev/full' "$DAEMONIZE"
	[ "$stderr" = "daemonize: write standard output: No space left on device" ]
}

@test "-V that cannot be written exits 125 with one line" {
	run -125 --separate-stderr sh -c '"$0" -V >/dev/full' "$DAEMONIZE"
	[ "$stderr" = "daemonize: write standard output: No space left on device" ]
}

@test "an unknown short option exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" -x sleep 1
	[ "$stderr" = "daemonize: unknown option -x $TRY" ]
	[ -z "$output" ]
}

@test "an unknown option byte that is not printable is shown escaped, exit 2" {
	run -2 --separate-stderr "$DAEMONIZE" $'-\x01' sleep 1
	[ "$stderr" = "daemonize: unknown option -\\001 $TRY" ]
	[ -z "$output" ]
}

@test "a long option prefix that names two options is ambiguous, exit 2" {
	run -2 --separate-stderr "$DAEMONIZE" --st -p pf sleep 1
	[ "$stderr" = "daemonize: option --st is ambiguous $TRY" ]
	[ -z "$output" ]
}

@test "an unknown long option exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" --no-such-option sleep 1
	[ "$stderr" = "daemonize: unknown option --no-such-option $TRY" ]
}

@test "a missing option argument exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" -p
	[ "$stderr" = "daemonize: option -p needs an argument $TRY" ]
	run -2 --separate-stderr "$DAEMONIZE" --pidfile
	[ "$stderr" = "daemonize: option --pidfile needs an argument $TRY" ]
}

@test "a bad umask exits 2 with one line" {
	for mask in 8 abc 1000 -1 '' 0x1 '07 '; do
		run -2 --separate-stderr "$DAEMONIZE" -m "$mask" sleep 1
		[ "$stderr" = "daemonize: option -m wants an octal mode up to 0777, not '$mask' $TRY" ]
	done
}

@test "-w outside 1 to 86400 seconds exits 2 with one line" {
	for secs in 0 86401 -1 x; do
		run -2 --separate-stderr "$DAEMONIZE" -w"$secs" sleep 1
		[ "$stderr" = "daemonize: option -w wants a number from 1 to 86400, not '$secs' $TRY" ]
	done
}

@test "--ready-fd below 3 or above 1023 exits 2 with one line" {
	for fd in 0 2 1024; do
		run -2 --separate-stderr "$DAEMONIZE" --ready-fd "$fd" sleep 1
		[ "$stderr" = "daemonize: option --ready-fd wants a number from 3 to 1023, not '$fd' $TRY" ]
	done
}

@test "-E without '=' exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" -E NOVALUE sleep 1
	[ "$stderr" = "daemonize: option -E wants NAME=VALUE, not 'NOVALUE' $TRY" ]
}

@test "-E with an empty name exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" -E =value sleep 1
	[ "$stderr" = "daemonize: option -E wants NAME=VALUE, not '=value' $TRY" ]
}

@test "no command exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" -p "$PF"
	[ "$stderr" = "daemonize: no command given $TRY" ]
	run -2 --separate-stderr "$DAEMONIZE" --
	[ "$stderr" = "daemonize: no command given $TRY" ]
}

@test "an empty command exits 2 with one line" {
	run -2 --separate-stderr "$DAEMONIZE" -p "$PF" ''
	[ "$stderr" = "daemonize: the command is an empty string $TRY" ]
	assert_nothing_left
}

@test "-- ends the options" {
	run -0 "$DAEMONIZE" -p "$PF" -- sleep 1000
	is_alive "$(pid_in "$PF")"
}

# Every option that takes an argument, given none at the end of argv:
# exit 2 with one line, not a crash (musl's getopt leaves optind past argv).
missing_last_argument() {
	local opt
	for opt in -c -E -e -l -m -o -p -u --pidfile --chdir --signal; do
		run --separate-stderr "$1" "$opt"
		echo "$opt: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		is_one_line "$stderr"
		[[ $stderr == *"option $opt needs an argument"* ]]
	done
	for args in "-f -p" "-fp" "--stop -p" "-q --pidfile"; do
		# shellcheck disable=SC2086 # split on purpose
		run --separate-stderr "$1" $args
		echo "$args: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		is_one_line "$stderr"
		[[ $stderr == *"option -${args: -1}"* || $stderr == *"option --pidfile"* ]]
		[[ $stderr == *"needs an argument"* ]]
	done
}

@test "an option missing its argument at the end exits 2 with one line" {
	missing_last_argument "$DAEMONIZE"
}

@test "a long option given an argument it takes none of exits 2 with one line" {
	for opt in append verbose foreground stop; do
		run --separate-stderr "$DAEMONIZE" "--$opt=1" sleep 1
		echo "--$opt=1: exit $status, said: $stderr"
		[ "$status" -eq 2 ]
		is_one_line "$stderr"
		[[ $stderr == *"--$opt"* ]]
		[[ $stderr == *"no argument"* ]]
	done
}

@test "a -c directory with a newline in its name is reported on one line" {
	run -125 --separate-stderr "$DAEMONIZE" -c $'no\nsuch' sleep 1
	echo "said: $stderr"
	is_one_line "$stderr"
	[[ $stderr == *'no\nsuch'* ]]
}

@test "a pidfile with a newline in its path is reported on one line" {
	run -125 --separate-stderr "$DAEMONIZE" -p $'a\nb/x.pid' sleep 1
	echo "said: $stderr"
	is_one_line "$stderr"
	[[ $stderr == *'a\nb/x.pid'* ]]
	[ -z "$(tagged_procs)" ]
}

@test "a command with a newline in its name is reported on one line" {
	run -127 --separate-stderr "$DAEMONIZE" $'no\nsuch'
	echo "said: $stderr"
	is_one_line "$stderr"
	[[ $stderr == *'no\nsuch'* ]]
}

@test "other control characters in a message are shown as octal escapes" {
	run -125 --separate-stderr "$DAEMONIZE" -c $'no\033such\tdir' sleep 1
	echo "said: $stderr"
	is_one_line "$stderr"
	[[ $stderr == *'no\033such\tdir'* ]]
}

@test "--status, --stop and --signal with an empty pidfile name exit 2 with one line" {
	for mode in --status --stop --signal=TERM; do
		run --separate-stderr "$DAEMONIZE" "$mode" -p ''
		echo "$mode: exit $status, said: $output$stderr"
		[ "$status" -eq 2 ]
		is_one_line "$stderr"
	done
}

@test "-u with an empty user or group name exits 2 with one line" {
	for spec in :root nobody: :; do
		run -2 --separate-stderr "$DAEMONIZE" -u "$spec" sleep 1
		is_one_line "$stderr"
	done
}

@test "an option named by nothing but = is unknown, not ambiguous" {
	run -2 --separate-stderr "$DAEMONIZE" --=x sleep 1
	[ "$stderr" = "daemonize: unknown option --=x (try 'daemonize --help')" ]
}
