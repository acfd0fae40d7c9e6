#include "role.h"

#include <string.h>

const char *role_name(enum role r)
{
	switch (r) {
	case ROLE_USER: return "user";
	case ROLE_SYSADMIN: return "sysadmin";
	case ROLE_SECADMIN: return "secadmin";
	case ROLE_AUDITOR: return "auditor";
	}
	return "unknown";
}

enum role role_parse(const char *s)
{
	static const enum role all[] = {ROLE_USER, ROLE_SYSADMIN, ROLE_SECADMIN, ROLE_AUDITOR};
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, role_name(all[i])) == 0)
			return all[i];
	return 0;
}
