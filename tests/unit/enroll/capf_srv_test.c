/* The CAPF protocol end to end: our server and our client over real TLS
 * on loopback, each auth mode and each operation, and hostile peers. */
#include "enroll_testutil.h"

#include "codec/capf/capf_msg.h"
#include "enroll/capf_srv.h"
#include "enroll/enroll_cli.h"
#include "pki/pki_site.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <openssl/pem.h>
#include <sys/stat.h>

struct fx {
	struct etest t;
	struct capf_srv *srv;
	char lsc[300], key[300];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	if (!f || etest_setup(&f->t) != 0) {
		return -1;
	}
	struct capf_srv_conf c = {
	        .cert_file = f->t.srv_cert,
	        .key_file = f->t.srv_key,
	        .idle_timeout_ms = 400,
	        .session_timeout_ms = 3000,
	};
	snprintf(f->lsc, sizeof(f->lsc), "%s/lsc.crt", f->t.dir);
	snprintf(f->key, sizeof(f->key), "%s/lsc.key", f->t.dir);
	return capf_srv_new(&f->srv, f->t.base, f->t.e, &c);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	capf_srv_free(f->srv);
	etest_teardown(&f->t);
	free(f);
	return 0;
}

struct job {
	struct capf_cli_conf conf;
	struct capf_cli_result res;
	int err;
};

static void *run_cli(void *arg)
{
	struct job *j = arg;

	j->err = capf_cli_run(&j->conf, &j->res);
	return NULL;
}

static void job_init(struct fx *f, struct job *j, const char *dev)
{
	memset(j, 0, sizeof(*j));
	j->conf.host = "127.0.0.1";
	j->conf.port = capf_srv_port(f->srv);
	j->conf.ca_file = f->t.ca_file;
	j->conf.device = dev;
	j->conf.cert_out = f->lsc;
	j->conf.key_out = f->key;
	j->conf.timeout_ms = 5000;
}

static void run(struct fx *f, struct job *j)
{
	assert_int_equal(etest_run(&f->t, run_cli, j, 20), 0);
}

static void test_null_install_then_nothing(void **state)
{
	struct fx *f = *state;
	struct store_device d;
	struct stat sb;
	struct job j;
	int before = etest_count(&f->t, "lsc");

	assert_int_equal(etest_device(&f->t, "00000000A001", 2,
	                              STORE_CAPF_INSTALL, NULL, 0),
	                 0);
	job_init(f, &j, "SEP00000000A001");
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_INSTALLED);
	assert_int_equal(j.res.reason, CAPF_R_OK);
	assert_non_null(j.res.lsc);
	assert_int_equal(stat(f->key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(f->lsc, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* issued by the site CA, recorded, the device certificate, op
	 * cleared */
	struct pki_trust *tr = NULL;
	assert_int_equal(pki_trust_new(&tr), 0);
	assert_int_equal(pki_trust_add_cert(tr, f->t.ca_cert), 0);
	assert_int_equal(pki_cert_check(tr, j.res.lsc, NULL, 0, PKI_EKU_CLIENT),
	                 0);
	pki_trust_free(tr);
	assert_int_equal(etest_count(&f->t, "lsc"), before + 1);
	assert_int_equal(store_device_get(f->t.st, "00000000A001", &d), 0);
	assert_int_equal(d.capf_op, STORE_CAPF_NONE);
	assert_int_not_equal(d.cert_md5[0], '\0');
	char serial[80];
	assert_int_equal(pki_serial_hex(j.res.lsc, serial, sizeof(serial)), 0);
	assert_string_equal(d.cert_serial, serial);
	/* the record is what pki_site_record would write for it */
	struct store_cert rec;
	char subj[256], iss[256];
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_cert_get(f->t.st, serial, &rec), 0);
	assert_string_equal(rec.profile, "lsc");
	assert_int_equal(pki_name_str(X509_get_subject_name(j.res.lsc), subj,
	                              sizeof(subj)),
	                 0);
	assert_int_equal(
	        pki_name_str(X509_get_issuer_name(j.res.lsc), iss, sizeof(iss)),
	        0);
	assert_string_equal(rec.subject, subj);
	assert_string_equal(rec.issuer, iss);
	int64_t nb = 0, na = 0;
	struct tm tm;
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(j.res.lsc), &tm),
	                 1);
	nb = (int64_t)timegm(&tm);
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(j.res.lsc), &tm),
	                 1);
	na = (int64_t)timegm(&tm);
	assert_int_equal(rec.not_before, nb);
	assert_int_equal(rec.not_after, na);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	assert_int_equal(PEM_write_bio_X509(bio, j.res.lsc), 1);
	long plen = BIO_get_mem_data(bio, &pem);
	assert_int_equal(strlen(rec.pem), (size_t)plen);
	assert_memory_equal(rec.pem, pem, (size_t)plen);
	BIO_free(bio);
	store_cert_clear(&rec);
	capf_cli_result_clear(&j.res);

	/* nothing pending any more: reason 0, nothing issued */
	job_init(f, &j, "SEP00000000A001");
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_NONE);
	assert_int_equal(j.res.reason, CAPF_R_NONE);
	assert_int_equal(etest_count(&f->t, "lsc"), before + 1);
	capf_cli_result_clear(&j.res);
}

static void test_auth_string(void **state)
{
	struct fx *f = *state;
	struct store_device d;
	struct job j;
	int before = etest_count(&f->t, "lsc");

	assert_int_equal(etest_device(&f->t, "00000000A002", 1,
	                              STORE_CAPF_INSTALL, "314159", 0),
	                 0);
	static const char *const wrong[] = {NULL, "", "31415", "3141590",
	                                    "271828"};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		job_init(f, &j, "SEP00000000A002");
		j.conf.auth_string = wrong[i];
		run(f, &j);
		assert_int_equal(j.err, -TL_EAUTH);
		assert_int_equal(j.res.reason, CAPF_R_UNKNOWN_DEV);
		assert_null(j.res.lsc);
		capf_cli_result_clear(&j.res);
	}
	assert_int_equal(etest_count(&f->t, "lsc"), before);
	job_init(f, &j, "SEP00000000A002");
	j.conf.auth_string = "314159";
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_INSTALLED);
	capf_cli_result_clear(&j.res);
	/* one-time: cleared with the operation */
	assert_int_equal(store_device_get(f->t.st, "00000000A002", &d), 0);
	assert_false(d.capf_has_auth_string);
	assert_int_equal(etest_count(&f->t, "lsc"), before + 1);
}

/* Install with null auth, then return the LSC and its key. */
static void install(struct fx *f, const char *mac, X509 **x, EVP_PKEY **k)
{
	char name[16];
	struct job j;

	snprintf(name, sizeof(name), "SEP%s", mac);
	assert_int_equal(
	        etest_device(&f->t, mac, 2, STORE_CAPF_INSTALL, NULL, 0), 0);
	job_init(f, &j, name);
	run(f, &j);
	assert_int_equal(j.err, 0);
	*x = j.res.lsc;
	*k = j.res.key;
	j.res.lsc = NULL;
	j.res.key = NULL;
	capf_cli_result_clear(&j.res);
}

static void test_lsc_upgrade_and_revoked(void **state)
{
	struct fx *f = *state;
	X509 *lsc = NULL;
	EVP_PKEY *key = NULL;
	struct store_cert rec;
	char serial[80];
	struct job j;

	install(f, "00000000A003", &lsc, &key);
	assert_int_equal(pki_serial_hex(lsc, serial, sizeof(serial)), 0);
	/* mode 3 without a certificate: refused */
	assert_int_equal(etest_device(&f->t, "00000000A003", 3,
	                              STORE_CAPF_UPGRADE, NULL, 0),
	                 0);
	int before = etest_count(&f->t, "lsc");
	job_init(f, &j, "SEP00000000A003");
	run(f, &j);
	assert_int_equal(j.err, -TL_EAUTH);
	capf_cli_result_clear(&j.res);
	/* the LSC proves it: a new one, the old one superseded */
	job_init(f, &j, "SEP00000000A003");
	j.conf.cert = lsc;
	j.conf.cert_key = key;
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_INSTALLED);
	capf_cli_result_clear(&j.res);
	assert_int_equal(etest_count(&f->t, "lsc"), before + 1);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_cert_get(f->t.st, serial, &rec), 0);
	assert_int_not_equal(rec.revoked_at, 0);
	assert_int_equal(rec.revoke_reason, 4);
	store_cert_clear(&rec);
	/* the CRL was written */
	char crl[300];
	snprintf(crl, sizeof(crl), "%s/pki/crl.pem", f->t.dir);
	assert_int_equal(access(crl, R_OK), 0);
	/* the revoked LSC no longer authenticates */
	assert_int_equal(etest_device(&f->t, "00000000A003", 3,
	                              STORE_CAPF_UPGRADE, NULL, 0),
	                 0);
	job_init(f, &j, "SEP00000000A003");
	j.conf.cert = lsc;
	j.conf.cert_key = key;
	run(f, &j);
	assert_int_equal(j.err, -TL_EAUTH);
	capf_cli_result_clear(&j.res);
	assert_int_equal(etest_count(&f->t, "lsc"), before + 1);
	X509_free(lsc);
	EVP_PKEY_free(key);
}

static void test_mic_modes(void **state)
{
	struct fx *f = *state;
	X509 *mic = NULL, *bad = NULL, *other = NULL;
	EVP_PKEY *mk = NULL, *bk = NULL, *ok = NULL;
	struct job j;
	int before = etest_count(&f->t, "lsc");

	assert_int_equal(etest_issue(f->t.mfg, PKI_PROFILE_MIC,
	                             "SEP00000000A004", &mic, &mk),
	                 0);
	assert_int_equal(etest_issue(f->t.other, PKI_PROFILE_MIC,
	                             "SEP00000000A004", &bad, &bk),
	                 0);
	assert_int_equal(etest_issue(f->t.mfg, PKI_PROFILE_MIC,
	                             "SEP00000000A005", &other, &ok),
	                 0);
	/* unknown manufacturer CA, another device's MIC, a MIC without
	 * its key (signature by another key): refused */
	struct {
		X509 *x;
		EVP_PKEY *k;
	} refused[] = {{bad, bk}, {other, ok}, {mic, bk}};
	for (int mode = 3; mode <= 4; mode++) {
		assert_int_equal(etest_device(&f->t, "00000000A004", mode,
		                              STORE_CAPF_INSTALL, NULL, 0),
		                 0);
		for (size_t i = 0; i < 3; i++) {
			job_init(f, &j, "SEP00000000A004");
			j.conf.cert = refused[i].x;
			j.conf.cert_key = refused[i].k;
			run(f, &j);
			assert_int_equal(j.err, -TL_EAUTH);
			capf_cli_result_clear(&j.res);
		}
		assert_int_equal(etest_count(&f->t, "lsc"), before);
		/* mode 3 falls back to the MIC; mode 4 wants it */
		job_init(f, &j, "SEP00000000A004");
		j.conf.cert = mic;
		j.conf.cert_key = mk;
		run(f, &j);
		assert_int_equal(j.err, 0);
		assert_int_equal(j.res.done, CAPF_CLI_INSTALLED);
		capf_cli_result_clear(&j.res);
		before++;
		assert_int_equal(etest_count(&f->t, "lsc"), before);
	}
	X509_free(mic);
	X509_free(bad);
	X509_free(other);
	EVP_PKEY_free(mk);
	EVP_PKEY_free(bk);
	EVP_PKEY_free(ok);
}

static void test_expired_absent_unknown(void **state)
{
	struct fx *f = *state;
	struct job j;
	int before = etest_count(&f->t, "lsc");

	assert_int_equal(etest_device(&f->t, "00000000A006", 2,
	                              STORE_CAPF_INSTALL, NULL,
	                              (int64_t)time(NULL) - 10),
	                 0);
	job_init(f, &j, "SEP00000000A006");
	run(f, &j);
	assert_int_equal(j.err, -TL_EAUTH);
	capf_cli_result_clear(&j.res);
	/* no operation: reason 0 */
	assert_int_equal(etest_device(&f->t, "00000000A006", 2, STORE_CAPF_NONE,
	                              NULL, 0),
	                 0);
	job_init(f, &j, "SEP00000000A006");
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.reason, CAPF_R_NONE);
	capf_cli_result_clear(&j.res);
	/* unknown device, and a name that is no device name */
	static const char *const names[] = {"SEP0000000DEAD1", "SEP00",
	                                    "CP-7941-SEP00000000A006",
	                                    "sep00000000a00g"};
	for (size_t i = 0; i < 4; i++) {
		job_init(f, &j, names[i]);
		run(f, &j);
		assert_int_equal(j.err, -TL_EAUTH);
		capf_cli_result_clear(&j.res);
	}
	assert_int_equal(etest_count(&f->t, "lsc"), before);
}

static void test_fetch_and_delete(void **state)
{
	struct fx *f = *state;
	X509 *lsc = NULL;
	EVP_PKEY *key = NULL;
	struct store_device d;
	struct store_cert rec;
	char serial[80];
	struct job j;

	install(f, "00000000A007", &lsc, &key);
	assert_int_equal(pki_serial_hex(lsc, serial, sizeof(serial)), 0);
	assert_int_equal(etest_device(&f->t, "00000000A007", 2,
	                              STORE_CAPF_FETCH, NULL, 0),
	                 0);
	job_init(f, &j, "SEP00000000A007");
	j.conf.cert = lsc;
	j.conf.cert_key = key;
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_FETCHED);
	capf_cli_result_clear(&j.res);
	assert_int_equal(store_device_get(f->t.st, "00000000A007", &d), 0);
	assert_int_equal(d.capf_op, STORE_CAPF_NONE);

	assert_int_equal(etest_device(&f->t, "00000000A007", 2,
	                              STORE_CAPF_DELETE, NULL, 0),
	                 0);
	assert_int_equal(access(f->lsc, F_OK), 0);
	job_init(f, &j, "SEP00000000A007");
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_DELETED);
	assert_int_equal(j.res.reason, CAPF_R_OK);
	capf_cli_result_clear(&j.res);
	assert_int_not_equal(access(f->lsc, F_OK), 0);
	assert_int_not_equal(access(f->key, F_OK), 0);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_cert_get(f->t.st, serial, &rec), 0);
	assert_int_not_equal(rec.revoked_at, 0);
	assert_int_equal(rec.revoke_reason, 5);
	store_cert_clear(&rec);
	assert_int_equal(store_device_get(f->t.st, "00000000A007", &d), 0);
	assert_string_equal(d.cert_serial, "");
	/* the CRL lists it */
	X509_CRL *crl = NULL;
	char path[300];
	snprintf(path, sizeof(path), "%s/pki/crl.pem", f->t.dir);
	assert_int_equal(pki_crl_read(&crl, path), 0);
	X509_REVOKED *r = NULL;
	assert_int_equal(X509_CRL_get0_by_cert(crl, &r, lsc), 1);
	X509_CRL_free(crl);
	X509_free(lsc);
	EVP_PKEY_free(key);
}

static void test_delete_keeps_mic(void **state)
{
	struct fx *f = *state;
	X509 *mic = NULL;
	EVP_PKEY *mk = NULL;
	uint8_t *der = NULL;
	struct store_cert rec;
	struct store_device d;
	char serial[80];
	struct job j;

	assert_int_equal(etest_issue(f->t.mfg, PKI_PROFILE_MIC,
	                             "SEP00000000A00A", &mic, &mk),
	                 0);
	assert_int_equal(etest_device(&f->t, "00000000A00A", 2,
	                              STORE_CAPF_DELETE, NULL, 0),
	                 0);
	/* the device certificate is its MIC, which we know */
	assert_int_equal(pki_site_record(f->t.st, mic, PKI_PROFILE_MIC), 0);
	int len = i2d_X509(mic, &der);
	assert_true(len > 0);
	assert_int_equal(store_device_cert_set(f->t.st, "00000000A00A", der,
	                                       (size_t)len),
	                 0);
	job_init(f, &j, "SEP00000000A00A");
	run(f, &j);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.res.done, CAPF_CLI_DELETED);
	capf_cli_result_clear(&j.res);
	assert_int_equal(pki_serial_hex(mic, serial, sizeof(serial)), 0);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_cert_get(f->t.st, serial, &rec), 0);
	assert_int_equal(rec.revoked_at, 0); /* not ours to revoke */
	store_cert_clear(&rec);
	assert_int_equal(store_device_get(f->t.st, "00000000A00A", &d), 0);
	assert_string_equal(d.cert_serial, "");
	assert_int_equal(d.capf_op, STORE_CAPF_NONE);
	OPENSSL_free(der);
	X509_free(mic);
	EVP_PKEY_free(mk);
}

/* ---- hostile peers, with a raw connection ---- */

struct raw {
	struct capf_cli_conf conf;
	const uint8_t *send;
	size_t send_len;
	bool answer_auth; /* first send a valid AUTH_RESP (null mode) */
	const char *device;
	int send_err;
	int end_reason; /* END_SESSION reason, or -1 */
	int final;      /* the recv result after the exchange */
	uint32_t id;
};

static void *run_raw(void *arg)
{
	struct raw *r = arg;
	struct capf_cli_conn *k = NULL;
	struct capf_msg m;
	struct buf in;

	r->end_reason = -1;
	buf_init(&in, 0);
	r->final = capf_cli_connect(&k, &r->conf);
	if (r->final) {
		return NULL;
	}
	r->final = capf_cli_recv(k, &in);
	if (!r->final && capf_msg_parse(&m, in.p, in.len) == 0) {
		r->id = m.session;
	}
	if (r->answer_auth) {
		struct buf b;
		buf_init(&b, 0);
		size_t s = capf_msg_begin(&b, CAPF_AUTH_RESP, r->id);
		capf_put_u8(&b, CAPF_T_VERSION, 3);
		capf_put_str(&b, CAPF_T_DEVICE_NAME, r->device);
		if (capf_msg_end(&b, s) == 0) {
			r->send_err = capf_cli_send(k, b.p, b.len);
		}
		buf_free(&b);
		r->final = capf_cli_recv(k, &in); /* KEYGEN_REQ */
	}
	if (r->send != NULL) {
		/* patch in the session id when the template leaves room */
		uint8_t *p = malloc(r->send_len);
		memcpy(p, r->send, r->send_len);
		if (r->send_len >= 6 && p[2] == 0xee) {
			p[2] = (uint8_t)(r->id >> 24);
			p[3] = (uint8_t)(r->id >> 16);
			p[4] = (uint8_t)(r->id >> 8);
			p[5] = (uint8_t)r->id;
		}
		r->send_err = capf_cli_send(k, p, r->send_len);
		free(p);
	}
	for (int i = 0; i < 4; i++) {
		r->final = capf_cli_recv(k, &in);
		if (r->final) {
			break;
		}
		if (capf_msg_parse(&m, in.p, in.len) == 0 &&
		    m.cmd == CAPF_END_SESSION) {
			uint8_t v;
			if (capf_msg_u8(&m, CAPF_T_REASON, &v) == 0) {
				r->end_reason = v;
			}
		}
	}
	capf_cli_close(k);
	buf_free(&in);
	return NULL;
}

#define MSG(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_hostile(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *what;
		const uint8_t *p;
		size_t len;
		bool auth;
		int reason; /* -1: closed without END_SESSION */
	} cases[] = {
	        {"element longer than the body",
	         MSG("\x55\x02\xee\0\0\0\0\x05\x0d\x00\x10SEP"), false, 7},
	        {"body shorter than an element header",
	         MSG("\x55\x02\xee\0\0\0\0\x02\x0d\x00"), false, 7},
	        {"wrong order: KEYGEN_RESP first",
	         MSG("\x55\x04\xee\0\0\0\0\x00"), false, 7},
	        {"wrong order: STORE_CERT_RESP while keygen",
	         MSG("\x55\x0a\xee\0\0\0\0\x04\x01\x00\x01\x01"), true, 7},
	        {"unknown command", MSG("\x55\x63\xee\0\0\0\0\x00"), false, 7},
	        {"wrong session id", MSG("\x55\x02\x00\0\0\x01\0\x00"), false,
	         7},
	        {"duplicate DEVICE_NAME",
	         MSG("\x55\x02\xee\0\0\0\0\x0a\x0d\x00\x02"
	             "A\0\x0d\x00\x02"
	             "B\0"),
	         false, 7},
	        {"REASON of two bytes",
	         MSG("\x55\x02\xee\0\0\0\0\x05\x01\x00\x02\x01\x01"), false, 7},
	        {"DEVICE_NAME without its NUL",
	         MSG("\x55\x02\xee\0\0\0\0\x12\x0d\x00\x0fSEP00000000A008"),
	         false, 7},
	        {"PUBLIC_KEY that is no key",
	         MSG("\x55\x04\xee\0\0\0\0\x07\x09\x00\x04\x30\x02\x05\x00"),
	         true, 7},
	        {"not a CAPF message", MSG("GET / HTTP/1.0\r\n\r\n"), false,
	         -1},
	};

	assert_int_equal(etest_device(&f->t, "00000000A008", 2,
	                              STORE_CAPF_INSTALL, NULL, 0),
	                 0);
	int before = etest_count(&f->t, "lsc");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw r = {0};
		r.conf.host = "127.0.0.1";
		r.conf.port = capf_srv_port(f->srv);
		r.conf.ca_file = f->t.ca_file;
		r.conf.timeout_ms = 3000;
		r.send = cases[i].p;
		r.send_len = cases[i].len;
		r.answer_auth = cases[i].auth;
		r.device = "SEP00000000A008";
		assert_int_equal(etest_run(&f->t, run_raw, &r, 20), 0);
		if (r.end_reason != cases[i].reason) {
			fail_msg("%s: reason %d, wanted %d", cases[i].what,
			         r.end_reason, cases[i].reason);
		}
		/* and then the server closed */
		assert_int_equal(r.final, -ENOTCONN);
	}
	/* an oversize element: a DEVICE_NAME of 300 bytes */
	{
		uint8_t big[8 + 3 + 300];
		memcpy(big, "\x55\x02\xee\0\0\0\x01\x2f\x0d\x01\x2c", 11);
		memset(big + 11, 'A', 299);
		big[sizeof(big) - 1] = 0;
		struct raw r = {0};
		r.conf.host = "127.0.0.1";
		r.conf.port = capf_srv_port(f->srv);
		r.conf.ca_file = f->t.ca_file;
		r.conf.timeout_ms = 3000;
		r.send = big;
		r.send_len = sizeof(big);
		assert_int_equal(etest_run(&f->t, run_raw, &r, 20), 0);
		assert_int_equal(r.end_reason, 7);
	}
	assert_int_equal(etest_count(&f->t, "lsc"), before);
}

static void test_weak_key(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *k = EVP_RSA_gen(1024);
	uint8_t *spki = NULL;
	int n = i2d_PUBKEY(k, &spki);
	struct buf b;

	assert_true(n > 0);
	assert_int_equal(etest_device(&f->t, "00000000A009", 2,
	                              STORE_CAPF_INSTALL, NULL, 0),
	                 0);
	int before = etest_count(&f->t, "lsc");
	buf_init(&b, 0);
	size_t s = capf_msg_begin(&b, CAPF_KEYGEN_RESP, 0xeeeeeeee);
	capf_put_bytes(&b, CAPF_T_PUBLIC_KEY, spki, (size_t)n);
	assert_int_equal(capf_msg_end(&b, s), 0);
	struct raw r = {0};
	r.conf.host = "127.0.0.1";
	r.conf.port = capf_srv_port(f->srv);
	r.conf.ca_file = f->t.ca_file;
	r.conf.timeout_ms = 3000;
	r.send = b.p;
	r.send_len = b.len;
	r.answer_auth = true;
	r.device = "SEP00000000A009";
	assert_int_equal(etest_run(&f->t, run_raw, &r, 20), 0);
	assert_int_equal(r.end_reason, CAPF_R_UNKNOWN_DEV);
	assert_int_equal(etest_count(&f->t, "lsc"), before);
	buf_free(&b);
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
}

static void test_stalled(void **state)
{
	struct fx *f = *state;
	struct capf_srv_stats st0, st1;
	struct raw r = {0};
	time_t t0 = time(NULL);

	capf_srv_get_stats(f->srv, &st0);
	/* reads AUTH_REQ and says nothing: the idle timer (400 ms) ends
	 * the session long before the client's own 3 s */
	r.conf.host = "127.0.0.1";
	r.conf.port = capf_srv_port(f->srv);
	r.conf.ca_file = f->t.ca_file;
	r.conf.timeout_ms = 3000;
	assert_int_equal(etest_run(&f->t, run_raw, &r, 20), 0);
	assert_int_equal(r.final, -ENOTCONN);
	assert_true(time(NULL) - t0 < 3);
	capf_srv_get_stats(f->srv, &st1);
	assert_true(st1.timeouts > st0.timeouts);
	/* half a header, then silence */
	r = (struct raw){0};
	r.conf.host = "127.0.0.1";
	r.conf.port = capf_srv_port(f->srv);
	r.conf.ca_file = f->t.ca_file;
	r.conf.timeout_ms = 3000;
	r.send = (const uint8_t *)"\x55\x02\xee";
	r.send_len = 3;
	assert_int_equal(etest_run(&f->t, run_raw, &r, 20), 0);
	assert_int_equal(r.final, -ENOTCONN);
}

static void test_untrusted_server(void **state)
{
	struct fx *f = *state;
	char other[300];
	struct job j;

	/* a client that trusts another CA refuses the server */
	snprintf(other, sizeof(other), "%s/other.crt", f->t.dir);
	assert_int_equal(pki_cert_write(other, f->t.other_cert), 0);
	job_init(f, &j, "SEP00000000A001");
	j.conf.ca_file = other;
	run(f, &j);
	assert_int_equal(j.err, -TL_ETRUST);
	capf_cli_result_clear(&j.res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_null_install_then_nothing),
	        cmocka_unit_test(test_auth_string),
	        cmocka_unit_test(test_lsc_upgrade_and_revoked),
	        cmocka_unit_test(test_mic_modes),
	        cmocka_unit_test(test_expired_absent_unknown),
	        cmocka_unit_test(test_fetch_and_delete),
	        cmocka_unit_test(test_delete_keeps_mic),
	        cmocka_unit_test(test_hostile),
	        cmocka_unit_test(test_weak_key),
	        cmocka_unit_test(test_stalled),
	        cmocka_unit_test(test_untrusted_server),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
