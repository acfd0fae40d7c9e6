/* cli_mail.h: what the mail subcommands (cli_mail.c, cli_import.c) share. */
#ifndef YZ_CLI_MAIL_H
#define YZ_CLI_MAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"
#include "store/mail.h"
#include "store/store.h"

struct cli_mail {
	struct config cfg;
	struct store *st;
	struct mail_store *ms;
};

/* Load the config, drop root, open the directory and the mail store. 0, or the exit status. */
int cli_mail_open(const char *data, struct cli_mail *cm);
void cli_mail_close(struct cli_mail *cm);
/* The mailbox of a user account. 0, or prints why not and returns 1. */
int cli_mail_mailbox(struct cli_mail *cm, const char *address, struct mailbox **mb_r,
		     int64_t *account_r);
/* Drain the index queue with a progress line on a terminal; prints the rate. */
int cli_index_drain(struct mailbox *mb, bool quiet);

#endif
