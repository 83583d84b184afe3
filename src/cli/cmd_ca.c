/* trustline ca init|issue|revoke|crl|list|show: the site CA. */
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
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CMD     "ca"
#define MAX_SAN 16

const char cmd_ca_summary[] =
        "site CA: init, issue, revoke, crl, list, show certificates";

static const char usage[] =
        "usage: trustline ca init [--site DIR] [--ca-key token|file] "
        "[--alg A] [--cn NAME]\n"
        "                         [--days N] [--pin PIN] [--so-pin PIN]\n"
        "       trustline ca issue [--site DIR] --profile server|client|lsc "
        "--cn NAME\n"
        "                          [--dns NAME]... [--ip ADDR]... [--uri URI]"
        " [--days N]\n"
        "                          [--key-alg A | --csr FILE] "
        "(--out DIR | --cert F [--key F])\n"
        "       trustline ca revoke [--site DIR] --serial HEX "
        "[--reason R]\n"
        "       trustline ca crl [--site DIR] [--days N] [--json]\n"
        "       trustline ca list [--site DIR] [--profile P] [--json]\n"
        "       trustline ca show [--site DIR] (--serial HEX | --cert FILE) "
        "[--pem] [--json]\n"
        "\n"
        "  --site DIR        the site directory (default ./site or "
        "$TRUSTLINE_SITE)\n"
        "  --ca-key K        where init keeps the CA key: token (SoftHSM2 "
        "token 'CA',\n"
        "                    the default) or file (pki/ca.key, 0600)\n"
        "  --alg A           CA key: p256 (default), p384, rsa2048, "
        "rsa3072, rsa4096\n"
        "  --key-alg A       key generated for issue: rsa2048 for server and "
        "client\n"
        "                    (default), p256 for lsc (default)\n"
        "  --csr FILE        issue for the public key of this PKCS#10 "
        "request (PEM/DER);\n"
        "                    no key file is written\n"
        "  --out DIR         write DIR/NAME.crt and DIR/NAME.key (0600)\n"
        "  --cert F, --key F write the certificate and key to these files\n"
        "  --days N          validity (issue: server/client 730, lsc 365; "
        "CA 3650;\n"
        "                    crl: next update, default 30)\n"
        "  --reason R        RFC 5280 CRLReason: unspecified, keyCompromise,"
        "\n"
        "                    cACompromise, affiliationChanged, superseded,\n"
        "                    cessationOfOperation, certificateHold,\n"
        "                    privilegeWithdrawn, aACompromise, or a number\n"
        "  --pin PIN         token user PIN (default: tokens/ca.pin)\n"
        "  --module PATH     PKCS#11 module (default: SoftHSM2)\n"
        "  --json            machine-readable output\n"
        "Issuing and revoking record the certificate in trustline.db; "
        "revoking\n"
        "regenerates pki/crl.pem and pki/crl.der.\n";

struct opts {
	const char *site, *ca_key, *alg, *key_alg, *cn, *org, *profile;
	const char *uri, *csr, *out, *cert, *key, *serial, *reason;
	const char *pin, *so_pin, *module;
	const char *dns[MAX_SAN], *ip[MAX_SAN];
	size_t n_dns, n_ip;
	long days;
	char pinbuf[64];
	bool json, pem;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, 's'},
	        {"ca-key", required_argument, NULL, 'K'},
	        {"alg", required_argument, NULL, 'a'},
	        {"key-alg", required_argument, NULL, 'A'},
	        {"cn", required_argument, NULL, 'n'},
	        {"org", required_argument, NULL, 'O'},
	        {"profile", required_argument, NULL, 'p'},
	        {"dns", required_argument, NULL, 'd'},
	        {"ip", required_argument, NULL, 'i'},
	        {"uri", required_argument, NULL, 'u'},
	        {"days", required_argument, NULL, 'D'},
	        {"csr", required_argument, NULL, 'c'},
	        {"out", required_argument, NULL, 'o'},
	        {"cert", required_argument, NULL, 'C'},
	        {"key", required_argument, NULL, 'k'},
	        {"serial", required_argument, NULL, 'S'},
	        {"reason", required_argument, NULL, 'r'},
	        {"pin", required_argument, NULL, 'P'},
	        {"so-pin", required_argument, NULL, 'Q'},
	        {"module", required_argument, NULL, 'm'},
	        {"json", no_argument, NULL, 'j'},
	        {"pem", no_argument, NULL, 'E'},
	        {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->site = cli_site_default();
	o->days = -1;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->site = optarg;
			break;
		case 'K':
			o->ca_key = optarg;
			break;
		case 'a':
			o->alg = optarg;
			break;
		case 'A':
			o->key_alg = optarg;
			break;
		case 'n':
			o->cn = optarg;
			break;
		case 'O':
			o->org = optarg;
			break;
		case 'p':
			o->profile = optarg;
			break;
		case 'd':
		case 'i':
			if ((c == 'd' ? o->n_dns : o->n_ip) == MAX_SAN) {
				cli_fail(CMD, "at most %d --dns and --ip each",
				         MAX_SAN);
				return CLI_EUSAGE;
			}
			if (c == 'd') {
				o->dns[o->n_dns++] = optarg;
			} else {
				o->ip[o->n_ip++] = optarg;
			}
			break;
		case 'u':
			o->uri = optarg;
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
		case 'c':
			o->csr = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'C':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'S':
			o->serial = optarg;
			break;
		case 'r':
			o->reason = optarg;
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
		case 'Q':
			o->so_pin = optarg;
			break;
		case 'm':
			o->module = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'E':
			o->pem = true;
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

struct ctx {
	struct site s;
	struct store *st;
	char crl_url[512];
};

static int open_site(struct ctx *x, const struct opts *o)
{
	int err = site_load(&x->s, o->site);

	if (err == -ENOENT) {
		return cli_fail(CMD, "no site at %s (run trustline init)",
		                o->site);
	}
	if (err) {
		return cli_fail(CMD, "%s: %s", o->site, tl_strerror(err));
	}
	err = pki_site_crl_url(x->crl_url, sizeof(x->crl_url), x->s.host,
	                       x->s.ports.http);
	if (err) {
		return cli_fail(CMD, "host '%s': %s", x->s.host,
		                tl_strerror(err));
	}
	err = store_open(&x->st, x->s.db);
	if (err) {
		return cli_fail(CMD, "%s: %s", x->s.db, tl_strerror(err));
	}
	return 0;
}

static int open_ca(struct ctx *x, const struct opts *o, struct pki_ca **ca)
{
	int err = pki_site_ca_open(ca, x->s.dir, PKI_SITE_CA, o->module, o->pin,
	                           x->crl_url);

	if (err) {
		return cli_fail(
		        CMD, "cannot open the site CA: %s%s", tl_strerror(err),
		        err == -ENOENT ? " (run trustline ca init)" : "");
	}
	return 0;
}

static void audit(struct ctx *x, const char *action, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void audit(struct ctx *x, const char *action, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (store_audit(x->st, "cli", action, detail)) {
		fprintf(stderr,
		        "trustline %s: warning: audit log not written\n", CMD);
	}
}

static json_t *cert_json(X509 *cert, const char *profile)
{
	char serial[80] = "", subj[256] = "", iss[256] = "";
	const ASN1_TIME *nb = X509_get0_notBefore(cert);
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	struct tm tb, ta;
	char sb[32] = "", sa[32] = "";

	if (pki_serial_hex(cert, serial, sizeof(serial)) ||
	    pki_name_str(X509_get_subject_name(cert), subj, sizeof(subj)) ||
	    pki_name_str(X509_get_issuer_name(cert), iss, sizeof(iss))) {
		return NULL;
	}
	if (ASN1_TIME_to_tm(nb, &tb) == 1) {
		strftime(sb, sizeof(sb), "%Y-%m-%dT%H:%M:%SZ", &tb);
	}
	if (ASN1_TIME_to_tm(na, &ta) == 1) {
		strftime(sa, sizeof(sa), "%Y-%m-%dT%H:%M:%SZ", &ta);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "serial", serial,
	                 "subject", subj, "issuer", iss, "profile", profile,
	                 "not_before", sb, "not_after", sa);
}

static int print_json(json_t *j)
{
	char *s;

	if (!j) {
		return cli_fail(CMD, "out of memory");
	}
	s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!s) {
		return cli_fail(CMD, "out of memory");
	}
	printf("%s\n", s);
	free(s);
	return CLI_OK;
}

static int do_init(struct ctx *x, const struct opts *o)
{
	struct pki_site_ca_opts co = {.token = true, .alg = PKI_ALG_P256};
	char cn[192];
	X509 *cert = NULL;
	int err;

	if (o->ca_key && strcmp(o->ca_key, "token") &&
	    strcmp(o->ca_key, "file")) {
		cli_fail(CMD, "--ca-key: token or file, not '%s'", o->ca_key);
		return CLI_EUSAGE;
	}
	co.token = !o->ca_key || !strcmp(o->ca_key, "token");
	if (o->alg && pki_alg_parse(o->alg, &co.alg)) {
		cli_fail(CMD, "--alg: unknown key algorithm '%s'", o->alg);
		return CLI_EUSAGE;
	}
	snprintf(cn, sizeof(cn), "%s CA", x->s.name);
	co.cn = o->cn ? o->cn : cn;
	co.org = o->org ? o->org : x->s.name;
	co.days = o->days > 0 ? (uint32_t)o->days : 0;
	co.module = o->module;
	co.pin = o->pin;
	co.so_pin = o->so_pin;
	err = pki_site_ca_create(x->s.dir, PKI_SITE_CA, &co, &cert);
	if (err == -TL_EEXIST) {
		return cli_fail(CMD, "%s already has a CA (pki/ca.crt)",
		                x->s.dir);
	}
	if (err) {
		return cli_fail(CMD, "cannot create the CA: %s",
		                tl_strerror(err));
	}
	err = pki_site_record(x->st, cert, PKI_PROFILE_CA);
	if (!err) {
		struct pki_ca *ca = NULL;

		err = pki_site_ca_open(&ca, x->s.dir, PKI_SITE_CA, o->module,
		                       o->pin, x->crl_url);
		if (!err) {
			err = pki_site_crl_update(x->s.dir, ca, x->st, 0, NULL);
		}
		pki_ca_free(ca);
	}
	if (err) {
		X509_free(cert);
		return cli_fail(CMD, "CA created but not recorded: %s",
		                tl_strerror(err));
	}
	audit(x, "ca.init", "key=%s alg=%s", co.token ? "token" : "file",
	      pki_alg_name(co.alg));
	if (o->json) {
		err = print_json(cert_json(cert, "ca"));
	} else {
		char subj[256];

		if (!pki_name_str(X509_get_subject_name(cert), subj,
		                  sizeof(subj))) {
			printf("CA %s (%s key, %s)\n", subj,
			       co.token ? "token" : "file",
			       pki_alg_name(co.alg));
		}
	}
	X509_free(cert);
	return err;
}

static bool safe_name(const char *s)
{
	if (!*s || *s == '.') {
		return false;
	}
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		      *s == '_')) {
			return false;
		}
	}
	return true;
}

static int read_csr(const char *path, X509_REQ **out)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[65537];
	size_t n;
	int err;

	if (!f) {
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == sizeof(buf)) {
		return -TL_ETOOBIG;
	}
	err = pki_csr_parse(out, buf, n);
	return err;
}

static int do_issue(struct ctx *x, const struct opts *o)
{
	struct pki_issue req = {0};
	enum pki_alg alg;
	char cpath[4096], kpath[4096];
	const char *cert_path = o->cert, *key_path = o->key;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	struct pki_ca *ca = NULL;
	X509 *cert = NULL;
	struct stat sb;
	int err, rc = CLI_EFAIL;

	if (!o->profile || pki_profile_parse(o->profile, &req.profile) ||
	    (req.profile != PKI_PROFILE_SERVER &&
	     req.profile != PKI_PROFILE_CLIENT &&
	     req.profile != PKI_PROFILE_LSC)) {
		cli_fail(CMD, "--profile: server, client or lsc");
		return CLI_EUSAGE;
	}
	if (!o->cn || !*o->cn) {
		cli_fail(CMD, "--cn NAME is required");
		return CLI_EUSAGE;
	}
	if (!o->out && !o->cert) {
		cli_fail(CMD, "--out DIR or --cert FILE is required");
		return CLI_EUSAGE;
	}
	if (o->csr && o->key_alg) {
		cli_fail(CMD, "--csr and --key-alg exclude each other");
		return CLI_EUSAGE;
	}
	alg = req.profile == PKI_PROFILE_LSC ? PKI_ALG_P256 : PKI_ALG_RSA2048;
	if (o->key_alg && pki_alg_parse(o->key_alg, &alg)) {
		cli_fail(CMD, "--key-alg: unknown key algorithm '%s'",
		         o->key_alg);
		return CLI_EUSAGE;
	}
	if (o->out) {
		if (!safe_name(o->cn)) {
			cli_fail(CMD,
			         "--cn '%s' is no file name: use --cert "
			         "and --key",
			         o->cn);
			return CLI_EUSAGE;
		}
		if (snprintf(cpath, sizeof(cpath), "%s/%s.crt", o->out,
		             o->cn) >= (int)sizeof(cpath) ||
		    snprintf(kpath, sizeof(kpath), "%s/%s.key", o->out,
		             o->cn) >= (int)sizeof(kpath)) {
			cli_fail(CMD, "--out: path too long");
			return CLI_EUSAGE;
		}
		cert_path = cpath;
		key_path = kpath;
	}
	if (o->csr) {
		key_path = NULL;
	} else if (!key_path) {
		cli_fail(CMD, "--key FILE is required with --cert (or use "
		              "--csr)");
		return CLI_EUSAGE;
	}
	if (stat(cert_path, &sb) == 0 ||
	    (key_path && stat(key_path, &sb) == 0)) {
		return cli_fail(CMD, "%s exists: not overwritten",
		                stat(cert_path, &sb) == 0 ? cert_path
		                                          : key_path);
	}
	if (o->csr) {
		err = read_csr(o->csr, &csr);
		if (err) {
			return cli_fail(CMD, "%s: %s", o->csr,
			                tl_strerror(err));
		}
		req.pub = X509_REQ_get0_pubkey(csr);
	} else {
		err = pki_keygen(&key, alg);
		if (err) {
			cli_fail(CMD, "key generation: %s", tl_strerror(err));
			goto out;
		}
		req.pub = key;
	}
	req.cn = o->cn;
	req.dns = o->dns;
	req.n_dns = o->n_dns;
	req.ip = o->ip;
	req.n_ip = o->n_ip;
	req.uri = o->uri;
	req.days = o->days > 0 ? (uint32_t)o->days : 0;
	if (open_ca(x, o, &ca)) {
		goto out;
	}
	err = pki_site_issue(ca, x->st, &req, key, cert_path, key_path, &cert);
	if (err) {
		cli_fail(CMD, "cannot issue: %s", tl_strerror(err));
		goto out;
	}
	{
		char serial[80] = "";

		if (pki_serial_hex(cert, serial, sizeof(serial))) {
			serial[0] = '\0';
		}
		audit(x, "ca.issue", "serial=%s profile=%s cn=%s", serial,
		      o->profile, o->cn);
		if (o->json) {
			json_t *j = cert_json(cert, o->profile);

			if (j) {
				json_object_set_new(j, "cert",
				                    json_string(cert_path));
				if (key_path) {
					json_object_set_new(
					        j, "key",
					        json_string(key_path));
				}
			}
			rc = print_json(j);
			goto out;
		}
		printf("issued %s certificate %s -> %s\n", o->profile, serial,
		       cert_path);
	}
	rc = CLI_OK;
out:
	X509_free(cert);
	pki_ca_free(ca);
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
	return rc;
}

static const char *const reasons[] = {
        "unspecified",     "keyCompromise",
        "cACompromise",    "affiliationChanged",
        "superseded",      "cessationOfOperation",
        "certificateHold", NULL,
        "removeFromCRL",   "privilegeWithdrawn",
        "aACompromise",
};

static int parse_reason(const char *s, int *out)
{
	char *end;
	long v;

	for (int i = 0; i < (int)(sizeof(reasons) / sizeof(reasons[0])); i++) {
		if (reasons[i] && !strcmp(s, reasons[i])) {
			*out = i;
			return i == 8 ? -TL_EPARSE : 0;
		}
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 10 || v == 7 || v == 8) {
		return -TL_EPARSE;
	}
	*out = (int)v;
	return 0;
}

static int regen_crl(struct ctx *x, const struct opts *o, uint32_t days,
                     uint64_t *num)
{
	struct pki_ca *ca = NULL;
	int err;

	if (open_ca(x, o, &ca)) {
		return CLI_EFAIL;
	}
	err = pki_site_crl_update(x->s.dir, ca, x->st, days, num);
	pki_ca_free(ca);
	if (err) {
		return cli_fail(CMD, "cannot write the CRL: %s",
		                tl_strerror(err));
	}
	return 0;
}

static int do_revoke(struct ctx *x, const struct opts *o)
{
	struct store_cert c;
	char serial[80];
	int reason = 0, err;
	uint64_t num = 0;
	size_t n;

	if (!o->serial) {
		cli_fail(CMD, "--serial HEX is required");
		return CLI_EUSAGE;
	}
	n = strlen(o->serial);
	if (n == 0 || n >= sizeof(serial) ||
	    strspn(o->serial, "0123456789abcdefABCDEF:") != n) {
		cli_fail(CMD, "--serial: hexadecimal digits, not '%s'",
		         o->serial);
		return CLI_EUSAGE;
	}
	/* the store keys serials as lower-case hex without separators */
	n = 0;
	for (const char *p = o->serial; *p; p++) {
		if (*p != ':') {
			serial[n++] = (*p >= 'A' && *p <= 'F')
			                      ? (char)(*p - 'A' + 'a')
			                      : *p;
		}
	}
	serial[n] = '\0';
	if (o->reason && parse_reason(o->reason, &reason)) {
		cli_fail(CMD, "--reason: unknown CRL reason '%s'", o->reason);
		return CLI_EUSAGE;
	}
	memset(&c, 0, sizeof(c));
	err = store_cert_get(x->st, serial, &c);
	if (err == -TL_ENOTFOUND) {
		return cli_fail(CMD, "no certificate with serial %s", serial);
	}
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	store_cert_clear(&c);
	err = store_cert_revoke(x->st, serial, reason, (int64_t)time(NULL));
	if (err == -TL_ESTATE) {
		return cli_fail(CMD, "%s is already revoked", serial);
	}
	if (err) {
		return cli_fail(CMD, "cannot revoke: %s", tl_strerror(err));
	}
	audit(x, "ca.revoke", "serial=%s reason=%d", serial, reason);
	if (regen_crl(x, o, 0, &num)) {
		return CLI_EFAIL;
	}
	if (o->json) {
		return print_json(json_pack("{s:s, s:i, s:I}", "revoked",
		                            serial, "reason", reason,
		                            "crl_number", (json_int_t)num));
	}
	printf("revoked %s; CRL %llu written\n", serial,
	       (unsigned long long)num);
	return CLI_OK;
}

static int do_crl(struct ctx *x, const struct opts *o)
{
	uint64_t num = 0;
	X509_CRL *crl = NULL;
	char path[4096];
	int n, err;

	if (regen_crl(x, o, o->days > 0 ? (uint32_t)o->days : 0, &num)) {
		return CLI_EFAIL;
	}
	if (site_path(&x->s, "pki/crl.pem", path, sizeof(path))) {
		return cli_fail(CMD, "site path too long");
	}
	err = pki_crl_read(&crl, path);
	if (err) {
		return cli_fail(CMD, "%s: %s", path, tl_strerror(err));
	}
	n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	X509_CRL_free(crl);
	if (o->json) {
		return print_json(json_pack("{s:I, s:i, s:s}", "crl_number",
		                            (json_int_t)num, "revoked",
		                            n < 0 ? 0 : n, "path", path));
	}
	printf("CRL %llu: %d revoked -> %s\n", (unsigned long long)num,
	       n < 0 ? 0 : n, path);
	return CLI_OK;
}

static void iso(char *out, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm)) {
		snprintf(out, len, "-");
		return;
	}
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *status(const struct store_cert *c)
{
	if (c->revoked_at) {
		return "revoked";
	}
	return c->not_after < (int64_t)time(NULL) ? "expired" : "valid";
}

static json_t *store_json(const struct store_cert *c)
{
	char nb[32], na[32], ra[32];

	iso(nb, sizeof(nb), c->not_before);
	iso(na, sizeof(na), c->not_after);
	iso(ra, sizeof(ra), c->revoked_at);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:i}",
	                 "serial", c->serial, "subject", c->subject, "issuer",
	                 c->issuer, "profile", c->profile, "not_before", nb,
	                 "not_after", na, "status", status(c), "revoked_at",
	                 c->revoked_at ? ra : NULL, "revoke_reason",
	                 c->revoke_reason);
}

struct list_arg {
	json_t *arr;
	bool json;
	int n;
};

static int list_h(const struct store_cert *c, void *arg)
{
	struct list_arg *l = arg;
	char na[32];

	l->n++;
	if (l->json) {
		json_t *j = store_json(c);

		return (!j || json_array_append_new(l->arr, j)) ? 1 : 0;
	}
	iso(na, sizeof(na), c->not_after);
	printf("%-34s %-7s %-8s %s  %s\n", c->serial, c->profile, status(c), na,
	       c->subject);
	return 0;
}

static int do_list(struct ctx *x, const struct opts *o)
{
	struct list_arg l = {.json = o->json};
	int err;

	if (o->json) {
		l.arr = json_array();
		if (!l.arr) {
			return cli_fail(CMD, "out of memory");
		}
	} else {
		printf("%-34s %-7s %-8s %-20s  %s\n", "SERIAL", "PROFILE",
		       "STATUS", "NOT AFTER", "SUBJECT");
	}
	err = store_cert_list(x->st, o->profile, list_h, &l);
	if (err) {
		json_decref(l.arr);
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	if (o->json) {
		return print_json(l.arr);
	}
	return CLI_OK;
}

static int do_show(struct ctx *x, const struct opts *o)
{
	struct store_cert c;
	X509 *cert = NULL;
	char serial[80];
	int err;

	if (!o->serial == !o->cert) {
		cli_fail(CMD, "give --serial HEX or --cert FILE");
		return CLI_EUSAGE;
	}
	if (o->cert) {
		err = pki_cert_read(&cert, o->cert);
		if (err) {
			return cli_fail(CMD, "%s: %s", o->cert,
			                tl_strerror(err));
		}
		err = pki_serial_hex(cert, serial, sizeof(serial));
		X509_free(cert);
		if (err) {
			return cli_fail(CMD, "%s: %s", o->cert,
			                tl_strerror(err));
		}
	} else {
		size_t n = strlen(o->serial);

		if (n == 0 || n >= sizeof(serial)) {
			cli_fail(CMD, "--serial: bad serial");
			return CLI_EUSAGE;
		}
		for (size_t i = 0; i <= n; i++) {
			char ch = o->serial[i];

			serial[i] = (ch >= 'A' && ch <= 'F')
			                    ? (char)(ch - 'A' + 'a')
			                    : ch;
		}
	}
	memset(&c, 0, sizeof(c));
	err = store_cert_get(x->st, serial, &c);
	if (err == -TL_ENOTFOUND) {
		return cli_fail(CMD, "no certificate with serial %s in %s",
		                serial, x->s.db);
	}
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	if (o->json) {
		json_t *j = store_json(&c);

		if (j && o->pem && c.pem) {
			json_object_set_new(j, "pem", json_string(c.pem));
		}
		store_cert_clear(&c);
		return print_json(j);
	}
	{
		char nb[32], na[32], ra[32];

		iso(nb, sizeof(nb), c.not_before);
		iso(na, sizeof(na), c.not_after);
		iso(ra, sizeof(ra), c.revoked_at);
		printf("serial:     %s\nsubject:    %s\nissuer:     %s\n"
		       "profile:    %s\nnot before: %s\nnot after:  %s\n"
		       "status:     %s\n",
		       c.serial, c.subject, c.issuer, c.profile, nb, na,
		       status(&c));
		if (c.revoked_at) {
			printf("revoked at: %s (reason %d)\n", ra,
			       c.revoke_reason);
		}
		if (o->pem && c.pem) {
			fputs(c.pem, stdout);
		}
	}
	store_cert_clear(&c);
	return CLI_OK;
}

int cmd_ca(int argc, char **argv)
{
	struct opts o;
	struct ctx x;
	const char *sub;
	int rc;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EUSAGE : CLI_OK;
	}
	sub = argv[1];
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	if (strcmp(sub, "init") && strcmp(sub, "issue") &&
	    strcmp(sub, "revoke") && strcmp(sub, "crl") &&
	    strcmp(sub, "list") && strcmp(sub, "show")) {
		cli_fail(CMD, "unknown subcommand '%s' (try --help)", sub);
		return CLI_EUSAGE;
	}
	memset(&x, 0, sizeof(x));
	if (open_site(&x, &o)) {
		store_close(x.st);
		return CLI_EFAIL;
	}
	if (!strcmp(sub, "init")) {
		rc = do_init(&x, &o);
	} else if (!strcmp(sub, "issue")) {
		rc = do_issue(&x, &o);
	} else if (!strcmp(sub, "revoke")) {
		rc = do_revoke(&x, &o);
	} else if (!strcmp(sub, "crl")) {
		rc = do_crl(&x, &o);
	} else if (!strcmp(sub, "list")) {
		rc = do_list(&x, &o);
	} else {
		rc = do_show(&x, &o);
	}
	store_close(x.st);
	OPENSSL_cleanse(o.pinbuf, sizeof(o.pinbuf));
	return rc;
}
