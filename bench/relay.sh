# shellcheck shell=bash
# The log relay rows of make bench, sourced by bench/run.sh after
# bench/supervise.sh (whose helpers it uses): how fast lines pass through
# the relay to a file, what CPU the relay spends on them, and the memory of
# an idle relay.  bench/README.md explains the method.
#
# RELAY_MIB=N sets the MiB the writer writes per run (default 1024);
# RELAY_REPEATS=N the runs per row, interleaved (default 3); RELAY_SLOW=S
# the seconds past which a run is not repeated (default 20).

RELAY_MIB=${RELAY_MIB:-1024}
RELAY_REPEATS=${RELAY_REPEATS:-3}
# A row whose run takes longer than this, in seconds, is not run again.
RELAY_SLOW=${RELAY_SLOW:-20}
# Lines of 100 bytes in RELAY_MIB MiB (the rest of the last 100 bytes is
# not written).
RELAY_LINES=$((RELAY_MIB * 1048576 / 100))

# Runs one row once, from inside a private mount namespace when it has one:
# mounts a tmpfs of its own on DIR (PRIVATE=1), an empty tmpfs on /dev that
# holds only null (NODEV=1), then times COMMAND with bash's time (wall, and
# the user and system CPU of the whole process tree it waited for), its
# standard output on DIR/out when DIRECT=1, else on /dev/null.  Prints
# "STATUS WALL USER SYS WUSER WSYS BYTES LINES": WUSER and WSYS are the
# writer's own CPU (bench/lines writes them to DIR/cpu); BYTES and LINES
# are DIR/out's.  Then, if STATUS is not 0, the first line of the
# command's standard error.
# shellcheck disable=SC2016 # expanded by the bash that runs it
RELAY_RUNNER='
dir=$1 private=$2 nodev=$3 direct=$4 mib=$5
shift 5
if [ "$private" = 1 ]; then
	mount -t tmpfs -o "size=${mib}m" tmpfs "$dir" || exit 90
fi
if [ "$nodev" = 1 ]; then
	mount -t tmpfs -o size=64k,mode=755 tmpfs /dev &&
		mknod -m 666 /dev/null c 1 3 || exit 91
fi
rm -f "$dir/out" "$dir/cpu" "$dir/err" "$dir/time"
TIMEFORMAT="%3R %3U %3S"
if [ "$direct" = 1 ]; then
	{ time "$@" </dev/null >"$dir/out" 2>"$dir/err"; } 2>"$dir/time"
else
	{ time "$@" </dev/null >/dev/null 2>"$dir/err"; } 2>"$dir/time"
fi
rc=$?
read -r wall user sys <"$dir/time"
read -r wuser wsys 2>/dev/null <"$dir/cpu" || { wuser=0 wsys=0; }
bytes=0 lines=0
if [ -f "$dir/out" ]; then
	bytes=$(stat -c %s "$dir/out")
	lines=$(wc -l <"$dir/out")
fi
echo "$rc $wall $user $sys $wuser $wsys $bytes $lines"
[ "$rc" = 0 ] || head -n 1 "$dir/err"
[ "$private" = 1 ] || rm -f "$dir/out" "$dir/cpu" "$dir/time"
'

# Where the files go: RELAY_PRIVATE=1 and a tmpfs of our own, mounted in
# each run's private mount namespace (root, with unshare), else a tmpfs
# that is there (/dev/shm, /tmp), else the work directory.  Sets
# RELAY_DIR, RELAY_PRIVATE, RELAY_WHERE.
relay_place() {
	local d
	RELAY_PRIVATE=0
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		mkdir -p "$WORK/relay"
		# shellcheck disable=SC2016 # expanded by sh
		if unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1"' sh \
			"$WORK/relay" 2>/dev/null; then
			RELAY_DIR=$WORK/relay RELAY_PRIVATE=1
			RELAY_WHERE="a tmpfs of their own, mounted in each run's private mount namespace"
			return
		fi
	fi
	for d in /dev/shm /tmp; do
		if [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ] && [ -w "$d" ]; then
			RELAY_DIR=$(mktemp -d "$d/daemonize-relay.XXXXXX")
			RELAY_WHERE="$d (tmpfs)"
			return
		fi
	done
	RELAY_DIR=$WORK/relay
	mkdir -p "$RELAY_DIR"
	RELAY_WHERE="$RELAY_DIR, on $(stat -f -c %T "$RELAY_DIR") (no tmpfs found: the disk may set the pace)"
}

# The throughput rows: "name|nodev|direct|command" (FILE is the output).
# The last two are no relay of ours but its floor (bench/copy.c): a pipe
# of 1 MiB read and appended to the file, looking at nothing; and the pipe
# spliced into the file, which the kernel refuses for a file in O_APPEND.
relay_rows() {
	local sep='|' w="$PWD/bench/lines $RELAY_LINES" f="$RELAY_DIR/out"
	echo "(a) \`lines >FILE\`, direct: the limit${sep}0${sep}1${sep}$w $RELAY_DIR/cpu"
	echo "(b) \`daemonize -f -o FILE\`, no relay${sep}0${sep}0${sep}./daemonize -f -o $f -- $w $RELAY_DIR/cpu"
	echo "(c) \`daemonize -f -H -o FILE\`${sep}0${sep}0${sep}./daemonize -f -H -o $f -- $w $RELAY_DIR/cpu"
	echo "(d) \`daemonize -f -T -o FILE\`${sep}0${sep}0${sep}./daemonize -f -T -o $f -- $w $RELAY_DIR/cpu"
	echo "(e) \`daemonize -f -S -o FILE\`, no /dev/log${sep}1${sep}0${sep}./daemonize -f -S -o $f -- $w $RELAY_DIR/cpu"
	echo "(f) \`lines\` piped to \`copy >FILE\`: a pipe of 1 MiB read and appended, the floor of a relay${sep}0${sep}1${sep}$WORK/copy-pipe $w $RELAY_DIR/cpu"
	echo "(g) \`lines\` piped to \`copy -s >FILE\`: spliced, the file not in O_APPEND, the floor of any relay${sep}0${sep}1${sep}$WORK/splice-pipe $w $RELAY_DIR/cpu"
}

# Runs one row once: prints the runner's line, or "skip" where a row needs
# a private /dev and cannot have one.
relay_run() {
	local nodev=$1 direct=$2 cmd=$3 mib=$((RELAY_MIB * 3 / 2 + 16))
	if [ "$RELAY_PRIVATE" = 1 ]; then
		# shellcheck disable=SC2086 # the command is split at spaces
		unshare -m bash -c "$RELAY_RUNNER" bash "$RELAY_DIR" 1 "$nodev" \
			"$direct" "$mib" $cmd
	elif [ "$nodev" = 1 ]; then
		echo skip
	else
		# shellcheck disable=SC2086 # the command is split at spaces
		bash -c "$RELAY_RUNNER" bash "$RELAY_DIR" 0 0 "$direct" "$mib" $cmd
	fi
}

# The median of numbers, one an argument.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Whether a run's output is whole: LINES lines of 100 bytes, each with the
# same number of extra bytes (a timestamp) when STAMPED.
relay_check() {
	local bytes=$1 lines=$2 stamped=$3 want=$((RELAY_LINES * 100))
	if [ "$lines" != "$RELAY_LINES" ]; then
		echo "$lines lines, not $RELAY_LINES"
	elif [ "$bytes" = "$want" ]; then
		echo ok
	elif [ "$stamped" = 1 ] && [ "$bytes" -gt "$want" ] &&
		[ $(((bytes - want) % RELAY_LINES)) = 0 ]; then
		echo "ok, +$(((bytes - want) / RELAY_LINES)) bytes a line"
	else
		echo "$bytes bytes, not $want"
	fi
}

# Prints the throughput table and its targets.
relay_throughput() {
	local names=() nodevs=() directs=() cmds=() walls=() cpus=() own=()
	local ownu=() owns=()
	local fails=() checks=() slow=() name nodev direct cmd i r line
	local rc wall user sys wuser wsys bytes lines mw mc mo dwall="" pct
	local hpct="" tpct="" fpct="" gpct="" range
	printf '#!/bin/sh\n"$@" | %s\n' "$PWD/bench/copy" >"$WORK/copy-pipe"
	printf '#!/bin/sh\n"$@" | %s -s\n' "$PWD/bench/copy" >"$WORK/splice-pipe"
	chmod 755 "$WORK/copy-pipe" "$WORK/splice-pipe"
	while IFS='|' read -r name nodev direct cmd; do
		names+=("$name") nodevs+=("$nodev") directs+=("$direct") cmds+=("$cmd")
		walls+=("") cpus+=("") own+=("") ownu+=("") owns+=("")
		fails+=("") checks+=("") slow+=("")
	done < <(relay_rows)
	# One run untimed first: the first pages a VM's guest touches cost
	# several times what they cost afterwards.
	relay_run 0 1 "${cmds[0]}" >/dev/null
	for ((r = 0; r < RELAY_REPEATS; r++)); do
		for i in "${!cmds[@]}"; do
			[ -n "${fails[i]}" ] || [ -n "${slow[i]}" ] && continue
			echo "bench: relay run $((r + 1))/$RELAY_REPEATS: ${names[i]}" >&2
			line=$(relay_run "${nodevs[i]}" "${directs[i]}" "${cmds[i]}")
			if [ "$line" = skip ]; then
				fails[i]="skipped: needs root and unshare"
				continue
			fi
			read -r rc wall user sys wuser wsys bytes lines <<<"${line%%$'\n'*}"
			if [ "${rc:-1}" != 0 ]; then
				fails[i]="exit ${rc:-?}"
				echo "bench: ${names[i]}: exit ${rc:-?}: $(sed -n 2p <<<"$line")" >&2
				continue
			fi
			walls[i]+=" $wall"
			cpus[i]+=" $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')"
			own[i]+=" $(awk -v u="$user" -v s="$sys" -v wu="$wuser" -v ws="$wsys" \
				'BEGIN { d = u + s - wu - ws; printf "%.3f", d < 0 ? 0 : d }')"
			ownu[i]+=" $(awk -v u="$user" -v wu="$wuser" \
				'BEGIN { d = u - wu; printf "%.3f", d < 0 ? 0 : d }')"
			owns[i]+=" $(awk -v s="$sys" -v ws="$wsys" \
				'BEGIN { d = s - ws; printf "%.3f", d < 0 ? 0 : d }')"
			checks[i]=$(relay_check "$bytes" "$lines" "$([[ ${names[i]} == *-T* ]] && echo 1)")
			[[ ${checks[i]} == ok* ]] || fails[i]="output: ${checks[i]}"
			# A row this slow is run once, to keep the section short.
			awk -v w="$wall" -v s="$RELAY_SLOW" 'BEGIN { exit !(w > s) }' &&
				slow[i]=1
		done
	done
	echo "| ${RELAY_MIB} MiB of 100-byte lines to a file | wall s, median (min–max) | MiB/s | % of direct | CPU s, all | of it, the relay's: daemonize's, copy's in (f) and (g) (user + system) | output |"
	echo "|---|---|---|---|---|---|---|"
	for i in "${!cmds[@]}"; do
		if [ -n "${fails[i]}" ]; then
			echo "| ${names[i]} | n/a | n/a | n/a | n/a | n/a | ${fails[i]} |"
			continue
		fi
		# shellcheck disable=SC2086 # one value a run
		range=$(printf '%s\n' ${walls[i]} | sort -g | sed -n '1p;$p' |
			paste -sd' ' | sed 's/ /–/')
		# shellcheck disable=SC2086 # one value a run
		{
			mw=$(median ${walls[i]})
			mc=$(median ${cpus[i]})
			mo="$(median ${own[i]}) ($(median ${ownu[i]}) + $(median ${owns[i]}))"
		}
		[ "$i" = 0 ] && dwall=$mw mo=–
		pct=n/a
		[ -n "$dwall" ] && pct=$(awk -v d="$dwall" -v w="$mw" \
			'BEGIN { printf "%.0f", 100 * d / w }')
		case ${names[i]} in
		*-H*) hpct=$pct ;;
		*-T*) tpct=$pct ;;
		'(f)'*) fpct=$pct ;;
		'(g)'*) gpct=$pct ;;
		esac
		printf '| %s | %s (%s) | %s | %s | %s | %s | %s |\n' "${names[i]}" "$mw" "$range" \
			"$(awk -v m="$RELAY_MIB" -v w="$mw" 'BEGIN { printf "%.0f", m / w }')" \
			"$pct" "$mc" "$mo" "${checks[i]}${slow[i]:+; over ${RELAY_SLOW} s: run once}"
	done
	echo
	echo "Targets: -H at least 90% of direct: $(at_least "$hpct" 90);" \
		"-T at least 70%: $(at_least "$tpct" 70)." \
		"The floors, in the same runs: (f) ${fpct:-n/a}% and (g) ${gpct:-n/a}% of direct."
}

# "met (A% ≥ B%)", "not met (A% < B%)", or "n/a".
at_least() {
	case $1 in
	'' | n/a) echo n/a ;;
	*) if [ "$1" -ge "$2" ]; then
		echo "met ($1% ≥ $2%)"
	else
		echo "not met ($1% < $2%)"
	fi ;;
	esac
}

# Idle relays beside idle supervisors, as for idle_supervisors.
relay_idle_tools() {
	local sep='|' log=$WORK/idle-relay.log
	echo "daemonize -f -r${sep}fg${sep}./daemonize -f -r -- $ARGS"
	echo "daemonize -f -H -o FILE${sep}fg${sep}./daemonize -f -H -o $log -- $ARGS"
	echo "daemonize, static, -f -r${sep}fg${sep}./daemonize-static -f -r -- $ARGS"
	echo "daemonize, static, -f -H -o FILE${sep}fg${sep}./daemonize-static -f -H -o $log.static -- $ARGS"
}

# The share of the machine's CPU time that was idle over one second, in
# percent: the runs share the machine with whatever else runs, and a
# relay, which needs two CPUs at once to keep pace with its writer, loses
# more to them than a writer alone.
idle_share() {
	local a b
	a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}

# The whole log relay section of the results.
relay() {
	# shellcheck disable=SC2034 # sup_reap's (bench/supervise.sh)
	SH=$(readlink -f /bin/sh)
	[ -x bench/lines ] || {
		echo "bench: bench/lines is missing (make bench/lines)" >&2
		return 1
	}
	relay_place
	local idle
	idle=$(idle_share)
	echo "bench: log relay, $RELAY_MIB MiB a run, $RELAY_REPEATS runs a row" >&2
	echo "## Log relay"
	echo
	echo "Throughput: \`bench/lines\` writes $RELAY_LINES lines of 100 bytes ($RELAY_MIB MiB) in writes of 64 KiB, to FILE on $RELAY_WHERE; runs per row: $RELAY_REPEATS, interleaved, after one untimed run; medians. CPU: user + system of the whole process tree (bash's \`time\`); daemonize's share is that less the writer's own (its getrusage), each a median. CPU idle in the second before: ${idle}%; load average: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	relay_throughput
	echo
	echo "bench: idle relays, ${IDLE_SECS} s twice" >&2
	echo "Idle relay beside an idle supervisor, as above: memory once the worker runs, then system calls and wakeups over ${IDLE_SECS} s."
	echo
	idle_supervisors relay_idle_tools
	[ "$RELAY_PRIVATE" = 1 ] || [ "$RELAY_DIR" = "$WORK/relay" ] ||
		rm -rf "$RELAY_DIR"
}
