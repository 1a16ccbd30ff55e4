#!/bin/sh
# A container's entry point.  daemonize -f becomes process 1 and supervises
# WORKERS copies of the command (the image's CMD, or "server" without one),
# each with DAEMONIZE_WORKER set to its number, 0 to WORKERS - 1.  It reaps
# every orphan, restarts a worker that fails, with the same number,
# forwards SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to the workers,
# and on SIGTERM (docker stop) or SIGINT stops them all and exits 0.  When
# a worker keeps failing it gives up and exits with that worker's status,
# and the container's restart policy takes over.
#
# In a Dockerfile (see Dockerfile beside this script):
#
#	COPY daemonize /usr/local/bin/daemonize
#	COPY entrypoint.sh /entrypoint.sh
#	ENTRYPOINT ["/entrypoint.sh"]
#	CMD ["server", "--port", "8080"]
#
# KILL_TIMEOUT is how long a worker has to exit after SIGTERM; keep it
# below the runtime's own stop timeout (10 s for docker stop), so that
# daemonize stops the workers and exits 0 before the runtime kills them.
set -eu

WORKERS=${WORKERS:-4}
KILL_TIMEOUT=${KILL_TIMEOUT:-5}
DAEMONIZE=${DAEMONIZE:-daemonize}

[ $# -gt 0 ] || set -- server

# Whatever must happen once, before any worker starts (migrations,
# templates), goes here.

# exec: a shell left as process 1 would pass no signal on.
exec "$DAEMONIZE" -f -n "$WORKERS" --kill-timeout "$KILL_TIMEOUT" -- "$@"
