/* trustline line add|list|show|set|del: directory numbers on devices and
 * their digest credentials. The password is turned into HA1 values
 * (RFC 7616 §3.4.2: MD5 and SHA-256 of user:realm:password) and never
 * stored or printed. */
#include "cli/cli.h"
#include "cli/site.h"

#include "base/log.h"
#include "prov/prov_secret.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_line_summary[] =
        "directory numbers: add, list, show, set, del (digest HA1 only)";

static const char usage[] =
        "usage: trustline line add --dn DN --device MAC [--display NAME]\n"
        "                          [--user U] [--index N]\n"
        "                          [--password P | --password-file F]\n"
        "       trustline line list [--device MAC] [--json]\n"
        "       trustline line show DN [--json]\n"
        "       trustline line set DN [--display NAME] [--device MAC]\n"
        "                          [--index N] [--user U]\n"
        "                          [--password P | --password-file F]\n"
        "       trustline line del DN\n"
        "\n"
        "DN: up to 31 of digits, '*', '#', with an optional leading '+'.\n"
        "  --device MAC        the device whose button carries the line\n"
        "  --index N           the button, 1-64 (default: the next free one)\n"
        "  --display NAME      the caller name shown\n"
        "  --user U            digest user name (default: the DN)\n"
        "  --password P        the SIP digest password; or\n"
        "  --password-file F   read it from the first line of F ('-': stdin)\n"
        "For digest only HA1 = H(user:realm:password) is kept, for MD5 and\n"
        "SHA-256, with a copy of the password sealed (AES-256-GCM) under\n"
        "pki/secrets.key for the phone's encrypted config;\n"
        "the realm is the site setting 'realm', else the site name. Changing\n"
        "--user needs the password again. Passwords reach a phone only in its\n"
        "encrypted configuration.\n"
        "Common options:\n"
        "  --site DIR          the site directory (default ./site)\n"
        "  --json              machine-readable output\n";

#define CMD          "line"
#define PASSWORD_MAX 128

struct opts {
	const char *site;
	bool json;
	const char *dn, *device, *display, *user, *index;
	const char *password, *password_file;
	const char *arg; /* positional DN */
};

enum {
	O_SITE = 256,
	O_JSON,
	O_DN,
	O_DEVICE,
	O_DISPLAY,
	O_USER,
	O_INDEX,
	O_PASSWORD,
	O_PASSWORD_FILE,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, O_SITE},
	        {"json", no_argument, NULL, O_JSON},
	        {"dn", required_argument, NULL, O_DN},
	        {"device", required_argument, NULL, O_DEVICE},
	        {"display", required_argument, NULL, O_DISPLAY},
	        {"user", required_argument, NULL, O_USER},
	        {"index", required_argument, NULL, O_INDEX},
	        {"password", required_argument, NULL, O_PASSWORD},
	        {"password-file", required_argument, NULL, O_PASSWORD_FILE},
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
		case O_DN:
			o->dn = optarg;
			break;
		case O_DEVICE:
			o->device = optarg;
			break;
		case O_DISPLAY:
			o->display = optarg;
			break;
		case O_USER:
			o->user = optarg;
			break;
		case O_INDEX:
			o->index = optarg;
			break;
		case O_PASSWORD:
			o->password = optarg;
			break;
		case O_PASSWORD_FILE:
			o->password_file = optarg;
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
	if (o->password && o->password_file) {
		cli_fail(CMD, "give --password or --password-file, not both");
		return CLI_EUSAGE;
	}
	return 0;
}

/* ---- output (never the HA1: it is a password equivalent) ---- */

static json_t *line_json(const struct store_line *l)
{
	return json_pack(
	        "{s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:{s:i, s:i}, "
	        "s:I, s:I}",
	        "dn", l->dn, "device", l->device, "index", l->line_index,
	        "display", l->display, "user", *l->user ? l->user : l->dn,
	        "realm", l->realm, "password_set", *l->ha1_md5 != '\0', "mwi",
	        "new", l->mwi_new, "old", l->mwi_old, "created",
	        (json_int_t)l->created, "updated", (json_int_t)l->updated);
}

static void print_row(const struct store_line *l)
{
	printf("%-12s %-12s %-5d %-24s %-16s %s\n", l->dn, l->device,
	       l->line_index, *l->display ? l->display : "-",
	       *l->user ? l->user : l->dn, *l->ha1_md5 ? "yes" : "no");
}

/* ---- input ---- */

static int get_dn(const struct opts *o, const char *sub, const char **dn)
{
	if (o->dn && o->arg) {
		cli_fail(CMD, "give the DN once");
		return CLI_EUSAGE;
	}
	*dn = o->dn ? o->dn : o->arg;
	if (!*dn) {
		cli_fail(CMD, "%s needs a DN", sub);
		return CLI_EUSAGE;
	}
	if (strlen(*dn) >= STORE_DN_MAX) {
		cli_fail(CMD, "DN '%s' too long (max %d)", *dn,
		         STORE_DN_MAX - 1);
		return CLI_EUSAGE;
	}
	return 0;
}

static int get_password(const struct opts *o, char *out, size_t n, bool *have)
{
	int err;

	*have = false;
	if (o->password_file) {
		err = cli_read_secret(o->password_file, out, n);
		if (err) {
			cli_fail(
			        CMD, "--password-file %s: %s", o->password_file,
			        err == -TL_EPARSE ? "empty" : tl_strerror(err));
			return CLI_EUSAGE;
		}
		*have = true;
	} else if (o->password) {
		if (!*o->password || strlen(o->password) >= n) {
			cli_fail(CMD, "--password: 1 to %zu characters", n - 1);
			return CLI_EUSAGE;
		}
		snprintf(out, n, "%s", o->password);
		*have = true;
	}
	return 0;
}

static int realm_of(struct store *st, const struct site *s, char *out, size_t n)
{
	int err = store_setting_get(st, "realm", out, n);

	if (err == -TL_ENOTFOUND) {
		snprintf(out, n, "%s", s->name);
		return 0;
	}
	return err;
}

static int apply(const struct opts *o, struct store_line *l)
{
	if (o->device && store_mac_parse(o->device, l->device)) {
		cli_fail(CMD,
		         "bad MAC '%s' (12 hex digits, or "
		         "AA:BB:CC:DD:EE:FF)",
		         o->device);
		return CLI_EUSAGE;
	}
	if (o->display) {
		if (strlen(o->display) >= sizeof(l->display)) {
			cli_fail(CMD, "--display too long (max %zu)",
			         sizeof(l->display) - 1);
			return CLI_EUSAGE;
		}
		snprintf(l->display, sizeof(l->display), "%s", o->display);
	}
	if (o->user) {
		if (strlen(o->user) >= sizeof(l->user)) {
			cli_fail(CMD, "--user too long (max %zu)",
			         sizeof(l->user) - 1);
			return CLI_EUSAGE;
		}
		snprintf(l->user, sizeof(l->user), "%s", o->user);
	}
	if (o->index) {
		char *end;
		long v;

		errno = 0;
		v = strtol(o->index, &end, 10);
		if (errno || *end || end == o->index || v < 1 || v > 64) {
			cli_fail(CMD, "bad --index '%s' (1-64)", o->index);
			return CLI_EUSAGE;
		}
		l->line_index = (int)v;
	}
	return 0;
}

/* Say which constraint failed: probe the store for the likely cause. */
static int fail_err(struct store *st, int err, const char *dn,
                    const struct store_line *l, bool add)
{
	struct store_line g;
	struct store_device d;

	switch (err) {
	case -TL_EEXIST:
		if (add && store_line_get(st, dn, &g) == 0) {
			return cli_fail(CMD, "DN %s already exists (on %s)", dn,
			                g.device);
		}
		/* the digest user name the line would have */
		if (store_line_find_user(st, *l->user ? l->user : dn, &g) ==
		            0 &&
		    strcmp(g.dn, dn)) {
			return cli_fail(CMD,
			                "digest user '%s' is taken by line %s",
			                *l->user ? l->user : dn, g.dn);
		}
		return cli_fail(CMD, "button %d of device %s is taken",
		                l->line_index, l->device);
	case -TL_ENOTFOUND:
		if (*l->device &&
		    store_device_get(st, l->device, &d) == -TL_ENOTFOUND) {
			return cli_fail(CMD, "no device %s", l->device);
		}
		return cli_fail(CMD, "no line %s", dn);
	case -TL_EPARSE:
		return cli_fail(CMD, "bad value: DN of digits, '*', '#' (a "
		                     "leading '+'), no control characters, "
		                     "user without ':' or '\"'");
	case -TL_ELIMIT:
		return cli_fail(CMD, "device %s has no free button", l->device);
	default:
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
}

/* ---- subcommands ---- */

static int do_add_set(struct store *st, const struct site *s,
                      const struct opts *o, bool add)
{
	struct store_line l = {0};
	char password[PASSWORD_MAX];
	char realm[128];
	char detail[256];
	const char *dn;
	bool have_pw = false;
	int rc = get_dn(o, add ? "add" : "set", &dn);
	int err;

	if (rc) {
		return rc;
	}
	if (add && !o->device) {
		cli_fail(CMD, "add needs --device MAC");
		return CLI_EUSAGE;
	}
	rc = get_password(o, password, sizeof(password), &have_pw);
	if (rc) {
		goto out;
	}
	if (!add) {
		err = store_line_get(st, dn, &l);
		if (err) {
			rc = fail_err(st, err, dn, &l, add);
			goto out;
		}
		if (o->user && strcmp(o->user, l.user) && *l.ha1_md5 &&
		    !have_pw) {
			rc = cli_fail(CMD, "changing --user needs the password "
			                   "again (the stored HA1 depends on "
			                   "it)");
			goto out;
		}
	} else {
		snprintf(l.dn, sizeof(l.dn), "%s", dn);
	}
	rc = apply(o, &l);
	if (rc) {
		goto out;
	}
	err = realm_of(st, s, realm, sizeof(realm));
	if (err) {
		rc = cli_fail(CMD, "realm: %s", tl_strerror(err));
		goto out;
	}
	err = store_tx_begin(st);
	if (!err) {
		err = add ? store_line_add(st, &l) : store_line_update(st, &l);
	}
	if (!err && have_pw) {
		err = store_line_password_set(st, dn, *l.user ? l.user : dn,
		                              realm, password);
	}
	if (!err && have_pw) {
		/* a sealed copy for the phone's encrypted config (issue 7,
		 * docs/phone.md "Line passwords") */
		uint8_t skey[PROV_SECRET_KEY_LEN];
		err = prov_secret_key_load(s->pki, true, skey);
		if (!err) {
			err = prov_secret_put(st, skey, dn, password);
		} else if (err == -ENOENT) {
			/* a site without pki/ encrypts no config: nothing
			 * to seal for */
			err = 0;
		}
		OPENSSL_cleanse(skey, sizeof(skey));
	}
	if (!err && add && l.line_index == 0) {
		struct store_line g;

		err = store_line_get(st, dn, &g);
		l.line_index = g.line_index;
	}
	if (!err) {
		snprintf(detail, sizeof(detail),
		         "%s device=%s index=%d user=%s%s", dn, l.device,
		         l.line_index, *l.user ? l.user : dn,
		         have_pw ? " password=set" : "");
		err = store_audit(st, cli_actor(), add ? "line.add" : "line.set",
		                  detail);
	}
	if (err) {
		store_tx_rollback(st);
		rc = fail_err(st, err, dn, &l, add);
		goto out;
	}
	err = store_tx_commit(st);
	if (err) {
		rc = fail_err(st, err, dn, &l, add);
		goto out;
	}
	if (store_line_get(st, dn, &l)) {
		rc = cli_fail(CMD, "line %s vanished", dn);
		goto out;
	}
	if (o->json) {
		rc = cli_print_json(CMD, line_json(&l));
	} else {
		printf("line %s %s: device %s button %d%s\n", l.dn,
		       add ? "added" : "updated", l.device, l.line_index,
		       *l.ha1_md5 ? "" : " (no password)");
		rc = CLI_OK;
	}
out:
	OPENSSL_cleanse(password, sizeof(password));
	return rc;
}

static int list_h(const struct store_line *l, void *arg)
{
	json_t *arr = arg;

	if (arr) {
		return json_array_append_new(arr, line_json(l)) ? -ENOMEM : 0;
	}
	print_row(l);
	return 0;
}

static int do_list(struct store *st, const struct opts *o)
{
	json_t *arr = o->json ? json_array() : NULL;
	char mac[13];
	int err;

	if (o->arg || o->dn) {
		json_decref(arr);
		cli_fail(CMD, "list takes no DN (use --device MAC to filter)");
		return CLI_EUSAGE;
	}
	if (o->device && store_mac_parse(o->device, mac)) {
		json_decref(arr);
		cli_fail(CMD, "bad MAC '%s'", o->device);
		return CLI_EUSAGE;
	}
	if (o->json && !arr) {
		return cli_fail(CMD, "out of memory");
	}
	if (!o->json) {
		printf("%-12s %-12s %-5s %-24s %-16s %s\n", "DN", "DEVICE",
		       "INDEX", "DISPLAY", "USER", "PASSWORD");
	}
	err = store_line_list(st, o->device ? mac : NULL, list_h, arr);
	if (err) {
		json_decref(arr);
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	return o->json ? cli_print_json(CMD, arr) : CLI_OK;
}

static int do_show(struct store *st, const struct opts *o)
{
	struct store_line l = {0};
	const char *dn;
	int rc = get_dn(o, "show", &dn);
	int err;

	if (rc) {
		return rc;
	}
	err = store_line_get(st, dn, &l);
	if (err == -TL_ENOTFOUND) {
		return cli_fail(CMD, "no line %s", dn);
	}
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	if (o->json) {
		return cli_print_json(CMD, line_json(&l));
	}
	printf("dn:        %s\ndevice:    %s\nbutton:    %d\n"
	       "display:   %s\nuser:      %s\nrealm:     %s\n"
	       "password:  %s\nmwi:       %d new, %d old\n",
	       l.dn, l.device, l.line_index, *l.display ? l.display : "-",
	       *l.user ? l.user : l.dn, *l.realm ? l.realm : "-",
	       *l.ha1_md5 ? "set (HA1 MD5 and SHA-256)" : "not set", l.mwi_new,
	       l.mwi_old);
	return CLI_OK;
}

static int do_del(struct store *st, const struct opts *o)
{
	const char *dn;
	int rc = get_dn(o, "del", &dn);
	int err;

	if (rc) {
		return rc;
	}
	err = store_tx_begin(st);
	if (!err) {
		err = store_line_del(st, dn);
		if (!err) {
			err = store_audit(st, cli_actor(), "line.del", dn);
		}
		if (err) {
			store_tx_rollback(st);
		} else {
			err = store_tx_commit(st);
		}
	}
	if (err == -TL_ENOTFOUND) {
		return cli_fail(CMD, "no line %s", dn);
	}
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	printf("line %s deleted\n", dn);
	return CLI_OK;
}

int cmd_line(int argc, char **argv)
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
		rc = do_add_set(st, &s, &o, true);
	} else if (!strcmp(sub, "set")) {
		rc = do_add_set(st, &s, &o, false);
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
