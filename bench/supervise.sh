# shellcheck shell=bash
# The supervision rows of make bench, sourced by bench/run.sh (which sets
# WORK, TARGET, TOKEN and ARGS): restart latency, and the memory and the
# wakeups of an idle supervisor, for daemonize and each peer installed.
# bench/README.md explains the method.
#
# RESTARTS=N sets the timed restarts per supervisor (default 50);
# IDLE_SECS=N how long an idle supervisor is watched (default 5).

RESTARTS=${RESTARTS:-50}
IDLE_SECS=${IDLE_SECS:-5}
SLACK=/usr/bin/daemon
SUPS=()

# Kills what the supervision rows started, by PID: the supervisors first,
# so that they restart nothing, then every process with the token in its
# command line that is one of ours (a worker, in its shell or in sleep, a
# supervisor).  Then waits until they are gone or zombies.
sup_reap() {
	local pid pids=""
	for pid in "${SUPS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in $(pgrep -f -- "$TOKEN" || true); do
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		"$TARGET" | "$SH" | "$SLACK" | "$PWD"/daemonize* | /usr/bin/tini* | \
			/usr/bin/dumb-init)
			pids="$pids $pid"
			;;
		esac
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${SUPS[@]}" $pids; do
		while [ -r "/proc/$pid/stat" ] &&
			[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
			sleep 0.001
		done
	done
	SUPS=()
}

# Starts a command detached from this shell (so that no job notices are
# printed when it is killed), its streams on /dev/null; prints its PID.
detach() {
	sh -c '"$@" </dev/null >/dev/null 2>&1 & echo $!' sh "$@"
}

# Waits until the supervisor PID has a child running the target: 0, or 1
# after 5 s or once the supervisor is gone (or a zombie).
wait_worker() {
	local sup=$1 i child
	for ((i = 0; i < 500; i++)); do
		case $(cut -d' ' -f3 "/proc/$sup/stat" 2>/dev/null) in
		'' | Z) return 1 ;;
		esac
		for child in $(pgrep -P "$sup" || true); do
			[ "$(readlink "/proc/$child/exe" 2>/dev/null)" = "$TARGET" ] &&
				return 0
		done
		sleep 0.01
	done
	return 1
}

# The PID in a pidfile, once it names a running process; empty after 5 s.
wait_pidfile() {
	local pf=$1 i pid
	for ((i = 0; i < 500; i++)); do
		pid=$(head -c 20 "$pf" 2>/dev/null | tr -cd '0-9')
		[ -n "$pid" ] && [ -d "/proc/$pid" ] && {
			echo "$pid"
			return
		}
		sleep 0.01
	done
}

# libslack's options for immediate respawns: root may take every limit
# away (--idiot, then --acceptable=0: no run is too short); others get 100
# quick respawns (--attempts' ceiling) before its 300 s pause.
slack_respawn() {
	if [ "$(id -u)" = 0 ]; then
		echo "--idiot --respawn --acceptable=0"
	else
		echo "--respawn --attempts=100"
	fi
}

# Restart latency: "label|name|command" lines for the supervisors
# installed; each runs $WORK/worker, which reports "label PID" on the FIFO
# and execs the target.
restart_tools() {
	local w="$WORK/worker" sep='|'
	echo "dyn${sep}daemonize -r --min-uptime=0${sep}./daemonize -p $WORK/r-dyn.pid -r --min-uptime=0 -- $w dyn $TOKEN"
	echo "static${sep}daemonize, static, -r --min-uptime=0${sep}./daemonize-static -p $WORK/r-static.pid -r --min-uptime=0 -- $w static $TOKEN"
	[ -x "$SLACK" ] &&
		echo "slack${sep}libslack daemon $(slack_respawn)${sep}$SLACK --noconfig --unsafe $(slack_respawn) --name=benchr$$ --pidfile=$WORK/r-slack.pid -- $w slack $TOKEN"
	return 0
}

# Prints the restart latency table rows.
restart_latency() {
	local labels=() names=() cmds=() results=() label name cmd i pid
	local med p90 n method ke ef fe smed="" dmed="" out
	printf '#!/bin/sh\necho "$1 $$" >%s\nexec %s 1000 "$2"\n' \
		"$WORK/fifo" "$TARGET" >"$WORK/worker"
	chmod 755 "$WORK/worker"
	rm -f "$WORK/fifo" && mkfifo "$WORK/fifo"
	while IFS='|' read -r label name cmd; do
		# shellcheck disable=SC2086 # the command is split at spaces
		if $cmd </dev/null >/dev/null 2>&1; then
			labels+=("$label") names+=("$name") cmds+=("$cmd")
		else
			labels+=("-") names+=("$name") cmds+=("$cmd")
		fi
	done < <(restart_tools)
	for i in "${!labels[@]}"; do
		[ "${labels[i]}" = - ] && continue
		pid=$(wait_pidfile "$WORK/r-${labels[i]}.pid")
		[ -n "$pid" ] && SUPS+=("$pid")
	done
	if command -v perl >/dev/null &&
		perl -MTime::HiRes -e 1 2>/dev/null; then
		# shellcheck disable=SC2046 # one argument per label
		mapfile -t out < <(perl bench/restart.pl "$RESTARTS" 5 "$WORK/fifo" \
			$(printf '%s\n' "${labels[@]}" | grep -vx -- -))
	else
		echo "bench: restart latency needs perl (Time::HiRes)" >&2
		out=()
	fi
	sup_reap
	for i in "${!labels[@]}"; do
		if [ "${labels[i]}" = - ] || [ ${#out[@]} -eq 0 ]; then
			results+=("n/a")
		else
			results+=("${out[0]}")
			out=("${out[@]:1}")
		fi
		[ "${results[i]}" = n/a ] && continue
		case ${labels[i]} in
		slack) read -r smed _ <<<"${results[i]}" ;;
		dyn) read -r dmed _ <<<"${results[i]}" ;;
		esac
	done
	echo "| supervisor | restart ms, median | p90 | ×libslack | kill → exit | exit → fork | fork → exec | restarts timed | end seen by |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for i in "${!labels[@]}"; do
		if [ "${results[i]}" = n/a ]; then
			echo "| ${names[i]} | n/a | n/a | n/a | | | | 0 | |"
			continue
		fi
		read -r med p90 n method ke ef fe <<<"${results[i]}"
		case $method in
		exec) method="exec event" ;;
		*) method="FIFO line" ;;
		esac
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"${names[i]}" "$med" "$p90" \
			"$([ -n "$smed" ] && ratio "$med" "$smed" || echo n/a)" \
			"$ke" "$ef" "$fe" "$n" "$method"
	done
	echo
	echo "Target: the median of daemonize -r at or below libslack daemon's: $(
		if [ -z "$dmed" ] || [ -z "$smed" ]; then
			echo n/a
		elif awk -v a="$dmed" -v b="$smed" 'BEGIN { exit !(a <= b) }'; then
			echo "met ($dmed ≤ $smed ms)"
		else
			echo "not met ($dmed > $smed ms)"
		fi)."
}

# Idle supervisors: "name|kind|command" lines for those installed; kind is
# fg (the PID started is the supervisor) or a pidfile to read it from.
idle_tools() {
	local sep='|' bin
	echo "daemonize -f -r${sep}fg${sep}./daemonize -f -r -- $ARGS"
	echo "daemonize, static, -f -r${sep}fg${sep}./daemonize-static -f -r -- $ARGS"
	for bin in tini tini-static; do
		[ -x /usr/bin/$bin ] &&
			echo "$bin -s${sep}fg${sep}/usr/bin/$bin -s -- $ARGS"
	done
	[ -x /usr/bin/dumb-init ] &&
		echo "dumb-init${sep}fg${sep}/usr/bin/dumb-init $ARGS"
	[ -x "$SLACK" ] &&
		echo "libslack daemon --respawn${sep}$WORK/m-slack.pid${sep}$SLACK --noconfig --respawn --name=benchm$$ --pidfile=$WORK/m-slack.pid -- $ARGS"
	return 0
}

# Memory of a process, in KiB: "RSS PSS ANON EXE", EXE being the PSS of
# its own executable's pages (text, read-only data, relocations).
memory_of() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || exe=/nonexistent
	awk -v exe="$exe" '
		FILENAME ~ /rollup/ && $1 == "Rss:" { r = $2 }
		FILENAME ~ /rollup/ && $1 == "Pss:" { p = $2 }
		FILENAME ~ /rollup/ && $1 == "Anonymous:" { a = $2 }
		FILENAME !~ /rollup/ && /^[0-9a-f]+-[0-9a-f]+ / { mine = $6 == exe }
		FILENAME !~ /rollup/ && mine && $1 == "Pss:" { e += $2 }
		END { if (r == "") print "n/a n/a n/a n/a"
			else print r, p, a, e + 0 }' \
		"/proc/$1/smaps_rollup" "/proc/$1/smaps" 2>/dev/null ||
		echo "n/a n/a n/a n/a"
}

# Times a process has been put on a CPU: the run count of
# /proc/PID/schedstat, or its context switches where there is none.
runs_of() {
	if [ -r "/proc/$1/schedstat" ]; then
		cut -d' ' -f3 "/proc/$1/schedstat"
	else
		awk '/ctxt_switches:/ { n += $2 } END { print n }' \
			"/proc/$1/status"
	fi
}

# Prints the idle memory and wakeups table rows, and the targets; or the
# rows alone of the tools another function lists (bench/relay.sh).
# shellcheck disable=SC2120 # bench/relay.sh passes one
idle_supervisors() {
	local tools=${1:-idle_tools}
	local names=() pids=() mems=() runs0=() wakes=() calls=() strs=()
	local name kind cmd pid i rss pss anon exe
	local sdyn="" sstat="" tini="" dumb=""
	while IFS='|' read -r name kind cmd; do
		# shellcheck disable=SC2086 # the command is split at spaces
		pid=$(detach $cmd)
		if [ "$kind" != fg ]; then
			pid=$(wait_pidfile "$kind")
		fi
		SUPS+=("$pid")
		names+=("$name") pids+=("$pid")
	done < <("$tools")
	for i in "${!pids[@]}"; do
		if [ -n "${pids[i]}" ] && wait_worker "${pids[i]}"; then
			continue
		fi
		echo "bench: ${names[i]}: no worker" >&2
		pids[i]=""
	done
	sleep 0.5
	for i in "${!pids[@]}"; do
		if [ -n "${pids[i]}" ]; then
			mems[i]=$(memory_of "${pids[i]}")
			runs0[i]=$(runs_of "${pids[i]}")
		else
			mems[i]="n/a n/a n/a n/a"
		fi
	done
	sleep "$IDLE_SECS"
	for i in "${!pids[@]}"; do
		wakes[i]=n/a
		[ -n "${pids[i]}" ] &&
			wakes[i]=$(($(runs_of "${pids[i]}") - runs0[i]))
	done
	# Every supervisor traced at once, each to its own file.
	strs=()
	for i in "${!pids[@]}"; do
		[ -n "${pids[i]}" ] || continue
		timeout -s INT "$IDLE_SECS" strace -qq -o "$WORK/idle.$i" \
			-p "${pids[i]}" 2>/dev/null &
		strs+=($!)
	done
	for pid in "${strs[@]}"; do
		wait "$pid" || true
	done
	for i in "${!pids[@]}"; do
		calls[i]=n/a
		# The call in progress when strace came and went is not counted.
		[ -n "${pids[i]}" ] && [ -f "$WORK/idle.$i" ] &&
			calls[i]=$(grep -cv -e '<detached \.\.\.>' \
				-e 'resuming interrupted' "$WORK/idle.$i" || true)
	done
	sup_reap
	echo "| supervisor, one worker | RSS KiB | PSS KiB | of it, its own executable's | anonymous KiB | system calls in ${IDLE_SECS} s idle | wakeups in ${IDLE_SECS} s idle |"
	echo "|---|---|---|---|---|---|---|"
	for i in "${!names[@]}"; do
		read -r rss pss anon exe <<<"${mems[i]}"
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${names[i]}" \
			"$rss" "$pss" "$exe" "$anon" "${calls[i]}" "${wakes[i]}"
		case ${names[i]} in
		"daemonize -f -r") sdyn=$pss ;;
		"daemonize, static, -f -r") sstat=$pss ;;
		"tini -s") tini=$pss ;;
		dumb-init) dumb=$pss ;;
		esac
	done
	[ "$tools" = idle_tools ] || return 0
	echo
	echo "Targets: PSS of daemonize -f -r at or below tini's: $(at_most "$sdyn" "$tini");" \
		"of the static build at or below dumb-init's: $(at_most "$sstat" "$dumb");" \
		"zero system calls and wakeups while idle."
}

# "met (A ≤ B)", "not met (A > B)", or "n/a".
at_most() {
	case $1$2 in
	'' | *n/a*) echo n/a ;;
	*) if [ "$1" -le "$2" ]; then
		echo "met ($1 ≤ $2 KiB)"
	else
		echo "not met ($1 > $2 KiB)"
	fi ;;
	esac
}

# The whole supervision section of the results.
supervision() {
	SH=$(readlink -f /bin/sh)
	echo "bench: restart latency, $RESTARTS restarts per supervisor" >&2
	echo "## Supervision"
	echo
	echo "Restart latency: SIGKILL of the worker until the new worker has exec'd, $RESTARTS restarts per supervisor after 5 warm-ups, interleaved (bench/restart.pl)."
	echo
	restart_latency
	echo
	echo "bench: idle supervisors, ${IDLE_SECS} s twice" >&2
	echo "Idle supervisor: smaps_rollup once its worker (the target) runs (its own executable's share from smaps; anonymous: the pages no file backs, the stack, heap and data); system calls by strace -p, wakeups by /proc/PID/schedstat, each over ${IDLE_SECS} s."
	echo
	idle_supervisors
}
