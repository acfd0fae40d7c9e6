/* role.h: the four roles (DESIGN.md section 5). An account holds exactly one; no superuser.
 * Values are bits so route tables can name a set of roles. */
#ifndef YZ_ROLE_H
#define YZ_ROLE_H

#include <stdbool.h>

enum role {
	ROLE_USER = 1,
	ROLE_SYSADMIN = 2,
	ROLE_SECADMIN = 4,
	ROLE_AUDITOR = 8,
};

#define ROLE_ADMINS (ROLE_SYSADMIN | ROLE_SECADMIN | ROLE_AUDITOR)
#define ROLE_ANY (ROLE_USER | ROLE_ADMINS)

const char *role_name(enum role r);
/* Parse "user", "sysadmin", "secadmin", "auditor"; 0 if unknown. */
enum role role_parse(const char *s);
static inline bool role_is_admin(enum role r)
{
	return (r & ROLE_ADMINS) != 0;
}

#endif
