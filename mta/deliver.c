/* placeholder until delivery lands */
#include "deliver.h"

#include <stddef.h>

int mta_delivery_start(struct app *app, struct mta_delivery **d_r, struct err *err)
{
	*d_r = NULL;
	return 0;
}

void mta_delivery_stop(struct mta_delivery **dp)
{
	*dp = NULL;
}
