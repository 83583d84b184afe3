#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_site_default(void)
{
	const char *s = getenv("TRUSTLINE_SITE");

	return (s && *s) ? s : "./site";
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			return true;
		}
		if (!strcmp(argv[i], "--")) {
			break;
		}
	}
	return false;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "trustline %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EFAIL;
}
