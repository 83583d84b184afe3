/* EST: the request input path (must-reject tables) and the server end to
 * end with our EST client over real TLS on loopback. */
#include "enroll_testutil.h"

#include "enroll/enroll_cli.h"
#include "enroll/est_srv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <sys/stat.h>

/* ---- the pure request path ---- */

struct csr_spec {
	const char *cn, *cn2; /* cn2: a second CN */
	const char *pw, *pw2; /* challengePassword(s) */
	bool tamper;          /* flip a signature bit */
	bool trailing;        /* a byte after the DER */
	bool no_cn;
};

static void mk_csr(const struct csr_spec *s, EVP_PKEY *k, struct buf *b64)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	uint8_t *der = NULL;
	int len;

	if (!s->no_cn) {
		assert_true(X509_NAME_add_entry_by_NID(
		        n, NID_commonName, MBSTRING_UTF8,
		        (const unsigned char *)s->cn, -1, -1, 0));
	} else {
		assert_true(X509_NAME_add_entry_by_NID(
		        n, NID_organizationName, MBSTRING_UTF8,
		        (const unsigned char *)"x", -1, -1, 0));
	}
	if (s->cn2) {
		assert_true(X509_NAME_add_entry_by_NID(
		        n, NID_commonName, MBSTRING_UTF8,
		        (const unsigned char *)s->cn2, -1, -1, 0));
	}
	assert_true(X509_REQ_set_subject_name(req, n));
	assert_true(X509_REQ_set_pubkey(req, k));
	if (s->pw) {
		assert_true(X509_REQ_add1_attr_by_NID(
		        req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
		        (const unsigned char *)s->pw, -1));
	}
	if (s->pw2) {
		/* one challengePassword with two values */
		X509_ATTRIBUTE *a = X509_ATTRIBUTE_create_by_NID(
		        NULL, NID_pkcs9_challengePassword, MBSTRING_UTF8,
		        (const unsigned char *)s->pw2, -1);
		assert_non_null(a);
		assert_true(X509_ATTRIBUTE_set1_data(
		        a, MBSTRING_UTF8, (const unsigned char *)s->pw2, -1));
		assert_true(X509_REQ_add1_attr(req, a));
		X509_ATTRIBUTE_free(a);
	}
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	uint8_t *d = malloc((size_t)len + 1);
	memcpy(d, der, (size_t)len);
	if (s->tamper) {
		d[len - 2] ^= 1;
	}
	if (s->trailing) {
		d[len++] = 0;
	}
	assert_int_equal(buf_reserve(b64, (size_t)len / 3 * 4 + 8), 0);
	b64->len += (size_t)EVP_EncodeBlock(b64->p + b64->len, d, len);
	free(d);
	OPENSSL_free(der);
	X509_NAME_free(n);
	X509_REQ_free(req);
}

static void test_req_accept(void **state)
{
	EVP_PKEY *k = NULL;
	struct est_req r;
	struct buf b;

	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	buf_init(&b, 0);
	mk_csr(&(struct csr_spec){.cn = "SEP001122334455", .pw = "123456"}, k,
	       &b);
	/* with RFC 2045 line breaks in the middle */
	struct buf wrapped;
	buf_init(&wrapped, 0);
	for (size_t i = 0; i < b.len; i += 64) {
		buf_put(&wrapped, b.p + i, b.len - i < 64 ? b.len - i : 64);
		buf_put_str(&wrapped, "\r\n");
	}
	assert_int_equal(est_req_parse(&r, wrapped.p, wrapped.len), 0);
	assert_string_equal(r.cn, "SEP001122334455");
	assert_string_equal(r.challenge, "123456");
	assert_true(r.csr.spki.len > 60);
	assert_non_null(r.csr.pub);
	est_req_clear(&r);
	buf_free(&wrapped);
	buf_free(&b);
	EVP_PKEY_free(k);
}

static void test_req_reject(void **state)
{
	static const struct {
		const char *what;
		struct csr_spec s;
		int err;
	} cases[] = {
	        {"bad signature (proof of possession)",
	         {.cn = "SEP001122334455", .tamper = true},
	         -TL_ESIG},
	        {"trailing bytes after the DER",
	         {.cn = "SEP001122334455", .trailing = true},
	         -TL_ETRAIL},
	        {"duplicate CN",
	         {.cn = "SEP001122334455", .cn2 = "SEPAAAAAAAAAAAA"},
	         -TL_EPARSE},
	        {"no CN", {.no_cn = true}, -TL_EPARSE},
	        {"duplicate challengePassword",
	         {.cn = "SEP001122334455", .pw2 = "5678"},
	         -TL_EPARSE},
	        {"CN longer than a device name can be",
	         {.cn = "SEP001122334455SEP001122334455SEP001122334455SEP001122"
	                "33"
	                "4455SEPA"}, /* 64: the most X.520 allows */
	         -TL_ETOOBIG},
	};
	EVP_PKEY *k = NULL;

	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct est_req r;
		struct buf b;
		buf_init(&b, 0);
		mk_csr(&cases[i].s, k, &b);
		int err = est_req_parse(&r, b.p, b.len);
		if (err != cases[i].err) {
			fail_msg("%s: %d, wanted %d", cases[i].what, err,
			         cases[i].err);
		}
		buf_free(&b);
	}
	/* the bytes themselves */
	static const struct {
		const char *what;
		const char *body;
		size_t len;
		int err;
	} raw[] = {
	        {"empty", "", 0, -TL_EPARSE},
	        {"truncated base64", "MIIB", 3, -TL_EPARSE},
	        {"NUL inside", "MI\0B", 4, -TL_EPARSE},
	        {"padding inside", "MI==MIIB", 8, -TL_EPARSE},
	        {"not a SEQUENCE", "aGVsbG8=", 8, -TL_EPARSE},
	        {"truncated DER", "MIIBAA==", 8, -TL_EPARSE},
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		struct est_req r;
		int err = est_req_parse(&r, (const uint8_t *)raw[i].body,
		                        raw[i].len);
		if (err != raw[i].err) {
			fail_msg("%s: %d", raw[i].what, err);
		}
	}
	/* integer overflow of a size: a body over the limit */
	uint8_t *big = malloc(EST_BODY_MAX + 4);
	memset(big, 'A', EST_BODY_MAX + 4);
	struct est_req r;
	assert_int_equal(est_req_parse(&r, big, EST_BODY_MAX + 4), -TL_ETOOBIG);
	free(big);
	/* a weak key is refused by policy */
	EVP_PKEY *weak = EVP_RSA_gen(1024);
	struct buf b;
	buf_init(&b, 0);
	mk_csr(&(struct csr_spec){.cn = "SEP001122334455"}, weak, &b);
	assert_int_equal(est_req_parse(&r, b.p, b.len), -TL_EPOLICY);
	buf_free(&b);
	EVP_PKEY_free(weak);
	EVP_PKEY_free(k);
}

static void test_basic(void **state)
{
	static const struct {
		const char *hdr;
		int err;
		const char *user, *pass;
	} cases[] = {
	        {"Basic U0VQMDAxMTIyMzM0NDU1OjEyMzQ1Ng==", 0, "SEP001122334455",
	         "123456"},
	        {"basic  dTo=", 0, "u", ""},
	        {"Basic OnA=", 0, "", "p"},
	        {"Bearer abc", -TL_EPARSE, NULL, NULL},
	        {"Basic", -TL_EPARSE, NULL, NULL},
	        {"Basic dXNlcg==", -TL_EPARSE, NULL, NULL}, /* no colon */
	        {"Basic dQB1OnA=", -TL_EPARSE, NULL, NULL}, /* NUL inside */
	        {"Basic !!!!", -TL_EPARSE, NULL, NULL},
	        {"Basic "
	         "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	         "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQTpw",
	         -TL_ETOOBIG, NULL, NULL}, /* user of 70 bytes */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char u[64], p[64];
		int err = est_basic_parse(cases[i].hdr, u, sizeof(u), p,
		                          sizeof(p));
		if (err != cases[i].err) {
			fail_msg("%s: %d", cases[i].hdr, err);
		}
		if (!err) {
			assert_string_equal(u, cases[i].user);
			assert_string_equal(p, cases[i].pass);
		}
	}
	assert_int_equal(est_basic_parse(NULL, NULL, 0, NULL, 0), -TL_EPARSE);
}

static void test_p7_certs(void **state)
{
	struct etest t;
	uint8_t *der = NULL;
	struct buf b;

	assert_int_equal(etest_setup(&t), 0);
	int len = i2d_X509(t.ca_cert, &der);
	struct slice certs[2] = {slice_make(der, (size_t)len),
	                         slice_make(der, (size_t)len)};
	for (size_t n = 0; n <= 2; n++) {
		buf_init(&b, 0);
		assert_int_equal(enroll_p7_certs(&b, certs, n), 0);
		const uint8_t *p = b.p;
		PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)b.len);
		assert_non_null(p7);
		assert_ptr_equal(p, b.p + b.len);
		assert_true(PKCS7_type_is_signed(p7));
		assert_int_equal(
		        p7->d.sign->cert ? sk_X509_num(p7->d.sign->cert) : 0,
		        (int)n);
		/* our DER is the DER OpenSSL writes */
		uint8_t *again = NULL;
		int alen = i2d_PKCS7(p7, &again);
		assert_int_equal(alen, (int)b.len);
		assert_memory_equal(again, b.p, b.len);
		OPENSSL_free(again);
		PKCS7_free(p7);
		buf_free(&b);
	}
	OPENSSL_free(der);
	etest_teardown(&t);
}

/* ---- the client's request and the answer it takes ---- */

/* est_csr_make writes the DER OpenSSL writes for the same request, and
 * both request parsers take it */
static void test_csr_make(void **state)
{
	static const enum pki_alg algs[] = {PKI_ALG_P256, PKI_ALG_P384,
	                                    PKI_ALG_RSA2048};
	static const char *const pws[] = {NULL, "123456"};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *k = NULL;
		assert_int_equal(pki_keygen(&k, algs[i]), 0);
		for (size_t j = 0; j < 2; j++) {
			struct buf der, b64, ref;
			X509_REQ *got = NULL, *want = NULL;
			unsigned char *a = NULL, *b = NULL, *again = NULL;

			buf_init(&der, 0);
			assert_int_equal(est_csr_make(&der, "SEP001122334455",
			                              pws[j], k),
			                 0);
			assert_int_equal(pki_csr_parse(&got, der.p, der.len),
			                 0);
			/* strict DER: OpenSSL encodes it back the same */
			int n = i2d_X509_REQ(got, &again);
			assert_int_equal(n, (int)der.len);
			assert_memory_equal(again, der.p, der.len);
			/* the signed part is OpenSSL's own for this request */
			buf_init(&ref, 0);
			mk_csr(&(struct csr_spec){.cn = "SEP001122334455",
			                          .pw = pws[j]},
			       k, &ref);
			buf_init(&b64, 0);
			assert_int_equal(est_b64_decode(ref.p, ref.len, &b64),
			                 0);
			const uint8_t *q = b64.p;
			want = d2i_X509_REQ(NULL, &q, (long)b64.len);
			assert_non_null(want);
			int la = i2d_re_X509_REQ_tbs(got, &a);
			int lb = i2d_re_X509_REQ_tbs(want, &b);
			assert_int_equal(la, lb);
			assert_memory_equal(a, b, (size_t)la);
			/* and the server takes it */
			struct est_req r;
			buf_reset(&b64);
			assert_int_equal(buf_reserve(&b64, der.len / 3 * 4 + 8),
			                 0);
			b64.len = (size_t)EVP_EncodeBlock(b64.p, der.p,
			                                  (int)der.len);
			assert_int_equal(est_req_parse(&r, b64.p, b64.len), 0);
			assert_string_equal(r.cn, "SEP001122334455");
			assert_string_equal(r.challenge, pws[j] ? pws[j] : "");
			assert_int_equal(EVP_PKEY_eq(r.csr.pub, k), 1);
			est_req_clear(&r);
			OPENSSL_free(a);
			OPENSSL_free(b);
			OPENSSL_free(again);
			X509_REQ_free(got);
			X509_REQ_free(want);
			buf_free(&der);
			buf_free(&b64);
			buf_free(&ref);
		}
		EVP_PKEY_free(k);
	}
	/* what it refuses to make */
	EVP_PKEY *k = NULL, *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct buf der;
	buf_init(&der, 0);
	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	assert_int_equal(
	        est_csr_make(&der,
	                     "SEP001122334455SEP001122334455SEP00112233"
	                     "4455SEP001122334455SEPAB",
	                     NULL, k),
	        -TL_ETOOBIG);
	assert_int_equal(est_csr_make(&der, "SEP001122334455", NULL, ed),
	                 -TL_EPOLICY);
	assert_int_equal(der.len, 0);
	buf_free(&der);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(k);
}

static void test_resp_cert(void **state)
{
	struct etest t;
	X509 *mine = NULL, *other = NULL;
	EVP_PKEY *mk = NULL, *ok = NULL;
	uint8_t *md = NULL, *od = NULL;
	struct slice cert;
	struct buf b;

	assert_int_equal(etest_setup(&t), 0);
	assert_int_equal(etest_issue(t.ca, PKI_PROFILE_LSC, "SEP001122334455",
	                             &mine, &mk),
	                 0);
	assert_int_equal(etest_issue(t.ca, PKI_PROFILE_LSC, "SEP00112233445A",
	                             &other, &ok),
	                 0);
	int ml = i2d_X509(mine, &md), ol = i2d_X509(other, &od);
	struct slice sm = slice_make(md, (size_t)ml);
	struct slice so = slice_make(od, (size_t)ol);
	struct slice two[2] = {sm, so};

	/* ours, alone or first */
	for (size_t n = 1; n <= 2; n++) {
		buf_init(&b, 0);
		assert_int_equal(enroll_p7_certs(&b, two, n), 0);
		assert_int_equal(est_resp_cert(buf_slice(&b), "SEP001122334455",
		                               mk, &cert),
		                 0);
		assert_true(slice_eq(cert, sm));
		/* another device's name, another key */
		assert_int_equal(est_resp_cert(buf_slice(&b), "SEP00112233445A",
		                               mk, &cert),
		                 -TL_EPOLICY);
		assert_int_equal(est_resp_cert(buf_slice(&b), "SEP001122334455",
		                               ok, &cert),
		                 -TL_EPOLICY);
		assert_null(cert.p);
		buf_free(&b);
	}
	/* a certs-only message as OpenSSL writes it (crl2pkcs7 does this) */
	PKCS7 *p7 = PKCS7_new();
	uint8_t *pd = NULL;
	assert_non_null(p7);
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
	assert_int_equal(PKCS7_add_certificate(p7, mine), 1);
	int pl = i2d_PKCS7(p7, &pd);
	assert_true(pl > 0);
	assert_int_equal(est_resp_cert(slice_make(pd, (size_t)pl),
	                               "SEP001122334455", mk, &cert),
	                 0);
	assert_true(slice_eq(cert, sm));
	OPENSSL_free(pd);
	PKCS7_free(p7);
	/* someone else's first */
	struct slice swapped[2] = {so, sm};
	buf_init(&b, 0);
	assert_int_equal(enroll_p7_certs(&b, swapped, 2), 0);
	assert_int_equal(
	        est_resp_cert(buf_slice(&b), "SEP001122334455", mk, &cert),
	        -TL_EPOLICY);
	buf_free(&b);
	/* none */
	buf_init(&b, 0);
	assert_int_equal(enroll_p7_certs(&b, two, 0), 0);
	assert_int_equal(
	        est_resp_cert(buf_slice(&b), "SEP001122334455", mk, &cert),
	        -TL_EPARSE);
	buf_free(&b);

	/* hostile bytes: cut anywhere, a byte more, every bit changed */
	buf_init(&b, 0);
	assert_int_equal(enroll_p7_certs(&b, two, 1), 0);
	buf_put_u8(&b, 0);
	assert_int_equal(est_resp_cert(slice_make(b.p, b.len),
	                               "SEP001122334455", mk, &cert),
	                 -TL_EPARSE);
	b.len--;
	for (size_t n = 0; n < b.len; n++) {
		assert_int_not_equal(est_resp_cert(slice_make(b.p, n),
		                                   "SEP001122334455", mk,
		                                   &cert),
		                     0);
	}
	uint8_t *x = malloc(b.len);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(x, b.p, b.len);
			x[i] ^= (uint8_t)(1u << bit);
			int err = est_resp_cert(slice_make(x, b.len),
			                        "SEP001122334455", mk, &cert);
			/* outside the name and key (serial, validity, the
			 * signature...) a change goes unseen here: the
			 * certificate is checked when decoded */
			if (err == 0) {
				assert_true(cert.p >= x &&
				            cert.p + cert.len <= x + b.len);
			}
		}
	}
	free(x);
	static const struct {
		const char *what;
		const char *der;
		size_t len;
	} raw[] = {
	        {"empty", "", 0},
	        {"not a SEQUENCE", "\x31\x00", 2},
	        {"indefinite length", "\x30\x80\x00\x00", 4},
	        {"non-minimal length",
	         "\x30\x81\x0b\x06\x09\x2a\x86\x48"
	         "\x86\xf7\x0d\x01\x07\x02",
	         14},
	        {"id-data instead of id-signedData",
	         "\x30\x0f\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01\xa0\x02"
	         "\x30\x00",
	         17},
	        {"length past the end", "\x30\x82\xff\xff\x06\x00", 6},
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		if (est_resp_cert(slice_make(raw[i].der, raw[i].len),
		                  "SEP001122334455", mk, &cert) != -TL_EPARSE) {
			fail_msg("%s", raw[i].what);
		}
	}
	buf_free(&b);
	OPENSSL_free(md);
	OPENSSL_free(od);
	X509_free(mine);
	X509_free(other);
	EVP_PKEY_free(mk);
	EVP_PKEY_free(ok);
	etest_teardown(&t);
}

/* ---- the server with our client ---- */

struct fx {
	struct etest t;
	struct est_srv *srv;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	if (!f || etest_setup(&f->t) != 0) {
		return -1;
	}
	struct est_srv_conf c = {
	        .cert_file = f->t.srv_cert,
	        .key_file = f->t.srv_key,
	        .client_ca_file = f->t.ca_file,
	        .timeout_s = 5,
	};
	return est_srv_new(&f->srv, f->t.base, f->t.e, &c);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	est_srv_free(f->srv);
	etest_teardown(&f->t);
	free(f);
	return 0;
}

struct job {
	struct est_cli_conf conf;
	struct est_cli_result res;
	int err;
};

static void *run_cli(void *arg)
{
	struct job *j = arg;

	j->err = est_cli_enroll(&j->conf, &j->res);
	return NULL;
}

static void job(struct fx *f, struct job *j, const char *dev)
{
	memset(j, 0, sizeof(*j));
	j->conf.host = "127.0.0.1";
	j->conf.port = est_srv_port(f->srv);
	j->conf.ca_file = f->t.ca_file;
	j->conf.device = dev;
	j->conf.timeout_ms = 5000;
}

static void run(struct fx *f, struct job *j)
{
	assert_int_equal(etest_run(&f->t, run_cli, j, 20), 0);
}

static void test_enroll_modes(void **state)
{
	struct fx *f = *state;
	struct job j;
	int n0 = etest_count(&f->t, "lsc");

	/* null */
	assert_int_equal(etest_device(&f->t, "0000000B0001", 2,
	                              STORE_CAPF_INSTALL, NULL, 0),
	                 0);
	job(f, &j, "SEP0000000B0001");
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.status, 200);
	assert_non_null(j.res.lsc);
	X509 *lsc = j.res.lsc;
	EVP_PKEY *lkey = j.res.key;
	j.res.lsc = NULL;
	j.res.key = NULL;
	est_cli_result_clear(&j.res);
	/* again: nothing pending, 403 */
	job(f, &j, "SEP0000000B0001");
	run(f, &j);
	assert_int_equal(j.err, -TL_EPOLICY);
	assert_int_equal(j.res.status, 403);
	est_cli_result_clear(&j.res);

	/* the LSC kept as DER only, and stored as PEM with its key */
	char crt[320], key[320];
	snprintf(crt, sizeof(crt), "%s/est-lsc.crt", f->t.dir);
	snprintf(key, sizeof(key), "%s/est-lsc.key", f->t.dir);
	assert_int_equal(etest_device(&f->t, "0000000B0004", 2,
	                              STORE_CAPF_INSTALL, NULL, 0),
	                 0);
	job(f, &j, "SEP0000000B0004");
	j.conf.lsc_der_only = true;
	j.conf.cert_out = crt;
	j.conf.key_out = key;
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_null(j.res.lsc);
	X509 *x = NULL, *fx = NULL;
	assert_int_equal(pki_cert_parse(&x, j.res.lsc_der.p, j.res.lsc_der.len),
	                 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), j.res.key), 1);
	FILE *fp = fopen(crt, "r");
	assert_non_null(fp);
	fx = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(fx);
	assert_int_equal(X509_cmp(x, fx), 0);
	struct stat sb;
	assert_int_equal(stat(crt, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(key, &sb), 0);
	X509_free(x);
	X509_free(fx);
	est_cli_result_clear(&j.res);

	/* auth string: none 401, wrong 401, right 200 */
	assert_int_equal(etest_device(&f->t, "0000000B0002", 1,
	                              STORE_CAPF_INSTALL, "9876", 0),
	                 0);
	static const char *const strs[] = {NULL, "6789"};
	for (size_t i = 0; i < 2; i++) {
		job(f, &j, "SEP0000000B0002");
		j.conf.auth_string = strs[i];
		run(f, &j);
		assert_int_equal(j.res.status, 401);
		assert_int_equal(j.err, -TL_EAUTH);
		est_cli_result_clear(&j.res);
	}
	job(f, &j, "SEP0000000B0002");
	j.conf.auth_string = "9876";
	run(f, &j);
	assert_int_equal(j.res.status, 200);
	est_cli_result_clear(&j.res);

	/* reenroll with the LSC; without it 403 */
	assert_int_equal(etest_device(&f->t, "0000000B0001", 2,
	                              STORE_CAPF_UPGRADE, NULL, 0),
	                 0);
	job(f, &j, "SEP0000000B0001");
	j.conf.reenroll = true;
	run(f, &j);
	assert_int_equal(j.res.status, 403);
	est_cli_result_clear(&j.res);
	job(f, &j, "SEP0000000B0001");
	j.conf.reenroll = true;
	j.conf.cert = lsc;
	j.conf.cert_key = lkey;
	run(f, &j);
	assert_int_equal(j.res.status, 200);
	est_cli_result_clear(&j.res);

	/* MIC mode: the MIC over TLS; another manufacturer's: 403 */
	X509 *mic = NULL, *bad = NULL;
	EVP_PKEY *mk = NULL, *bk = NULL;
	assert_int_equal(etest_issue(f->t.mfg, PKI_PROFILE_MIC,
	                             "SEP0000000B0003", &mic, &mk),
	                 0);
	assert_int_equal(etest_issue(f->t.other, PKI_PROFILE_MIC,
	                             "SEP0000000B0003", &bad, &bk),
	                 0);
	assert_int_equal(etest_device(&f->t, "0000000B0003", 4,
	                              STORE_CAPF_INSTALL, NULL, 0),
	                 0);
	job(f, &j, "SEP0000000B0003");
	j.conf.cert = bad;
	j.conf.cert_key = bk;
	run(f, &j);
	assert_int_equal(j.res.status, 403);
	est_cli_result_clear(&j.res);
	/* the right MIC, but a CSR for another device: 403 */
	job(f, &j, "SEP0000000B0002");
	j.conf.cert = mic;
	j.conf.cert_key = mk;
	run(f, &j);
	assert_int_equal(j.res.status, 403);
	est_cli_result_clear(&j.res);
	assert_int_equal(etest_count(&f->t, "lsc"), n0 + 4);
	job(f, &j, "SEP0000000B0003");
	j.conf.cert = mic;
	j.conf.cert_key = mk;
	run(f, &j);
	assert_int_equal(j.res.status, 200);
	est_cli_result_clear(&j.res);
	assert_int_equal(etest_count(&f->t, "lsc"), n0 + 5);
	X509_free(mic);
	X509_free(bad);
	EVP_PKEY_free(mk);
	EVP_PKEY_free(bk);
	X509_free(lsc);
	EVP_PKEY_free(lkey);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	        cmocka_unit_test(test_req_accept),
	        cmocka_unit_test(test_req_reject),
	        cmocka_unit_test(test_basic),
	        cmocka_unit_test(test_p7_certs),
	        cmocka_unit_test(test_csr_make),
	        cmocka_unit_test(test_resp_cert),
	};
	const struct CMUnitTest srv[] = {
	        cmocka_unit_test(test_enroll_modes),
	};
	int n = cmocka_run_group_tests(pure, NULL, NULL);
	return n + cmocka_run_group_tests(srv, setup, teardown);
}
