/* trustline calls forward|ring-time: call control settings of the call
 * manager (forwarding per line, how long a phone rings before "no
 * answer"). They live in the site settings; a running `trustline serve`
 * reads them again within a second. */
#include "cli/cli.h"
#include "cli/site.h"

#include "callmgr/cm_call.h"
#include "callmgr/cm_reg.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_calls_summary[] =
        "call control settings: forwarding per line, ring time";

static const char usage[] =
        "usage: trustline calls forward DN [--all DN2] [--busy DN2]\n"
        "                        [--no-answer DN2] [--clear] [--json]\n"
        "       trustline calls ring-time [SECONDS] [--json]\n"
        "\n"
        "forward: show or set where calls to DN go instead: --all (always),\n"
        "  --busy (the phone answered 486), --no-answer (it rang for the ring\n"
        "  time, or is not registered). An empty value (--all '') removes\n"
        "  one target, --clear all of them. Targets must be lines of the\n"
        "  site; a call follows at most 5 forwards.\n"
        "ring-time: show or set the seconds a phone rings before the call is\n"
        "  forwarded on no answer or refused with 480 (5-300, default 20).\n"
        "Common options:\n"
        "  --site DIR   the site directory (default ./site)\n"
        "  --json       machine-readable output\n";

#define CMD      "calls"
#define RING_KEY CM_RING_SETTING

struct opts {
	const char *site;
	bool json, clear;
	const char *arg;
	const char *fwd[3]; /* all, busy, noans; NULL: unchanged */
};

static const char *const kinds[3] = {"all", "busy", "noans"};
static const char *const kind_names[3] = {"all", "busy", "no_answer"};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_SITE = 256, O_JSON, O_ALL, O_BUSY, O_NOANS, O_CLEAR };
	static const struct option lo[] = {
	        {"site", required_argument, NULL, O_SITE},
	        {"json", no_argument, NULL, O_JSON},
	        {"all", required_argument, NULL, O_ALL},
	        {"busy", required_argument, NULL, O_BUSY},
	        {"no-answer", required_argument, NULL, O_NOANS},
	        {"clear", no_argument, NULL, O_CLEAR},
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
		case O_ALL:
		case O_BUSY:
		case O_NOANS:
			o->fwd[c - O_ALL] = optarg;
			break;
		case O_CLEAR:
			o->clear = true;
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
		o->arg = argv[optind++];
	}
	if (optind < argc) {
		cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
		return CLI_EUSAGE;
	}
	return 0;
}

static int show_forward(struct store *st, const char *dn, bool json)
{
	char v[3][STORE_VALUE_MAX];
	char key[STORE_KEY_MAX];

	for (int i = 0; i < 3; i++) {
		v[i][0] = '\0';
		if (cm_fwd_key(key, sizeof(key), kinds[i], dn) != 0 ||
		    store_setting_get(st, key, v[i], sizeof(v[i])) != 0) {
			v[i][0] = '\0';
		}
	}
	if (json) {
		json_t *j = json_pack("{s:s}", "dn", dn);
		for (int i = 0; j && i < 3; i++) {
			if (json_object_set_new(j, kind_names[i],
			                        v[i][0] ? json_string(v[i])
			                                : json_null())) {
				json_decref(j);
				j = NULL;
			}
		}
		return cli_print_json(CMD, j);
	}
	printf("%s: all %s, busy %s, no answer %s\n", dn, v[0][0] ? v[0] : "-",
	       v[1][0] ? v[1] : "-", v[2][0] ? v[2] : "-");
	return CLI_OK;
}

static int do_forward(struct store *st, const struct opts *o)
{
	struct store_line l;
	char key[STORE_KEY_MAX];
	int err = 0;

	if (!o->arg) {
		cli_fail(CMD, "forward needs a DN");
		return CLI_EUSAGE;
	}
	if (store_line_get(st, o->arg, &l) != 0) {
		return cli_fail(CMD, "no line %s", o->arg);
	}
	for (int i = 0; i < 3; i++) {
		const char *t = o->fwd[i];
		if (t && *t && store_line_get(st, t, &l) != 0) {
			return cli_fail(CMD, "no line %s to forward to", t);
		}
		if (t && !strcmp(t, o->arg)) {
			return cli_fail(CMD, "%s cannot forward to itself", t);
		}
	}
	if (store_tx_begin(st) != 0) {
		return cli_fail(CMD, "database busy");
	}
	for (int i = 0; !err && i < 3; i++) {
		const char *t = o->clear ? "" : o->fwd[i];
		if (!t) {
			continue;
		}
		char cur[STORE_VALUE_MAX];
		err = cm_fwd_key(key, sizeof(key), kinds[i], o->arg);
		if (!err && *t) {
			err = store_setting_set(st, key, t);
		} else if (!err &&
		           store_setting_get(st, key, cur, sizeof(cur)) == 0) {
			/* Only what is set: a failed delete would roll the
			 * whole transaction back. */
			err = store_setting_del(st, key);
		}
	}
	if (!err) {
		err = store_audit(st, cli_actor(), "call-forward", o->arg);
	}
	if (err) {
		store_tx_rollback(st);
		return cli_fail(CMD, "cannot set forwarding of %s: %s", o->arg,
		                tl_strerror(err));
	}
	if (store_tx_commit(st) != 0) {
		return cli_fail(CMD, "cannot commit");
	}
	return show_forward(st, o->arg, o->json);
}

static int ring_value(const char *v)
{
	long secs = strtol(v, NULL, 10);

	return secs >= 5 && secs <= 300 ? (int)secs : 20;
}

static int do_ring(struct store *st, const struct opts *o)
{
	char v[STORE_VALUE_MAX] = "20";
	char *end;
	long secs;

	if (o->arg) {
		errno = 0;
		secs = strtol(o->arg, &end, 10);
		if (!*o->arg || *end || errno || secs < 5 || secs > 300) {
			cli_fail(CMD,
			         "ring time must be 5-300 seconds, not "
			         "'%s'",
			         o->arg);
			return CLI_EUSAGE;
		}
		snprintf(v, sizeof(v), "%ld", secs);
		if (store_setting_set(st, RING_KEY, v) != 0 ||
		    store_audit(st, cli_actor(), "ring-time", v) != 0) {
			return cli_fail(CMD, "cannot set the ring time");
		}
	} else if (store_setting_get(st, RING_KEY, v, sizeof(v)) != 0) {
		snprintf(v, sizeof(v), "20");
	}
	if (o->json) {
		return cli_print_json(
		        CMD, json_pack("{s:i}", "ring_time", ring_value(v)));
	}
	printf("ring time: %s s\n", v);
	return CLI_OK;
}

int cmd_calls(int argc, char **argv)
{
	struct opts o;
	struct site s;
	struct store *st = NULL;
	const char *sub;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2) {
		cli_fail(CMD, "missing subcommand (try --help)");
		return CLI_EUSAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "forward") && strcmp(sub, "ring-time")) {
		cli_fail(CMD, "unknown subcommand '%s' (try --help)", sub);
		return CLI_EUSAGE;
	}
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	if (!strcmp(sub, "ring-time") &&
	    (o.clear || o.fwd[0] || o.fwd[1] || o.fwd[2])) {
		cli_fail(CMD, "ring-time takes no forwarding options");
		return CLI_EUSAGE;
	}
	cli_quiet();
	if (cli_open_store(CMD, o.site, &s, &st)) {
		return CLI_EFAIL;
	}
	rc = !strcmp(sub, "forward") ? do_forward(st, &o) : do_ring(st, &o);
	store_close(st);
	return rc;
}
