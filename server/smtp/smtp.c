/* placeholder until the SMTP server lands */
#include "smtp.h"

#include <stdlib.h>

int smtp_server_start(struct app *app, const int fds[SMTP_NKINDS], struct smtp_server **s_r,
		      struct err *err)
{
	*s_r = NULL;
	return 0;
}

void smtp_server_stop(struct smtp_server **sp)
{
	*sp = NULL;
}
