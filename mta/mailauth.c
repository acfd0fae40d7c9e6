/* placeholder until SPF/DKIM/DMARC land */
#include "mailauth.h"

int mailauth_new(const struct mailauth_opts *o, struct dns_resolver *dns, struct mailauth **ma_r,
		 struct err *err)
{
	*ma_r = NULL;
	return 0;
}

void mailauth_free(struct mailauth **map)
{
	*map = NULL;
}
