/* The SQLite store: migration from empty, every CRUD path and its
 * failures, digest HA1 known answers, certificates, audit, change
 * counter. Each test opens a fresh database in a temporary directory. */
#include "store/store.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
	char dir[256];
	char path[300];
	struct store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f) {
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/store_test.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/trustline.db", f->dir);
	if (store_open(&f->st, f->path)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[400];

	store_close(f->st);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint64_t gen(struct store *st)
{
	uint64_t g = 0;

	assert_int_equal(store_generation(st, &g), 0);
	return g;
}

/* What store_changes_since visited, one word each: '-' for a deletion,
 * D or L, the key, '@' and the device of a line. */
struct chg_log {
	char s[4096];
	unsigned n;
};

static int chg_add(const struct store_change *c, void *arg)
{
	struct chg_log *log = arg;
	size_t len = strlen(log->s);

	snprintf(log->s + len, sizeof(log->s) - len, "%s%c%s%s%s ",
	         c->deleted ? "-" : "",
	         c->kind == STORE_CHANGE_DEVICE ? 'D' : 'L', c->key,
	         c->kind == STORE_CHANGE_LINE ? "@" : "",
	         c->kind == STORE_CHANGE_LINE ? c->device : "");
	log->n++;
	return 0;
}

/* The changes after since, as a chg_log string; since moves on. */
static const char *changes(struct store *st, uint64_t *since, bool *full)
{
	static struct chg_log log;
	uint64_t upto = 0;

	memset(&log, 0, sizeof(log));
	assert_int_equal(
	        store_changes_since(st, *since, &upto, full, chg_add, &log), 0);
	*since = upto;
	return log.s;
}

static void add_device(struct store *st, const char *mac, const char *profile)
{
	struct store_device d = {0};

	snprintf(d.mac, sizeof(d.mac), "%s", mac);
	snprintf(d.profile, sizeof(d.profile), "%s", profile);
	snprintf(d.model, sizeof(d.model), "8841");
	assert_int_equal(store_device_add(st, &d), 0);
}

/* ---- migration ---- */

static int count_profile(const struct store_profile *p, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_migrate_from_empty(void **state)
{
	struct fx *f = *state;
	struct store_profile p;
	struct stat sb;
	int n = 0;

	assert_true(store_schema_version() >= 1);
	assert_int_equal(gen(f->st),
	                 store_schema_version()); /* one per migration */
	assert_int_equal(store_profile_list(f->st, count_profile, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_profile_get(f->st, "nonsecure", &p), 0);
	assert_int_equal(p.mode, STORE_SEC_NONSECURE);
	assert_int_equal(p.transport, STORE_TRANSPORT_UDP);
	assert_int_equal(store_profile_get(f->st, "authenticated", &p), 0);
	assert_int_equal(p.mode, STORE_SEC_AUTHENTICATED);
	assert_int_equal(p.transport, STORE_TRANSPORT_TLS);
	assert_int_equal(store_profile_get(f->st, "encrypted", &p), 0);
	assert_int_equal(p.mode, STORE_SEC_ENCRYPTED);
	/* HA1 values live here: owner-only */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);

	/* reopening an up-to-date database changes nothing */
	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->path), 0);
	n = 0;
	assert_int_equal(store_profile_list(f->st, count_profile, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF",
	                                  &(struct store_device){0}),
	                 0);
}

static void test_open_rejects(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	char p[400];
	FILE *fp;

	assert_int_equal(store_open(&st, ""), -EINVAL);
	assert_null(st);
	snprintf(p, sizeof(p), "%s/no/such/dir/x.db", f->dir);
	assert_true(store_open(&st, p) < 0);
	assert_null(st);
	/* not a database */
	snprintf(p, sizeof(p), "%s/junk.db", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite database, not at all, no............", fp);
	fclose(fp);
	assert_int_equal(store_open(&st, p), -TL_ESTORE);
	assert_null(st);
	unlink(p);
	store_close(NULL);
}

/* ---- settings ---- */

static void test_settings(void **state)
{
	struct fx *f = *state;
	enum store_cluster_mode m;
	char v[64];
	uint64_t g0 = gen(f->st);

	assert_int_equal(store_setting_get(f->st, "realm", v, sizeof(v)),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_setting_set(f->st, "realm", "example"), 0);
	assert_int_equal(store_setting_get(f->st, "realm", v, sizeof(v)), 0);
	assert_string_equal(v, "example");
	assert_int_equal(store_setting_set(f->st, "realm", "other"), 0);
	assert_int_equal(store_setting_get(f->st, "realm", v, sizeof(v)), 0);
	assert_string_equal(v, "other");
	assert_int_equal(store_setting_get(f->st, "realm", v, 3), -TL_ETOOBIG);
	assert_int_equal(gen(f->st), g0 + 2);
	assert_int_equal(store_setting_del(f->st, "realm"), 0);
	assert_int_equal(store_setting_del(f->st, "realm"), -TL_ENOTFOUND);
	assert_int_equal(store_setting_set(f->st, "", "x"), -TL_EPARSE);
	assert_int_equal(store_setting_set(f->st, "k", "a\nb"), -TL_EPARSE);

	assert_int_equal(store_cluster_mode_get(f->st, &m), 0);
	assert_int_equal(m, STORE_CLUSTER_NONSECURE);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(store_cluster_mode_get(f->st, &m), 0);
	assert_int_equal(m, STORE_CLUSTER_MIXED);
	assert_string_equal(store_cluster_mode_name(m), "mixed");
	assert_int_equal(
	        store_cluster_mode_set(f->st, (enum store_cluster_mode)7),
	        -TL_EPARSE);
}

/* ---- profiles ---- */

static void test_profiles(void **state)
{
	struct fx *f = *state;
	struct store_profile p = {"secure-8841", STORE_SEC_ENCRYPTED,
	                          STORE_TRANSPORT_TLS, true, false};
	struct store_profile q;
	static const struct store_profile bad[] = {
	        /* secure modes need TLS */
	        {"a", STORE_SEC_AUTHENTICATED, STORE_TRANSPORT_UDP, 0, 0},
	        {"b", STORE_SEC_ENCRYPTED, STORE_TRANSPORT_TCP, 0, 0},
	        {"", STORE_SEC_NONSECURE, STORE_TRANSPORT_UDP, 0, 0},
	        {"sp ace", STORE_SEC_NONSECURE, STORE_TRANSPORT_UDP, 0, 0},
	        {"c", (enum store_sec_mode)0, STORE_TRANSPORT_UDP, 0, 0},
	        {"d", STORE_SEC_NONSECURE, (enum store_transport)9, 0, 0},
	};

	assert_int_equal(store_profile_add(f->st, &p), 0);
	assert_int_equal(store_profile_add(f->st, &p), -TL_EEXIST);
	assert_int_equal(store_profile_get(f->st, "secure-8841", &q), 0);
	assert_string_equal(q.name, p.name);
	assert_int_equal(q.mode, p.mode);
	assert_int_equal(q.transport, p.transport);
	assert_true(q.auth_invite);
	assert_false(q.allow_mic);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_profile_add(f->st, &bad[i]), -TL_EPARSE);
	}
	p.auth_invite = false;
	p.mode = STORE_SEC_AUTHENTICATED;
	assert_int_equal(store_profile_update(f->st, &p), 0);
	assert_int_equal(store_profile_get(f->st, "secure-8841", &q), 0);
	assert_int_equal(q.mode, STORE_SEC_AUTHENTICATED);
	assert_false(q.auth_invite);
	snprintf(q.name, sizeof(q.name), "nope");
	assert_int_equal(store_profile_update(f->st, &q), -TL_ENOTFOUND);

	/* in use: refused */
	add_device(f->st, "001122334455", "secure-8841");
	assert_int_equal(store_profile_del(f->st, "secure-8841"), -TL_ESTATE);
	assert_int_equal(store_device_del(f->st, "001122334455"), 0);
	assert_int_equal(store_profile_del(f->st, "secure-8841"), 0);
	assert_int_equal(store_profile_del(f->st, "secure-8841"),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_profile_get(f->st, "secure-8841", &q),
	                 -TL_ENOTFOUND);

	enum store_sec_mode m;
	enum store_transport t;

	assert_int_equal(store_sec_mode_parse("encrypted", &m), 0);
	assert_int_equal(m, STORE_SEC_ENCRYPTED);
	assert_int_equal(store_sec_mode_parse("Encrypted", &m), -TL_EPARSE);
	assert_int_equal(store_transport_parse("tls", &t), 0);
	assert_int_equal(t, STORE_TRANSPORT_TLS);
	assert_int_equal(store_transport_parse("sctp", &t), -TL_EPARSE);
	assert_string_equal(store_transport_name(STORE_TRANSPORT_UDP), "udp");
}

/* ---- MAC addresses ---- */

static void test_mac_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	        {"AABBCCDDEEFF", "AABBCCDDEEFF"},
	        {"aabbccddeeff", "AABBCCDDEEFF"},
	        {"AA:BB:CC:DD:EE:FF", "AABBCCDDEEFF"},
	        {"aa-bb-cc-dd-ee-0f", "AABBCCDDEE0F"},
	        {"001122334455", "001122334455"},
	};
	/* must reject */
	static const char *const bad[] = {
	        "",
	        "AABBCCDDEEF",         /* short */
	        "AABBCCDDEEFF0",       /* long */
	        "AABBCCDDEEFG",        /* non-hex */
	        "AA:BB:CC:DD:EE:F",    /* short, separated */
	        "AA:BB:CC:DD:EE:FF:",  /* trailing separator */
	        "AA:BB-CC:DD:EE:FF",   /* mixed separators */
	        "AA.BB.CC.DD.EE.FF",   /* other separator */
	        "AAB:BCC:DDE:EFF:0:1", /* misplaced separators */
	        " AABBCCDDEEF",        /* space */
	        "AABBCCDDEEF\n",       /* control */
	        "AABBCCDDEEFFAABBC",   /* 17 without separators */
	        "0xAABBCCDDEE",        /* prefix */
	};
	char out[13];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(store_mac_parse(ok[i].in, out), 0);
		assert_string_equal(out, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_mac_parse(bad[i], out), -TL_EPARSE);
	}
	/* a NUL inside ends the string early: short */
	assert_int_equal(store_mac_parse("AABBCC\0DDEEFF", out), -TL_EPARSE);
	assert_int_equal(store_mac_parse(NULL, out), -TL_EPARSE);
}

/* ---- devices ---- */

static int count_dev(const struct store_device *d, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_dev(const struct store_device *d, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

static void test_devices(void **state)
{
	struct fx *f = *state;
	struct store_device d = {0}, g;
	int n = 0;
	uint64_t g0;

	snprintf(d.mac, sizeof(d.mac), "AABBCCDDEEFF");
	snprintf(d.model, sizeof(d.model), "8841");
	g0 = gen(f->st);
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(gen(f->st), g0 + 1);
	assert_int_equal(store_device_get(f->st, "aa:bb:cc:dd:ee:ff", &g), 0);
	assert_string_equal(g.name, "SEPAABBCCDDEEFF");
	assert_string_equal(g.profile, "nonsecure");
	assert_string_equal(g.model, "8841");
	assert_int_equal(g.capf_op, STORE_CAPF_NONE);
	assert_false(g.capf_has_auth_string);
	assert_string_equal(g.cert_md5, "");
	assert_true(g.created > 0);
	assert_int_equal(gen(f->st), g0 + 1); /* reads do not count */

	/* must reject: duplicates, unknown profile, bad values */
	assert_int_equal(store_device_add(f->st, &d), -TL_EEXIST);
	struct store_device e = {0};

	snprintf(e.mac, sizeof(e.mac), "001122334455");
	snprintf(e.name, sizeof(e.name), "SEPAABBCCDDEEFF");
	assert_int_equal(store_device_add(f->st, &e), -TL_EEXIST);
	snprintf(e.name, sizeof(e.name), "SEP001122334455");
	snprintf(e.profile, sizeof(e.profile), "no-such-profile");
	assert_int_equal(store_device_add(f->st, &e), -TL_ENOTFOUND);
	snprintf(e.profile, sizeof(e.profile), "encrypted");
	snprintf(e.mac, sizeof(e.mac), "aabbccddeeff"); /* not normalised */
	assert_int_equal(store_device_add(f->st, &e), -TL_EPARSE);
	snprintf(e.mac, sizeof(e.mac), "001122334455");
	e.capf_auth_mode = 5;
	assert_int_equal(store_device_add(f->st, &e), -TL_EPARSE);
	e.capf_auth_mode = 1;
	snprintf(e.load, sizeof(e.load), "bad load");
	assert_int_equal(store_device_add(f->st, &e), -TL_EPARSE);
	snprintf(e.load, sizeof(e.load), "sip88xx.14-1-1");
	/* must reject: text that is not UTF-8, or has control characters */
	static const char *const bad_text[] = {
	        "\xff",         "caf\xc3",          "\xc0\x80",
	        "\xed\xa0\x80", "\xf4\x90\x80\x80", "tab\there",
	        "new\nline",    "del\x7f",
	};
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		snprintf(e.description, sizeof(e.description), "%s",
		         bad_text[i]);
		assert_int_equal(store_device_add(f->st, &e), -TL_EPARSE);
	}
	snprintf(e.description, sizeof(e.description),
	         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e");
	e.capf_op = STORE_CAPF_INSTALL;
	e.capf_deadline = 2000000000;
	assert_int_equal(store_device_add(f->st, &e), 0);
	assert_int_equal(gen(f->st), g0 + 2); /* failures do not count */

	assert_int_equal(store_device_list(f->st, count_dev, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(store_device_list(f->st, stop_dev, &n), 0);
	assert_int_equal(n, 1);

	/* update */
	assert_int_equal(store_device_get(f->st, "001122334455", &g), 0);
	assert_string_equal(g.load, "sip88xx.14-1-1");
	assert_int_equal(g.capf_op, STORE_CAPF_INSTALL);
	assert_int_equal(g.capf_deadline, 2000000000);
	snprintf(g.profile, sizeof(g.profile), "authenticated");
	g.capf_op = STORE_CAPF_NONE;
	assert_int_equal(store_device_update(f->st, &g), 0);
	assert_int_equal(store_device_get(f->st, "001122334455", &g), 0);
	assert_string_equal(g.profile, "authenticated");
	assert_int_equal(g.capf_op, STORE_CAPF_NONE);
	snprintf(g.profile, sizeof(g.profile), "missing");
	assert_int_equal(store_device_update(f->st, &g), -TL_ENOTFOUND);
	snprintf(g.mac, sizeof(g.mac), "0000000000AA");
	snprintf(g.profile, sizeof(g.profile), "nonsecure");
	assert_int_equal(store_device_update(f->st, &g), -TL_ENOTFOUND);

	/* delete */
	assert_int_equal(store_device_del(f->st, "00-11-22-33-44-55"), 0);
	assert_int_equal(store_device_del(f->st, "001122334455"),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_device_del(f->st, "zz"), -TL_ENOTFOUND);
	assert_int_equal(store_device_get(f->st, "001122334455", &g),
	                 -TL_ENOTFOUND);
}

/* A self-signed certificate for SEP<mac> (P-256: fast). */
static uint8_t *make_cert(long serial, int *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	uint8_t *der = NULL;

	assert_non_null(k);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"SEPAABBCCDDEEFF", -1,
	                           -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	X509_free(x);
	EVP_PKEY_free(k);
	return der;
}

static void test_device_cert_and_capf(void **state)
{
	struct fx *f = *state;
	struct store_device g;
	uint8_t md[16];
	char hex[33];
	unsigned mdlen;
	uint8_t *got = NULL;
	size_t gotlen;
	int len;
	uint8_t *der = make_cert(0x1234ab, &len);
	uint8_t *longer = malloc((size_t)len + 1);

	add_device(f->st, "AABBCCDDEEFF", "encrypted");
	assert_int_equal(
	        store_device_cert_get(f->st, "AABBCCDDEEFF", &got, &gotlen),
	        -TL_ENOTFOUND);
	/* must reject: truncated, trailing bytes, not a certificate */
	assert_int_equal(store_device_cert_set(f->st, "AABBCCDDEEFF", der,
	                                       (size_t)len - 1),
	                 -TL_EPARSE);
	assert_non_null(longer);
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	assert_int_equal(store_device_cert_set(f->st, "AABBCCDDEEFF", longer,
	                                       (size_t)len + 1),
	                 -TL_EPARSE);
	assert_int_equal(store_device_cert_set(f->st, "AABBCCDDEEFF",
	                                       (const uint8_t *)"junk", 4),
	                 -TL_EPARSE);
	assert_int_equal(store_device_cert_set(f->st, "AABBCCDDEEFF", der, 0),
	                 -TL_EPARSE);
	assert_int_equal(
	        store_device_cert_set(f->st, "0000000000AA", der, (size_t)len),
	        -TL_ENOTFOUND);

	assert_int_equal(
	        store_device_cert_set(f->st, "AABBCCDDEEFF", der, (size_t)len),
	        0);
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &g), 0);
	assert_int_equal(
	        EVP_Digest(der, (size_t)len, md, &mdlen, EVP_md5(), NULL), 1);
	for (unsigned i = 0; i < mdlen; i++) {
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
	assert_string_equal(g.cert_md5, hex);
	assert_string_equal(g.cert_serial, "1234ab");
	assert_int_equal(
	        store_device_cert_get(f->st, "AABBCCDDEEFF", &got, &gotlen), 0);
	assert_int_equal(gotlen, (size_t)len);
	assert_memory_equal(got, der, gotlen);
	free(got);
	assert_int_equal(store_device_cert_set(f->st, "AABBCCDDEEFF", NULL, 0),
	                 0);
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &g), 0);
	assert_string_equal(g.cert_md5, "");

	/* the CAPF auth string: checkable, never readable */
	assert_int_equal(
	        store_device_capf_auth_check(f->st, "AABBCCDDEEFF", "1234"),
	        -TL_EAUTH);
	assert_int_equal(
	        store_device_capf_auth_set(f->st, "AABBCCDDEEFF", "1234"), 0);
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &g), 0);
	assert_true(g.capf_has_auth_string);
	assert_int_equal(
	        store_device_capf_auth_check(f->st, "AABBCCDDEEFF", "1234"), 0);
	assert_int_equal(
	        store_device_capf_auth_check(f->st, "AABBCCDDEEFF", "1235"),
	        -TL_EAUTH);
	assert_int_equal(
	        store_device_capf_auth_check(f->st, "AABBCCDDEEFF", ""),
	        -TL_EAUTH);
	assert_int_equal(store_device_capf_auth_set(f->st, "AABBCCDDEEFF", ""),
	                 -TL_EPARSE);
	assert_int_equal(
	        store_device_capf_auth_set(f->st, "AABBCCDDEEFF", NULL), 0);
	assert_int_equal(
	        store_device_capf_auth_check(f->st, "AABBCCDDEEFF", "1234"),
	        -TL_EAUTH);
	assert_int_equal(store_device_capf_auth_set(f->st, "0000000000AA", "1"),
	                 -TL_ENOTFOUND);
	OPENSSL_free(der);
	free(longer);
}

/* ---- lines ---- */

static int collect_dn(const struct store_line *l, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s/%d,", l->dn, l->line_index);
	return 0;
}

static void test_lines(void **state)
{
	struct fx *f = *state;
	struct store_line l = {0}, g;
	char seen[256] = "";

	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	add_device(f->st, "001122334455", "nonsecure");
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.device, sizeof(l.device), "AABBCCDDEEFF");
	snprintf(l.display, sizeof(l.display), "Alice Example");
	assert_int_equal(store_line_add(f->st, &l), 0);
	assert_int_equal(store_line_get(f->st, "1001", &g), 0);
	assert_int_equal(g.line_index, 1);
	assert_string_equal(g.display, "Alice Example");
	assert_string_equal(g.ha1_md5, "");
	snprintf(l.dn, sizeof(l.dn), "1002");
	assert_int_equal(store_line_add(f->st, &l), 0);
	assert_int_equal(store_line_get(f->st, "1002", &g), 0);
	assert_int_equal(g.line_index, 2);

	/* must reject */
	assert_int_equal(store_line_add(f->st, &l), -TL_EEXIST);
	snprintf(l.dn, sizeof(l.dn), "1003");
	l.line_index = 2;
	assert_int_equal(store_line_add(f->st, &l), -TL_EEXIST);
	l.line_index = 0;
	snprintf(l.device, sizeof(l.device), "0000000000AA");
	assert_int_equal(store_line_add(f->st, &l), -TL_ENOTFOUND);
	snprintf(l.device, sizeof(l.device), "001122334455");
	static const char *const bad_dn[] = {"", "10a1", "1 001", "1+1",
	                                     "12\x01"};

	for (size_t i = 0; i < sizeof(bad_dn) / sizeof(bad_dn[0]); i++) {
		snprintf(l.dn, sizeof(l.dn), "%s", bad_dn[i]);
		assert_int_equal(store_line_add(f->st, &l), -TL_EPARSE);
	}
	snprintf(l.dn, sizeof(l.dn), "+4930*#");
	l.line_index = 65;
	assert_int_equal(store_line_add(f->st, &l), -TL_EPARSE);
	l.line_index = 3;
	snprintf(l.user, sizeof(l.user), "a:b");
	assert_int_equal(store_line_add(f->st, &l), -TL_EPARSE);
	l.user[0] = '\0';
	assert_int_equal(store_line_add(f->st, &l), 0);

	assert_int_equal(store_line_list(f->st, NULL, collect_dn, seen), 0);
	assert_string_equal(seen, "+4930*#/3,1001/1,1002/2,");
	seen[0] = '\0';
	assert_int_equal(
	        store_line_list(f->st, "aa:bb:cc:dd:ee:ff", collect_dn, seen),
	        0);
	assert_string_equal(seen, "1001/1,1002/2,");

	/* update: move 1002 to the other device */
	assert_int_equal(store_line_get(f->st, "1002", &g), 0);
	snprintf(g.device, sizeof(g.device), "001122334455");
	g.line_index = 1;
	assert_int_equal(store_line_update(f->st, &g), 0);
	assert_int_equal(store_line_get(f->st, "1002", &g), 0);
	assert_string_equal(g.device, "001122334455");
	g.line_index = 3; /* taken by +4930*# */
	assert_int_equal(store_line_update(f->st, &g), -TL_EEXIST);
	snprintf(g.dn, sizeof(g.dn), "9999");
	assert_int_equal(store_line_update(f->st, &g), -TL_ENOTFOUND);

	/* MWI */
	assert_int_equal(store_mwi_set(f->st, "1001", 2, 5), 0);
	assert_int_equal(store_line_get(f->st, "1001", &g), 0);
	assert_int_equal(g.mwi_new, 2);
	assert_int_equal(g.mwi_old, 5);
	assert_int_equal(store_mwi_set(f->st, "1001", 0, 7), 0);
	assert_int_equal(store_line_get(f->st, "1001", &g), 0);
	assert_int_equal(g.mwi_new, 0);
	assert_int_equal(store_mwi_set(f->st, "9999", 1, 1), -TL_ENOTFOUND);
	assert_int_equal(store_mwi_set(f->st, "1001", -1, 1), -TL_EPARSE);

	/* delete, and cascade with the device */
	assert_int_equal(store_line_del(f->st, "1002"), 0);
	assert_int_equal(store_line_del(f->st, "1002"), -TL_ENOTFOUND);
	assert_int_equal(store_device_del(f->st, "AABBCCDDEEFF"), 0);
	assert_int_equal(store_line_get(f->st, "1001", &g), -TL_ENOTFOUND);
}

static void test_ha1(void **state)
{
	struct fx *f = *state;
	struct store_line l = {0}, g;
	char h[65];

	/* RFC 2617 §3.5 example: HA1 for Mufasa */
	assert_int_equal(store_digest_ha1(STORE_DIGEST_MD5, "Mufasa",
	                                  "testrealm@host.com",
	                                  "Circle Of Life", h, sizeof(h)),
	                 0);
	assert_string_equal(h, "939e7578ed9e3c518a452acee763bce9");
	/* RFC 7616 §3.9.1 credentials, SHA-256 (computed independently) */
	assert_int_equal(store_digest_ha1(STORE_DIGEST_SHA256, "Mufasa",
	                                  "http-auth@example.org",
	                                  "Circle of Life", h, sizeof(h)),
	                 0);
	assert_string_equal(h, "7987c64c30e25f1b74be53f966b49b90"
	                       "f2808aa92faf9a00262392d7b4794232");
	assert_int_equal(
	        store_digest_ha1(STORE_DIGEST_SHA256, "a", "b", "c", h, 64),
	        -TL_ETOOBIG);

	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.device, sizeof(l.device), "AABBCCDDEEFF");
	assert_int_equal(store_line_add(f->st, &l), 0);
	assert_int_equal(store_line_password_set(f->st, "1001", "Mufasa",
	                                         "testrealm@host.com",
	                                         "Circle Of Life"),
	                 0);
	assert_int_equal(store_line_get(f->st, "1001", &g), 0);
	assert_string_equal(g.user, "Mufasa");
	assert_string_equal(g.realm, "testrealm@host.com");
	assert_string_equal(g.ha1_md5, "939e7578ed9e3c518a452acee763bce9");
	assert_int_equal(store_digest_ha1(STORE_DIGEST_SHA256, "Mufasa",
	                                  "testrealm@host.com",
	                                  "Circle Of Life", h, sizeof(h)),
	                 0);
	assert_string_equal(g.ha1_sha256, h);

	/* must reject */
	assert_int_equal(store_line_password_set(f->st, "1001", "", "r", "p"),
	                 -TL_EPARSE);
	assert_int_equal(store_line_password_set(f->st, "1001", "u", "", "p"),
	                 -TL_EPARSE);
	assert_int_equal(store_line_password_set(f->st, "1001", "u", "r", ""),
	                 -TL_EPARSE);
	assert_int_equal(
	        store_line_password_set(f->st, "1001", "u:x", "r", "p"),
	        -TL_EPARSE);
	assert_int_equal(store_line_password_set(f->st, "2002", "u", "r", "p"),
	                 -TL_ENOTFOUND);
}

/* Schema 3 back to schema 2 (what a database of the previous release
 * holds), data kept. */
#define DOWN_3_TO_2                                                            \
	"DROP TRIGGER devices_ins; DROP TRIGGER devices_upd;"                  \
	"DROP TRIGGER devices_rekey; DROP TRIGGER devices_del;"                \
	"DROP TRIGGER lines_ins; DROP TRIGGER lines_upd;"                      \
	"DROP TRIGGER lines_moved; DROP TRIGGER lines_del;"                    \
	"DROP TRIGGER mwi_ins; DROP TRIGGER mwi_upd;"                          \
	"DROP TRIGGER certs_ins; DROP TRIGGER certs_upd;"                      \
	"DROP TRIGGER certs_del; DROP TRIGGER settings_ins;"                   \
	"DROP TRIGGER settings_upd; DROP TRIGGER settings_del;"                \
	"DROP TRIGGER profiles_ins; DROP TRIGGER profiles_upd;"                \
	"DROP TRIGGER profiles_del; DROP TRIGGER deleted_prune;"               \
	"DROP TABLE deleted; DROP INDEX devices_change;"                       \
	"DROP INDEX lines_change; DROP INDEX devices_cert_serial;"             \
	"ALTER TABLE meta DROP COLUMN site_gen;"                               \
	"ALTER TABLE meta DROP COLUMN deleted_floor;"                          \
	"ALTER TABLE devices DROP COLUMN change_gen;"                          \
	"ALTER TABLE lines DROP COLUMN change_gen;"                            \
	"PRAGMA user_version = 2;"

/* Run SQL on the database file behind the store's back (an older
 * version of the schema, data a newer one forbids). */
static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* Migration 1 -> 2 on a database with data, and a migration that fails
 * on data it cannot take leaves the old version intact. */
static void test_migrate_v1_to_v2(void **state)
{
	struct fx *f = *state;
	struct store_line l;
	static const char idx[] = "SELECT count(*) FROM sqlite_master WHERE "
	                          "name = 'lines_user'";

	assert_true(store_schema_version() >= 2);
	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	store_close(f->st);
	f->st = NULL;
	/* back to schema 1: no unique digest users */
	raw_sql(f->path, DOWN_3_TO_2);
	raw_sql(f->path, "DROP INDEX lines_user; PRAGMA user_version = 1;"
	                 "INSERT INTO lines (dn, device, line_index, "
	                 "auth_user, created, updated) VALUES ('1001', "
	                 "'AABBCCDDEEFF', 1, 'alice', 0, 0);");
	assert_int_equal(raw_int(f->path, idx), 0);
	assert_int_equal(store_open(&f->st, f->path), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"),
	                 store_schema_version());
	assert_int_equal(raw_int(f->path, idx), 1);
	assert_int_equal(store_line_find_user(f->st, "alice", &l), 0);
	assert_string_equal(l.dn, "1001");
	store_close(f->st);
	f->st = NULL;
	raw_sql(f->path, DOWN_3_TO_2);

	/* schema 1 data that schema 2 refuses: the migration fails whole */
	raw_sql(f->path, "DROP INDEX lines_user; PRAGMA user_version = 1;"
	                 "INSERT INTO lines (dn, device, line_index, "
	                 "auth_user, created, updated) VALUES ('1002', "
	                 "'AABBCCDDEEFF', 2, 'alice', 0, 0);");
	assert_int_equal(store_open(&f->st, f->path), -TL_ESTORE);
	assert_null(f->st);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(f->path, idx), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM lines"), 2);
	/* fixed by hand, it migrates */
	raw_sql(f->path, "UPDATE lines SET auth_user = 'bob' WHERE dn = "
	                 "'1002'");
	assert_int_equal(store_open(&f->st, f->path), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"),
	                 store_schema_version());
}

/* Migration 2 -> 3 in place, on a database with data: every existing row
 * counts as changed by the migration, and the triggers work from then
 * on. */
static void test_migrate_v2_to_v3(void **state)
{
	struct fx *f = *state;
	struct store_line l = {0};
	struct chg_log log = {0};
	uint64_t g2, g3, upto = 0, stamp = 0;
	bool full = false;

	assert_int_equal(store_schema_version(), 3);
	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.device, sizeof(l.device), "AABBCCDDEEFF");
	assert_int_equal(store_line_add(f->st, &l), 0);
	store_close(f->st);
	f->st = NULL;
	raw_sql(f->path, DOWN_3_TO_2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM "
	                                  "pragma_table_info('devices') WHERE "
	                                  "name = 'change_gen'"),
	                 0);
	g2 = (uint64_t)raw_int(f->path, "SELECT generation FROM meta");

	assert_int_equal(store_open(&f->st, f->path), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 3);
	g3 = gen(f->st);
	assert_int_equal(g3, g2 + 1);
	/* the data is intact */
	assert_int_equal(store_line_get(f->st, "1001", &l), 0);
	assert_string_equal(l.device, "AABBCCDDEEFF");
	/* a reader of the old schema reloads everything; the rows are
	 * marked with the migration's generation */
	assert_int_equal(
	        store_changes_since(f->st, g2, &upto, &full, chg_add, &log), 0);
	assert_true(full);
	assert_int_equal(upto, g3);
	assert_int_equal(store_device_stamp(f->st, "AABBCCDDEEFF", &stamp), 0);
	assert_int_equal(stamp, g3);
	/* the triggers are there */
	assert_int_equal(store_line_del(f->st, "1001"), 0);
	assert_int_equal(
	        store_changes_since(f->st, g3, &upto, &full, chg_add, &log), 0);
	assert_false(full);
	assert_string_equal(log.s, "-L1001@AABBCCDDEEFF ");
	/* reopening migrates nothing more */
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->path), 0);
	assert_int_equal(gen(f->st), g3 + 1);
}

/* A schema newer than the binary is refused, untouched. */
static void test_open_newer_schema(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	f->st = NULL;
	raw_sql(f->path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(&f->st, f->path), -TL_ESTORE);
	assert_null(f->st);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
	raw_sql(f->path, "PRAGMA user_version = 3");
	assert_int_equal(store_open(&f->st, f->path), 0);
}

static void test_find_user(void **state)
{
	struct fx *f = *state;
	struct store_line l = {0}, g;

	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	snprintf(l.device, sizeof(l.device), "AABBCCDDEEFF");
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.user, sizeof(l.user), "alice");
	assert_int_equal(store_line_add(f->st, &l), 0);
	snprintf(l.dn, sizeof(l.dn), "1002");
	l.user[0] = '\0';
	assert_int_equal(store_line_add(f->st, &l), 0);

	assert_int_equal(store_line_find_user(f->st, "alice", &g), 0);
	assert_string_equal(g.dn, "1001");
	assert_int_equal(store_line_find_user(f->st, "1002", &g), 0);
	assert_string_equal(g.dn, "1002");
	/* 1001 has a user name: its DN is not one */
	assert_int_equal(store_line_find_user(f->st, "1001", &g),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_line_find_user(f->st, "bob", &g), -TL_ENOTFOUND);
	assert_int_equal(store_line_find_user(f->st, "", &g), -TL_ENOTFOUND);

	/* must reject: a user name taken, as a name or as a DN */
	snprintf(l.dn, sizeof(l.dn), "1003");
	snprintf(l.user, sizeof(l.user), "alice");
	assert_int_equal(store_line_add(f->st, &l), -TL_EEXIST);
	snprintf(l.user, sizeof(l.user), "1002");
	assert_int_equal(store_line_add(f->st, &l), -TL_EEXIST);
	assert_int_equal(
	        store_line_password_set(f->st, "1002", "alice", "r", "p"),
	        -TL_EEXIST);
	assert_int_equal(store_line_get(f->st, "1001", &g), 0);
	snprintf(g.user, sizeof(g.user), "1002");
	assert_int_equal(store_line_update(f->st, &g), -TL_EEXIST);
	/* and a DN that is someone's user name */
	snprintf(l.dn, sizeof(l.dn), "4711");
	l.user[0] = '\0';
	assert_int_equal(store_line_add(f->st, &l), 0);
	assert_int_equal(
	        store_line_password_set(f->st, "1001", "4711", "r", "p"),
	        -TL_EEXIST);
}

/* ---- users ---- */

static int count_user(const struct store_user *u, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_users(void **state)
{
	struct fx *f = *state;
	struct store_user u = {"alice", "Alice Example", 0}, g;
	int n = 0;

	assert_int_equal(store_user_add(f->st, &u), 0);
	assert_int_equal(store_user_add(f->st, &u), -TL_EEXIST);
	assert_int_equal(store_user_get(f->st, "alice", &g), 0);
	assert_string_equal(g.display, "Alice Example");
	assert_int_equal(store_user_list(f->st, count_user, &n), 0);
	assert_int_equal(n, 1);
	snprintf(u.name, sizeof(u.name), "bad name");
	assert_int_equal(store_user_add(f->st, &u), -TL_EPARSE);
	assert_int_equal(store_user_del(f->st, "alice"), 0);
	assert_int_equal(store_user_del(f->st, "alice"), -TL_ENOTFOUND);
	assert_int_equal(store_user_get(f->st, "alice", &g), -TL_ENOTFOUND);
}

/* ---- certificates ---- */

static int collect_serial(const struct store_cert *c, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	assert_non_null(c->pem);
	snprintf(out + n, 256 - n, "%s,", c->serial);
	return 0;
}

static int fail_cert(const struct store_cert *c, void *arg)
{
	return -TL_ESTATE;
}

static void test_certs(void **state)
{
	struct fx *f = *state;
	struct store_cert c = {
	        .serial = "01ab",
	        .subject = "CN=SEPAABBCCDDEEFF",
	        .issuer = "CN=Trustline CA",
	        .profile = "lsc",
	        .not_before = 1000,
	        .not_after = 2000,
	        .pem = "-----BEGIN CERTIFICATE-----\nAA==\n"
	               "-----END CERTIFICATE-----\n",
	};
	struct store_cert g = {0};
	char seen[256] = "";

	assert_int_equal(store_cert_add(f->st, &c), 0);
	assert_int_equal(store_cert_add(f->st, &c), -TL_EEXIST);
	snprintf(c.serial, sizeof(c.serial), "02");
	snprintf(c.profile, sizeof(c.profile), "server");
	c.not_before = 1500;
	assert_int_equal(store_cert_add(f->st, &c), 0);
	/* must reject */
	snprintf(c.serial, sizeof(c.serial), "0A");
	assert_int_equal(store_cert_add(f->st, &c), -TL_EPARSE);
	snprintf(c.serial, sizeof(c.serial), "%s", "");
	assert_int_equal(store_cert_add(f->st, &c), -TL_EPARSE);
	snprintf(c.serial, sizeof(c.serial), "03");
	c.pem = NULL;
	assert_int_equal(store_cert_add(f->st, &c), -TL_EPARSE);

	assert_int_equal(store_cert_get(f->st, "01ab", &g), 0);
	assert_string_equal(g.subject, "CN=SEPAABBCCDDEEFF");
	assert_string_equal(g.profile, "lsc");
	assert_int_equal(g.not_after, 2000);
	assert_int_equal(g.revoked_at, 0);
	assert_non_null(strstr(g.pem, "BEGIN CERTIFICATE"));
	store_cert_clear(&g);
	assert_null(g.pem);
	assert_int_equal(store_cert_get(f->st, "ff", &g), -TL_ENOTFOUND);
	store_cert_clear(&g);

	assert_int_equal(store_cert_revoke(f->st, "01ab", 1, 1700), 0);
	assert_int_equal(store_cert_revoke(f->st, "01ab", 1, 1800), -TL_ESTATE);
	assert_int_equal(store_cert_revoke(f->st, "ff", 1, 1800),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_cert_revoke(f->st, "02", 7, 1800), -TL_EPARSE);
	assert_int_equal(store_cert_get(f->st, "01ab", &g), 0);
	assert_int_equal(g.revoked_at, 1700);
	assert_int_equal(g.revoke_reason, 1);
	store_cert_clear(&g);

	assert_int_equal(store_cert_list(f->st, NULL, collect_serial, seen), 0);
	assert_string_equal(seen, "01ab,02,");
	seen[0] = '\0';
	assert_int_equal(store_cert_list(f->st, "server", collect_serial, seen),
	                 0);
	assert_string_equal(seen, "02,");
	assert_int_equal(store_cert_list(f->st, NULL, fail_cert, NULL),
	                 -TL_ESTATE);
}

/* ---- audit, CDRs, transactions, change counter ---- */

static int collect_audit(const struct store_audit_entry *e, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s:%s:%s,", e->actor, e->action, e->detail);
	return 0;
}

static void test_audit_cdr(void **state)
{
	struct fx *f = *state;
	char seen[256] = "";
	struct store_cdr c = {.call_id = "abc@host",
	                      .from_dn = "1001",
	                      .to_dn = "1002",
	                      .start = 10,
	                      .answer = 12,
	                      .end = 20,
	                      .security = "encrypted",
	                      .cause = "normal"};

	assert_int_equal(store_audit(f->st, "admin", "device.add", "X"), 0);
	assert_int_equal(store_audit(f->st, "admin", "device.del", NULL), 0);
	assert_int_equal(store_audit(f->st, "", "x", "y"), -TL_EPARSE);
	assert_int_equal(store_audit(f->st, "a", "x", "new\nline"), -TL_EPARSE);
	assert_int_equal(store_audit_list(f->st, 0, collect_audit, seen), 0);
	assert_string_equal(seen, "admin:device.del:,admin:device.add:X,");
	seen[0] = '\0';
	assert_int_equal(store_audit_list(f->st, 1, collect_audit, seen), 0);
	assert_string_equal(seen, "admin:device.del:,");

	assert_int_equal(store_cdr_add(f->st, &c), 0);
	c.call_id[0] = '\0';
	assert_int_equal(store_cdr_add(f->st, &c), -TL_EPARSE);
}

static void test_transactions(void **state)
{
	struct fx *f = *state;
	struct store_device g;
	uint64_t g0 = gen(f->st);

	/* commit: two writes, one generation step */
	assert_int_equal(store_tx_begin(f->st), 0);
	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	assert_int_equal(store_audit(f->st, "t", "device.add", "AABB"), 0);
	assert_int_equal(store_tx_commit(f->st), 0);
	assert_int_equal(gen(f->st), g0 + 1);

	/* rollback: nothing stays, the counter does not move */
	assert_int_equal(store_tx_begin(f->st), 0);
	add_device(f->st, "001122334455", "nonsecure");
	store_tx_rollback(f->st);
	assert_int_equal(store_device_get(f->st, "001122334455", &g),
	                 -TL_ENOTFOUND);
	assert_int_equal(gen(f->st), g0 + 1);

	/* a failed write inside an outer transaction dooms it */
	assert_int_equal(store_tx_begin(f->st), 0);
	add_device(f->st, "001122334455", "nonsecure");
	assert_int_equal(store_tx_begin(f->st), 0);
	store_tx_rollback(f->st);
	assert_int_equal(store_tx_commit(f->st), -TL_ESTATE);
	assert_int_equal(store_device_get(f->st, "001122334455", &g),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_tx_commit(f->st), -TL_ESTATE);

	/* no writes inside a read snapshot; it sees one state */
	assert_int_equal(store_read_begin(f->st), 0);
	assert_int_equal(store_read_begin(f->st), -TL_ESTATE);
	assert_int_equal(store_tx_begin(f->st), -TL_ESTATE);
	assert_int_equal(store_audit(f->st, "t", "x", "y"), -TL_ESTATE);
	assert_int_equal(store_tx_commit(f->st), -TL_ESTATE);
	assert_int_equal(gen(f->st), g0 + 1);
	store_read_end(f->st);
	store_read_end(f->st); /* a second end is a no-op */
	assert_int_equal(store_audit(f->st, "t", "x", "y"), 0);
	g0++;

	/* a second handle (another process, in life) sees committed data
	 * and the counter */
	struct store *other = NULL;
	uint64_t og = 0;

	assert_int_equal(store_open(&other, f->path), 0);
	assert_int_equal(store_generation(other, &og), 0);
	assert_int_equal(og, g0 + 1);
	/* WAL: a reader's snapshot does not block a writer, and keeps
	 * seeing the state it started with */
	assert_int_equal(store_read_begin(other), 0);
	assert_int_equal(store_generation(other, &og), 0);
	add_device(f->st, "001122334455", "nonsecure");
	assert_int_equal(store_generation(other, &og), 0);
	assert_int_equal(og, g0 + 1);
	assert_int_equal(store_device_get(other, "001122334455", &g),
	                 -TL_ENOTFOUND);
	store_read_end(other);
	assert_int_equal(store_generation(other, &og), 0);
	assert_int_equal(og, g0 + 2);
	assert_int_equal(store_device_get(other, "001122334455", &g), 0);
	store_close(other);

	/* closing with an open transaction rolls it back */
	assert_int_equal(store_tx_begin(f->st), 0);
	add_device(f->st, "0000000000AA", "nonsecure");
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->path), 0);
	assert_int_equal(store_device_get(f->st, "0000000000AA", &g),
	                 -TL_ENOTFOUND);
}

static void add_line(struct store *st, const char *dn, const char *mac)
{
	struct store_line l = {0};

	snprintf(l.dn, sizeof(l.dn), "%s", dn);
	snprintf(l.device, sizeof(l.device), "%s", mac);
	assert_int_equal(store_line_add(st, &l), 0);
}

static uint64_t stamp(struct store *st, const char *mac)
{
	uint64_t v = 0;

	assert_int_equal(store_device_stamp(st, mac, &v), 0);
	return v;
}

/* Per-row change tracking: what each write marks, deletions and moves,
 * site-wide changes, a second process, forgotten deletions. */
static void test_changes(void **state)
{
	struct fx *f = *state;
	struct store_device d;
	struct store_line l;
	struct store_profile p;
	struct store_cert c = {0};
	uint64_t since = gen(f->st), g, s1, s2;
	bool full = true;

	/* nothing yet */
	assert_string_equal(changes(f->st, &since, &full), "");
	assert_false(full);
	/* one transaction: its rows carry the generation it commits */
	assert_int_equal(store_tx_begin(f->st), 0);
	add_device(f->st, "AABBCCDDEEFF", "nonsecure");
	add_device(f->st, "001122334455", "nonsecure");
	add_line(f->st, "1001", "AABBCCDDEEFF");
	add_line(f->st, "1002", "AABBCCDDEEFF");
	add_line(f->st, "2001", "001122334455");
	assert_int_equal(store_tx_commit(f->st), 0);
	g = gen(f->st);
	assert_int_equal(stamp(f->st, "AABBCCDDEEFF"), g);
	assert_int_equal(stamp(f->st, "aa:bb:cc:dd:ee:ff"), g);
	assert_int_equal(store_device_stamp(f->st, "0000000000AA", &s1),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_device_stamp(f->st, "junk", &s1), -TL_ENOTFOUND);
	const char *all = changes(f->st, &since, &full);
	assert_false(full);
	assert_int_equal(since, g);
	assert_non_null(strstr(all, "DAABBCCDDEEFF "));
	assert_non_null(strstr(all, "D001122334455 "));
	assert_non_null(strstr(all, "L1001@AABBCCDDEEFF "));
	assert_non_null(strstr(all, "L2001@001122334455 "));
	assert_string_equal(changes(f->st, &since, &full), "");

	/* audit and CDR rows move the counter, not the rows */
	assert_int_equal(store_audit(f->st, "t", "x", "y"), 0);
	assert_true(gen(f->st) > since);
	assert_string_equal(changes(f->st, &since, &full), "");
	assert_false(full);
	s1 = stamp(f->st, "AABBCCDDEEFF");
	s2 = stamp(f->st, "001122334455");

	/* a device update, its certificate, its CAPF auth string */
	assert_int_equal(store_device_get(f->st, "001122334455", &d), 0);
	snprintf(d.load, sizeof(d.load), "load-2");
	assert_int_equal(store_device_update(f->st, &d), 0);
	assert_string_equal(changes(f->st, &since, &full), "D001122334455 ");
	assert_int_equal(stamp(f->st, "AABBCCDDEEFF"), s1);
	assert_true(stamp(f->st, "001122334455") > s2);
	assert_int_equal(
	        store_device_capf_auth_set(f->st, "001122334455", "secret"), 0);
	assert_string_equal(changes(f->st, &since, &full), "D001122334455 ");

	/* a line's password, its MWI state: the line (and its device's
	 * stamp) */
	assert_int_equal(store_line_password_set(f->st, "1002", "bob",
	                                         "trustline", "pw"),
	                 0);
	assert_string_equal(changes(f->st, &since, &full),
	                    "L1002@AABBCCDDEEFF ");
	assert_true(stamp(f->st, "AABBCCDDEEFF") > s1);
	s1 = stamp(f->st, "AABBCCDDEEFF");
	assert_int_equal(store_mwi_set(f->st, "1001", 2, 1), 0);
	assert_string_equal(changes(f->st, &since, &full),
	                    "L1001@AABBCCDDEEFF ");
	assert_int_equal(store_mwi_set(f->st, "1001", 3, 1), 0);
	assert_string_equal(changes(f->st, &since, &full),
	                    "L1001@AABBCCDDEEFF ");
	assert_true(stamp(f->st, "AABBCCDDEEFF") > s1);

	/* a line moves: changed where it is, recorded as left where it
	 * was; both devices' stamps move */
	s1 = stamp(f->st, "AABBCCDDEEFF");
	s2 = stamp(f->st, "001122334455");
	assert_int_equal(store_line_get(f->st, "1002", &l), 0);
	snprintf(l.device, sizeof(l.device), "001122334455");
	l.line_index = 0;
	assert_int_equal(store_line_update(f->st, &l), 0);
	assert_string_equal(changes(f->st, &since, &full),
	                    "-L1002@AABBCCDDEEFF L1002@001122334455 ");
	assert_true(stamp(f->st, "AABBCCDDEEFF") > s1);
	assert_true(stamp(f->st, "001122334455") > s2);

	/* a certificate record (revocation) marks the device holding it */
	int len;
	uint8_t *der = make_cert(0x5678cd, &len);
	char serial[80];

	assert_int_equal(
	        store_device_cert_set(f->st, "001122334455", der, (size_t)len),
	        0);
	OPENSSL_free(der);
	assert_string_equal(changes(f->st, &since, &full), "D001122334455 ");
	assert_int_equal(store_device_get(f->st, "001122334455", &d), 0);
	snprintf(serial, sizeof(serial), "%s", d.cert_serial);
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	snprintf(c.subject, sizeof(c.subject), "CN=SEP001122334455");
	snprintf(c.issuer, sizeof(c.issuer), "CN=ca");
	snprintf(c.profile, sizeof(c.profile), "lsc");
	c.pem = "x";
	assert_int_equal(store_cert_add(f->st, &c), 0);
	assert_string_equal(changes(f->st, &since, &full), "D001122334455 ");
	assert_int_equal(store_cert_revoke(f->st, serial, 1, 1000), 0);
	assert_string_equal(changes(f->st, &since, &full), "D001122334455 ");
	/* a certificate nobody holds marks nothing */
	snprintf(c.serial, sizeof(c.serial), "0abc");
	assert_int_equal(store_cert_add(f->st, &c), 0);
	assert_string_equal(changes(f->st, &since, &full), "");

	/* a device deleted: it and its lines (cascade) are recorded */
	assert_int_equal(store_device_del(f->st, "001122334455"), 0);
	all = changes(f->st, &since, &full);
	assert_false(full);
	assert_non_null(strstr(all, "-L2001@001122334455 "));
	assert_non_null(strstr(all, "-L1002@001122334455 "));
	assert_non_null(strstr(all, "-D001122334455 "));
	/* and added again: a stamp newer than its deletions */
	add_device(f->st, "001122334455", "nonsecure");
	assert_string_equal(changes(f->st, &since, &full), "D001122334455 ");
	assert_int_equal(stamp(f->st, "001122334455"), gen(f->st));

	/* site-wide changes: settings and profiles */
	s1 = stamp(f->st, "AABBCCDDEEFF");
	assert_int_equal(store_setting_set(f->st, "k", "v"), 0);
	assert_string_equal(changes(f->st, &since, &full), "");
	assert_true(full);
	assert_true(stamp(f->st, "AABBCCDDEEFF") > s1);
	assert_string_equal(changes(f->st, &since, &full), "");
	assert_false(full);
	assert_int_equal(store_profile_get(f->st, "nonsecure", &p), 0);
	p.auth_invite = true;
	assert_int_equal(store_profile_update(f->st, &p), 0);
	changes(f->st, &since, &full);
	assert_true(full);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	changes(f->st, &since, &full);
	assert_true(full);
	assert_int_equal(store_setting_del(f->st, "k"), 0);
	changes(f->st, &since, &full);
	assert_true(full);
	/* a reader ahead of the store (another database) reloads too */
	since += 100;
	changes(f->st, &since, &full);
	assert_true(full);
	assert_int_equal(since, gen(f->st));

	/* a rolled-back write marks nothing */
	assert_int_equal(store_tx_begin(f->st), 0);
	add_line(f->st, "3001", "AABBCCDDEEFF");
	store_tx_rollback(f->st);
	assert_string_equal(changes(f->st, &since, &full), "");
	assert_false(full);

	/* another process's writes (the CLI) are seen */
	struct store *other = NULL;

	assert_int_equal(store_open(&other, f->path), 0);
	add_line(other, "3001", "AABBCCDDEEFF");
	store_close(other);
	assert_string_equal(changes(f->st, &since, &full),
	                    "L3001@AABBCCDDEEFF ");

	/* rows written behind the store's back (an import with sqlite3)
	 * are marked by the triggers too */
	raw_sql(f->path, "BEGIN; INSERT INTO devices (mac, name, profile, "
	                 "created, updated) VALUES ('0000000000BB', "
	                 "'SEP0000000000BB', 'nonsecure', 0, 0); "
	                 "UPDATE meta SET generation = generation + 1; "
	                 "COMMIT;");
	assert_string_equal(changes(f->st, &since, &full), "D0000000000BB ");
	assert_int_equal(stamp(f->st, "0000000000BB"), gen(f->st));

	/* many deletions: the oldest are forgotten, and a reader from
	 * before them reloads everything; one after them does not */
	uint64_t old = since;

	char mac[13];

	assert_int_equal(store_tx_begin(f->st), 0);
	for (int i = 0; i < 9000; i++) {
		snprintf(mac, sizeof(mac), "00000A00%04X",
		         (unsigned)i & 0xffffu);
		add_device(f->st, mac, "nonsecure");
	}
	assert_int_equal(store_tx_commit(f->st), 0);
	for (int i = 0; i < 9000; i += 100) {
		assert_int_equal(store_tx_begin(f->st), 0);
		for (int k = i; k < i + 100; k++) {
			snprintf(mac, sizeof(mac), "00000A00%04X",
			         (unsigned)k & 0xffffu);
			assert_int_equal(store_device_del(f->st, mac), 0);
		}
		assert_int_equal(store_tx_commit(f->st), 0);
		if (i == 8800) {
			since = gen(f->st);
		}
	}
	assert_true(raw_int(f->path, "SELECT count(*) FROM deleted") <
	            8192 + 256);
	uint64_t reader = old;

	changes(f->st, &reader, &full);
	assert_true(full);
	all = changes(f->st, &since, &full);
	assert_false(full);
	assert_non_null(strstr(all, "-D00000A002327 "));
	assert_null(strstr(all, "-D00000A0022C3 "));
	/* the stamp of a device with forgotten deletions moves past them */
	assert_true(stamp(f->st, "AABBCCDDEEFF") > old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_migrate_from_empty, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_open_rejects, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
	        cmocka_unit_test(test_mac_parse),
	        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_device_cert_and_capf,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ha1, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_migrate_v1_to_v2, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_open_newer_schema, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_find_user, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_certs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_cdr, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_transactions, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_migrate_v2_to_v3, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
