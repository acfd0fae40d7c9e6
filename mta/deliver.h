/* deliver.h: the delivery workers. They take due recipients from the queue and deliver
 * them: into local mailboxes (aliases, groups and lists expanded, forwarding and vacation
 * replies applied), or to remote servers (MX lookup or the relay host, opportunistic
 * STARTTLS), with retries and backoff in the queue, delay warnings and DSN bounces
 * (RFC 3464) to the sender. Every delivery is audited. */
#ifndef YZ_MTA_DELIVER_H
#define YZ_MTA_DELIVER_H

#include "lib/app.h"
#include "lib/err.h"

struct mta_delivery;

/* Start cfg.queue_workers threads on app's queue, mail store and directory. */
int mta_delivery_start(struct app *app, struct mta_delivery **d_r, struct err *err) YZ_WUR;
void mta_delivery_stop(struct mta_delivery **dp);

#endif
