/* The phone agent's own parts: the config reader (accept and must-reject
 * tables), the control-socket line protocol over a real Unix socket on a
 * real event loop, the command dispatcher of a phone that has not booted,
 * and a boot against nothing (no TFTP answer: refused, no state). */
#include "base/buf.h"
#include "phone/phone.h"
#include "prov/prov_secret.h"
#include "store/store.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static const char full[] = HEAD
        "<device><fullConfig>true</fullConfig>"
        "<devicePool><callManagerGroup><members><member priority=\"0\">"
        "<callManager><ports><sipPort>5070</sipPort>"
        "<securedSipPort>5071</securedSipPort></ports>"
        "<processNodeName>127.0.0.1</processNodeName></callManager>"
        "</member></members></callManagerGroup></devicePool>"
        "<sipProfile><sipLines><line button=\"1\"><name>1001</name>"
        "<authName>u1001</authName><authPassword>s3cret</authPassword>"
        "<displayName>Alice</displayName><autoAnswer><autoAnswerEnabled>1"
        "</autoAnswerEnabled></autoAnswer></line>"
        "<line button=\"2\"><name>1002</name></line></sipLines></sipProfile>"
        "<loadInformation>SIP70.9-4</loadInformation>"
        "<deviceSecurityMode>3</deviceSecurityMode>"
        "<transportLayerProtocol>2</transportLayerProtocol>"
        "<capfAuthMode>1</capfAuthMode><capfList><capf><phonePort>3805"
        "</phonePort><processNodeName>127.0.0.2</processNodeName></capf>"
        "</capfList><certHash></certHash><encrConfig>false</encrConfig>"
        "<trustlineSecurity><authInvite>true</authInvite><srtpRequired>true"
        "</srtpRequired></trustlineSecurity></device>";

static void test_full(void **state)
{
	struct phone_cnf c;

	(void)state;
	assert_int_equal(
	        phone_cnf_parse(&c, (const uint8_t *)full, strlen(full)), 0);
	assert_true(c.full_config);
	assert_false(c.encr_config);
	assert_int_equal(c.security_mode, 3);
	/* seed 002: an encrypted device uses TLS whatever the file says */
	assert_int_equal(c.transport, 3);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.sip_port, 5070);
	assert_int_equal(c.sip_tls_port, 5071);
	assert_string_equal(c.load, "SIP70.9-4");
	assert_int_equal(c.capf_auth_mode, 1);
	assert_int_equal(c.capf_port, 3805);
	assert_string_equal(c.capf_host, "127.0.0.2");
	assert_true(c.auth_invite);
	assert_true(c.srtp_required);
	assert_int_equal(c.n_lines, 2);
	assert_string_equal(c.lines[0].dn, "1001");
	assert_string_equal(c.lines[0].auth_name, "u1001");
	assert_true(c.lines[0].has_password);
	assert_string_equal(c.lines[0].password, "s3cret");
	assert_true(c.lines[0].auto_answer);
	assert_string_equal(c.lines[1].auth_name, "1002"); /* the DN */
	assert_false(c.lines[1].has_password);
	phone_cnf_wipe(&c);
	assert_int_equal(c.lines[0].password[0], 0);
}

static void test_accept_table(void **state)
{
	static const struct {
		const char *xml;
		int mode, transport;
		bool full, encr;
		const char *hash;
	} t[] = {
	        /* the stub of an encrypted config */
	        {HEAD "<device><fullConfig>false</fullConfig><certHash>"
	              "00112233445566778899aabbccddeeff</certHash><encrConfig>"
	              "true</encrConfig></device>",
	         1, 2, false, true, "00112233445566778899aabbccddeeff"},
	        /* nonsecure over TCP, defaults for the ports */
	        {HEAD "<device><deviceSecurityMode>1</deviceSecurityMode>"
	              "<transportLayerProtocol>1</transportLayerProtocol>"
	              "</device>",
	         1, 1, true, false, ""},
	        /* unknown elements are ignored, as phones do */
	        {HEAD "<device><vendorConfig><x>1</x></vendorConfig>"
	              "<deviceSecurityMode>2</deviceSecurityMode></device>",
	         2, 3, true, false, ""},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct phone_cnf c;
		assert_int_equal(phone_cnf_parse(&c, (const uint8_t *)t[i].xml,
		                                 strlen(t[i].xml)),
		                 0);
		assert_int_equal(c.security_mode, t[i].mode);
		assert_int_equal(c.transport, t[i].transport);
		assert_int_equal(c.full_config, t[i].full);
		assert_int_equal(c.encr_config, t[i].encr);
		assert_string_equal(c.cert_hash, t[i].hash);
		phone_cnf_wipe(&c);
	}
}

static void test_must_reject(void **state)
{
	static const struct {
		const char *name;
		const char *xml;
		size_t len; /* 0: strlen */
	} t[] = {
	        {"empty", "", 0},
	        {"truncated", HEAD "<device><deviceSecurityMode>3</device", 0},
	        {"not xml", "SEP000000000001", 0},
	        {"wrong root", HEAD "<phone></phone>", 0},
	        {"trailing element", HEAD "<device></device><device/>", 0},
	        {"trailing bytes", HEAD "<device></device>garbage", 0},
	        {"DTD",
	         HEAD "<!DOCTYPE device [<!ENTITY x \"y\">]><device>"
	              "<loadInformation>&x;</loadInformation></device>",
	         0},
	        {"external entity",
	         HEAD "<!DOCTYPE device SYSTEM "
	              "\"file:///etc/passwd\"><device/>",
	         0},
	        {"NUL inside", HEAD "<device>\0</device>", sizeof(HEAD) + 17},
	        {"duplicate mode",
	         HEAD "<device><deviceSecurityMode>1"
	              "</deviceSecurityMode><deviceSecurity"
	              "Mode>3</deviceSecurityMode></device>",
	         0},
	        {"duplicate encrConfig",
	         HEAD "<device><encrConfig>false</encrConfig><encrConfig>"
	              "true</encrConfig></device>",
	         0},
	        {"duplicate call manager",
	         HEAD "<device><devicePool><callManagerGroup><members><member>"
	              "<callManager/></member></members></callManagerGroup>"
	              "</devicePool><devicePool><callManagerGroup><members>"
	              "<member><callManager/></member></members>"
	              "</callManagerGroup></devicePool></device>",
	         0},
	        {"mode out of range",
	         HEAD "<device><deviceSecurityMode>4</deviceSecurityMode>"
	              "</device>",
	         0},
	        {"mode zero",
	         HEAD "<device><deviceSecurityMode>0</deviceSecurityMode>"
	              "</device>",
	         0},
	        {"integer overflow",
	         HEAD "<device><devicePool><callManagerGroup><members><member>"
	              "<callManager><ports><sipPort>4294967366</sipPort>"
	              "</ports></callManager></member></members>"
	              "</callManagerGroup></devicePool></device>",
	         0},
	        {"port over 65535",
	         HEAD "<device><capfList><capf><phonePort>65536</phonePort>"
	              "</capf></capfList></device>",
	         0},
	        {"negative",
	         HEAD "<device><capfAuthMode>-1</capfAuthMode>"
	              "</device>",
	         0},
	        {"bad boolean",
	         HEAD "<device><encrConfig>yes</encrConfig>"
	              "</device>",
	         0},
	        {"encrConfig without certHash",
	         HEAD "<device><encrConfig>true</encrConfig></device>", 0},
	        {"element inside a value",
	         HEAD "<device><loadInformation><b>x</b></loadInformation>"
	              "</device>",
	         0},
	        {"overlong value",
	         HEAD "<device><certHash>00112233445566778899aabbccddeeff00"
	              "</certHash></device>",
	         0},
	        {"line without name",
	         HEAD "<device><sipProfile><sipLines><line><authName>x"
	              "</authName></line></sipLines></sipProfile></device>",
	         0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct phone_cnf c;
		size_t len = t[i].len ? t[i].len : strlen(t[i].xml);
		int err = phone_cnf_parse(&c, (const uint8_t *)t[i].xml, len);
		if (err == 0) {
			fail_msg("accepted: %s", t[i].name);
		}
		if (c.security_mode != 0) {
			fail_msg("not wiped: %s", t[i].name);
		}
	}
}

static void test_too_many_lines(void **state)
{
	struct buf b;
	struct phone_cnf c;

	(void)state;
	buf_init(&b, 0);
	buf_put_str(&b, HEAD "<device><sipProfile><sipLines>");
	for (int i = 0; i <= PHONE_MAX_LINES; i++) {
		buf_printf(&b, "<line><name>%d</name></line>", 1000 + i);
	}
	buf_put_str(&b, "</sipLines></sipProfile></device>");
	assert_int_equal(buf_err(&b), 0);
	assert_int_equal(phone_cnf_parse(&c, b.p, b.len), -TL_ETOOBIG);
	/* and the size limit */
	buf_reset(&b);
	buf_put_str(&b, HEAD "<device><!--");
	while (b.len < PHONE_CNF_MAX) {
		buf_put_str(&b,
		            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	}
	buf_put_str(&b, "--></device>");
	assert_int_equal(phone_cnf_parse(&c, b.p, b.len), -TL_ETOOBIG);
	buf_free(&b);
}

/* ---- control socket ---- */

struct srv {
	struct event_base *base;
	struct phone_ctl *ctl;
	char path[256];
	int calls;
};

static void handler(const char *line, struct buf *reply, void *arg)
{
	struct srv *s = arg;

	s->calls++;
	if (strcmp(line, "quit") == 0) {
		/* from the loop's own thread: libevent is not thread-safe
		 * here */
		struct timeval soon = {0, 200000}; /* after the reply went */
		event_base_loopexit(s->base, &soon);
		buf_put_str(reply, "ok");
	} else if (strcmp(line, "status") == 0) {
		buf_put_str(reply, "ok\nline one\nline two");
	} else {
		buf_printf(reply, "error unknown command %s", line);
	}
}

static void *loop(void *arg)
{
	struct srv *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void test_ctl_roundtrip(void **state)
{
	struct srv s = {0};
	struct buf r;
	pthread_t th;
	bool ok;
	struct stat st;

	(void)state;
	snprintf(s.path, sizeof(s.path), "/tmp/tl-phone-test-%d.sock",
	         (int)getpid());
	s.base = event_base_new();
	assert_non_null(s.base);
	assert_int_equal(phone_ctl_new(&s.ctl, s.base, s.path, handler, &s), 0);
	assert_int_equal(stat(s.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* keep the loop alive while idle */
	struct event *keep = event_new(s.base, -1, EV_PERSIST, stop_cb, NULL);
	struct timeval long_tv = {3600, 0};
	event_add(keep, &long_tv);
	assert_int_equal(pthread_create(&th, NULL, loop, &s), 0);

	buf_init(&r, 0);
	assert_int_equal(phone_ctl_call(s.path, "status", 5000, &r, &ok), 0);
	assert_true(ok);
	assert_int_equal(r.len, strlen("ok\nline one\nline two\n"));
	assert_memory_equal(r.p, "ok\nline one\nline two\n", r.len);
	buf_reset(&r);
	assert_int_equal(phone_ctl_call(s.path, "frobnicate", 5000, &r, &ok),
	                 0);
	assert_false(ok);
	buf_reset(&r);
	/* refused before sending: a line end inside, or too long */
	assert_int_equal(phone_ctl_call(s.path, "a\nb", 5000, &r, &ok),
	                 -EINVAL);
	char big[2048];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(phone_ctl_call(s.path, big, 5000, &r, &ok), -EINVAL);
	/* no such socket */
	assert_int_not_equal(phone_ctl_call("/tmp/tl-phone-none.sock", "status",
	                                    1000, &r, &ok),
	                     0);
	buf_reset(&r);
	assert_int_equal(phone_ctl_call(s.path, "quit", 5000, &r, &ok), 0);
	assert_true(ok);
	buf_free(&r);
	pthread_join(th, NULL);
	event_free(keep);
	assert_int_equal(s.calls, 3);
	phone_ctl_free(s.ctl);
	assert_int_not_equal(access(s.path, F_OK), 0); /* removed */
	event_base_free(s.base);
}

/* ---- a phone that cannot boot ---- */

static void test_boot_no_server(void **state)
{
	struct event_base *base = event_base_new();
	struct phone *p = NULL;
	struct buf out;
	char dir[256];
	struct phone_conf pc = {
	        .mac = "00:11:22:aa:bb:cc",
	        .tftp_timeout_ms = 50,
	        .quiet = true,
	};

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tl-phone-test-%d", (int)getpid());
	pc.state_dir = dir;
	/* a port nothing answers on */
	assert_int_equal(net_addr_set(&pc.tftp, "127.0.0.1", 9), 0);
	assert_int_equal(phone_new(&p, base, &pc), 0);
	assert_string_equal(phone_mac(p), "001122AABBCC");
	assert_int_equal(phone_state(p), PHONE_BOOTING);
	assert_int_not_equal(phone_boot(p), 0);
	assert_int_equal(phone_state(p), PHONE_REFUSED);
	/* nothing stored */
	char f[300];
	snprintf(f, sizeof(f), "%s/CTLFile.tlv", dir);
	assert_int_not_equal(access(f, F_OK), 0);
	/* commands answer errors, never crash */
	static const char *const cmds[] = {
	        "dial 1002",     "answer",  "hangup", "hold", "resume",
	        "transfer 1003", "dtmf 12", "dial",   "frob", "",
	};
	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		buf_reset(&out);
		phone_command(p, cmds[i], &out);
		assert_true(out.len >= 5);
		assert_memory_equal(out.p, "error", 5);
	}
	buf_reset(&out);
	phone_command(p, "status json", &out);
	assert_memory_equal(out.p, "ok\n{", 4);
	assert_non_null(strstr((const char *)out.p, "\"state\":\"refused\""));
	buf_reset(&out);
	phone_command(p, "status", &out);
	assert_non_null(strstr((const char *)out.p, "refused: config"));
	assert_int_equal(phone_register(p), -TL_ESTATE);
	buf_free(&out);
	phone_free(p);
	phone_free(NULL);
	rmdir(dir);
	event_base_free(base);

	/* bad MACs */
	struct phone_conf bad = pc;
	static const char *const macs[] = {"0011223344", "00112233445566",
	                                   "00112233445G", ""};
	for (size_t i = 0; i < 4; i++) {
		bad.mac = macs[i];
		assert_int_equal(phone_new(&p, NULL, &bad), -TL_EPARSE);
		assert_null(p);
	}
}

/* ---- line passwords sealed for the encrypted config ---- */

static void test_line_secret(void **state)
{
	char dir[256], db[300], pw[PROV_SECRET_PW_MAX], key_path[320];
	uint8_t key[PROV_SECRET_KEY_LEN], key2[PROV_SECRET_KEY_LEN];
	struct store *st = NULL;
	struct store_device d = {0};
	struct store_line l = {0};
	struct stat sb;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tl-phone-secret-%d", (int)getpid());
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(key_path, sizeof(key_path), "%s/secrets.key", dir);
	/* the key: made once (0600), then read back the same */
	assert_int_equal(prov_secret_key_load(dir, false, key), -ENOENT);
	assert_int_equal(prov_secret_key_load(dir, true, key), 0);
	assert_int_equal(stat(key_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(prov_secret_key_load(dir, false, key2), 0);
	assert_memory_equal(key, key2, sizeof(key));

	assert_int_equal(store_open(&st, db), 0);
	snprintf(d.mac, sizeof(d.mac), "0011223344AA");
	snprintf(d.profile, sizeof(d.profile), "encrypted");
	assert_int_equal(store_device_add(st, &d), 0);
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.device, sizeof(l.device), "0011223344AA");
	assert_int_equal(store_line_add(st, &l), 0);
	assert_int_equal(store_line_password_set(st, "1001", "1001", "site",
	                                         "s3cret-pw"),
	                 0);
	/* none sealed yet */
	assert_int_equal(prov_secret_get(st, key, "1001", pw, sizeof(pw)),
	                 -TL_ENOTFOUND);
	assert_int_equal(prov_secret_put(st, key, "1001", "s3cret-pw"), 0);
	assert_int_equal(prov_secret_get(st, key, "1001", pw, sizeof(pw)), 0);
	assert_string_equal(pw, "s3cret-pw");
	/* not in clear in the database */
	char v[STORE_VALUE_MAX + 1];
	assert_int_equal(
	        store_setting_get(st, "line_secret.1001", v, sizeof(v)), 0);
	assert_null(strstr(v, "s3cret"));
	/* another key: refused as tampered */
	key2[0] ^= 1;
	assert_int_equal(prov_secret_get(st, key2, "1001", pw, sizeof(pw)),
	                 -TL_EAUTH);
	/* sealed for another line (the DN is bound in): refused */
	assert_int_equal(store_setting_set(st, "line_secret.1002", v), 0);
	snprintf(l.dn, sizeof(l.dn), "1002");
	l.line_index = 0;
	assert_int_equal(store_line_add(st, &l), 0);
	assert_int_equal(prov_secret_get(st, key, "1002", pw, sizeof(pw)),
	                 -TL_EAUTH);
	/* a ciphertext byte changed */
	char bad[STORE_VALUE_MAX + 1];
	memcpy(bad, v, sizeof(bad));
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(store_setting_set(st, "line_secret.1001", bad), 0);
	assert_int_not_equal(prov_secret_get(st, key, "1001", pw, sizeof(pw)),
	                     0);
	assert_int_equal(store_setting_set(st, "line_secret.1001", v), 0);
	/* the password changed without a new sealed copy: stale, not served */
	assert_int_equal(store_line_password_set(st, "1001", "1001", "site",
	                                         "changed-pw"),
	                 0);
	assert_int_equal(prov_secret_get(st, key, "1001", pw, sizeof(pw)),
	                 -TL_ENOTFOUND);
	/* must reject: empty and overlong passwords, garbage values */
	assert_int_equal(prov_secret_put(st, key, "1001", ""), -TL_EPARSE);
	char big[PROV_SECRET_PW_MAX + 1];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(prov_secret_put(st, key, "1001", big), -TL_EPARSE);
	static const char *const garbage[] = {"v1:", "v2:AAAA", "v1:!!!!",
	                                      "v1:AAAAAAAA", "plain"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(
		        store_setting_set(st, "line_secret.1001", garbage[i]),
		        0);
		assert_int_not_equal(
		        prov_secret_get(st, key, "1001", pw, sizeof(pw)), 0);
	}
	store_close(st);
	unlink(key_path);
	snprintf(key_path, sizeof(key_path), "%s/t.db-wal", dir);
	unlink(key_path);
	snprintf(key_path, sizeof(key_path), "%s/t.db-shm", dir);
	unlink(key_path);
	unlink(db);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full),
	        cmocka_unit_test(test_accept_table),
	        cmocka_unit_test(test_must_reject),
	        cmocka_unit_test(test_too_many_lines),
	        cmocka_unit_test(test_ctl_roundtrip),
	        cmocka_unit_test(test_boot_no_server),
	        cmocka_unit_test(test_line_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
