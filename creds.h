/*
 * -u USER[:GROUP]: looked up in the launcher, where a slow or failing name
 * service stops nothing half-started, and applied in the child with bare
 * system calls.
 */
#ifndef CREDS_H
#define CREDS_H

#include <stdbool.h>
#include <sys/types.h>

struct creds {
	uid_t uid;
	gid_t gid;
	gid_t *groups;		/* the supplementary groups, gid among them */
	int ngroups;
	char *name;		/* the user's name, home and login shell */
	char *home;
	char *shell;
	bool change;		/* false: already these (no root needed) */
};

/* What creds_assume() changed, for creds_restore(). */
struct creds_saved {
	gid_t egid;
	gid_t *groups;
	int ngroups;
};

int creds_lookup(const char *spec, struct creds *c);
void creds_free(struct creds *c);
int creds_set_environment(const struct creds *c);
int creds_apply(const struct creds *c, bool keep_root);
int creds_assume(const struct creds *c, struct creds_saved *s);
int creds_restore(const struct creds *c, struct creds_saved *s);

#endif
