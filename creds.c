/*
 * Looking users up, and becoming them.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "msg.h"

static int find_user(const char *, struct creds *);
static int find_group(const char *, struct creds *);
static int find_groups(struct creds *);
static int clear_ambient(void);
static int drop_permitted(void);
static int check_applied(const struct creds *, uid_t);
static bool same_groups(const gid_t *, int, const gid_t *, int);

/* Looks up spec (USER or USER:GROUP) and the user's groups. */
int
creds_lookup(const char *spec, struct creds *c)
{
	char *name, *group;
	int r;

	*c = (struct creds){ .groups = NULL };
	name = strdup(spec);
	if (name == NULL)
		return fail(EXIT_SELF, "allocate memory");
	group = strchr(name, ':');
	if (group != NULL)
		*group++ = '\0';
	r = find_user(name, c);
	if (r == 0 && group != NULL)
		r = find_group(group, c);
	free(name);
	if (r == -1)
		return -1;
	c->change = getuid() != c->uid || getgid() != c->gid ||
	    geteuid() != c->uid || getegid() != c->gid;
	if (c->change && geteuid() != 0)
		return failx(EXIT_SELF, "switch to user %s: only root can do "
		    "that", spec);
	return c->change ? find_groups(c) : 0;
}

static int
find_user(const char *name, struct creds *c)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL && errno != 0)
		return fail(EXIT_SELF, "find user %s", name);
	if (pw == NULL)
		return failx(EXIT_SELF, "find user %s: no such user", name);
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	c->name = strdup(pw->pw_name);
	c->home = strdup(pw->pw_dir);
	c->shell = strdup(pw->pw_shell[0] != '\0' ? pw->pw_shell : "/bin/sh");
	if (c->name == NULL || c->home == NULL || c->shell == NULL)
		return fail(EXIT_SELF, "allocate memory");
	return 0;
}

static int
find_group(const char *group, struct creds *c)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(group);
	if (gr == NULL && errno != 0)
		return fail(EXIT_SELF, "find group %s", group);
	if (gr == NULL)
		return failx(EXIT_SELF, "find group %s: no such group", group);
	c->gid = gr->gr_gid;
	return 0;
}

/* The user's supplementary groups, with the primary group among them. */
static int
find_groups(struct creds *c)
{
	gid_t *groups;
	int n = 16, want;

	for (;;) {
		groups = realloc(c->groups, (size_t)n * sizeof(*groups));
		if (groups == NULL)
			return fail(EXIT_SELF, "allocate memory");
		c->groups = groups;
		want = n;
		if (getgrouplist(c->name, c->gid, c->groups, &want) != -1)
			break;
		if (want <= n)
			want = n * 2;
		if (want > 65536)
			return failx(EXIT_SELF, "find groups of user %s: too "
			    "many", c->name);
		n = want;
	}
	c->ngroups = want;
	return 0;
}

void
creds_free(struct creds *c)
{
	free(c->groups);
	free(c->name);
	free(c->home);
	free(c->shell);
	*c = (struct creds){ .groups = NULL };
}

/*
 * HOME, USER, LOGNAME and SHELL from the password entry, as login(1) sets
 * them; XDG_RUNTIME_DIR belongs to the caller's login session, not the
 * user's, so it goes.  -E, applied after, may set any of them again.
 */
int
creds_set_environment(const struct creds *c)
{
	if (setenv("HOME", c->home, 1) == -1 ||
	    setenv("USER", c->name, 1) == -1 ||
	    setenv("LOGNAME", c->name, 1) == -1 ||
	    setenv("SHELL", c->shell, 1) == -1)
		return fail(EXIT_SELF, "set environment");
	if (c->change && unsetenv("XDG_RUNTIME_DIR") == -1)
		return fail(EXIT_SELF, "set environment");
	return 0;
}

/*
 * In the child: groups first, then the group ID, then the user ID, since
 * each step needs the privilege the next one gives up.  Then make sure
 * all of it took, and that none of it can be undone.
 *
 * keep_root (-f, where no launcher is left to clean up) leaves root in the
 * saved user ID only: the process runs and opens files as the user, and
 * execve(2) copies the effective ID into the saved one, so the command
 * has no way back; but if the exec fails, seteuid(0) can still remove the
 * pidfile.  The user may signal such a process, but not trace it: it is
 * not dumpable.  With root kept anywhere the kernel leaves the permitted
 * and ambient capabilities: they are emptied, so that the command starts
 * as plain setuid(2) would leave it (a file's capabilities count as a
 * gain: not dumpable, AT_SECURE), and the failed exec's cleanup works
 * with root's user ID alone.
 */
int
creds_apply(const struct creds *c, bool keep_root)
{
	if (!c->change)
		return 0;
	if (setgroups((size_t)c->ngroups, c->groups) == -1)
		return fail(EXIT_SELF, "set groups of user %s", c->name);
	if (setgid(c->gid) == -1)
		return fail(EXIT_SELF, "set group ID %ld", (long)c->gid);
	if ((keep_root ? setresuid(c->uid, c->uid, 0) : setuid(c->uid)) == -1)
		return fail(EXIT_SELF, "set user ID %ld", (long)c->uid);
	if (clear_ambient() == -1)
		return fail(EXIT_SELF, "clear ambient capabilities");
	if (keep_root && drop_permitted() == -1)
		return fail(EXIT_SELF, "drop capabilities");
	if (check_applied(c, keep_root ? 0 : c->uid) == -1)
		return -1;
	verbose("user %s (uid %ld, gid %ld)", c->name, (long)c->uid,
	    (long)c->gid);
	return 0;
}

/*
 * Empties the permitted and effective capability sets, and keeps the
 * inheritable one, as setuid(2) away from root does.  libc has no wrapper
 * for capget(2) and capset(2), and <linux/capability.h> is not libc's:
 * the kernel's structures, version 3 (two words a set), are spelled here.
 */
static int
drop_permitted(void)
{
	struct { uint32_t version; int pid; } head = { 0x20080522, 0 };
	struct { uint32_t effective, permitted, inheritable; } data[2];

	if (syscall(SYS_capget, &head, data) == -1)
		return -1;
	data[0].effective = data[0].permitted = 0;
	data[1].effective = data[1].permitted = 0;
	if (syscall(SYS_capset, &head, data) == -1 ||
	    syscall(SYS_capget, &head, data) == -1)
		return -1;
	if (data[0].permitted != 0 || data[1].permitted != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* EINVAL: a kernel before 4.3, which has no ambient capabilities. */
static int
clear_ambient(void)
{
#ifdef PR_CAP_AMBIENT
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) == -1 &&
	    errno != EINVAL)
		return -1;
#endif
	return 0;
}

static int
check_applied(const struct creds *c, uid_t saved)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, now[256];
	int n;

	n = getgroups((int)(sizeof(now) / sizeof(now[0])), now);
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    ru != c->uid || eu != c->uid || su != saved || rg != c->gid ||
	    eg != c->gid || sg != c->gid ||
	    (n != -1 && !same_groups(now, n, c->groups, c->ngroups)) ||
	    (c->uid != 0 && saved != 0 && setuid(0) != -1))
		return failx(EXIT_SELF, "switch to user %s: the change did "
		    "not take", c->name);
	return 0;
}

/* True if the two lists hold the same groups, in any order. */
static bool
same_groups(const gid_t *a, int na, const gid_t *b, int nb)
{
	int i, j;

	for (i = 0; i < na; i++) {
		for (j = 0; j < nb && b[j] != a[i]; j++)
			continue;
		if (j == nb)
			return false;
	}
	for (j = 0; j < nb; j++) {
		for (i = 0; i < na && a[i] != b[j]; i++)
			continue;
		if (i == na)
			return false;
	}
	return true;
}

/*
 * For a moment, in a process that stays root (a supervisor): the user's
 * groups and effective IDs, so that a file it opens is opened as the user
 * would open it (a link the user planted cannot redirect root's write),
 * and a file it creates is the user's.  Undone by creds_restore().
 */
int
creds_assume(const struct creds *c, struct creds_saved *s)
{
	int n;

	*s = (struct creds_saved){ .egid = getegid() };
	if (!c->change)
		return 0;
	n = getgroups(0, NULL);
	s->groups = malloc(((size_t)n + 1) * sizeof(gid_t));
	if (n == -1 || s->groups == NULL)
		return fail(EXIT_SELF, "get groups");
	s->ngroups = getgroups(n, s->groups);
	if (s->ngroups == -1)
		return fail(EXIT_SELF, "get groups");
	if (setgroups((size_t)c->ngroups, c->groups) == -1 ||
	    setegid(c->gid) == -1 || seteuid(c->uid) == -1) {
		(void)fail(EXIT_SELF, "become user %s", c->name);
		(void)creds_restore(c, s);
		return -1;
	}
	return 0;
}

/* Root again, with the groups it had; -1 if it cannot be. */
int
creds_restore(const struct creds *c, struct creds_saved *s)
{
	int r = 0;

	if (c->change && (seteuid(0) == -1 || setegid(s->egid) == -1 ||
	    setgroups((size_t)s->ngroups, s->groups) == -1))
		r = fail(EXIT_SELF, "take back root from user %s", c->name);
	free(s->groups);
	s->groups = NULL;
	return r;
}
