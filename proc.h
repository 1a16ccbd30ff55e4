/*
 * Processes: signal names, pidfds with their fallback, waiting with a
 * deadline, stopping a tree of children, /proc readers, and the process
 * state a daemon must not inherit (signals, descriptors).
 */
#ifndef PROC_H
#define PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A process, by pidfd where the kernel has them, else by PID alone. */
struct proc_ref {
	pid_t pid;
	int pidfd;		/* -1 without pidfds */
};

int signal_by_name(const char *name);

void proc_ref_open(struct proc_ref *p, pid_t pid);
void proc_ref_close(struct proc_ref *p);
int proc_ref_signal(const struct proc_ref *p, int sig);
bool proc_ref_wait_gone(const struct proc_ref *p, long ms);

bool proc_is_gone(pid_t pid);
const char *proc_stat(pid_t pid, char *buf, size_t size);
long proc_stat_field(pid_t pid, int field);
/* What a waiting caller does for up to ms, instead of sleeping. */
struct proc_wait {
	void (*fn)(void *arg, long ms);
	void *arg;
};

int proc_stop_children(const pid_t *anchors, int n, int sig, long ms,
    const struct proc_wait *wait);
void proc_signal_group(pid_t pgid, int sig);
void proc_reap_children(const pid_t *keep, int n);
bool proc_other_children(const pid_t *keep, int n);
bool proc_group_running(pid_t pgid);

/*
 * The test build (make daemonize-hooks, TEST_HOOKS=1) stops itself with
 * SIGSTOP at the step DAEMONIZE_TEST_PAUSE names, so that a test can kill
 * a process at that exact point (test/kill-steps.bats).  Elsewhere it is
 * nothing.  The steps, in the order a start and a supervisor's life run:
 *   child-forked       the launcher's child, before setsid
 *   middle-forked      the middle process, after forking the daemon
 *   daemon-forked      the daemon, before it reports its PID
 *   lock-busy          the pidfile's lock found taken, its holder not yet asked
 *   pidfile-locked     the daemon holds the pidfile's lock, not yet written
 *   pidfile-truncated  the pidfile emptied, its PID not yet written
 *   daemon-locked      the pidfile written, before the exec or supervision
 *   supervisor-set-up  the supervisor's signals, outputs and relay ready
 *   worker-forked      the supervisor, after forking a worker
 *   worker-started     a worker, before its process group and plan
 *   before-exec        a daemon or a worker, its plan applied, at exec
 *   workers-writing    PIDFILE.workers.tmp created, not yet written
 *   restart            the supervisor, before restarting a dead worker
 *   stop-signalled     --stop, its signal sent, before it waits
 *   stopping           the supervisor, before it stops its workers
 *   stopped            the workers stopped, the pidfile not yet removed
 */
#ifndef TEST_HOOKS
#define TEST_HOOKS 0
#endif
#if TEST_HOOKS
void test_pause(const char *step);
#else
#define test_pause(step) ((void)0)
#endif
void coverage_flush(void);
void proc_drop_startup_pages(void);
long now_ms(void);
void nap_ms(long ms);

int set_sigpipe(bool ignored);
int reset_signals(void);
int clear_signal_mask(void);
int close_fds_from(int lowfd);
int move_fd_off(int fd, int avoid);

#endif
