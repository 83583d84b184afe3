#include "cli/cli.h"

#include <openssl/opensslv.h>
#include <stdio.h>

const char cmd_version_summary[] = "print the version and library versions";

int cmd_version(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		printf("usage: trustline version\n\nPrints the Trustline "
		       "version and the OpenSSL it was built with.\n");
		return CLI_OK;
	}
	printf("trustline 0.1.0 (%s)\n", OPENSSL_VERSION_TEXT);
	return CLI_OK;
}
