/* trustline: one binary, one subcommand per src/cli/cmd_*.c. */
#include "base/log.h"
#include "cli/cli.h"
#include "cli_cmds.h"
#include "pki/pki.h"

#include <stdio.h>
#include <string.h>

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct cli_cmd cli_cmds[] = {CLI_CMD_TABLE{NULL, NULL, NULL}};

static void usage(FILE *f)
{
	fprintf(f, "usage: trustline [-v] COMMAND [ARGS...]\n\n"
		   "Trustline: secure IP telephony (call manager, PKI, "
		   "provisioning, CAPF, phones).\n\ncommands:\n");
	for (const struct cli_cmd *c = cli_cmds; c->name; c++) {
		fprintf(f, "  %-16s %s\n", c->name, c->summary);
	}
	fprintf(f, "\nEvery command takes --help. Site commands take --site DIR "
		   "(default ./site).\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	/* before anything uses OpenSSL */
	if (pki_ossl_init() != 0) {
		log_debug("main", "OpenSSL's default algorithms in use");
	}

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_set_level(LOG_DEBUG);
			i++;
			continue;
		}
		fprintf(stderr, "trustline: unknown option %s\n", argv[i]);
		usage(stderr);
		return CLI_EUSAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EUSAGE;
	}
	for (const struct cli_cmd *c = cli_cmds; c->name; c++) {
		if (!strcmp(argv[i], c->name)) {
			return c->fn(argc - i, argv + i);
		}
	}
	fprintf(stderr, "trustline: unknown command '%s' (try --help)\n",
		argv[i]);
	return CLI_EUSAGE;
}
