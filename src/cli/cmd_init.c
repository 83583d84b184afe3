/* trustline init: create a site directory (DESIGN.md "Command line"). */
#include "cli/cli.h"
#include "cli/site.h"

#include "pki/pki.h"
#include "pki/pki_site.h"
#include "store/store.h"
#include "trust/trust_site.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "init"

const char cmd_init_summary[] =
        "create a site: config, database, CA, SAST tokens, certificates, CTL";

static const char usage[] =
        "usage: trustline init [--site DIR] [--base-port P] [--host NAME] "
        "[options]\n"
        "\n"
        "Creates DIR (default ./site or $TRUSTLINE_SITE): trustline.conf, "
        "trustline.db,\n"
        "the site CA, the SAST tokens SAST1 and SAST2 (SoftHSM2, under "
        "tokens/),\n"
        "the CCM, TFTP, CAPF (RSA-2048) and CCM EC (P-256) service "
        "certificates,\n"
        "the manufacturer CA, the CRL, tftp/CTLFile.tlv and "
        "tftp/ITLFile.tlv.\n"
        "On failure everything it created is removed again.\n"
        "\n"
        "  --site DIR        the site directory\n"
        "  --base-port P     SIP P, SIP TLS P+1, TFTP P+2, HTTP P+3, CAPF P+4,"
        "\n"
        "                    SRST credentials P+5, admin P+6, on 127.0.0.1\n"
        "                    (default: the standard ports on 0.0.0.0)\n"
        "  --host NAME       host name or address in the server certificates"
        "\n"
        "                    and the CRL URL (default localhost)\n"
        "  --name NAME       site name (subject O of the certificates; "
        "default trustline)\n"
        "  --ca-key K        token (default: SoftHSM2 token 'CA') or file "
        "(pki/ca.key)\n"
        "  --ca-alg A        CA key: p256 (default), p384, rsa2048, rsa3072, "
        "rsa4096\n"
        "  --mfg-key K       manufacturer CA key: file (default) or token "
        "('MFG')\n"
        "  --module PATH     PKCS#11 module (default: SoftHSM2)\n"
        "  --force           replace an existing site's configuration, "
        "database,\n"
        "                    pki/ and tokens/ (tftp/ and log/ are kept)\n"
        "  --json            print a summary as JSON\n"
        "Progress is reported on stderr; token PINs are written to "
        "tokens/*.pin (0600).\n";

struct opts {
	const char *site, *host, *name, *ca_key, *ca_alg, *mfg_key, *module;
	unsigned long base_port;
	bool force, json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, 's'},
	        {"base-port", required_argument, NULL, 'b'},
	        {"host", required_argument, NULL, 'H'},
	        {"name", required_argument, NULL, 'n'},
	        {"ca-key", required_argument, NULL, 'K'},
	        {"ca-alg", required_argument, NULL, 'a'},
	        {"mfg-key", required_argument, NULL, 'M'},
	        {"module", required_argument, NULL, 'm'},
	        {"force", no_argument, NULL, 'f'},
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
		case 'b':
			errno = 0;
			o->base_port = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-' ||
			    o->base_port < 1 || o->base_port > 65535 - 6) {
				cli_fail(CMD,
				         "--base-port: expected 1..65529, "
				         "not '%s'",
				         optarg);
				return CLI_EUSAGE;
			}
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'K':
			o->ca_key = optarg;
			break;
		case 'a':
			o->ca_alg = optarg;
			break;
		case 'M':
			o->mfg_key = optarg;
			break;
		case 'm':
			o->module = optarg;
			break;
		case 'f':
			o->force = true;
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

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -EIO : 0;
}

/* What this run created, so that a failure leaves no half site. */
static const char *const entries[] = {
        "trustline.conf",
        "trustline.db",
        "trustline.db-wal",
        "trustline.db-shm",
        "pki",
        "tokens",
        "tftp",
        "log",
};
#define N_ENTRIES (sizeof(entries) / sizeof(entries[0]))

struct undo {
	const char *dir;
	bool dir_created;
	bool created[N_ENTRIES];
};

static void undo_all(const struct undo *u)
{
	char p[SITE_PATH_MAX + 32];

	if (u->dir_created) {
		if (rm_rf(u->dir)) {
			fprintf(stderr, "trustline init: could not remove %s\n",
			        u->dir);
		}
		return;
	}
	for (size_t i = 0; i < N_ENTRIES; i++) {
		if (!u->created[i]) {
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s", u->dir, entries[i]);
		if (rm_rf(p)) {
			fprintf(stderr, "trustline init: could not remove %s\n",
			        p);
		}
	}
}

/* Marks every entry that does not exist yet as ours. */
static void claim(struct undo *u)
{
	char p[SITE_PATH_MAX + 32];
	struct stat sb;

	for (size_t i = 0; i < N_ENTRIES; i++) {
		snprintf(p, sizeof(p), "%s/%s", u->dir, entries[i]);
		if (lstat(p, &sb) < 0) {
			u->created[i] = true;
		}
	}
}

static void step(const char *what)
{
	fprintf(stderr, "trustline init: %s\n", what);
}

static bool is_ip(const char *s)
{
	uint8_t buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

struct service {
	const char *file; /* pki/<file>.crt and .key */
	const char *ou;
	enum pki_alg alg;
};

/* DESIGN.md "Key types": RSA-2048 wherever a Cisco phone verifies; the
 * TLS server may carry a P-256 certificate beside it. */
static const struct service services[] = {
        {"ccm", "CCM", PKI_ALG_RSA2048},
        {"tftp", "TFTP", PKI_ALG_RSA2048},
        {"capf", "CAPF", PKI_ALG_RSA2048},
        {"ccm-ec", "CCM", PKI_ALG_P256},
        {"capf-ec", "CAPF", PKI_ALG_P256},
};

static int make_services(const struct site *s, struct pki_ca *ca,
                         struct store *st)
{
	const char *dns[1] = {s->host};
	const char *ips[2];
	size_t n_ip = 0;
	char cpath[SITE_PATH_MAX + 32], kpath[SITE_PATH_MAX + 32];
	int err = 0;

	/* DESIGN.md "Security model": both an IP and a DNS name */
	if (strcmp(s->listen, "0.0.0.0") && strcmp(s->listen, "::") &&
	    is_ip(s->listen)) {
		ips[n_ip++] = s->listen;
	} else {
		ips[n_ip++] = "127.0.0.1";
	}
	if (is_ip(s->host) && strcmp(s->host, ips[0])) {
		ips[n_ip++] = s->host;
	}
	for (size_t i = 0; !err && i < sizeof(services) / sizeof(services[0]);
	     i++) {
		EVP_PKEY *key = NULL;
		struct pki_issue req = {.profile = PKI_PROFILE_SERVER,
		                        .cn = s->host,
		                        .org = s->name,
		                        .ou = services[i].ou,
		                        .dns = dns,
		                        .n_dns = 1,
		                        .ip = ips,
		                        .n_ip = n_ip};

		snprintf(cpath, sizeof(cpath), "%s/%s.crt", s->pki,
		         services[i].file);
		snprintf(kpath, sizeof(kpath), "%s/%s.key", s->pki,
		         services[i].file);
		err = pki_keygen(&key, services[i].alg);
		if (!err) {
			req.pub = key;
			err = pki_site_issue(ca, st, &req, key, cpath, kpath,
			                     NULL);
		}
		EVP_PKEY_free(key);
		if (err) {
			fprintf(stderr, "trustline init: %s certificate: %s\n",
			        services[i].file, tl_strerror(err));
		}
	}
	return err;
}

static int build(const struct opts *o, struct site *s, bool token_ca,
                 enum pki_alg ca_alg, bool token_mfg)
{
	struct pki_site_ca_opts co = {.token = token_ca,
	                              .alg = ca_alg,
	                              .org = s->name,
	                              .module = o->module};
	struct store *st = NULL;
	struct pki_ca *ca = NULL;
	char cn[192], url[512];
	static const char *const dirs[] = {"pki", "tokens", "tftp", "log"};
	static const mode_t modes[] = {0755, 0700, 0755, 0755};
	X509 *x = NULL;
	int err;

	for (size_t i = 0; i < 4; i++) {
		char p[SITE_PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/%s", s->dir, dirs[i]);
		if (mkdir(p, modes[i]) < 0 && errno != EEXIST) {
			return cli_fail(CMD, "%s: %s", p, strerror(errno));
		}
	}
	step("writing trustline.conf");
	err = site_write_conf(s);
	if (err) {
		return cli_fail(CMD, "trustline.conf: %s", tl_strerror(err));
	}
	step("creating trustline.db");
	err = store_open(&st, s->db);
	if (err) {
		return cli_fail(CMD, "trustline.db: %s", tl_strerror(err));
	}
	err = pki_site_env(s->dir, true);
	if (err) {
		cli_fail(CMD, "token store: %s", tl_strerror(err));
		goto out;
	}
	fprintf(stderr, "trustline init: creating the site CA (%s key, %s)\n",
	        token_ca ? "token CA" : "file", pki_alg_name(ca_alg));
	snprintf(cn, sizeof(cn), "%s CA", s->name);
	co.cn = cn;
	err = pki_site_ca_create(s->dir, PKI_SITE_CA, &co, &x);
	if (!err) {
		err = pki_site_record(st, x, PKI_PROFILE_CA);
	}
	X509_free(x);
	x = NULL;
	if (err) {
		cli_fail(CMD, "site CA: %s", tl_strerror(err));
		goto out;
	}
	for (int i = 1; i <= 2; i++) {
		char label[8];

		snprintf(label, sizeof(label), "SAST%d", i);
		fprintf(stderr,
		        "trustline init: creating security token %s "
		        "(RSA-2048 key in the token)\n",
		        label);
		err = pki_site_token_create(s->dir, label, o->module, NULL,
		                            NULL, s->name, &x);
		if (!err) {
			err = pki_site_record(st, x, PKI_PROFILE_SAST);
		}
		X509_free(x);
		x = NULL;
		if (err) {
			cli_fail(CMD, "token %s: %s", label, tl_strerror(err));
			goto out;
		}
	}
	step("issuing service certificates ccm, tftp, capf, ccm-ec, capf-ec");
	err = pki_site_crl_url(url, sizeof(url), s->host, s->ports.http);
	if (!err) {
		err = pki_site_ca_open(&ca, s->dir, PKI_SITE_CA, o->module,
		                       NULL, url);
	}
	if (!err) {
		err = make_services(s, ca, st);
	}
	if (err) {
		cli_fail(CMD, "service certificates: %s", tl_strerror(err));
		goto out;
	}
	step("creating the manufacturer CA");
	snprintf(cn, sizeof(cn), "%s Manufacturing CA", s->name);
	co.token = token_mfg;
	co.alg = ca_alg;
	err = pki_site_ca_create(s->dir, PKI_SITE_MFG, &co, &x);
	if (!err) {
		err = pki_site_record(st, x, PKI_PROFILE_CA);
	}
	X509_free(x);
	x = NULL;
	if (err) {
		cli_fail(CMD, "manufacturer CA: %s", tl_strerror(err));
		goto out;
	}
	step("writing the CRL");
	err = pki_site_crl_update(s->dir, ca, st, 0, NULL);
	if (err) {
		cli_fail(CMD, "CRL: %s", tl_strerror(err));
		goto out;
	}
	step("building tftp/CTLFile.tlv and tftp/ITLFile.tlv (SAST1)");
	err = trust_site_init(s->dir);
	if (err) {
		cli_fail(CMD, "trust files: %s", tl_strerror(err));
		goto out;
	}
	if (store_audit(st, "cli", "init", "site created")) {
		fprintf(stderr, "trustline init: warning: audit log not "
		                "written\n");
	}
out:
	pki_ca_free(ca);
	store_close(st);
	return err ? CLI_EFAIL : CLI_OK;
}

int cmd_init(int argc, char **argv)
{
	struct opts o;
	struct site s;
	struct undo u = {0};
	enum pki_alg ca_alg = PKI_ALG_P256;
	bool token_ca = true, token_mfg = false;
	struct stat sb;
	int rc, err;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	rc = parse_opts(argc, argv, &o);
	if (rc) {
		return rc;
	}
	if (o.ca_key) {
		if (strcmp(o.ca_key, "token") && strcmp(o.ca_key, "file")) {
			cli_fail(CMD, "--ca-key: token or file, not '%s'",
			         o.ca_key);
			return CLI_EUSAGE;
		}
		token_ca = !strcmp(o.ca_key, "token");
	}
	if (o.mfg_key) {
		if (strcmp(o.mfg_key, "token") && strcmp(o.mfg_key, "file")) {
			cli_fail(CMD, "--mfg-key: token or file, not '%s'",
			         o.mfg_key);
			return CLI_EUSAGE;
		}
		token_mfg = !strcmp(o.mfg_key, "token");
	}
	if (o.ca_alg && pki_alg_parse(o.ca_alg, &ca_alg)) {
		cli_fail(CMD, "--ca-alg: unknown key algorithm '%s'", o.ca_alg);
		return CLI_EUSAGE;
	}
	err = site_defaults(&s, o.site, (uint16_t)o.base_port);
	if (err) {
		return cli_fail(CMD, "%s: %s", o.site, tl_strerror(err));
	}
	if (o.host) {
		if (!*o.host || strlen(o.host) >= sizeof(s.host) ||
		    strpbrk(o.host, "/?#@[] \t\r\n")) {
			cli_fail(CMD,
			         "--host: not a host name or address: "
			         "'%s'",
			         o.host);
			return CLI_EUSAGE;
		}
		snprintf(s.host, sizeof(s.host), "%s", o.host);
	}
	if (o.name) {
		if (!*o.name || strlen(o.name) >= 64 ||
		    strpbrk(o.name, "\r\n")) {
			cli_fail(CMD, "--name: 1..63 characters on one line");
			return CLI_EUSAGE;
		}
		snprintf(s.name, sizeof(s.name), "%s", o.name);
	}
	if (stat(s.conf, &sb) == 0) {
		if (!o.force) {
			return cli_fail(CMD,
			                "%s already holds a site "
			                "(trustline.conf); use --force to "
			                "replace it",
			                s.dir);
		}
		step("--force: removing the old configuration, database, "
		     "pki/ and tokens/");
		for (size_t i = 0; i < 6; i++) {
			char p[SITE_PATH_MAX + 32];

			snprintf(p, sizeof(p), "%s/%s", s.dir, entries[i]);
			if (rm_rf(p)) {
				return cli_fail(CMD, "cannot remove %s", p);
			}
		}
	}
	u.dir = s.dir;
	if (mkdir(s.dir, 0755) == 0) {
		u.dir_created = true;
		fprintf(stderr, "trustline init: created %s\n", s.dir);
	} else if (errno != EEXIST) {
		return cli_fail(CMD, "%s: %s", s.dir, strerror(errno));
	}
	claim(&u);
	rc = build(&o, &s, token_ca, ca_alg, token_mfg);
	if (rc) {
		step("failed: removing what was created");
		undo_all(&u);
		return rc;
	}
	if (o.json) {
		json_t *j = json_pack(
		        "{s:s, s:s, s:s, s:s, s:[s,s], s:{s:i, s:i, s:i, s:i, "
		        "s:i, s:i, s:i}}",
		        "site", s.dir, "host", s.host, "ca_key",
		        token_ca ? "token" : "file", "ca_alg",
		        pki_alg_name(ca_alg), "tokens", "SAST1", "SAST2",
		        "ports", "sip", s.ports.sip, "sip_tls", s.ports.sip_tls,
		        "tftp", s.ports.tftp, "http", s.ports.http, "capf",
		        s.ports.capf, "srst_credentials", s.ports.srst_cred,
		        "admin", s.ports.admin);
		char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)
		              : NULL;

		json_decref(j);
		if (txt) {
			printf("%s\n", txt);
			free(txt);
		}
	} else {
		printf("site %s ready (SIP %u, TLS %u, TFTP %u, HTTP %u, "
		       "CAPF %u)\n",
		       s.dir, s.ports.sip, s.ports.sip_tls, s.ports.tftp,
		       s.ports.http, s.ports.capf);
	}
	return CLI_OK;
}
