/* trustline mfg init|issue: the manufacturer CA that issues phones'
 * MICs (reference/cisco-formats.md §4.1: a phone's factory certificate). */
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

#define CMD "mfg"

const char cmd_mfg_summary[] =
        "manufacturer CA: init, issue a phone's MIC (SEP<MAC>)";

static const char usage[] =
        "usage: trustline mfg init [--site DIR] [--ca-key file|token] "
        "[--alg A] [--cn NAME] [--days N]\n"
        "       trustline mfg issue [--site DIR] --mac AABBCCDDEEFF --out DIR "
        "[--key p256|rsa2048]\n"
        "                           [--days N] [--json]\n"
        "\n"
        "init: create the manufacturer CA (pki/mfg-ca.crt; key in "
        "pki/mfg-ca.key,\n"
        "  0600, or in the SoftHSM2 token 'MFG'). `trustline init` already "
        "makes one.\n"
        "issue: make a MIC for the phone with this MAC: subject CN "
        "SEP<MAC>, O/OU\n"
        "  from the CA, SAN URI SEP<MAC>, EKU serverAuth+clientAuth+"
        "ipsecEndSystem;\n"
        "  writes DIR/SEP<MAC>.crt and DIR/SEP<MAC>.key (0600).\n"
        "\n"
        "  --mac MAC    12 hex digits, or 6 pairs separated by ':' or '-'\n"
        "  --key A      phone key: p256 (default) or rsa2048 (also rsa3072, "
        "p384)\n"
        "  --alg A      CA key for init: p256 (default), p384, rsa2048, ...\n"
        "  --days N     validity (MIC and CA default: 3650)\n"
        "  --pin PIN    token PIN when the CA key is in a token\n"
        "  --module P   PKCS#11 module (default: SoftHSM2)\n"
        "  --json       machine-readable output\n";

struct opts {
	const char *site, *mac, *out, *key, *alg, *ca_key, *cn, *pin, *module;
	long days;
	char pinbuf[64];
	bool json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, 's'},
	        {"mac", required_argument, NULL, 'M'},
	        {"out", required_argument, NULL, 'o'},
	        {"key", required_argument, NULL, 'k'},
	        {"alg", required_argument, NULL, 'a'},
	        {"ca-key", required_argument, NULL, 'K'},
	        {"cn", required_argument, NULL, 'n'},
	        {"days", required_argument, NULL, 'D'},
	        {"pin", required_argument, NULL, 'P'},
	        {"module", required_argument, NULL, 'm'},
	        {"json", no_argument, NULL, 'j'},
	        {NULL, 0, NULL, 0},
	};
	char *end;
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
		case 'M':
			o->mac = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'a':
			o->alg = optarg;
			break;
		case 'K':
			o->ca_key = optarg;
			break;
		case 'n':
			o->cn = optarg;
			break;
		case 'D':
			errno = 0;
			o->days = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->days < 1 ||
			    o->days > 36500) {
				cli_fail(CMD,
				         "--days: expected 1..36500, not "
				         "'%s'",
				         optarg);
				return CLI_EUSAGE;
			}
			break;
		case 'P':
			o->pin = optarg;
			break;
		case 'F':
			if (pki_token_pin_read(optarg, o->pinbuf,
			                       sizeof(o->pinbuf))) {
				cli_fail(CMD,
				         "--pin-file %s: cannot read a PIN",
				         optarg);
				return CLI_EUSAGE;
			}
			o->pin = o->pinbuf;
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

static int do_init(const struct opts *o, const struct site *s, struct store *st)
{
	struct pki_site_ca_opts co = {.alg = PKI_ALG_P256,
	                              .org = s->name,
	                              .module = o->module,
	                              .pin = o->pin};
	char cn[192];
	X509 *x = NULL;
	int err;

	if (o->ca_key && strcmp(o->ca_key, "token") &&
	    strcmp(o->ca_key, "file")) {
		cli_fail(CMD, "--ca-key: token or file, not '%s'", o->ca_key);
		return CLI_EUSAGE;
	}
	co.token = o->ca_key && !strcmp(o->ca_key, "token");
	if (o->alg && pki_alg_parse(o->alg, &co.alg)) {
		cli_fail(CMD, "--alg: unknown key algorithm '%s'", o->alg);
		return CLI_EUSAGE;
	}
	snprintf(cn, sizeof(cn), "%s Manufacturing CA", s->name);
	co.cn = o->cn ? o->cn : cn;
	co.days = o->days > 0 ? (uint32_t)o->days : 0;
	err = pki_site_ca_create(s->dir, PKI_SITE_MFG, &co, &x);
	if (err == -TL_EEXIST) {
		return cli_fail(CMD,
		                "%s already has a manufacturer CA "
		                "(pki/mfg-ca.crt)",
		                s->dir);
	}
	if (err) {
		return cli_fail(CMD, "cannot create the manufacturer CA: %s",
		                tl_strerror(err));
	}
	err = pki_site_record(st, x, PKI_PROFILE_CA);
	X509_free(x);
	if (err) {
		return cli_fail(CMD, "CA created, not recorded: %s",
		                tl_strerror(err));
	}
	if (store_audit(st, "cli", "mfg.init", co.token ? "token" : "file")) {
		fprintf(stderr, "trustline mfg: warning: audit log not "
		                "written\n");
	}
	printf("manufacturer CA %s (%s key, %s)\n", co.cn,
	       co.token ? "token" : "file", pki_alg_name(co.alg));
	return CLI_OK;
}

static int do_issue(const struct opts *o, const struct site *s,
                    struct store *st)
{
	enum pki_alg alg = PKI_ALG_P256;
	char mac[13], cn[16], cpath[4096], kpath[4096], serial[80] = "";
	struct pki_ca *ca = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	struct stat sb;
	int n, err, rc = CLI_EFAIL;

	if (!o->mac || store_mac_parse(o->mac, mac)) {
		cli_fail(CMD,
		         "--mac: 12 hex digits (e.g. AABBCCDDEEFF), not "
		         "'%s'",
		         o->mac ? o->mac : "");
		return CLI_EUSAGE;
	}
	if (!o->out) {
		cli_fail(CMD, "--out DIR is required");
		return CLI_EUSAGE;
	}
	if (o->key && pki_alg_parse(o->key, &alg)) {
		cli_fail(CMD, "--key: p256 or rsa2048, not '%s'", o->key);
		return CLI_EUSAGE;
	}
	if (stat(o->out, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		return cli_fail(CMD, "--out %s: not a directory", o->out);
	}
	/* DESIGN.md "Security model": phone identity is CN SEP + MAC */
	snprintf(cn, sizeof(cn), "SEP%s", mac);
	n = snprintf(cpath, sizeof(cpath), "%s/%s.crt", o->out, cn);
	if (n < 0 || (size_t)n >= sizeof(cpath) ||
	    snprintf(kpath, sizeof(kpath), "%s/%s.key", o->out, cn) >=
	            (int)sizeof(kpath)) {
		return cli_fail(CMD, "--out: path too long");
	}
	if (stat(cpath, &sb) == 0 || stat(kpath, &sb) == 0) {
		return cli_fail(CMD, "%s exists: not overwritten",
		                stat(cpath, &sb) == 0 ? cpath : kpath);
	}
	err = pki_site_ca_open(&ca, s->dir, PKI_SITE_MFG, o->module, o->pin,
	                       NULL);
	if (err) {
		return cli_fail(CMD, "cannot open the manufacturer CA: %s%s",
		                tl_strerror(err),
		                err == -ENOENT ? " (run trustline mfg init)"
		                               : "");
	}
	err = pki_keygen(&key, alg);
	if (!err) {
		struct pki_issue req = {.profile = PKI_PROFILE_MIC,
		                        .cn = cn,
		                        .pub = key,
		                        .days = o->days > 0 ? (uint32_t)o->days
		                                            : 0};

		err = pki_site_issue(ca, st, &req, key, cpath, kpath, &x);
	}
	if (err) {
		cli_fail(CMD, "cannot issue the MIC: %s", tl_strerror(err));
		goto out;
	}
	if (pki_serial_hex(x, serial, sizeof(serial))) {
		serial[0] = '\0';
	}
	{
		char detail[160];

		snprintf(detail, sizeof(detail), "serial=%s cn=%s", serial, cn);
		if (store_audit(st, "cli", "mfg.issue", detail)) {
			fprintf(stderr, "trustline mfg: warning: audit log "
			                "not written\n");
		}
	}
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cn", cn,
		                      "serial", serial, "key_alg",
		                      pki_alg_name(alg), "cert", cpath, "key",
		                      kpath);
		char *t = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)
		            : NULL;

		json_decref(j);
		if (!t) {
			cli_fail(CMD, "out of memory");
			goto out;
		}
		printf("%s\n", t);
		free(t);
	} else {
		printf("MIC %s (%s) %s -> %s\n", cn, pki_alg_name(alg), serial,
		       cpath);
	}
	rc = CLI_OK;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	pki_ca_free(ca);
	return rc;
}

int cmd_mfg(int argc, char **argv)
{
	struct opts o;
	struct site s;
	struct store *st = NULL;
	const char *sub;
	int rc, err;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EUSAGE : CLI_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "init") && strcmp(sub, "issue")) {
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
	err = store_open(&st, s.db);
	if (err) {
		return cli_fail(CMD, "%s: %s", s.db, tl_strerror(err));
	}
	rc = !strcmp(sub, "init") ? do_init(&o, &s, st) : do_issue(&o, &s, st);
	store_close(st);
	OPENSSL_cleanse(o.pinbuf, sizeof(o.pinbuf));
	return rc;
}
