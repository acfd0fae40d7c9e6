/* Dropping root: the daemon after binding its ports, and the CLI's mail commands before
 * they write under the data directory, so every file there belongs to the service user. */
#include "cli.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"

/* Give the data directory's top level to the service user (databases, keys, tls/), so the
 * daemon can run without root. Deeper trees are created by that user already. */
static int chown_data(const char *dir, uid_t uid, gid_t gid)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (d == NULL)
		return cli_fail("%s: %s", dir, strerror(errno));
	if (chown(dir, uid, gid) < 0) {
		closedir(d);
		return cli_fail("chown %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		char p[2048];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lchown(p, uid, gid) < 0)
			log_warn("serve", "path=%s msg=\"chown failed: %s\"", p, strerror(errno));
		if (strcmp(de->d_name, "tls") == 0)
			chown_data(p, uid, gid);
	}
	closedir(d);
	return 0;
}

int cli_drop_privileges(const struct config *c)
{
	struct passwd *pw = getpwnam(c->user);
	if (pw == NULL)
		return cli_fail("%s: key 'server.user': no such user '%s' (scripts/setup.sh creates "
				"it)", c->path, c->user);
	if (pw->pw_uid == 0)
		return cli_fail("%s: key 'server.user': '%s' is root; name an unprivileged user",
				c->path, c->user);
	if (chown_data(c->data_dir, pw->pw_uid, pw->pw_gid) != 0)
		return 1;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return cli_fail("cannot drop privileges to %s: %s", c->user, strerror(errno));
	if (setuid(0) == 0)
		return cli_fail("privileges were not dropped");
#if defined(__SANITIZE_ADDRESS__)
	/* test builds only: LeakSanitizer must ptrace this process at exit, which setuid forbids */
	prctl(PR_SET_DUMPABLE, 1);
#endif
	log_info("serve", "user=%s uid=%d msg=\"privileges dropped\"", c->user, (int)pw->pw_uid);
	return 0;
}


/* Can uid/gid reach dir (search permission on every directory on the way)? */
static bool reachable(const char *dir, uid_t uid, gid_t gid)
{
	char real[PATH_MAX], *p;
	struct stat sb;

	if (realpath(dir, real) == NULL)
		return false;
	for (p = real;; p++) {
		char save = *p;
		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		if (stat(*real ? real : "/", &sb) < 0)
			return false;
		*p = save;
		if (!(sb.st_uid == uid   ? (sb.st_mode & S_IXUSR)
		      : sb.st_gid == gid ? (sb.st_mode & S_IXGRP)
					 : (sb.st_mode & S_IXOTH)))
			return false;
		if (save == '\0')
			return true;
	}
}

int cli_become_service_user(int argc, char **argv)
{
	const char *data = NULL;
	struct passwd *pw;
	struct config c;
	struct err err;
	char conf[1100];

	if (geteuid() != 0)
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[i + 1];
		else if (strncmp(argv[i], "--data=", 7) == 0)
			data = argv[i] + 7;
	}
	if (data == NULL)
		return 0; /* the command reports the missing option itself */
	snprintf(conf, sizeof(conf), "%s/yizhan.conf", data);
	if (access(conf, F_OK) != 0 || config_load(&c, data, &err) < 0)
		return 0; /* likewise: the command says what is wrong with the directory */
	/* where the service user could not even reach the directory (a private test dir) the
	 * daemon cannot run there either: stay root. The directory itself is given to the user
	 * by cli_drop_privileges(); what matters is the way to it. */
	pw = getpwnam(c.user);
	{
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s/..", data);
		if (pw == NULL || pw->pw_uid == 0 || !reachable(parent, pw->pw_uid, pw->pw_gid))
			return 0;
	}
	log_set_level(LOG_WARN); /* no "privileges dropped" line in a command's output */
	return cli_drop_privileges(&c);
}
