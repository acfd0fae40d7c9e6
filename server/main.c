/* yizhan: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"usage: yizhan COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  init    --data DIR --domain DOMAIN [--port-base N] [--demo]   create a data directory\n"
	"  serve   --data DIR                                            run the daemon\n"
	"  user    add|passwd|disable|enable|list|show|totp-reset ...     manage accounts\n"
	"  domain  add|list|dkim ...                                     mail domains, DKIM keys\n"
	"  token   add|list|revoke ...                                   API tokens for OA systems\n"
	"  audit   verify --data DIR                                     check the audit trail\n"
	"  import  --data DIR ADDRESS PATH... [--folder NAME]            import .eml, mbox, Maildir\n"
	"  export  --data DIR ADDRESS --format mbox|maildir OUT          export a mailbox\n"
	"  check   --data DIR [--rebuild ADDRESS]                        verify blobs and mailboxes\n"
	"  restore --data DIR ADDRESS [--since DATE] [--folder NAME]     bring back expunged mail\n"
	"  reindex --data DIR [ADDRESS...]                               rebuild search indexes\n"
	"  gc      --data DIR [--grace SECONDS]                          remove unreferenced blobs\n"
	"  purge   --data DIR                                            drop mail past retention\n"
	"  queue   list|show|retry|hold|release|delete --data DIR ...    the mail queue\n"
	"  alias   add|del|list --data DIR ...                           address aliases\n"
	"  list    add|member|members|show --data DIR ...                groups and lists\n"
	"  app-password add|list|revoke|require --data DIR ADDRESS ...   mail client passwords\n"
	"  version                                                       print the version\n"
	"\n"
	"Run 'yizhan COMMAND --help' for a command's options.\n";

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"init", cli_init},   {"serve", cli_serve}, {"user", cli_user},
		{"domain", cli_domain}, {"audit", cli_audit}, {"token", cli_token},
		{"import", cli_import}, {"export", cli_export}, {"check", cli_check},
		{"restore", cli_restore}, {"reindex", cli_reindex}, {"gc", cli_gc},
		{"purge", cli_purge},   {"queue", cli_queue}, {"alias", cli_alias},
		{"list", cli_list},     {"app-password", cli_apppw},
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("yizhan %s\n", YZ_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (cmds[i].fn != cli_init && cmds[i].fn != cli_serve &&
		    cli_become_service_user(argc - 1, argv + 1) != 0)
			return 1;
		return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "yizhan: unknown command '%s'\n\n%s", argv[1], usage);
	return 2;
}
