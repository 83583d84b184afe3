/* Config generation: every file is parsed back with libxml2 and checked
 * element by element (XPath) for each security mode; passwords appear
 * only in the encrypted config's body; the cache is invalidated by a
 * change; requested file names are parsed strictly. */
#include "prov/cnf_xml.h"
#include "store/store.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define PW_PREFIX "Pw-secret-"

struct fx {
	char dir[256];
	char path[300];
	struct store *st;
	struct cnf_site site;
};

static int secret_cb(const char *dn, char *out, size_t outlen, void *arg)
{
	int n = snprintf(out, outlen, PW_PREFIX "%s", dn);

	return (n < 0 || (size_t)n >= outlen) ? -TL_ETOOBIG : 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct store_device d = {0};
	struct store_line l = {0};

	if (!f) {
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/cnf_test.XXXXXX",
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
	f->site = (struct cnf_site){.host = "pbx.example.test",
	                            .sip_port = 15060,
	                            .sip_tls_port = 15061,
	                            .capf_port = 15064,
	                            .voicemail = "8000"};
	snprintf(d.mac, sizeof(d.mac), "AABBCCDDEEFF");
	snprintf(d.model, sizeof(d.model), "8841");
	snprintf(d.load, sizeof(d.load), "sip88xx.14-1-1");
	d.capf_auth_mode = 1;
	if (store_device_add(f->st, &d)) {
		return -1;
	}
	snprintf(l.device, sizeof(l.device), "AABBCCDDEEFF");
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.display, sizeof(l.display), "Alice <&> \"A\"");
	if (store_line_add(f->st, &l) ||
	    store_line_password_set(f->st, "1001", "alice", "trustline",
	                            PW_PREFIX "1001")) {
		return -1;
	}
	snprintf(l.dn, sizeof(l.dn), "1002");
	l.display[0] = '\0';
	if (store_line_add(f->st, &l)) {
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

/* ---- XPath helpers ---- */

struct xdoc {
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
};

static void xopen(struct xdoc *x, const struct buf *b)
{
	x->doc = xmlReadMemory((const char *)b->p, (int)b->len, "cnf.xml", NULL,
	                       XML_PARSE_NONET | XML_PARSE_NOERROR);
	assert_non_null(x->doc);
	x->ctx = xmlXPathNewContext(x->doc);
	assert_non_null(x->ctx);
}

static void xclose(struct xdoc *x)
{
	xmlXPathFreeContext(x->ctx);
	xmlFreeDoc(x->doc);
}

static int xcount(struct xdoc *x, const char *expr)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, x->ctx);
	int n;

	assert_non_null(o);
	n = o->nodesetval ? o->nodesetval->nodeNr : 0;
	xmlXPathFreeObject(o);
	return n;
}

/* The text of the single node expr selects. */
static void xeq(struct xdoc *x, const char *expr, const char *want)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, x->ctx);
	xmlChar *s;

	assert_non_null(o);
	if (!o->nodesetval || o->nodesetval->nodeNr != 1) {
		print_error("%s: %d nodes\n", expr,
		            o->nodesetval ? o->nodesetval->nodeNr : 0);
		fail();
	}
	s = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
	if (strcmp((const char *)s, want)) {
		print_error("%s: '%s' != '%s'\n", expr, s, want);
		xmlFree(s);
		xmlXPathFreeObject(o);
		fail();
	}
	xmlFree(s);
	xmlXPathFreeObject(o);
}

static void no_password(const struct buf *b)
{
	assert_null(memmem(b->p, b->len, PW_PREFIX, strlen(PW_PREFIX)));
	assert_null(memmem(b->p, b->len, "authPassword", 12));
}

static void set_profile(struct fx *f, const char *profile)
{
	struct store_device d;

	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &d), 0);
	snprintf(d.profile, sizeof(d.profile), "%s", profile);
	assert_int_equal(store_device_update(f->st, &d), 0);
}

/* ---- full config, per security mode ---- */

static void test_full_per_mode(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *profile, *mode, *transport, *line_port;
	} cases[] = {
	        {"nonsecure", "1", "2", "15060"},
	        {"authenticated", "2", "3", "15061"},
	        {"encrypted", "3", "3", "15061"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cnf_files files;
		struct xdoc x;

		set_profile(f, cases[i].profile);
		assert_int_equal(cnf_build(&files, f->st, &f->site,
		                           "aa:bb:cc:dd:ee:ff", secret_cb,
		                           NULL),
		                 0);
		/* nonsecure cluster: the plain file only */
		assert_int_equal(files.serve, 1u << CNF_FILE_XML);
		assert_int_equal(files.body[CNF_FILE_SGN].len, 0);
		no_password(&files.body[CNF_FILE_XML]);
		xopen(&x, &files.body[CNF_FILE_XML]);
		xeq(&x, "/device/fullConfig", "true");
		xeq(&x, "/device/deviceProtocol", "SIP");
		xeq(&x, "/device/devicePool/name", "Default");
		xeq(&x,
		    "/device/devicePool/callManagerGroup/members/"
		    "member[@priority='0']/callManager/ports/sipPort",
		    "15060");
		xeq(&x,
		    "/device/devicePool/callManagerGroup/members/"
		    "member[@priority='0']/callManager/ports/securedSipPort",
		    "15061");
		xeq(&x,
		    "/device/devicePool/callManagerGroup/members/"
		    "member[@priority='0']/callManager/processNodeName",
		    "pbx.example.test");
		assert_int_equal(xcount(&x, "/device/devicePool/srstInfo"), 1);
		xeq(&x, "/device/devicePool/srstInfo/srstOption", "Disable");
		xeq(&x, "/device/devicePool/connectionMonitorDuration", "120");
		xeq(&x, "/device/deviceSecurityMode", cases[i].mode);
		xeq(&x, "/device/transportLayerProtocol", cases[i].transport);
		xeq(&x, "/device/capfAuthMode", "1");
		xeq(&x, "/device/capfList/capf/phonePort", "15064");
		xeq(&x, "/device/capfList/capf/processNodeName",
		    "pbx.example.test");
		xeq(&x, "/device/certHash", "");
		xeq(&x, "/device/encrConfig", "false");
		xeq(&x, "/device/loadInformation", "sip88xx.14-1-1");
		xeq(&x, "/device/sipProfile/sipStack/timerT1", "500");
		xeq(&x, "/device/sipProfile/sipStack/timerKeepAliveExpires",
		    "120");
		xeq(&x, "/device/sipProfile/sipStack/timerRegisterExpires",
		    "3600");
		assert_int_equal(xcount(&x, "/device/sipProfile/sipLines/line"),
		                 2);
		xeq(&x, "/device/sipProfile/sipLines/line[@button='1']/name",
		    "1001");
		xeq(&x,
		    "/device/sipProfile/sipLines/line[@button='1']/"
		    "featureLabel",
		    "Alice <&> \"A\"");
		xeq(&x,
		    "/device/sipProfile/sipLines/line[@button='1']/"
		    "displayName",
		    "Alice <&> \"A\"");
		xeq(&x,
		    "/device/sipProfile/sipLines/line[@button='1']/authName",
		    "alice");
		xeq(&x, "/device/sipProfile/sipLines/line[@button='1']/contact",
		    "1001");
		xeq(&x, "/device/sipProfile/sipLines/line[@button='1']/port",
		    cases[i].line_port);
		xeq(&x,
		    "/device/sipProfile/sipLines/line[@button='1']/"
		    "messagesNumber",
		    "8000");
		/* no display name: the DN; no user: the DN */
		xeq(&x,
		    "/device/sipProfile/sipLines/line[@button='2']/"
		    "featureLabel",
		    "1002");
		xeq(&x,
		    "/device/sipProfile/sipLines/line[@button='2']/authName",
		    "1002");
		assert_int_equal(xcount(&x, "//authPassword"), 0);
		xeq(&x, "/device/trustlineSecurity/srtpRequired",
		    i == 2 ? "true" : "false");
		xeq(&x, "/device/trustlineSecurity/profile", cases[i].profile);
		xclose(&x);
		cnf_files_free(&files);
	}
}

/* ---- mixed cluster ---- */

static uint8_t *make_cert(int *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	uint8_t *der = NULL;

	assert_non_null(k);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
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

static void test_mixed_without_cert(void **state)
{
	struct fx *f = *state;
	struct cnf_files files;
	struct xdoc x;

	set_profile(f, "encrypted");
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(cnf_build(&files, f->st, &f->site, "AABBCCDDEEFF",
	                           secret_cb, NULL),
	                 0);
	assert_int_equal(files.serve, 1u << CNF_FILE_SGN);
	assert_int_equal(files.body[CNF_FILE_XML].len, 0);
	assert_int_equal(files.body[CNF_FILE_ENC].len, 0);
	/* no certificate: the full config, and no password anywhere */
	no_password(&files.body[CNF_FILE_SGN]);
	xopen(&x, &files.body[CNF_FILE_SGN]);
	xeq(&x, "/device/fullConfig", "true");
	xeq(&x, "/device/deviceSecurityMode", "3");
	xeq(&x, "/device/encrConfig", "false");
	assert_int_equal(xcount(&x, "/device/sipProfile/sipLines/line"), 2);
	xclose(&x);
	cnf_files_free(&files);
}

static void test_mixed_with_cert(void **state)
{
	struct fx *f = *state;
	struct cnf_files files;
	struct store_device d;
	struct xdoc x;
	int len;
	uint8_t *der = make_cert(&len);

	set_profile(f, "encrypted");
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(
	        store_device_cert_set(f->st, "AABBCCDDEEFF", der, (size_t)len),
	        0);
	OPENSSL_free(der);
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &d), 0);
	assert_int_equal(cnf_build(&files, f->st, &f->site, "AABBCCDDEEFF",
	                           secret_cb, NULL),
	                 0);
	assert_int_equal(files.serve,
	                 (1u << CNF_FILE_SGN) | (1u << CNF_FILE_ENC));

	/* the stub: cisco-formats.md §2.3 */
	no_password(&files.body[CNF_FILE_SGN]);
	xopen(&x, &files.body[CNF_FILE_SGN]);
	xeq(&x, "/device/fullConfig", "false");
	xeq(&x, "/device/loadInformation", "sip88xx.14-1-1");
	xeq(&x, "/device/capfAuthMode", "1");
	xeq(&x, "/device/capfList/capf/phonePort", "15064");
	xeq(&x, "/device/certHash", d.cert_md5);
	xeq(&x, "/device/encrConfig", "true");
	assert_int_equal(xcount(&x, "//sipLines"), 0);
	assert_int_equal(xcount(&x, "//devicePool"), 0);
	assert_int_equal(xcount(&x, "//authName"), 0);
	xclose(&x);

	/* the body to encrypt: full, with the passwords */
	xopen(&x, &files.body[CNF_FILE_ENC]);
	xeq(&x, "/device/fullConfig", "true");
	xeq(&x, "/device/deviceSecurityMode", "3");
	xeq(&x, "/device/transportLayerProtocol", "3");
	xeq(&x, "/device/sipProfile/sipLines/line[@button='1']/authPassword",
	    PW_PREFIX "1001");
	xeq(&x, "/device/sipProfile/sipLines/line[@button='2']/authPassword",
	    PW_PREFIX "1002");
	xclose(&x);
	cnf_files_free(&files);

	/* without a secret source the encrypted body has no password */
	assert_int_equal(
	        cnf_build(&files, f->st, &f->site, "AABBCCDDEEFF", NULL, NULL),
	        0);
	no_password(&files.body[CNF_FILE_ENC]);
	cnf_files_free(&files);

	/* a nonsecure cluster never sends passwords, certificate or not */
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_NONSECURE),
	                 0);
	assert_int_equal(cnf_build(&files, f->st, &f->site, "AABBCCDDEEFF",
	                           secret_cb, NULL),
	                 0);
	assert_int_equal(files.serve, 1u << CNF_FILE_XML);
	no_password(&files.body[CNF_FILE_XML]);
	cnf_files_free(&files);
}

static void test_build_rejects(void **state)
{
	struct fx *f = *state;
	struct cnf_files files;
	struct cnf_site bad = f->site;
	struct store_device d;
	struct store_profile p;
	struct buf b;
	struct cnf_input in = {&f->site, &d, &p, NULL, 0, NULL};

	assert_int_equal(
	        cnf_build(&files, f->st, &f->site, "0000000000AA", NULL, NULL),
	        -TL_ENOTFOUND);
	assert_int_equal(
	        cnf_build(&files, f->st, &f->site, "nonsense", NULL, NULL),
	        -TL_ENOTFOUND);
	bad.host = "";
	assert_int_equal(
	        cnf_build(&files, f->st, &bad, "AABBCCDDEEFF", NULL, NULL),
	        -TL_ECONFIG);
	bad.host = "\xff\xfe";
	assert_int_equal(
	        cnf_build(&files, f->st, &bad, "AABBCCDDEEFF", NULL, NULL),
	        -TL_ECONFIG);
	/* the stub needs a certificate */
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &d), 0);
	assert_int_equal(store_profile_get(f->st, d.profile, &p), 0);
	buf_init(&b, 0);
	assert_int_equal(cnf_xml_stub(&b, &in), -TL_ESTATE);
	/* invalid UTF-8 from the store falls back to the DN */
	struct store_line l = {0};

	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.display, sizeof(l.display), "bad \xc3\x28 utf8");
	in.lines = &l;
	in.n_lines = 1;
	assert_int_equal(cnf_xml_full(&b, &in, false), 0);
	assert_null(memmem(b.p, b.len, "bad", 3));
	buf_free(&b);
	/* passwords at hand, secrets false: the plain and signed files
	 * never carry them (cnf_xml.h); true: the body to encrypt does */
	const char *pws[1] = {PW_PREFIX "1001"};

	in.passwords = pws;
	assert_int_equal(cnf_xml_full(&b, &in, false), 0);
	no_password(&b);
	buf_free(&b);
	assert_int_equal(cnf_xml_full(&b, &in, true), 0);
	assert_non_null(memmem(b.p, b.len, pws[0], strlen(pws[0])));
	buf_free_secret(&b);
	in.passwords = NULL;
	in.n_lines = 65;
	assert_int_equal(cnf_xml_full(&b, &in, false), -EINVAL);
	buf_free(&b);
}

/* ---- cache ---- */

static int transform_cb(enum cnf_file f, const char *mac, struct slice body,
                        const uint8_t *der, size_t der_len, struct buf *out,
                        void *arg)
{
	(*(int *)arg)++;
	buf_printf(out, "T%d:%s:%zu:", (int)f, mac, der_len);
	buf_put_slice(out, body);
	return buf_err(out);
}

static void test_cache(void **state)
{
	struct fx *f = *state;
	struct cnf_cache *c = NULL;
	struct slice s, s2;
	struct store_device d;
	int calls = 0;

	set_profile(f, "nonsecure");
	assert_int_equal(cnf_cache_new(&c, f->st, &f->site, secret_cb,
	                               transform_cb, &calls),
	                 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 1);
	assert_true(s.len > 20 && !memcmp(s.p, "T0:AABBCCDDEEFF:0:", 18));
	assert_int_equal(calls, 1);
	/* a hit: same bytes, no rebuild */
	assert_int_equal(
	        cnf_cache_get(c, "aa-bb-cc-dd-ee-ff", CNF_FILE_XML, &s2), 0);
	assert_int_equal(cnf_cache_builds(c), 1);
	assert_true(s2.p == s.p && s2.len == s.len);
	/* not served in this mode */
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s2),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_builds(c), 1);

	/* a change: rebuilt, with the new load */
	assert_int_equal(store_device_get(f->st, "AABBCCDDEEFF", &d), 0);
	snprintf(d.load, sizeof(d.load), "sip88xx.15-0-1");
	assert_int_equal(store_device_update(f->st, &d), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 2);
	assert_non_null(memmem(s.p, s.len, "sip88xx.15-0-1", 14));

	/* a change elsewhere (a line) invalidates too */
	assert_int_equal(store_line_del(f->st, "1002"), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 3);
	assert_null(memmem(s.p, s.len, "1002", 4));

	/* mixed mode with a certificate: the transform sees the cert */
	int len;
	uint8_t *der = make_cert(&len);

	assert_int_equal(
	        store_device_cert_set(f->st, "AABBCCDDEEFF", der, (size_t)len),
	        0);
	OPENSSL_free(der);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	char head[64];

	snprintf(head, sizeof(head), "T2:AABBCCDDEEFF:%d:", len);
	assert_true(s.len > strlen(head) && !memcmp(s.p, head, strlen(head)));
	assert_non_null(memmem(s.p, s.len, PW_PREFIX "1001", 14));

	/* unknown devices are not cached, deleted ones are dropped */
	assert_int_equal(cnf_cache_get(c, "0000000000AA", CNF_FILE_XML, &s),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_get(c, "junk", CNF_FILE_XML, &s),
	                 -TL_ENOTFOUND);
	assert_int_equal(store_device_del(f->st, "AABBCCDDEEFF"), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s),
	                 -TL_ENOTFOUND);
	cnf_cache_free(c);
	cnf_cache_free(NULL);
}

/* Building all of a device's files ahead (the site's build at start):
 * exactly the files it is served, each once, then found by a request. */
static void test_cache_warm(void **state)
{
	struct fx *f = *state;
	struct cnf_cache *c = NULL;
	struct slice s;
	unsigned n = 99;
	int calls = 0, len;
	uint8_t *der;

	set_profile(f, "nonsecure");
	assert_int_equal(cnf_cache_new(&c, f->st, &f->site, secret_cb,
	                               transform_cb, &calls),
	                 0);
	assert_int_equal(cnf_cache_warm(c, "AABBCCDDEEFF", &n), 0);
	assert_int_equal(n, 1); /* nonsecure: the plain .cnf.xml */
	assert_int_equal(cnf_cache_builds(c), 1);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 1);

	/* mixed mode, a certificate: the stub and the encrypted config */
	der = make_cert(&len);
	assert_int_equal(
	        store_device_cert_set(f->st, "AABBCCDDEEFF", der, (size_t)len),
	        0);
	OPENSSL_free(der);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(cnf_cache_warm(c, "AABBCCDDEEFF", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cnf_cache_builds(c), 3);
	assert_int_equal(calls, 3);
	/* again: nothing to build */
	assert_int_equal(cnf_cache_warm(c, "AABBCCDDEEFF", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cnf_cache_builds(c), 3);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 3);
	/* an unknown device: nothing built, nothing cached */
	assert_int_equal(cnf_cache_warm(c, "0000000000AA", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cnf_cache_builds(c), 3);
	cnf_cache_free(c);
}

/* Many devices: every lookup finds its own device (the table grows and
 * is rebuilt when a device leaves). */
static void test_cache_many(void **state)
{
	struct fx *f = *state;
	struct cnf_cache *c = NULL;
	struct slice s;
	char mac[13], dn[16];
	const int n = 150;

	assert_int_equal(store_tx_begin(f->st), 0);
	for (int i = 0; i < n; i++) {
		struct store_device d = {0};
		struct store_line l = {0};

		snprintf(d.mac, sizeof(d.mac), "02000000%04X", i);
		assert_int_equal(store_device_add(f->st, &d), 0);
		snprintf(l.device, sizeof(l.device), "%s", d.mac);
		snprintf(l.dn, sizeof(l.dn), "7%04d", i);
		assert_int_equal(store_line_add(f->st, &l), 0);
	}
	assert_int_equal(store_tx_commit(f->st), 0);
	assert_int_equal(cnf_cache_new(&c, f->st, &f->site, NULL, NULL, NULL),
	                 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n; i++) {
			snprintf(mac, sizeof(mac), "02000000%04X", i);
			snprintf(dn, sizeof(dn), "<name>7%04d<", i);
			assert_int_equal(
			        cnf_cache_get(c, mac, CNF_FILE_XML, &s), 0);
			assert_non_null(memmem(s.p, s.len, dn, strlen(dn)));
		}
	}
	assert_int_equal(cnf_cache_builds(c), (uint64_t)n);
	/* one leaves: it is dropped, the others are still found */
	assert_int_equal(store_device_del(f->st, "020000000007"), 0);
	assert_int_equal(cnf_cache_get(c, "020000000007", CNF_FILE_XML, &s),
	                 -TL_ENOTFOUND);
	for (int i = 0; i < n; i++) {
		snprintf(mac, sizeof(mac), "02000000%04X", i);
		snprintf(dn, sizeof(dn), "<name>7%04d<", i);
		if (i == 7) {
			continue;
		}
		assert_int_equal(cnf_cache_get(c, mac, CNF_FILE_XML, &s), 0);
		assert_non_null(memmem(s.p, s.len, dn, strlen(dn)));
	}
	cnf_cache_free(c);
}

/* Each file is built (and signed) only when asked for, and stays while
 * nothing of its device changed; what does change it: its row, its
 * lines, a setting, a profile. */
static void test_cache_lazy(void **state)
{
	struct fx *f = *state;
	struct cnf_cache *c = NULL;
	struct store_device d = {0};
	struct store_line l = {0};
	struct store_profile p;
	struct slice s;
	int calls = 0, len;
	uint8_t *der = make_cert(&len);

	set_profile(f, "encrypted");
	assert_int_equal(
	        store_device_cert_set(f->st, "AABBCCDDEEFF", der, (size_t)len),
	        0);
	OPENSSL_free(der);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(cnf_cache_new(&c, f->st, &f->site, secret_cb,
	                               transform_cb, &calls),
	                 0);
	/* the stub alone: one file built, one transform */
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 1);
	assert_int_equal(calls, 1);
	assert_non_null(memmem(s.p, s.len, "<encrConfig>true<", 17));
	/* not served: nothing built */
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_builds(c), 1);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 2);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 2);
	assert_int_equal(calls, 2);

	/* other devices come, change, enrol, leave: still valid */
	snprintf(d.mac, sizeof(d.mac), "001122334455");
	assert_int_equal(store_device_add(f->st, &d), 0);
	snprintf(l.dn, sizeof(l.dn), "2001");
	snprintf(l.device, sizeof(l.device), "001122334455");
	assert_int_equal(store_line_add(f->st, &l), 0);
	snprintf(d.load, sizeof(d.load), "x");
	assert_int_equal(store_device_update(f->st, &d), 0);
	der = make_cert(&len);
	assert_int_equal(
	        store_device_cert_set(f->st, "001122334455", der, (size_t)len),
	        0);
	OPENSSL_free(der);
	assert_int_equal(store_mwi_set(f->st, "2001", 1, 0), 0);
	assert_int_equal(store_audit(f->st, "t", "x", "y"), 0);
	assert_int_equal(store_device_del(f->st, "001122334455"), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 2);

	/* its own line: a new password shows in the encrypted config */
	assert_int_equal(
	        store_line_password_set(f->st, "1002", "bob", "trustline", "x"),
	        0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 3);
	assert_non_null(memmem(s.p, s.len, "<authName>bob<", 14));
	/* the stub is rebuilt too, when asked for */
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 4);

	/* a line moved off it, then back */
	assert_int_equal(store_line_get(f->st, "1002", &l), 0);
	memset(&d, 0, sizeof(d));
	snprintf(d.mac, sizeof(d.mac), "001122334466");
	assert_int_equal(store_device_add(f->st, &d), 0);
	snprintf(l.device, sizeof(l.device), "001122334466");
	assert_int_equal(store_line_update(f->st, &l), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 5);
	assert_null(memmem(s.p, s.len, "<name>1002<", 11));

	/* a profile, any setting (a line's sealed password is one) */
	assert_int_equal(store_profile_get(f->st, "encrypted", &p), 0);
	p.auth_invite = !p.auth_invite;
	assert_int_equal(store_profile_update(f->st, &p), 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 6);
	assert_int_equal(store_setting_set(f->st, "line_secret.1001", "v1:x"),
	                 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s), 0);
	assert_int_equal(cnf_cache_builds(c), 7);

	/* its certificate goes: the stub becomes the full config */
	assert_int_equal(store_device_cert_set(f->st, "AABBCCDDEEFF", NULL, 0),
	                 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &s),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s), 0);
	assert_non_null(memmem(s.p, s.len, "<fullConfig>true<", 17));
	/* the cluster back to nonsecure */
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_NONSECURE),
	                 0);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &s),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_XML, &s), 0);
	cnf_cache_free(c);
}

/* A secure boot storm as the provisioning server sees it: N encrypted
 * devices in a mixed cluster, phones booting in a pipeline. Each phone
 * fetches its signed config (the full one: no certificate yet), enrols
 * (its certificate set and the CAPF operation cleared), then fetches the
 * stub and then the encrypted config, while the phones behind it enrol
 * in between. Prints the files built and signed per phone. */
static void storm_enrol(struct store *st, const char *mac, const uint8_t *der,
                        int len)
{
	struct store_device d;

	assert_int_equal(store_tx_begin(st), 0);
	assert_int_equal(store_device_cert_set(st, mac, der, (size_t)len), 0);
	assert_int_equal(store_device_get(st, mac, &d), 0);
	d.capf_op = STORE_CAPF_NONE;
	assert_int_equal(store_device_update(st, &d), 0);
	assert_int_equal(store_audit(st, "capf", "capf.install", mac), 0);
	assert_int_equal(store_tx_commit(st), 0);
}

static void test_cache_storm(void **state)
{
	struct fx *f = *state;
	struct cnf_cache *c = NULL;
	struct slice s;
	enum { N = 200, K = 8 };
	char mac[13];
	int calls = 0, len;
	uint8_t *der = make_cert(&len);

	assert_int_equal(store_tx_begin(f->st), 0);
	for (int i = 0; i < N; i++) {
		struct store_device d = {0};
		struct store_line l = {0};

		snprintf(d.mac, sizeof(d.mac), "0000B0%06X",
		         (unsigned)i & 0xffffffu);
		snprintf(d.profile, sizeof(d.profile), "encrypted");
		d.capf_auth_mode = 2;
		d.capf_op = STORE_CAPF_INSTALL;
		assert_int_equal(store_device_add(f->st, &d), 0);
		snprintf(l.device, sizeof(l.device), "%s", d.mac);
		snprintf(l.dn, sizeof(l.dn), "2%07d", i);
		assert_int_equal(store_line_add(f->st, &l), 0);
	}
	assert_int_equal(store_tx_commit(f->st), 0);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(cnf_cache_new(&c, f->st, &f->site, secret_cb,
	                               transform_cb, &calls),
	                 0);
	/* step t: phone t fetches its first config, phone t - K enrols,
	 * phone t - K - 1 fetches its stub, phone t - K - 2 its encrypted
	 * config */
	for (int t = 0; t < N + K + 2; t++) {
		if (t < N) {
			snprintf(mac, sizeof(mac), "0000B0%06X",
			         (unsigned)t & 0xffffffu);
			assert_int_equal(
			        cnf_cache_get(c, mac, CNF_FILE_SGN, &s), 0);
		}
		if (t >= K && t - K < N) {
			snprintf(mac, sizeof(mac), "0000B0%06X",
			         (unsigned)(t - K) & 0xffffffu);
			storm_enrol(f->st, mac, der, len);
		}
		if (t >= K + 1 && t - K - 1 < N) {
			snprintf(mac, sizeof(mac), "0000B0%06X",
			         (unsigned)(t - K - 1) & 0xffffffu);
			assert_int_equal(
			        cnf_cache_get(c, mac, CNF_FILE_SGN, &s), 0);
			assert_non_null(
			        memmem(s.p, s.len, "<encrConfig>true<", 17));
		}
		if (t >= K + 2) {
			snprintf(mac, sizeof(mac), "0000B0%06X",
			         (unsigned)(t - K - 2) & 0xffffffu);
			assert_int_equal(
			        cnf_cache_get(c, mac, CNF_FILE_ENC, &s), 0);
		}
	}
	OPENSSL_free(der);
	print_message("config cache, %d phones, %d booting at a time: "
	              "%.2f builds and %.2f signed files per phone\n",
	              N, K, (double)cnf_cache_builds(c) / N, (double)calls / N);
	/* the full config, the stub, the encrypted config: once each */
	assert_int_equal(calls, 3 * N);
	assert_int_equal(cnf_cache_builds(c), 3 * N);
	cnf_cache_free(c);
}

/* The provisioning namespace hook: names in, bytes out. */
static void test_cache_gen(void **state)
{
	struct fx *f = *state;
	struct cnf_cache *c = NULL;
	struct buf b;

	assert_int_equal(cnf_cache_new(&c, f->st, &f->site, NULL, NULL, NULL),
	                 0);
	buf_init(&b, 0);
	assert_int_equal(cnf_cache_gen("SEPAABBCCDDEEFF.cnf.xml", &b, c), 0);
	assert_true(b.len > 5 && !memcmp(b.p, "<?xml", 5));
	buf_reset(&b);
	/* other names fall through to the file system */
	assert_int_equal(cnf_cache_gen("CTLFile.tlv", &b, c), -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_gen("SEP0000000000AA.cnf.xml", &b, c),
	                 -TL_ENOTFOUND);
	assert_int_equal(cnf_cache_gen("SEPAABBCCDDEEFF.cnf.xml.bak", &b, c),
	                 -TL_ENOTFOUND);
	/* a known device's file not served in this mode: refused */
	assert_int_equal(cnf_cache_gen("SEPAABBCCDDEEFF.cnf.xml.sgn", &b, c),
	                 -TL_EPOLICY);
	assert_int_equal(store_cluster_mode_set(f->st, STORE_CLUSTER_MIXED), 0);
	assert_int_equal(cnf_cache_gen("SEPAABBCCDDEEFF.cnf.xml", &b, c),
	                 -TL_EPOLICY);
	assert_int_equal(cnf_cache_gen("sepaabbccddeeff.cnf.xml.sgn", &b, c),
	                 0);
	assert_non_null(memmem(b.p, b.len, "<fullConfig>true", 16));
	assert_int_equal(cnf_cache_gen("x", &b, NULL), -EINVAL);
	buf_free(&b);
	cnf_cache_free(c);
}

/* ---- file names ---- */

static void test_file_names(void **state)
{
	static const struct {
		const char *in;
		const char *mac;
		enum cnf_file f;
	} ok[] = {
	        {"SEPAABBCCDDEEFF.cnf.xml", "AABBCCDDEEFF", CNF_FILE_XML},
	        {"sepaabbccddeeff.cnf.xml.sgn", "AABBCCDDEEFF", CNF_FILE_SGN},
	        {"SEP001122334455.cnf.xml.enc.sgn", "001122334455",
	         CNF_FILE_ENC},
	};
	/* must reject */
	static const struct {
		const char *p;
		size_t len;
	} bad[] = {
	        {"", 0},
	        {"SEPAABBCCDDEEF", 14},                      /* truncated */
	        {"SEPAABBCCDDEEFF", 15},                     /* no suffix */
	        {"SEPAABBCCDDEEFF.cnf.xm", 22},              /* truncated */
	        {"SEPAABBCCDDEEFF.cnf.xml.sgn.x", 29},       /* trailing */
	        {"SEPAABBCCDDEEFF.cnf.xml\0", 24},           /* NUL inside */
	        {"SEPAABBCC\0DEEFF.cnf.xml", 23},            /* NUL inside */
	        {"SEPAABBCCDDEEFG.cnf.xml", 23},             /* non-hex */
	        {"SEPAABBCCDDEEFF.CNF.XML", 23},             /* suffix case */
	        {"SEPAABBCCDDEEFFF.cnf.xml", 24},            /* overlong MAC */
	        {"XEPAABBCCDDEEFF.cnf.xml", 23},             /* not SEP */
	        {"../SEPAABBCCDDEEFF.cnf.xml", 26},          /* path */
	        {"SEPAABBCCDDEEFF.cnf.xml.enc.sgn.sgn", 35}, /* doubled */
	};
	char mac[13];
	char name[64];
	enum cnf_file f;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(
		        cnf_file_parse(slice_from_str(ok[i].in), mac, &f), 0);
		assert_string_equal(mac, ok[i].mac);
		assert_int_equal(f, ok[i].f);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		        cnf_file_parse(slice_make(bad[i].p, bad[i].len), mac,
		                       &f),
		        -TL_EPARSE);
	}
	assert_int_equal(cnf_file_parse(SLICE_NULL, mac, &f), -TL_EPARSE);
	assert_int_equal(cnf_file_name(CNF_FILE_ENC, "aa:bb:cc:dd:ee:ff", name,
	                               sizeof(name)),
	                 0);
	assert_string_equal(name, "SEPAABBCCDDEEFF.cnf.xml.enc.sgn");
	assert_int_equal(cnf_file_name(CNF_FILE_XML, "AABBCCDDEEFF", name, 10),
	                 -TL_ETOOBIG);
	assert_int_equal(
	        cnf_file_name(CNF_FILE_XML, "AABB", name, sizeof(name)),
	        -TL_EPARSE);
	assert_int_equal(
	        cnf_file_name(CNF_FILE_MAX, "AABBCCDDEEFF", name, sizeof(name)),
	        -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_full_per_mode, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_mixed_without_cert, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_mixed_with_cert, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_build_rejects, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cache_warm, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cache_gen, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cache_many, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cache_lazy, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cache_storm, setup,
	                                        teardown),
	        cmocka_unit_test(test_file_names),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
