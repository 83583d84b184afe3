/* trustline token init|list: PKCS#11 security tokens (SAST tokens). */
#include "cli/cli.h"
#include "cli/site.h"

#include "pki/pki.h"
#include "pki/pki_site.h"
#include "pki/pki_token.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CMD "token"

const char cmd_token_summary[] =
        "security tokens (PKCS#11): init a SAST token, list tokens";

static const char usage[] =
        "usage: trustline token init [--site DIR] --label LABEL [--pin PIN] "
        "[--so-pin PIN]\n"
        "       trustline token list [--site DIR] [--json]\n"
        "\n"
        "init: initialise a free token slot with LABEL, generate an RSA-2048 "
        "key pair\n"
        "  inside it (label 'sast', CKA_ID 01; sensitive, never extractable),"
        "\n"
        "  self-sign its SAST certificate through the token, and store the\n"
        "  certificate in the token and as pki/<label>.crt (e.g. "
        "pki/sast1.crt).\n"
        "  Without --pin/--so-pin, random PINs are written to "
        "tokens/<label>.pin\n"
        "  and tokens/<label>.so.pin (0600).\n"
        "list: every slot with a token: label, serial, key and certificate.\n"
        "\n"
        "  --site DIR        the site directory (default ./site or "
        "$TRUSTLINE_SITE);\n"
        "                    its tokens/softhsm2.conf is used unless "
        "SOFTHSM2_CONF is set\n"
        "  --label LABEL     token label, 1..32 of A-Z a-z 0-9 - _\n"
        "  --pin PIN         user PIN (4..63 characters)\n"
        "  --so-pin PIN      security officer PIN (4..63 characters)\n"
        "  --pin-file F      read the user PIN from F\n"
        "  --module PATH     PKCS#11 module (default: SoftHSM2, or "
        "$TL_PKCS11_MODULE)\n"
        "  --json            machine-readable output\n";

struct opts {
	const char *site, *label, *pin, *so_pin, *pin_file, *module;
	bool json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, 's'},
	        {"label", required_argument, NULL, 'l'},
	        {"pin", required_argument, NULL, 'p'},
	        {"so-pin", required_argument, NULL, 'S'},
	        {"pin-file", required_argument, NULL, 'F'},
	        {"module", required_argument, NULL, 'm'},
	        {"json", no_argument, NULL, 'j'},
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
		case 'l':
			o->label = optarg;
			break;
		case 'p':
			o->pin = optarg;
			break;
		case 'S':
			o->so_pin = optarg;
			break;
		case 'F':
			o->pin_file = optarg;
			break;
		case 'm':
			o->module = optarg;
			break;
		case 'j':
			o->json = true;
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
		cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
		return CLI_EUSAGE;
	}
	return 0;
}

static bool pin_ok(const char *pin)
{
	size_t n = strlen(pin);

	return n >= 4 && n < 64 && !strpbrk(pin, "\r\n");
}

static int do_init(const struct opts *o, const struct site *s)
{
	char pin[64] = "";
	const char *use = o->pin;
	struct store *st = NULL;
	struct stat sb;
	X509 *x = NULL;
	int err, rc = CLI_EFAIL;

	if (!o->label) {
		cli_fail(CMD, "--label LABEL is required");
		return CLI_EUSAGE;
	}
	if (o->pin_file) {
		if (o->pin) {
			cli_fail(CMD,
			         "--pin and --pin-file exclude each other");
			return CLI_EUSAGE;
		}
		err = pki_token_pin_read(o->pin_file, pin, sizeof(pin));
		if (err) {
			return cli_fail(CMD, "%s: %s", o->pin_file,
			                tl_strerror(err));
		}
		use = pin;
	}
	if ((use && !pin_ok(use)) || (o->so_pin && !pin_ok(o->so_pin))) {
		cli_fail(CMD, "PINs are 4..63 characters on one line");
		return CLI_EUSAGE;
	}
	{
		char p[SITE_PATH_MAX + 64];

		if (pki_site_pin_path(s->dir, o->label, false, p, sizeof(p)) ||
		    strlen(o->label) > 32) {
			cli_fail(CMD,
			         "--label: 1..32 of A-Z a-z 0-9 - _, not "
			         "'%s'",
			         o->label);
			return CLI_EUSAGE;
		}
	}
	err = pki_site_token_create(s->dir, o->label, o->module, use, o->so_pin,
	                            s->name, &x);
	OPENSSL_cleanse(pin, sizeof(pin));
	if (err == -TL_EEXIST) {
		return cli_fail(CMD, "a token labelled %s exists", o->label);
	}
	if (err == -TL_ENOTFOUND) {
		return cli_fail(CMD, "no free token slot");
	}
	if (err) {
		return cli_fail(CMD, "cannot create token %s: %s", o->label,
		                tl_strerror(err));
	}
	if (stat(s->db, &sb) == 0) {
		err = store_open(&st, s->db);
		if (!err) {
			err = pki_site_record(st, x, PKI_PROFILE_SAST);
		}
		if (!err && store_audit(st, "cli", "token.init", o->label)) {
			fprintf(stderr, "trustline token: warning: audit log "
			                "not written\n");
		}
		if (err) {
			cli_fail(CMD,
			         "token created, certificate not "
			         "recorded: %s",
			         tl_strerror(err));
			goto out;
		}
	}
	{
		char serial[80] = "";

		if (pki_serial_hex(x, serial, sizeof(serial))) {
			serial[0] = '\0';
		}
		if (o->json) {
			json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "label",
			                      o->label, "key", "rsa2048",
			                      "cert_serial", serial,
			                      "key_label", "sast");
			char *t = j ? json_dumps(j, JSON_INDENT(2) |
			                                    JSON_SORT_KEYS)
			            : NULL;

			json_decref(j);
			if (!t) {
				cli_fail(CMD, "out of memory");
				goto out;
			}
			printf("%s\n", t);
			free(t);
		} else {
			printf("token %s: RSA-2048 key 'sast', SAST "
			       "certificate "
			       "%s\n",
			       o->label, serial);
		}
	}
	rc = CLI_OK;
out:
	store_close(st);
	X509_free(x);
	return rc;
}

struct list_arg {
	json_t *arr;
	bool json;
	int err;
};

static int list_h(const struct pki_token_info *t, void *arg)
{
	struct list_arg *l = arg;

	if (l->json) {
		json_t *j = json_pack(
		        "{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:s?, s:b, s:s?, "
		        "s:s?}",
		        "slot", (json_int_t)t->slot, "label", t->label,
		        "serial", t->serial, "model", t->model, "manufacturer",
		        t->manufacturer, "initialized", t->initialized,
		        "has_key", t->has_key, "key_alg",
		        t->key_alg[0] ? t->key_alg : NULL, "has_cert",
		        t->has_cert, "cert_serial",
		        t->cert_serial[0] ? t->cert_serial : NULL,
		        "cert_subject",
		        t->cert_subject[0] ? t->cert_subject : NULL);

		if (!j || json_array_append_new(l->arr, j)) {
			l->err = -ENOMEM;
			return 1;
		}
		return 0;
	}
	if (!t->initialized) {
		printf("%-10lu %-12s %-16s (free slot)\n", t->slot, "-",
		       t->serial);
		return 0;
	}
	printf("%-10lu %-12s %-16s %-8s %s\n", t->slot, t->label, t->serial,
	       t->has_key ? t->key_alg : "-",
	       t->has_cert ? t->cert_serial : "-");
	return 0;
}

static int do_list(const struct opts *o)
{
	struct list_arg l = {.json = o->json};
	int err;

	if (o->json) {
		l.arr = json_array();
		if (!l.arr) {
			return cli_fail(CMD, "out of memory");
		}
	} else {
		printf("%-10s %-12s %-16s %-8s %s\n", "SLOT", "LABEL", "SERIAL",
		       "KEY", "CERTIFICATE");
	}
	err = pki_token_list(o->module, list_h, &l);
	if (!err) {
		err = l.err;
	}
	if (err) {
		json_decref(l.arr);
		return cli_fail(CMD, "cannot list tokens: %s",
		                tl_strerror(err));
	}
	if (o->json) {
		char *t = json_dumps(l.arr, JSON_INDENT(2));

		json_decref(l.arr);
		if (!t) {
			return cli_fail(CMD, "out of memory");
		}
		printf("%s\n", t);
		free(t);
	}
	return CLI_OK;
}

int cmd_token(int argc, char **argv)
{
	struct opts o;
	struct site s;
	const char *sub;
	int rc, err;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EUSAGE : CLI_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "init") && strcmp(sub, "list")) {
		cli_fail(CMD, "unknown subcommand '%s' (try --help)", sub);
		return CLI_EUSAGE;
	}
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	err = site_load(&s, o.site);
	if (err == -ENOENT) {
		return cli_fail(CMD, "no site at %s (run trustline init)",
		                o.site);
	}
	if (err) {
		return cli_fail(CMD, "%s: %s", o.site, tl_strerror(err));
	}
	err = pki_site_env(s.dir, !strcmp(sub, "init"));
	if (err) {
		return cli_fail(CMD, "token store of %s: %s", s.dir,
		                tl_strerror(err));
	}
	return !strcmp(sub, "init") ? do_init(&o, &s) : do_list(&o);
}
