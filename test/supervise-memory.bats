#!/usr/bin/env bats
# What an idle supervisor keeps mapped: once its workers run, the pages
# it used only on its way (its executable's headers, the loader's code)
# are no longer in its page tables.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	stop_then_kill_test_processes
	remove_public_dirs
}

# The Rss in KiB of PID's mapping of FILE at OFFSET (hex, as smaps shows
# it); nothing if there is no such mapping.
mapping_rss() {
	awk -v file="$2" -v off="$3" '
		/^[0-9a-f]+-[0-9a-f]+ / { here = ($3 == off && $6 == file) }
		here && /^Rss:/ { print $2; exit }
	' "/proc/$1/smaps"
}

# A supervisor in the foreground, with its worker running.
start_foreground_supervisor() {
	("$DAEMONIZE" -f -r -p "$PF" sleep 1000 2>/dev/null &)
	wait_until 5 '[ -s "$PF" ]'
	sv=$(cat "$PF")
	wait_until 5 '[ -n "$(children_of "$sv")" ]'
	exe=$(readlink "/proc/$sv/exe")
}

# The KiB mapped of PID's read-only mappings of FILE that hold no page of
# its own (its headers and constants, not a relocated table), one a line,
# with their offsets.
clean_read_only_rss() {
	awk -v file="$2" '
		/^[0-9a-f]+-[0-9a-f]+ / { here = ($2 == "r--p" && $6 == file); off = $3 }
		here && /^Rss:/ { rss = $2 }
		here && /^Anonymous:/ && $2 == 0 { print off, rss }
	' "/proc/$1/smaps"
}

@test "-f -r: once its worker runs, the supervisor maps none of its executable's headers" {
	start_foreground_supervisor
	[ -n "$(mapping_rss "$sv" "$exe" 00000000)" ]
	wait_until 5 '[ "$(mapping_rss "$sv" "$exe" 00000000)" = 0 ]'
}

# Its constants are read on the way too, by the very reading of what to
# drop: they are dropped after it.
@test "-f -r: once its worker runs, the supervisor maps none of its executable's constants" {
	start_foreground_supervisor
	[ "$(clean_read_only_rss "$sv" "$exe" | wc -l)" -ge 2 ]
	wait_until 5 '[ -z "$(clean_read_only_rss "$sv" "$exe" | awk "\$2 != 0")" ]' || {
		clean_read_only_rss "$sv" "$exe" >&2
		return 1
	}
}

@test "-f -r: once its worker runs, the supervisor maps none of the loader's code" {
	start_foreground_supervisor
	loader=$(awk '$2 ~ /^r-x/ && $6 ~ /\/ld-linux|\/ld-musl/ { print $6, $3; exit }' \
		"/proc/$sv/maps")
	[ -n "$loader" ] || skip "a static build: no loader"
	read -r file off <<<"$loader"
	wait_until 5 "[ \"\$(mapping_rss $sv $file $off)\" = 0 ]"
}

@test "-f -r: with its start's pages dropped, the supervisor restarts a killed worker and stops" {
	start_foreground_supervisor
	wait_until 5 '[ "$(mapping_rss "$sv" "$exe" 00000000)" = 0 ]'
	worker=$(children_of "$sv")
	kill -KILL "$worker"
	wait_until 5 '[ -n "$(children_of "$sv")" ] && [ "$(children_of "$sv")" != "$worker" ]'
	run -0 "$DAEMONIZE" --stop -p "$PF"
	wait_until 5 '! is_alive "$sv"'
}
