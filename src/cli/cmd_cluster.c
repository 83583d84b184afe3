/* trustline cluster show|mode|autoreg: the cluster security mode (seed
 * 002) and auto-registration into a DN pool (nonsecure clusters only).
 * Mixed mode needs a CTL signed by one of at least two SAST tokens; it is
 * checked here with src/trust before the mode is stored. */
#include "cli/cli.h"
#include "cli/site.h"

#include "base/buf.h"
#include "base/log.h"
#include "callmgr/cm_reg.h"
#include "codec/tlv/tlv.h"
#include "store/store.h"
#include "trust/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_cluster_summary[] =
        "cluster security mode: show, mode mixed|nonsecure (checks the "
        "CTL), autoreg on|off|show (DN pool)";

static const char usage[] =
        "usage: trustline cluster show [--json]\n"
        "       trustline cluster mode mixed|nonsecure\n"
        "       trustline cluster autoreg on --pool FIRST-LAST [--profile P]\n"
        "                         [--user U] [--password P | "
        "--password-file F]\n"
        "       trustline cluster autoreg off|show [--json]\n"
        "\n"
        "show: the cluster security mode and what the site serves.\n"
        "mode: set the cluster security mode (seed 002). mixed needs the\n"
        "  site's tftp/CTLFile.tlv: signed by a SAST it lists, listing two\n"
        "  SAST certificates and a TFTP (or CCM+TFTP) certificate that signs\n"
        "  the configs (trustline ctl ...). In mixed mode phones are served\n"
        "  signed configs (SEP<MAC>.cnf.xml.sgn) and, with a certificate,\n"
        "  encrypted ones; auto-registration is refused. Phones pick the\n"
        "  change up at their next reset.\n"
        "autoreg: auto-registration of unknown devices into a pool of\n"
        "  directory numbers, in a nonsecure cluster only (refused in mixed\n"
        "  mode, seed 002). A device registering as SEP<MAC> over UDP or TCP\n"
        "  with the pool's digest user (--user, default 'autoreg') and\n"
        "  password is created with --profile (default nonsecure; a\n"
        "  nonsecure profile) and the first free DN of --pool. The password\n"
        "  is kept as HA1 only; 'on' needs it the first time. The running\n"
        "  server applies a change within a second.\n"
        "Common options:\n"
        "  --site DIR   the site directory (default ./site)\n"
        "  --json       machine-readable output\n";

#define CMD     "cluster"
#define CTL_MAX (1024 * 1024)

struct opts {
	const char *site;
	bool json;
	const char *arg;
	/* autoreg */
	const char *pool, *profile, *user, *password, *password_file;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"pool", required_argument, NULL, 'P'},
	        {"profile", required_argument, NULL, 'p'},
	        {"user", required_argument, NULL, 'u'},
	        {"password", required_argument, NULL, 'w'},
	        {"password-file", required_argument, NULL, 'W'},
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
		case 'P':
			o->pool = optarg;
			break;
		case 'p':
			o->profile = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'w':
			o->password = optarg;
			break;
		case 'W':
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
	return 0;
}

/* Read a whole file of at most max bytes. */
static int read_file(const char *path, size_t max, struct buf *out)
{
	uint8_t chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0) {
		return -errno;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > max) {
			err = -TL_ETOOBIG;
			break;
		}
		buf_put(out, chunk, (size_t)n);
	}
	if (n < 0) {
		err = -errno;
	}
	close(fd);
	return err ? err : buf_err(out);
}

struct ctl_facts {
	bool present;
	bool valid;
	size_t sast, tftp;
	char why[160];
};

/* What the site's CTL allows: seed 002 "mixed mode needs a CTL signed by
 * one of at least two SAST tokens"; a TFTP signer so phones accept the
 * signed configs (cisco-formats.md §2.1). */
static void ctl_check(const struct site *s, struct ctl_facts *f)
{
	char path[SITE_PATH_MAX + 32];
	struct buf b;
	struct trust_ctl *ctl = NULL;
	struct trust_opts o = {.first_use = true};
	const char *why = NULL;
	int err;

	memset(f, 0, sizeof(*f));
	buf_init(&b, 0);
	if (site_path(s, "tftp/CTLFile.tlv", path, sizeof(path))) {
		snprintf(f->why, sizeof(f->why), "site path too long");
		return;
	}
	err = read_file(path, CTL_MAX, &b);
	if (err == -ENOENT) {
		snprintf(f->why, sizeof(f->why),
		         "no tftp/CTLFile.tlv (build it with trustline ctl)");
		goto out;
	}
	f->present = true;
	if (err) {
		snprintf(f->why, sizeof(f->why), "tftp/CTLFile.tlv: %s",
		         tl_strerror(err));
		goto out;
	}
	err = trust_ctl_parse(&ctl, b.p, b.len, &why);
	if (!err) {
		/* The CTL on disk was written by this site; its signature
		 * must hold on its own (first use: no earlier CTL here). */
		err = trust_ctl_verify(ctl, NULL, &o, &why);
	}
	if (err) {
		snprintf(f->why, sizeof(f->why), "tftp/CTLFile.tlv: %s%s%s",
		         tl_strerror(err), why ? ": " : "", why ? why : "");
		goto out;
	}
	for (size_t i = 0; i < trust_ctl_count(ctl); i++) {
		struct trust_entry e;

		if (trust_ctl_entry(ctl, i, &e)) {
			continue;
		}
		if (e.role == TLV_ROLE_SAST) {
			f->sast++;
		}
		if (e.role == TLV_ROLE_TFTP || e.role == TLV_ROLE_CCM_TFTP) {
			f->tftp++;
		}
	}
	if (f->sast < 2) {
		snprintf(f->why, sizeof(f->why),
		         "the CTL lists %zu SAST certificate(s); mixed mode "
		         "needs two",
		         f->sast);
	} else if (f->tftp == 0) {
		snprintf(f->why, sizeof(f->why),
		         "the CTL lists no TFTP certificate: phones would "
		         "refuse every signed config");
	} else {
		f->valid = true;
	}
out:
	trust_ctl_free(ctl);
	buf_free(&b);
}

static int count_dev(const struct store_device *d, void *arg)
{
	size_t *n = arg;

	n[0]++;
	if (*d->cert_md5) {
		n[1]++;
	}
	return 0;
}

static int count_line(const struct store_line *l, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static int do_show(struct store *st, const struct site *s, const struct opts *o)
{
	enum store_cluster_mode mode;
	struct ctl_facts ctl;
	char stored[32];
	char realm[128];
	size_t dev[2] = {0, 0};
	size_t lines = 0;
	uint64_t gen = 0;
	bool explicit;
	int err;

	if (o->arg) {
		cli_fail(CMD, "show takes no argument");
		return CLI_EUSAGE;
	}
	err = store_read_begin(st);
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	err = store_cluster_mode_get(st, &mode);
	explicit =
	        !store_setting_get(st, "cluster_mode", stored, sizeof(stored));
	if (!err && store_setting_get(st, "realm", realm, sizeof(realm))) {
		snprintf(realm, sizeof(realm), "%s", s->name);
	}
	if (!err) {
		err = store_device_list(st, count_dev, dev);
	}
	if (!err) {
		err = store_line_list(st, NULL, count_line, &lines);
	}
	if (!err) {
		err = store_generation(st, &gen);
	}
	store_read_end(st);
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	ctl_check(s, &ctl);
	if (o->json) {
		json_t *j = json_pack(
		        "{s:s, s:s, s:s, s:s, s:{s:b, s:b, s:i, s:i, s:s}, "
		        "s:i, s:i, s:i, s:I, s:s}",
		        "mode", store_cluster_mode_name(mode), "mode_source",
		        explicit ? "database" : "default", "site", s->name,
		        "realm", realm, "ctl", "present", ctl.present, "valid",
		        ctl.valid, "sast", (int)ctl.sast, "tftp", (int)ctl.tftp,
		        "problem", ctl.valid ? "" : ctl.why, "devices",
		        (int)dev[0], "devices_with_certificate", (int)dev[1],
		        "lines", (int)lines, "generation", (json_int_t)gen,
		        "serves",
		        mode == STORE_CLUSTER_MIXED
		                ? "SEP<MAC>.cnf.xml.sgn (+ .enc.sgn with a "
		                  "device certificate)"
		                : "SEP<MAC>.cnf.xml");
		int jerr;

		if (!j) {
			return cli_fail(CMD, "out of memory");
		}
		jerr = json_dumpf(j, stdout, JSON_INDENT(2));
		json_decref(j);
		fputc('\n', stdout);
		return jerr ? CLI_EFAIL : CLI_OK;
	}
	printf("cluster mode: %s%s\nsite:         %s (realm %s)\n"
	       "CTL:          %s\n"
	       "devices:      %zu (%zu with a certificate), lines %zu\n"
	       "configs:      %s\n",
	       store_cluster_mode_name(mode), explicit ? "" : " (default)",
	       s->name, realm,
	       ctl.valid ? "valid (2 SAST, TFTP signer)"
	                 : (ctl.why[0] ? ctl.why : "none"),
	       dev[0], dev[1], lines,
	       mode == STORE_CLUSTER_MIXED
	               ? "SEP<MAC>.cnf.xml.sgn, and .enc.sgn for devices "
	                 "with a certificate"
	               : "SEP<MAC>.cnf.xml (plain, no passwords)");
	if (mode == STORE_CLUSTER_MIXED && !ctl.valid) {
		fprintf(stderr,
		        "trustline cluster: warning: mixed mode but "
		        "%s\n",
		        ctl.why);
	}
	return CLI_OK;
}

static int do_mode(struct store *st, const struct site *s, const struct opts *o)
{
	enum store_cluster_mode mode, old;
	struct ctl_facts ctl;
	char detail[96];
	int err;

	if (!o->arg) {
		cli_fail(CMD, "mode needs mixed or nonsecure");
		return CLI_EUSAGE;
	}
	if (!strcmp(o->arg, "mixed")) {
		mode = STORE_CLUSTER_MIXED;
	} else if (!strcmp(o->arg, "nonsecure")) {
		mode = STORE_CLUSTER_NONSECURE;
	} else {
		cli_fail(CMD, "bad mode '%s' (mixed or nonsecure)", o->arg);
		return CLI_EUSAGE;
	}
	if (mode == STORE_CLUSTER_MIXED) {
		ctl_check(s, &ctl);
		if (!ctl.valid) {
			return cli_fail(CMD, "refusing mixed mode: %s",
			                ctl.why);
		}
	}
	err = store_tx_begin(st);
	if (!err) {
		err = store_cluster_mode_get(st, &old);
	}
	if (!err) {
		err = store_cluster_mode_set(st, mode);
	}
	if (!err) {
		snprintf(detail, sizeof(detail), "%s -> %s",
		         store_cluster_mode_name(old),
		         store_cluster_mode_name(mode));
		err = store_audit(st, cli_actor(), "cluster.mode", detail);
	}
	if (err) {
		store_tx_rollback(st);
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	err = store_tx_commit(st);
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	printf("cluster mode %s (was %s); reset the phones to apply it\n",
	       store_cluster_mode_name(mode), store_cluster_mode_name(old));
	return CLI_OK;
}

/* The pool password: --password or the first line of --password-file
 * ('-': stdin). */
static int read_password(const struct opts *o, char *out, size_t n)
{
	FILE *f;
	size_t len;

	if (o->password && o->password_file) {
		cli_fail(CMD, "give --password or --password-file, not both");
		return CLI_EUSAGE;
	}
	out[0] = '\0';
	if (o->password) {
		if (!*o->password || strlen(o->password) >= n) {
			cli_fail(CMD, "--password: 1 to %zu characters", n - 1);
			return CLI_EUSAGE;
		}
		snprintf(out, n, "%s", o->password);
		return 0;
	}
	if (!o->password_file) {
		return 0;
	}
	f = strcmp(o->password_file, "-") ? fopen(o->password_file, "r")
	                                  : stdin;
	if (!f) {
		return cli_fail(CMD, "--password-file %s: %s", o->password_file,
		                strerror(errno));
	}
	if (!fgets(out, (int)n, f)) {
		out[0] = '\0';
	}
	if (f != stdin) {
		fclose(f);
	}
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	if (len == 0) {
		return cli_fail(CMD, "--password-file %s: empty",
		                o->password_file);
	}
	return 0;
}

static bool good_user(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n >= 64) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_')) {
			return false;
		}
	}
	return true;
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

static int set_kv(struct store *st, const char *key, const char *val)
{
	return store_setting_set(st, key, val);
}

static int autoreg_show(struct store *st, const struct opts *o)
{
	enum store_cluster_mode mode = STORE_CLUSTER_NONSECURE;
	char on[16] = "", pool[64] = "", prof[STORE_NAME_MAX] = "";
	char user[64] = "", ha1[80] = "";
	bool enabled, has_pw;
	int err = store_read_begin(st);

	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	err = store_cluster_mode_get(st, &mode);
	(void)!store_setting_get(st, CM_AUTOREG_KEY, on, sizeof(on));
	(void)!store_setting_get(st, CM_AUTOREG_POOL_KEY, pool, sizeof(pool));
	(void)!store_setting_get(st, CM_AUTOREG_PROFILE_KEY, prof,
	                         sizeof(prof));
	(void)!store_setting_get(st, CM_AUTOREG_USER_KEY, user, sizeof(user));
	has_pw = store_setting_get(st, CM_AUTOREG_HA1_MD5_KEY, ha1,
	                           sizeof(ha1)) == 0;
	OPENSSL_cleanse(ha1, sizeof(ha1));
	store_read_end(st);
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	enabled = !strcmp(on, "on");
	const char *state = !enabled ? "off"
	                    : mode == STORE_CLUSTER_MIXED
	                            ? "refused (mixed mode)"
	                            : "on";
	if (o->json) {
		json_t *j = json_pack(
		        "{s:s, s:b, s:s, s:s, s:s, s:b, s:s}", "autoreg", state,
		        "enabled", enabled, "pool", pool, "profile", prof,
		        "user", user, "password_set", has_pw, "cluster_mode",
		        store_cluster_mode_name(mode));
		int jerr;

		if (!j) {
			return cli_fail(CMD, "out of memory");
		}
		jerr = json_dumpf(j, stdout, JSON_INDENT(2));
		json_decref(j);
		fputc('\n', stdout);
		return jerr ? CLI_EFAIL : CLI_OK;
	}
	printf("auto-registration: %s\npool:    %s\nprofile: %s\n"
	       "user:    %s (password %s)\n",
	       state, pool[0] ? pool : "-", prof[0] ? prof : "-",
	       user[0] ? user : "-", has_pw ? "set" : "not set");
	return CLI_OK;
}

static int autoreg_on(struct store *st, const struct site *s,
                      const struct opts *o)
{
	enum store_cluster_mode mode;
	struct store_profile prof;
	unsigned long first, last;
	const char *profile = o->profile ? o->profile : "nonsecure";
	char user[64], realm[128], pw[256], cur[64];
	char md5[33], sha[65], detail[256];
	bool have_pw_stored;
	int rc, err;

	if (!o->pool) {
		cli_fail(CMD, "autoreg on needs --pool FIRST-LAST");
		return CLI_EUSAGE;
	}
	if (cm_autoreg_pool_parse(o->pool, &first, &last) != 0) {
		cli_fail(CMD,
		         "bad --pool '%s' (FIRST-LAST, decimal numbers, at "
		         "most %lu of them)",
		         o->pool, CM_AUTOREG_POOL_MAX);
		return CLI_EUSAGE;
	}
	if (o->user && !good_user(o->user)) {
		cli_fail(CMD, "bad --user '%s' (letters, digits, . - _)",
		         o->user);
		return CLI_EUSAGE;
	}
	rc = read_password(o, pw, sizeof(pw));
	if (rc) {
		return rc;
	}
	err = store_tx_begin(st);
	if (err) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	rc = CLI_EFAIL;
	err = store_cluster_mode_get(st, &mode);
	if (err) {
		cli_fail(CMD, "%s", tl_strerror(err));
		goto out;
	}
	/* seed 002: auto-registration is refused in mixed mode */
	if (mode == STORE_CLUSTER_MIXED) {
		cli_fail(CMD, "refusing auto-registration: the cluster is in "
		              "mixed mode");
		goto out;
	}
	err = store_profile_get(st, profile, &prof);
	if (err) {
		cli_fail(CMD, "no security profile '%s'", profile);
		goto out;
	}
	if (prof.mode != STORE_SEC_NONSECURE) {
		cli_fail(CMD,
		         "profile '%s' is %s: auto-registered devices have no "
		         "certificate, the profile must be nonsecure",
		         profile, store_sec_mode_name(prof.mode));
		goto out;
	}
	if (o->user) {
		snprintf(user, sizeof(user), "%s", o->user);
	} else if (store_setting_get(st, CM_AUTOREG_USER_KEY, user,
	                             sizeof(user)) != 0) {
		snprintf(user, sizeof(user), "autoreg");
	}
	{
		struct store_line l;
		if (store_line_find_user(st, user, &l) == 0) {
			char dn[sizeof(l.dn)];
			snprintf(dn, sizeof(dn), "%s", l.dn);
			OPENSSL_cleanse(&l, sizeof(l));
			cli_fail(CMD,
			         "digest user '%s' belongs to line %s: choose "
			         "another --user",
			         user, dn);
			goto out;
		}
	}
	have_pw_stored = store_setting_get(st, CM_AUTOREG_USER_KEY, cur,
	                                   sizeof(cur)) == 0 &&
	                 !strcmp(cur, user) &&
	                 store_setting_get(st, CM_AUTOREG_HA1_MD5_KEY, md5,
	                                   sizeof(md5)) == 0;
	OPENSSL_cleanse(md5, sizeof(md5));
	if (!pw[0] && !have_pw_stored) {
		cli_fail(CMD, "the pool needs a password (--password or "
		              "--password-file)");
		rc = CLI_EUSAGE;
		goto out;
	}
	err = realm_of(st, s, realm, sizeof(realm));
	if (!err && pw[0]) {
		err = store_digest_ha1(STORE_DIGEST_MD5, user, realm, pw, md5,
		                       sizeof(md5));
		if (!err) {
			err = store_digest_ha1(STORE_DIGEST_SHA256, user, realm,
			                       pw, sha, sizeof(sha));
		}
		if (!err) {
			err = set_kv(st, CM_AUTOREG_HA1_MD5_KEY, md5);
		}
		if (!err) {
			err = set_kv(st, CM_AUTOREG_HA1_SHA256_KEY, sha);
		}
		if (!err) {
			err = set_kv(st, CM_AUTOREG_REALM_KEY, realm);
		}
		OPENSSL_cleanse(md5, sizeof(md5));
		OPENSSL_cleanse(sha, sizeof(sha));
	}
	if (!err) {
		char pool[64];
		snprintf(pool, sizeof(pool), "%lu-%lu", first, last);
		err = set_kv(st, CM_AUTOREG_POOL_KEY, pool);
	}
	if (!err) {
		err = set_kv(st, CM_AUTOREG_PROFILE_KEY, profile);
	}
	if (!err) {
		err = set_kv(st, CM_AUTOREG_USER_KEY, user);
	}
	if (!err) {
		err = set_kv(st, CM_AUTOREG_KEY, "on");
	}
	if (!err) {
		snprintf(detail, sizeof(detail),
		         "on pool=%lu-%lu profile=%s user=%s%s", first, last,
		         profile, user, pw[0] ? " (new password)" : "");
		err = store_audit(st, cli_actor(), "cluster.autoreg", detail);
	}
	if (err) {
		cli_fail(CMD, "%s", tl_strerror(err));
		goto out;
	}
	err = store_tx_commit(st);
	if (err) {
		cli_fail(CMD, "%s", tl_strerror(err));
		goto out_done;
	}
	printf("auto-registration on: pool %lu-%lu, profile %s, digest user "
	       "%s\n",
	       first, last, profile, user);
	rc = CLI_OK;
	goto out_done;
out:
	store_tx_rollback(st);
out_done:
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

static int autoreg_off(struct store *st)
{
	int err = store_tx_begin(st);

	if (!err) {
		err = set_kv(st, CM_AUTOREG_KEY, "off");
	}
	if (!err) {
		err = store_audit(st, cli_actor(), "cluster.autoreg", "off");
	}
	if (err) {
		store_tx_rollback(st);
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	err = store_tx_commit(st);
	if (err) {
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	printf("auto-registration off (devices created by it keep their "
	       "lines)\n");
	return CLI_OK;
}

static int do_autoreg(struct store *st, const struct site *s,
                      const struct opts *o)
{
	bool on = o->arg && !strcmp(o->arg, "on");

	if (!o->arg || (strcmp(o->arg, "on") && strcmp(o->arg, "off") &&
	                strcmp(o->arg, "show"))) {
		cli_fail(CMD, "autoreg needs on, off or show");
		return CLI_EUSAGE;
	}
	if (!on && (o->pool || o->profile || o->user || o->password ||
	            o->password_file)) {
		cli_fail(CMD, "--pool, --profile, --user and the password go "
		              "with 'autoreg on'");
		return CLI_EUSAGE;
	}
	if (on) {
		return autoreg_on(st, s, o);
	}
	return !strcmp(o->arg, "off") ? autoreg_off(st) : autoreg_show(st, o);
}

int cmd_cluster(int argc, char **argv)
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
	if (strcmp(sub, "show") && strcmp(sub, "mode") &&
	    strcmp(sub, "autoreg")) {
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
	if (strcmp(sub, "autoreg") &&
	    (o.pool || o.profile || o.user || o.password || o.password_file)) {
		store_close(st);
		cli_fail(CMD,
		         "%s takes no --pool, --profile, --user or "
		         "password",
		         sub);
		return CLI_EUSAGE;
	}
	rc = !strcmp(sub, "show")   ? do_show(st, &s, &o)
	     : !strcmp(sub, "mode") ? do_mode(st, &s, &o)
	                            : do_autoreg(st, &s, &o);
	store_close(st);
	return rc;
}
