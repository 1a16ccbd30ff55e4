#!/usr/bin/env bats
# A command-line fuzz of the real binary: thousands of malformed argument
# lists, made the same way every run (a fixed seed), each run with a
# deadline.  Every run must exit with a documented status, say why in at
# most one line, never die of a signal nor hang, and leave nothing running.

bats_require_minimum_version 1.5.0
load helpers

RUNS=${FUZZ_RUNS:-1500}

# Each run has its own deadline below; the 1500 of them get three times
# the suite's per-test limit, which a sanitizer build on a busy machine
# can exceed (85 s under ASan while other suites ran).
if [ -n "${BATS_TEST_TIMEOUT:-}" ]; then
	BATS_TEST_TIMEOUT=$((BATS_TEST_TIMEOUT * 3))
fi

# Words an argument list is made of: options right and wrong, numbers out
# of every range, empty and overlong strings, bytes that are not UTF-8.
# Paths stay in the test's directory or name nothing; "always" is left
# out (a supervisor restarting `true` for a minute proves nothing more).
words() {
	local long
	long=$(printf 'x%.0s' $(seq 5000))
	printf '%s\0' -a -c -E -e -f -H -h -l -m -n -o -p -q -r -S -T -t -u \
		-v -V -w -Z -- - --append --chdir --env --stderr --foreground \
		--help --lockfile --umask --stdout --workers --pidfile --quiet \
		--restart --restart=no --restart=on-failure --restart=bogus \
		--syslog --syslog=local0.info --syslog=bad.word --tag --timestamps \
		--user --verbose --version --wait --wait=0 --wait=5 --notify \
		--ready-fd --ready-fd=3 --ready-fd=-1 --signal --signal=TERM \
		--signal=NOPE --signal=0 --status --stop --timeout --timeout=1 \
		--max-restarts --min-uptime --kill-timeout --kill-timeout=0 \
		--pid --stat --no-such-option --pidfile= -pp.pid -Slocal7 \
		-Sdaemon. -n0 -n1 -n2 -r -rno -w1 -m077 -m8 -m0777 -m-1 \
		0 1 2 -1 3 022 99999999999999999999 2147483648 4294967297 1e3 \
		0x10 ' 2' '2 ' abc '' "$long" "/$long" $'\xff\xfe' $'a\nb' \
		p.pid out /nonexistent/x dir/ . / NAME=VALUE =x X= nobody \
		root:nosuchgroup nosuchuser true true true /no/such/command
}

@test "malformed command lines (1500 of them in make check): documented statuses, one line at most, no signal, no hang, nothing left" {
	local -a pool argv
	local i k n rc lines bad=0
	mapfile -d '' -t pool < <(words)
	RANDOM=4242
	for ((i = 0; i < RUNS; i++)); do
		argv=()
		n=$((RANDOM % 7))
		for ((k = 0; k < n; k++)); do
			argv+=("${pool[RANDOM % ${#pool[@]}]}")
		done
		rc=0
		timeout -s KILL 20 "$DAEMONIZE" "${argv[@]}" \
			</dev/null >out.txt 2>err.txt || rc=$?
		lines=$(wc -l <err.txt)
		case $rc in
		0 | 1 | 2 | 3 | 4 | 124 | 125 | 126 | 127) ;;
		*) bad=1 ;;
		esac
		# Usage errors and failures say why in one line; -v may say
		# more when things go well.
		if [ "$rc" -ne 0 ] && [ "$lines" -gt 1 ] ||
			{ [ "$rc" -eq 2 ] && [ "$lines" -ne 1 ]; }; then
			bad=1
		fi
		if [ "$bad" -eq 1 ]; then
			echo "run $i: exit $rc, $lines lines; argv:" >&2
			printf '  [%q]\n' "${argv[@]}" >&2
			cat err.txt >&2
			return 1
		fi
	done
	# What did start (the command `true`) is gone again soon.
	wait_until 30 '[ -z "$(tagged_procs)" ]'
}
