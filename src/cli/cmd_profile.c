/* trustline profile add|list|show|set|del: device security profiles
 * (seed 002: device security mode nonsecure / authenticated / encrypted,
 * the SIP transport, seed 001 "Auth INVITE"). */
#include "cli/cli.h"
#include "cli/site.h"

#include "base/log.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_profile_summary[] =
        "device security profiles (mode, transport, Auth INVITE)";

static const char usage[] =
        "usage: trustline profile add NAME --mode MODE [--transport T]\n"
        "                         [--auth-invite on|off] [--allow-mic on|off]\n"
        "       trustline profile set NAME [--mode MODE] [--transport T]\n"
        "                         [--auth-invite on|off] [--allow-mic on|off]\n"
        "       trustline profile list [--json]\n"
        "       trustline profile show NAME [--json]\n"
        "       trustline profile del NAME\n"
        "\n"
        "A security profile gives its devices their security mode (seed 002):\n"
        "  --mode nonsecure|authenticated|encrypted\n"
        "  --transport udp|tcp|tls   SIP transport; authenticated and\n"
        "                            encrypted need tls (their default; udp\n"
        "                            for nonsecure)\n"
        "  --auth-invite on|off      the phone challenges incoming INVITE and\n"
        "                            NOTIFY with digest (default off)\n"
        "  --allow-mic on|off        accept the manufacturer certificate "
        "(MIC),\n"
        "                            not only an LSC, at registration "
        "(default\n"
        "                            on for secure modes)\n"
        "Common options:\n"
        "  --site DIR                the site directory (default ./site)\n"
        "  --json                    machine-readable output\n"
        "The migration creates the profiles nonsecure, authenticated and\n"
        "encrypted. A profile in use by a device cannot be deleted.\n";

#define CMD "profile"

struct opts {
	const char *site;
	bool json;
	const char *mode, *transport, *auth_invite, *allow_mic;
	const char *name; /* positional */
};

/* Quieter than the daemon: the store's info lines are for -v. */
static int parse_onoff(const char *opt, const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	cli_fail(CMD, "%s: expected on or off, not '%s'", opt, v);
	return -TL_EPARSE;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"mode", required_argument, NULL, 'm'},
	        {"transport", required_argument, NULL, 't'},
	        {"auth-invite", required_argument, NULL, 'a'},
	        {"allow-mic", required_argument, NULL, 'M'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->site = cli_site_default();
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->site = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'm':
			o->mode = optarg;
			break;
		case 't':
			o->transport = optarg;
			break;
		case 'a':
			o->auth_invite = optarg;
			break;
		case 'M':
			o->allow_mic = optarg;
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
		o->name = argv[optind++];
	}
	if (optind < argc) {
		cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
		return CLI_EUSAGE;
	}
	return 0;
}

static json_t *profile_json(const struct store_profile *p)
{
	return json_pack(
	        "{s:s, s:s, s:i, s:s, s:i, s:b, s:b}", "name", p->name, "mode",
	        store_sec_mode_name(p->mode), "device_security_mode",
	        (int)p->mode, "transport", store_transport_name(p->transport),
	        "transport_layer_protocol", (int)p->transport, "auth_invite",
	        p->auth_invite, "allow_mic", p->allow_mic);
}

static void print_row(const struct store_profile *p)
{
	printf("%-20s %-14s %-9s %-11s %s\n", p->name,
	       store_sec_mode_name(p->mode), store_transport_name(p->transport),
	       p->auth_invite ? "on" : "off", p->allow_mic ? "on" : "off");
}

/* Apply the options to p; on add, fill the transport default. */
static int apply(const struct opts *o, struct store_profile *p, bool add)
{
	if (o->mode && store_sec_mode_parse(o->mode, &p->mode)) {
		cli_fail(CMD,
		         "bad --mode '%s' (nonsecure, authenticated or "
		         "encrypted)",
		         o->mode);
		return CLI_EUSAGE;
	}
	if (o->transport &&
	    store_transport_parse(o->transport, &p->transport)) {
		cli_fail(CMD, "bad --transport '%s' (udp, tcp or tls)",
		         o->transport);
		return CLI_EUSAGE;
	}
	if (add && !o->transport) {
		p->transport = p->mode == STORE_SEC_NONSECURE
		                       ? STORE_TRANSPORT_UDP
		                       : STORE_TRANSPORT_TLS;
	}
	if (add && !o->allow_mic) {
		p->allow_mic = p->mode != STORE_SEC_NONSECURE;
	}
	if (o->auth_invite &&
	    parse_onoff("--auth-invite", o->auth_invite, &p->auth_invite)) {
		return CLI_EUSAGE;
	}
	if (o->allow_mic &&
	    parse_onoff("--allow-mic", o->allow_mic, &p->allow_mic)) {
		return CLI_EUSAGE;
	}
	if (p->mode != STORE_SEC_NONSECURE &&
	    p->transport != STORE_TRANSPORT_TLS) {
		cli_fail(CMD, "mode %s needs --transport tls",
		         store_sec_mode_name(p->mode));
		return CLI_EUSAGE;
	}
	return 0;
}

static int write_profile(struct store *st, const struct store_profile *p,
                         bool add)
{
	char detail[256];
	int err = store_tx_begin(st);

	if (err) {
		return err;
	}
	err = add ? store_profile_add(st, p) : store_profile_update(st, p);
	if (!err) {
		snprintf(detail, sizeof(detail),
		         "%s mode=%s transport=%s auth_invite=%d allow_mic=%d",
		         p->name, store_sec_mode_name(p->mode),
		         store_transport_name(p->transport), p->auth_invite,
		         p->allow_mic);
		err = store_audit(st, cli_actor(),
		                  add ? "profile.add" : "profile.set", detail);
	}
	if (err) {
		store_tx_rollback(st);
		return err;
	}
	return store_tx_commit(st);
}

static int do_add_set(struct store *st, const struct opts *o, bool add)
{
	struct store_profile p = {0};
	int err;

	if (!o->name) {
		cli_fail(CMD, "%s needs a profile NAME", add ? "add" : "set");
		return CLI_EUSAGE;
	}
	if (strlen(o->name) >= sizeof(p.name)) {
		return cli_fail(CMD, "profile name too long (max %zu)",
		                sizeof(p.name) - 1);
	}
	if (add) {
		if (!o->mode) {
			cli_fail(CMD, "add needs --mode");
			return CLI_EUSAGE;
		}
		snprintf(p.name, sizeof(p.name), "%s", o->name);
	} else {
		err = store_profile_get(st, o->name, &p);
		if (err == -TL_ENOTFOUND) {
			return cli_fail(CMD, "no profile '%s'", o->name);
		}
		if (err) {
			return cli_fail(CMD, "%s", tl_strerror(err));
		}
	}
	err = apply(o, &p, add);
	if (err) {
		return err;
	}
	err = write_profile(st, &p, add);
	switch (err) {
	case 0:
		break;
	case -TL_EEXIST:
		return cli_fail(CMD, "profile '%s' already exists", p.name);
	case -TL_EPARSE:
		return cli_fail(CMD,
		                "bad profile name '%s' (letters, digits, "
		                "'.', '-', '_')",
		                p.name);
	case -TL_ENOTFOUND:
		return cli_fail(CMD, "no profile '%s'", p.name);
	default:
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	if (o->json) {
		return cli_print_json(CMD, profile_json(&p));
	}
	printf("profile %s %s: mode %s, transport %s\n", p.name,
	       add ? "added" : "updated", store_sec_mode_name(p.mode),
	       store_transport_name(p.transport));
	return CLI_OK;
}

static int list_h(const struct store_profile *p, void *arg)
{
	json_t *arr = arg;

	if (arr) {
		return json_array_append_new(arr, profile_json(p)) ? -ENOMEM
		                                                   : 0;
	}
	print_row(p);
	return 0;
}

static int do_list(struct store *st, const struct opts *o)
{
	json_t *arr = o->json ? json_array() : NULL;
	int err;

	if (o->name) {
		cli_fail(CMD, "list takes no argument");
		json_decref(arr);
		return CLI_EUSAGE;
	}
	if (o->json && !arr) {
		return cli_fail(CMD, "out of memory");
	}
	if (!o->json) {
		printf("%-20s %-14s %-9s %-11s %s\n", "NAME", "MODE",
		       "TRANSPORT", "AUTH-INVITE", "ALLOW-MIC");
	}
	err = store_profile_list(st, list_h, arr);
	if (err) {
		json_decref(arr);
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	return o->json ? cli_print_json(CMD, arr) : CLI_OK;
}

static int do_show(struct store *st, const struct opts *o)
{
	struct store_profile p;
	int err;

	if (!o->name) {
		cli_fail(CMD, "show needs a profile NAME");
		return CLI_EUSAGE;
	}
	err = store_profile_get(st, o->name, &p);
	if (err == -TL_ENOTFOUND) {
		return cli_fail(CMD, "no profile '%s'", o->name);
	}
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	if (o->json) {
		return cli_print_json(CMD, profile_json(&p));
	}
	printf("name:        %s\nmode:        %s (deviceSecurityMode %d)\n"
	       "transport:   %s (transportLayerProtocol %d)\n"
	       "auth-invite: %s\nallow-mic:   %s\n",
	       p.name, store_sec_mode_name(p.mode), (int)p.mode,
	       store_transport_name(p.transport), (int)p.transport,
	       p.auth_invite ? "on" : "off", p.allow_mic ? "on" : "off");
	return CLI_OK;
}

static int do_del(struct store *st, const struct opts *o)
{
	int err;

	if (!o->name) {
		cli_fail(CMD, "del needs a profile NAME");
		return CLI_EUSAGE;
	}
	err = store_tx_begin(st);
	if (!err) {
		err = store_profile_del(st, o->name);
		if (!err) {
			err = store_audit(st, cli_actor(), "profile.del", o->name);
		}
		if (err) {
			store_tx_rollback(st);
		} else {
			err = store_tx_commit(st);
		}
	}
	switch (err) {
	case 0:
		printf("profile %s deleted\n", o->name);
		return CLI_OK;
	case -TL_ENOTFOUND:
		return cli_fail(CMD, "no profile '%s'", o->name);
	case -TL_ESTATE:
		return cli_fail(CMD,
		                "profile '%s' is used by devices; move "
		                "them first (device set MAC --profile P)",
		                o->name);
	default:
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
}

int cmd_profile(int argc, char **argv)
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
	if (strcmp(sub, "add") && strcmp(sub, "set") && strcmp(sub, "list") &&
	    strcmp(sub, "show") && strcmp(sub, "del")) {
		cli_fail(CMD, "unknown subcommand '%s' (try --help)", sub);
		return CLI_EUSAGE;
	}
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	cli_quiet();
	if (cli_open_store(CMD, o.site, &s, &st)) {
		return CLI_EFAIL;
	}
	if (!strcmp(sub, "add")) {
		rc = do_add_set(st, &o, true);
	} else if (!strcmp(sub, "set")) {
		rc = do_add_set(st, &o, false);
	} else if (!strcmp(sub, "list")) {
		rc = do_list(st, &o);
	} else if (!strcmp(sub, "show")) {
		rc = do_show(st, &o);
	} else {
		rc = do_del(st, &o);
	}
	store_close(st);
	return rc;
}
