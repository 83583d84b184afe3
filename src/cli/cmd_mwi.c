/* trustline mwi set|show: the message-waiting state of a line (RFC 3842).
 * The running server notices the change (the store's change counter) and
 * NOTIFYs the line's subscribers. */
#include "cli/cli.h"
#include "cli/site.h"

#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_mwi_summary[] =
        "message waiting: set or show a line's new/old voice messages";

static const char usage[] =
        "usage: trustline mwi set DN --new N [--old M] [--json]\n"
        "       trustline mwi show DN [--json]\n"
        "\n"
        "Sets the message-waiting state of directory number DN: N new and M\n"
        "old voice messages (0-99999; --old defaults to 0). A running\n"
        "`trustline serve` sends a NOTIFY (RFC 3842 message-summary) to the\n"
        "phones subscribed to DN within a second.\n"
        "Common options:\n"
        "  --site DIR   the site directory (default ./site)\n"
        "  --json       machine-readable output\n";

#define CMD "mwi"

struct opts {
	const char *site;
	bool json;
	const char *dn;
	const char *new_s, *old_s;
};

static int parse_count(const char *what, const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 99999) {
		cli_fail(CMD, "%s must be a number from 0 to 99999, not '%s'",
		         what, s);
		return CLI_EUSAGE;
	}
	*out = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_SITE = 256, O_JSON, O_NEW, O_OLD };
	static const struct option lo[] = {
	        {"site", required_argument, NULL, O_SITE},
	        {"json", no_argument, NULL, O_JSON},
	        {"new", required_argument, NULL, O_NEW},
	        {"old", required_argument, NULL, O_OLD},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->site = cli_site_default();
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case O_SITE:
			o->site = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_NEW:
			o->new_s = optarg;
			break;
		case O_OLD:
			o->old_s = optarg;
			break;
		case ':':
			cli_fail(CMD, "%s needs a value", argv[optind - 1]);
			return CLI_EUSAGE;
		default:
			cli_fail(CMD, "unknown option '%s' (try --help)",
			         argv[optind - 1]);
			return CLI_EUSAGE;
		}
	}
	if (optind < argc) {
		o->dn = argv[optind++];
	}
	if (optind < argc) {
		cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
		return CLI_EUSAGE;
	}
	if (!o->dn) {
		cli_fail(CMD, "missing DN (try --help)");
		return CLI_EUSAGE;
	}
	if (strlen(o->dn) >= STORE_DN_MAX) {
		cli_fail(CMD, "DN '%s' too long", o->dn);
		return CLI_EUSAGE;
	}
	return 0;
}

static int show(struct store *st, const struct opts *o)
{
	struct store_line l;
	int err = store_line_get(st, o->dn, &l);

	if (err) {
		return cli_fail(CMD, "no line %s", o->dn);
	}
	if (o->json) {
		return cli_print_json(
		        CMD, json_pack("{s:s, s:i, s:i, s:b}", "dn", l.dn,
		                       "new", l.mwi_new, "old", l.mwi_old,
		                       "waiting", l.mwi_new > 0));
	}
	printf("%s: %d new, %d old (%s)\n", l.dn, l.mwi_new, l.mwi_old,
	       l.mwi_new > 0 ? "messages waiting" : "no new messages");
	return CLI_OK;
}

int cmd_mwi(int argc, char **argv)
{
	struct opts o;
	struct site s;
	struct store *st = NULL;
	const char *sub;
	int nm = 0, om = 0;
	int rc, err;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2) {
		cli_fail(CMD, "missing subcommand (try --help)");
		return CLI_EUSAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "set") && strcmp(sub, "show")) {
		cli_fail(CMD, "unknown subcommand '%s' (try --help)", sub);
		return CLI_EUSAGE;
	}
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	if (!strcmp(sub, "set")) {
		if (!o.new_s) {
			cli_fail(CMD, "set needs --new N");
			return CLI_EUSAGE;
		}
		rc = parse_count("--new", o.new_s, &nm);
		if (!rc && o.old_s) {
			rc = parse_count("--old", o.old_s, &om);
		}
		if (rc) {
			return rc;
		}
	} else if (o.new_s || o.old_s) {
		cli_fail(CMD, "show takes no --new/--old");
		return CLI_EUSAGE;
	}
	cli_quiet();
	if (cli_open_store(CMD, o.site, &s, &st)) {
		return CLI_EFAIL;
	}
	if (!strcmp(sub, "set")) {
		err = store_mwi_set(st, o.dn, nm, om);
		if (err == -TL_ENOTFOUND) {
			rc = cli_fail(CMD, "no line %s", o.dn);
		} else if (err) {
			rc = cli_fail(CMD, "cannot set %s: %s", o.dn,
			              tl_strerror(err));
		} else if (store_audit(st, cli_actor(), "mwi-set", o.dn) != 0) {
			rc = cli_fail(CMD, "audit log write failed");
		}
	}
	if (!rc) {
		rc = show(st, &o);
	}
	store_close(st);
	return rc;
}
