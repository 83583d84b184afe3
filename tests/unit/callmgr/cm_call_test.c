/* Call manager policy: call security status, SDP per leg (SDES only
 * between encrypted devices on TLS), the MWI body, and what the registrar
 * tells call control about lines (forwards from the settings, caller
 * identification refusals), against a real store. */
#include "base/buf.h"
#include "callmgr/cm_call.h"
#include "callmgr/cm_mwi.h"
#include "callmgr/cm_reg.h"
#include "codec/sdp/sdp.h"
#include "sip/sip_auth.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define NS  STORE_SEC_NONSECURE
#define AU  STORE_SEC_AUTHENTICATED
#define EN  STORE_SEC_ENCRYPTED
#define UDP NET_UDP
#define TCP NET_TCP
#define TLS NET_TLS

static void test_sec_party(void **state)
{
	static const struct {
		enum store_sec_mode mode;
		enum net_transport tp;
		enum cm_sec want;
	} t[] = {
	        {NS, UDP, CM_SEC_NOT_AUTHENTICATED},
	        {NS, TLS, CM_SEC_NOT_AUTHENTICATED},
	        {AU, TLS, CM_SEC_AUTHENTICATED},
	        {AU, TCP, CM_SEC_NOT_AUTHENTICATED},
	        {EN, TLS, CM_SEC_ENCRYPTED},
	        {EN, UDP, CM_SEC_NOT_AUTHENTICATED},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		assert_int_equal(cm_sec_party(t[i].mode, t[i].tp), t[i].want);
	}
}

static void test_sec_call(void **state)
{
	static const struct {
		enum cm_sec a, b;
		bool srtp;
		enum cm_sec want;
		const char *name, *cdr;
	} t[] = {
	        {CM_SEC_ENCRYPTED, CM_SEC_ENCRYPTED, true, CM_SEC_ENCRYPTED,
	         "Encrypted", "encrypted"},
	        /* seed 002: encrypted parties but RTP media: Authenticated. */
	        {CM_SEC_ENCRYPTED, CM_SEC_ENCRYPTED, false,
	         CM_SEC_AUTHENTICATED, "Authenticated", "authenticated"},
	        {CM_SEC_ENCRYPTED, CM_SEC_AUTHENTICATED, true,
	         CM_SEC_AUTHENTICATED, "Authenticated", "authenticated"},
	        {CM_SEC_AUTHENTICATED, CM_SEC_NOT_AUTHENTICATED, false,
	         CM_SEC_NOT_AUTHENTICATED, "NotAuthenticated", "nonsecure"},
	        {CM_SEC_NOT_AUTHENTICATED, CM_SEC_ENCRYPTED, true,
	         CM_SEC_NOT_AUTHENTICATED, "NotAuthenticated", "nonsecure"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		enum cm_sec s = cm_sec_call(t[i].a, t[i].b, t[i].srtp);
		assert_int_equal(s, t[i].want);
		assert_string_equal(cm_sec_name(s), t[i].name);
		assert_string_equal(cm_sec_cdr_name(s), t[i].cdr);
	}
	assert_string_equal(cm_sec_name(CM_SEC_UNKNOWN), "Unknown");
}

#define OFFER                                                                  \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"     \
	"t=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"                                 \
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "                                  \
	"inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ\r\n"                  \
	"a=crypto:2 AEAD_AES_128_GCM "                                         \
	"inline:0123456789abcdef0123456789abcdefghijkl\r\n"                    \
	"a=crypto:3 AES_CM_128_HMAC_SHA1_32 "                                  \
	"inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ\r\n"

static void test_sdp_policy(void **state)
{
	static const struct {
		enum store_sec_mode a;
		enum net_transport atp;
		enum store_sec_mode b;
		enum net_transport btp, to;
		size_t crypto; /* a=crypto lines printed for the leg */
	} t[] = {
	        {EN, TLS, EN, TLS, TLS, 2}, /* the two suites, not _32 */
	        {EN, TLS, EN, TLS, UDP, 0}, /* never on a non-TLS leg */
	        {EN, TLS, NS, UDP, UDP, 0},
	        {EN, TLS, NS, UDP, TLS, 0}, /* the other party is not */
	        {EN, TLS, AU, TLS, TLS, 0},
	        {NS, UDP, NS, UDP, UDP, 0},
	        {EN, TCP, EN, TLS, TLS, 0},
	};
	struct sdp *s, *back;

	(void)state;
	assert_int_equal(sdp_new(&s), 0);
	assert_int_equal(sdp_new(&back), 0);
	assert_int_equal(sdp_parse(s, (const uint8_t *)OFFER, strlen(OFFER)),
	                 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		struct sdp_out o = cm_sdp_policy(t[i].a, t[i].atp, t[i].b,
		                                 t[i].btp, t[i].to);
		struct sdp_media m;
		struct buf b;

		buf_init(&b, 0);
		assert_int_equal(sdp_print(&b, s, &o), 0);
		assert_int_equal(sdp_parse(back, b.p, b.len), 0);
		assert_int_equal(sdp_media_get(back, 0, &m), 0);
		if (m.n_crypto != t[i].crypto) {
			fail_msg("case %zu: %zu crypto lines", i, m.n_crypto);
		}
		assert_int_equal(m.savp, t[i].crypto > 0);
		assert_int_equal(sdp_is_srtp(back), t[i].crypto > 0);
		if (t[i].to != TLS) {
			assert_null(memmem(b.p, b.len, "inline:", 7));
		}
		buf_free(&b);
	}
	sdp_free(back);
	sdp_free(s);
}

static void test_mwi_body(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(cm_mwi_body(&b, "sip:1001@10.0.0.1", 3, 1), 0);
	static const char want[] = "Messages-Waiting: yes\r\n"
	                           "Message-Account: sip:1001@10.0.0.1\r\n"
	                           "Voice-Message: 3/1 (0/0)\r\n";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	buf_reset(&b);
	assert_int_equal(cm_mwi_body(&b, "sip:1@h", 0, 7), 0);
	assert_non_null(memmem(b.p, b.len, "Messages-Waiting: no\r\n", 22));
	assert_int_equal(cm_mwi_body(&b, "sip:1@h", -1, 0), -TL_EPARSE);
	assert_int_equal(cm_mwi_body(&b, "sip:1@h", 0, -5), -TL_EPARSE);
	buf_free(&b);
}

/* A store with a nonsecure line 1001 and an encrypted 1002. */
static struct store *make_store(char *path, size_t n)
{
	struct store *st;
	struct store_device d = {0};
	struct store_line l = {0};

	snprintf(path, n, "%s/cm_call_test.%d.db",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	unlink(path);
	assert_int_equal(store_open(&st, path), 0);
	snprintf(d.mac, sizeof(d.mac), "001122334401");
	snprintf(d.profile, sizeof(d.profile), "nonsecure");
	assert_int_equal(store_device_add(st, &d), 0);
	snprintf(d.mac, sizeof(d.mac), "001122334402");
	snprintf(d.profile, sizeof(d.profile), "encrypted");
	assert_int_equal(store_device_add(st, &d), 0);
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.device, sizeof(l.device), "001122334401");
	assert_int_equal(store_line_add(st, &l), 0);
	snprintf(l.dn, sizeof(l.dn), "1002");
	snprintf(l.device, sizeof(l.device), "001122334402");
	assert_int_equal(store_line_add(st, &l), 0);
	assert_int_equal(store_line_password_set(st, "1001", "1001", "r", "pw"),
	                 0);
	return st;
}

static void test_reg_lines(void **state)
{
	char path[256], key[STORE_KEY_MAX];
	struct store *st = make_store(path, sizeof(path));
	struct sip_auth_srv *auth;
	struct sip_auth_cfg acfg = {.nc_slots = 64};
	struct cm_reg_conf rc = {.realm = "r"};
	struct cm_reg *r;
	struct cm_line_info li;
	struct cm_req_info info = {.tp = NET_UDP, .now_ms = 1000};

	(void)state;
	assert_int_equal(sip_auth_new(&auth, &acfg), 0);
	assert_int_equal(cm_fwd_key(key, sizeof(key), "busy", "1001"), 0);
	assert_string_equal(key, "cm.fwd.busy.1001");
	assert_int_equal(store_setting_set(st, key, "1002"), 0);
	assert_int_equal(cm_reg_new(&r, st, auth, &rc), 0);

	assert_int_equal(cm_reg_line(r, slice_from_str("1001"), &li), 0);
	assert_string_equal(li.dn, "1001");
	assert_string_equal(li.cn, "SEP001122334401");
	assert_int_equal(li.mode, STORE_SEC_NONSECURE);
	assert_string_equal(li.fwd_busy, "1002");
	assert_string_equal(li.fwd_all, "");
	assert_true(li.has_md5);
	assert_int_equal(cm_reg_line(r, slice_from_str("1002"), &li), 0);
	assert_int_equal(li.mode, STORE_SEC_ENCRYPTED);
	assert_false(li.has_md5);
	assert_int_equal(cm_reg_line(r, slice_from_str("1999"), &li),
	                 -TL_ENOTFOUND);

	/* Caller identification: unknown line, wrong transport for the
	 * profile, not registered. */
	assert_int_equal(net_addr_set(&info.src, "127.0.0.1", 5060), 0);
	assert_int_equal(cm_reg_identify(r, slice_from_str("1999"), &info, &li),
	                 -TL_ENOTFOUND);
	assert_int_equal(cm_reg_identify(r, slice_from_str("1002"), &info, &li),
	                 -TL_EPOLICY);
	info.tp = NET_TLS;
	info.peer_cn = "SEP001122334401"; /* someone else's certificate */
	assert_int_equal(cm_reg_identify(r, slice_from_str("1002"), &info, &li),
	                 -TL_EPOLICY);
	info.tp = NET_UDP;
	info.peer_cn = NULL;
	assert_int_equal(cm_reg_identify(r, slice_from_str("1001"), &info, &li),
	                 -TL_EAUTH);
	/* the device name stands for its line (auto-registered phones may
	 * call themselves SEP<MAC>), in any case; other names are unknown */
	assert_int_equal(cm_reg_identify(r, slice_from_str("SEP001122334401"),
	                                 &info, &li),
	                 -TL_EAUTH);
	assert_int_equal(cm_reg_identify(r, slice_from_str("sep001122334401"),
	                                 &info, &li),
	                 -TL_EAUTH);
	assert_int_equal(cm_reg_identify(r, slice_from_str("SEP0011223344FF"),
	                                 &info, &li),
	                 -TL_ENOTFOUND);
	assert_int_equal(cm_reg_identify(r, slice_from_str("SEP00112233440"),
	                                 &info, &li),
	                 -TL_ENOTFOUND);
	assert_int_equal(cm_reg_identify(r, slice_from_str("SEP00112233440G"),
	                                 &info, &li),
	                 -TL_ENOTFOUND);

	/* A forward cleared in the store is gone after a reload. */
	assert_int_equal(store_setting_del(st, key), 0);
	assert_int_equal(cm_reg_reload(r), 0);
	assert_int_equal(cm_reg_line(r, slice_from_str("1001"), &li), 0);
	assert_string_equal(li.fwd_busy, "");

	cm_reg_free(r);
	cm_reg_free(NULL);
	sip_auth_free(auth);
	store_close(st);
	unlink(path);
}

/* The auto-registration pool "FIRST-LAST": accepted forms and the
 * must-reject table. */
static void test_autoreg_pool(void **state)
{
	static const struct {
		const char *in;
		unsigned long first, last;
	} good[] = {
	        {"3000-3099", 3000, 3099},
	        {"1-1", 1, 1},
	        {"1-100000", 1, 100000},
	        {"999999999000-999999999999", 999999999000ul, 999999999999ul},
	};
	static const char *const bad[] = {
	        "",            /* empty */
	        "3000",        /* truncated: no LAST */
	        "3000-",       /* truncated */
	        "-3000",       /* no FIRST */
	        "3001-3000",   /* reversed */
	        "03000-3001",  /* leading zero */
	        "3000-03001",  /* leading zero */
	        "+3000-3001",  /* sign */
	        "3000--3001",  /* sign */
	        "3000-3001 ",  /* trailing bytes */
	        "3000-3001-1", /* trailing bytes */
	        " 3000-3001",  /* leading space */
	        "0-10",        /* zero */
	        "1-100001",    /* over CM_AUTOREG_POOL_MAX numbers */
	        "1-99999999999999999999999",   /* integer overflow */
	        "1000000000000-1000000000001", /* more than 12 digits */
	        "30x0-3099",                   /* not a number */
	};
	unsigned long a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(cm_autoreg_pool_parse(good[i].in, &a, &b), 0);
		assert_int_equal(a, good[i].first);
		assert_int_equal(b, good[i].last);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = b = 7;
		assert_int_equal(cm_autoreg_pool_parse(bad[i], &a, &b),
		                 -TL_EPARSE);
		assert_int_equal(a, 7);
		assert_int_equal(b, 7);
	}
	{
		/* NUL inside: a C string ends there; what follows is
		 * never read (a NUL before LAST is truncation, above) */
		const char nul[] = "3000-3099\0"
		                   "9";
		assert_int_equal(cm_autoreg_pool_parse(nul, &a, &b), 0);
		assert_int_equal(b, 3099);
		assert_int_equal(cm_autoreg_pool_parse("3000-\0"
		                                       "3099",
		                                       &a, &b),
		                 -TL_EPARSE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sec_party),
	        cmocka_unit_test(test_sec_call),
	        cmocka_unit_test(test_sdp_policy),
	        cmocka_unit_test(test_mwi_body),
	        cmocka_unit_test(test_reg_lines),
	        cmocka_unit_test(test_autoreg_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
