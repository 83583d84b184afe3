/* RFC 4475 torture messages, checked against the manifest's class and
 * the specific facts it names. The files are found through $TL_SHARED
 * (default: ../shared next to the repository, $TL_SRC/../shared). */
#include "base/buf.h"
#include "codec/sip/sip_msg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#define MAX_FILE 70000

static char dir[4096];

static void set_dir(void)
{
	const char *shared = getenv("TL_SHARED");
	const char *src = getenv("TL_SRC");

	if (shared != NULL && shared[0] != '\0') {
		snprintf(dir, sizeof(dir), "%s/testdata/rfc4475", shared);
	} else {
		snprintf(dir, sizeof(dir), "%s/../shared/testdata/rfc4475",
		         src ? src : ".");
	}
}

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[4200];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fail_msg("cannot open %s", path);
	}
	n = fread(buf, 1, cap, f);
	assert_true(feof(f));
	fclose(f);
	return n;
}

/* Parse a file in one mode; the message stays usable afterwards. */
static int parse_file(struct sip_msg *m, const char *name, uint8_t *buf,
                      enum sip_mode mode, size_t *len)
{
	*len = load(name, buf, MAX_FILE);
	return sip_msg_parse(m, buf, *len, mode);
}

static int count_contacts(struct sip_msg *m, int *rc)
{
	struct sip_iter it;
	struct sip_contact c;
	int n = 0;

	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	while ((*rc = sip_iter_contact(&it, &c)) == 1) {
		n++;
	}
	return n;
}

/* Every accessor, so that no file can make one misbehave. */
static void touch_all(struct sip_msg *m)
{
	struct sip_iter it;
	struct sip_via v;
	struct sip_addr a;
	struct sip_auth au;
	struct sip_callinfo ci;
	struct sip_event ev;
	struct sip_substate ss;
	struct slice s;
	uint32_t u;
	int rc;

	sip_msg_iter(&it, m, SIP_HDR_VIA);
	while ((rc = sip_iter_via(&it, &v)) == 1) {
	}
	count_contacts(m, &rc);
	sip_msg_iter(&it, m, SIP_HDR_ROUTE);
	while ((rc = sip_iter_addr(&it, &a)) == 1) {
	}
	sip_msg_iter(&it, m, SIP_HDR_AUTHORIZATION);
	while ((rc = sip_iter_auth(&it, &au)) == 1) {
	}
	sip_msg_iter(&it, m, SIP_HDR_CALL_INFO);
	while ((rc = sip_iter_callinfo(&it, &ci)) == 1) {
	}
	sip_msg_iter(&it, m, SIP_HDR_SUPPORTED);
	while ((rc = sip_iter_token(&it, &s)) == 1) {
	}
	rc = sip_msg_expires(m, &u);
	assert_true(rc == 0 || rc == -TL_ENOTFOUND || rc == -TL_EPARSE);
	rc = sip_msg_event(m, &ev);
	assert_true(rc <= 0);
	rc = sip_msg_substate(m, &ss);
	assert_true(rc <= 0);
	for (size_t i = 0; i < sip_msg_hdr_count(m); i++) {
		struct sip_hdr h;

		assert_int_equal(sip_msg_hdr(m, i, &h), 0);
		sip_msg_iter_name(&it, m, h.name, true);
		while ((rc = sip_iter_next(&it, &s)) == 1) {
		}
	}
}

struct entry {
	char name[32];
	char file[64];
	char cls[32];
	size_t bytes;
};

static size_t read_manifest(struct entry *e, size_t max)
{
	char path[4200], line[2048];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	f = fopen(path, "r");
	if (f == NULL) {
		fail_msg("cannot open %s", path);
	}
	assert_non_null(fgets(line, sizeof(line), f)); /* header row */
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		char sect[32], sha[80];
		unsigned long bytes;

		if (sscanf(line,
		           "%31[^\t]\t%63[^\t]\t%31[^\t]\t%31[^\t]\t%lu\t%79[^"
		           "\t]",
		           e[n].name, e[n].file, sect, e[n].cls, &bytes,
		           sha) != 6) {
			continue;
		}
		e[n].bytes = bytes;
		n++;
	}
	fclose(f);
	return n;
}

/* What an invalid request must produce: the reason and the status to
 * answer with (0: cannot be answered; the server drops it). NULL reason:
 * the message parses and an accessor flags it (see below). */
static const struct {
	const char *name;
	const char *reason;
	uint16_t status;
} invalid[] = {
        {"badinv01", "Bad Via", 0},
        {"clerr", "Content-Length mismatch", 400},
        {"ncl", "Bad Content-Length", 400},
        {"scalar02", "Bad CSeq", 400},
        {"quotbal", "Bad To", 400},
        {"ltgtruri", "Bad Request-URI", 400},
        {"lwsruri", "Bad Request-Line", 400},
        {"lwsstart", "Bad Request-Line", 400},
        {"trws", "Bad Request-Line", 400},
        {"escruri", "Bad Request-URI", 400},
        {"baddate", NULL, 0},  /* Date is ignored (allowed) */
        {"regbadct", NULL, 0}, /* Contact flagged by its iterator */
        {"badaspec", "Bad To", 400},
        {"baddn", "Missing empty line", 400},
        {"badvers", "Version Not Supported", 505},
        {"mismatch01", "CSeq method mismatch", 400},
        {"mismatch02", "CSeq method mismatch", 400},
        {"insuf", "Missing From", 0},
        {"multi01", "Duplicate From", 400},
        {"mcl01", "Conflicting Content-Length", 400},
};

static void test_manifest(void **state)
{
	static struct entry e[64];
	static uint8_t buf[MAX_FILE];
	struct sip_msg *m = *state;
	size_t n = read_manifest(e, 64), seen_invalid = 0;

	assert_true(n >= 45);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		int rc = parse_file(m, e[i].file, buf, SIP_MODE_DGRAM, &len);

		print_message("%-12s %-16s rc=%d %s\n", e[i].name, e[i].cls, rc,
		              sip_msg_error(m) ? sip_msg_error(m) : "");
		assert_int_equal(len, e[i].bytes);
		touch_all(m);
		if (strcmp(e[i].cls, "valid") == 0 ||
		    strcmp(e[i].cls, "valid-syntax") == 0 ||
		    strcmp(e[i].cls, "valid-legacy") == 0) {
			assert_int_equal(rc, 0);
			assert_null(sip_msg_error(m));
			assert_true(sip_msg_is_request(m));
			assert_true(sip_msg_can_answer(m));
		} else if (strcmp(e[i].cls, "valid-response") == 0) {
			assert_int_equal(rc, 0);
			assert_false(sip_msg_is_request(m));
			assert_false(sip_msg_can_answer(m));
		} else if (strcmp(e[i].cls, "invalid-response") == 0) {
			assert_true(rc < 0);
			assert_false(sip_msg_can_answer(m));
			assert_int_equal(sip_msg_error_status(m), 0);
		} else if (strcmp(e[i].cls, "invalid") == 0) {
			size_t k;

			for (k = 0; k < sizeof(invalid) / sizeof(invalid[0]);
			     k++) {
				if (strcmp(invalid[k].name, e[i].name) == 0) {
					break;
				}
			}
			assert_true(k < sizeof(invalid) / sizeof(invalid[0]));
			seen_invalid++;
			if (invalid[k].reason == NULL) {
				assert_int_equal(rc, 0);
				continue;
			}
			assert_true(rc < 0);
			assert_string_equal(sip_msg_error(m),
			                    invalid[k].reason);
			assert_int_equal(sip_msg_error_status(m),
			                 invalid[k].status);
			assert_int_equal(sip_msg_can_answer(m),
			                 invalid[k].status != 0);
		} else {
			fail_msg("unknown class %s", e[i].cls);
		}
	}
	assert_int_equal(seen_invalid, sizeof(invalid) / sizeof(invalid[0]));
}

/* Facts the manifest names, one file at a time. */
static void test_facts(void **state)
{
	static uint8_t buf[MAX_FILE];
	uint8_t tmp[256];
	struct sip_msg *m = *state;
	struct sip_iter it;
	struct sip_contact c;
	struct sip_via v;
	struct slice s;
	size_t len, n;
	int rc;
	uint32_t u;

	/* wsinv: folding, LWS, leading zeros, compact forms */
	assert_int_equal(parse_file(m, "wsinv.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_int_equal(sip_msg_method(m), SIP_M_INVITE);
	assert_int_equal(sip_msg_max_forwards(m), 68);
	assert_int_equal(sip_msg_cseq(m)->num, 9);
	assert_int_equal(sip_msg_cseq(m)->method, SIP_M_INVITE);
	assert_true(slice_eq_str(sip_msg_to(m)->tag, "1918181833n"));
	assert_true(slice_eq_str(sip_msg_from(m)->tag, "98asjd8"));
	assert_true(
	        slice_eq_str(sip_msg_from(m)->display, "J Rosenberg \\\\\\\""));
	assert_true(slice_eq_str(sip_msg_via(m)->host, "192.0.2.2"));
	assert_true(slice_eq_str(sip_msg_via(m)->branch, "390skdjuw"));
	assert_int_equal(sip_msg_body(m).len, 150);
	sip_msg_iter(&it, m, SIP_HDR_VIA);
	assert_int_equal(sip_iter_via(&it, &v), 1);
	assert_int_equal(sip_iter_via(&it, &v), 1);
	assert_true(slice_eq_str(v.host, "spindle.example.com"));
	assert_int_equal(v.tp, SIP_TP_TCP);
	assert_true(slice_eq_str(v.branch, "z9hG4bK9ikj8"));
	assert_int_equal(sip_iter_via(&it, &v), 1);
	assert_true(slice_eq_str(v.branch, "z9hG4bK30239"));
	assert_int_equal(sip_iter_via(&it, &v), 0);
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_true(c.has_q);
	assert_int_equal(c.q, 330);
	assert_true(slice_eq_str(c.addr.display, "Quoted string \\\"\\\""));
	assert_int_equal(
	        sip_msg_hdr_first_name(m, SLICE_LIT("newfangledheader"), &s),
	        0);
	assert_true(slice_eq_str(s, "newfangled value\r\n continued "
	                            "newfangled value"));
	assert_int_equal(sip_msg_hdr_first(m, SIP_HDR_SUBJECT, &s), 0);
	assert_int_equal(s.len, 0);

	/* esc02: RE%47IST%45R is not REGISTER; C%6Fntact is unknown */
	assert_int_equal(parse_file(m, "esc02.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_int_equal(sip_msg_method(m), SIP_M_OTHER);
	assert_true(slice_eq_str(sip_msg_method_name(m), "RE%47IST%45R"));
	assert_int_equal(count_contacts(m, &rc), 2);
	assert_int_equal(rc, 0);
	assert_int_equal(sip_msg_hdr_lines_name(m, SLICE_LIT("C%6Fntact")), 1);
	assert_int_equal(sip_msg_hdr_lines(m, SIP_HDR_CONTACT), 2);

	/* escnull: %00 stays escaped, unescapes to a NUL, no truncation */
	assert_int_equal(
	        parse_file(m, "escnull.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_true(slice_eq_str(sip_msg_to(m)->uri.user, "null-%00-null"));
	assert_int_equal(
	        sip_uri_unescape(sip_msg_to(m)->uri.user, tmp, sizeof(tmp), &n),
	        0);
	assert_int_equal(n, 11);
	assert_memory_equal(tmp, "null-\0-null", 11);

	/* semiuri: the user part holds the ';' */
	assert_int_equal(
	        parse_file(m, "semiuri.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_true(slice_eq_str(sip_msg_ruri(m)->user,
	                         "user;par=u%40example.net"));
	assert_true(slice_eq_str(sip_msg_ruri(m)->host, "example.com"));
	assert_null(sip_msg_ruri(m)->params.p);
	assert_int_equal(
	        sip_uri_unescape(sip_msg_ruri(m)->user, tmp, sizeof(tmp), &n),
	        0);
	assert_int_equal(n, strlen("user;par=u@example.net"));
	assert_memory_equal(tmp, "user;par=u@example.net", n);
	sip_msg_iter(&it, m, SIP_HDR_ACCEPT);
	n = 0;
	while ((rc = sip_iter_next(&it, &s)) == 1) {
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 6);

	/* cparam01: without <> ;unknownparam belongs to the Contact */
	assert_int_equal(
	        parse_file(m, "cparam01.dat", buf, SIP_MODE_DGRAM, &len), 0);
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_false(c.addr.name_addr);
	assert_true(slice_eq_str(c.addr.params, "unknownparam"));
	assert_null(c.addr.uri.params.p);
	assert_true(slice_eq_str(c.addr.uri.user, "+19725552222"));

	/* cparam02: inside <> it belongs to the URI */
	assert_int_equal(
	        parse_file(m, "cparam02.dat", buf, SIP_MODE_DGRAM, &len), 0);
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_true(c.addr.name_addr);
	assert_null(c.addr.params.p);
	assert_true(slice_eq_str(c.addr.uri.params, "unknownparam"));
	assert_int_equal(sip_uri_param(&c.addr.uri, "unknownparam", &s), 0);
	assert_int_equal(s.len, 0);

	/* lwsdisp: a display name directly followed by '<' */
	assert_int_equal(
	        parse_file(m, "lwsdisp.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_true(slice_eq_str(sip_msg_from(m)->display, "caller"));
	assert_false(sip_msg_from(m)->display_quoted);
	assert_true(slice_eq_str(sip_msg_from(m)->uri.user, "caller"));

	/* longreq: long values kept whole, 34 Vias in many spellings */
	assert_int_equal(
	        parse_file(m, "longreq.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(sip_msg_call_id(m).len, 141);
	assert_int_equal(sip_msg_from(m)->uri.user.len, 115);
	assert_int_equal(sip_msg_to(m)->display.len, 103);
	sip_msg_iter(&it, m, SIP_HDR_VIA);
	n = 0;
	while ((rc = sip_iter_via(&it, &v)) == 1) {
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 34);
	assert_true(slice_eq_str(sip_msg_via(m)->host, "sip33.example.com"));
	assert_int_equal(sip_msg_body(m).len, 150);

	/* dblreq: over UDP the trailing INVITE is ignored */
	assert_int_equal(parse_file(m, "dblreq.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_int_equal(sip_msg_method(m), SIP_M_REGISTER);
	assert_int_equal(sip_msg_body(m).len, 0);
	assert_true(sip_msg_raw(m).len < len);

	/* intmeth: an extension method with every token character */
	assert_int_equal(
	        parse_file(m, "intmeth.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(sip_msg_method(m), SIP_M_OTHER);
	assert_true(slice_eq_str(sip_msg_ruri(m)->password,
	                         "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));

	/* transports: known and unknown transports */
	assert_int_equal(
	        parse_file(m, "transports.dat", buf, SIP_MODE_DGRAM, &len), 0);
	{
		static const enum sip_transport want[] = {
		        SIP_TP_UDP, SIP_TP_SCTP, SIP_TP_TLS, SIP_TP_OTHER,
		        SIP_TP_TCP};

		sip_msg_iter(&it, m, SIP_HDR_VIA);
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(sip_iter_via(&it, &v), 1);
			assert_int_equal(v.tp, want[i]);
		}
		assert_true(slice_eq_str(v.transport, "TCP"));
	}

	/* mpart01: binary body framed by Content-Length */
	assert_int_equal(
	        parse_file(m, "mpart01.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(sip_msg_body(m).len, 553);
	assert_true(slice_eq_str(sip_msg_ctype(m)->type, "multipart"));

	/* responses */
	assert_int_equal(
	        parse_file(m, "noreason.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(sip_msg_status(m), 100);
	assert_int_equal(sip_msg_reason(m).len, 0);
	assert_int_equal(
	        parse_file(m, "unreason.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(sip_msg_status(m), 200);
	assert_true(sip_msg_reason(m).len > 20);

	/* scalar02: Max-Forwards 300 and the huge Expires are flagged too */
	assert_true(parse_file(m, "scalar02.dat", buf, SIP_MODE_DGRAM, &len) <
	            0);
	assert_int_equal(sip_msg_max_forwards(m), -TL_ENOTFOUND);
	assert_int_equal(sip_msg_expires(m, &u), -TL_EPARSE);
	assert_true(count_contacts(m, &rc) == 0 && rc == -TL_EPARSE);

	/* regbadct: an escaped Route in an addr-spec Contact is refused */
	assert_int_equal(
	        parse_file(m, "regbadct.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(count_contacts(m, &rc), 0);
	assert_int_equal(rc, -TL_EPARSE);

	/* regescrt: inside <> it parses, as a URI header, never acted on */
	assert_int_equal(
	        parse_file(m, "regescrt.dat", buf, SIP_MODE_DGRAM, &len), 0);
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_true(slice_eq_str(c.addr.uri.headers,
	                         "Route=%3Csip:sip.example.com%3E"));
	assert_int_equal(sip_msg_hdr_lines(m, SIP_HDR_ROUTE), 0);

	/* baddn: with its missing empty line added, the From is refused */
	len = load("baddn.dat", buf, MAX_FILE);
	memcpy(buf + len, "\r\n", 2);
	assert_true(sip_msg_parse(m, buf, len + 2, SIP_MODE_DGRAM) < 0);
	assert_string_equal(sip_msg_error(m), "Bad From");
	assert_int_equal(sip_msg_error_status(m), 400);

	/* unknown schemes parse; the server answers 416 */
	assert_int_equal(parse_file(m, "unkscm.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_int_equal(sip_msg_ruri(m)->scheme, SIP_URI_OTHER);
	assert_int_equal(
	        parse_file(m, "novelsc.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_true(slice_eq_str(sip_msg_ruri(m)->scheme_s, "soap.beep"));
	assert_int_equal(parse_file(m, "unksm2.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_int_equal(sip_msg_to(m)->uri.scheme, SIP_URI_OTHER);

	/* zeromf: Max-Forwards 0 parses */
	assert_int_equal(parse_file(m, "zeromf.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_int_equal(sip_msg_max_forwards(m), 0);

	/* bext01: option tags are iterable */
	assert_int_equal(parse_file(m, "bext01.dat", buf, SIP_MODE_DGRAM, &len),
	                 0);
	assert_true(sip_msg_hdr_lines(m, SIP_HDR_REQUIRE) +
	                    sip_msg_hdr_lines(m, SIP_HDR_PROXY_REQUIRE) >
	            0);

	/* regaut01: an unknown auth scheme parses as such */
	assert_int_equal(
	        parse_file(m, "regaut01.dat", buf, SIP_MODE_DGRAM, &len), 0);
	{
		struct sip_auth au;

		sip_msg_iter(&it, m, SIP_HDR_AUTHORIZATION);
		assert_int_equal(sip_iter_auth(&it, &au), 1);
		assert_false(slice_eq_str_nocase(au.scheme, "Digest"));
	}

	/* inv2543: legal over UDP; over a stream it lacks Content-Length */
	assert_int_equal(
	        parse_file(m, "inv2543.dat", buf, SIP_MODE_DGRAM, &len), 0);
	assert_int_equal(sip_msg_max_forwards(m), -TL_ENOTFOUND);
	assert_true(sip_msg_body(m).len > 0);
	assert_true(parse_file(m, "inv2543.dat", buf, SIP_MODE_STREAM, &len) <
	            0);
	assert_string_equal(sip_msg_error(m), "Missing Content-Length");
	assert_true(sip_msg_can_answer(m));
}

/* The stream framer over every file: never a crash, and the framing
 * cases the manifest names. */
static void test_stream(void **state)
{
	static uint8_t buf[MAX_FILE];
	struct sip_msg *m = *state;
	size_t len, n = 0, off;
	int rc;

	/* dblreq: over a stream the INVITE is a second message (after the
	 * stray CRLF, RFC 3261 §7.5) */
	len = load("dblreq.dat", buf, MAX_FILE);
	assert_int_equal(sip_frame(buf, len, &n, NULL), SIP_FRAME_MESSAGE);
	assert_int_equal(sip_msg_parse(m, buf, n, SIP_MODE_STREAM), 0);
	assert_int_equal(sip_msg_method(m), SIP_M_REGISTER);
	off = n;
	rc = sip_frame(buf + off, len - off, &n, NULL);
	if (rc == SIP_FRAME_KEEPALIVE) {
		assert_int_equal(n, 2);
		off += n;
		rc = sip_frame(buf + off, len - off, &n, NULL);
	}
	assert_int_equal(rc, SIP_FRAME_MESSAGE);
	assert_true(off + n <= len);
	assert_int_equal(sip_msg_parse(m, buf + off, n, SIP_MODE_STREAM), 0);
	assert_int_equal(sip_msg_method(m), SIP_M_INVITE);

	/* clerr: waits for 9999 bytes that never come */
	len = load("clerr.dat", buf, MAX_FILE);
	assert_int_equal(sip_frame(buf, len, &n, NULL), SIP_FRAME_NEED_MORE);
	/* ncl, mcl01: the stream is closed */
	len = load("ncl.dat", buf, MAX_FILE);
	assert_int_equal(sip_frame(buf, len, &n, NULL), -TL_EPARSE);
	len = load("mcl01.dat", buf, MAX_FILE);
	assert_int_equal(sip_frame(buf, len, &n, NULL), -TL_EPARSE);
	/* baddn: no empty line, the head is incomplete */
	len = load("baddn.dat", buf, MAX_FILE);
	assert_int_equal(sip_frame(buf, len, &n, NULL), SIP_FRAME_NEED_MORE);
	/* inv2543 without Content-Length: the head alone, parse says 400 */
	len = load("inv2543.dat", buf, MAX_FILE);
	rc = sip_frame(buf, len, &n, NULL);
	assert_int_equal(rc, SIP_FRAME_MESSAGE);
	assert_true(n < len);
	assert_true(sip_msg_parse(m, buf, n, SIP_MODE_STREAM) < 0);
	assert_string_equal(sip_msg_error(m), "Missing Content-Length");
	/* the leftover SDP lines do not crash the next parse */
	off = n;
	rc = sip_frame(buf + off, len - off, &n, NULL);
	assert_true(rc == SIP_FRAME_NEED_MORE || rc < 0);
	assert_true(sip_msg_parse(m, buf + off, len - off, SIP_MODE_STREAM) <
	            0);
}

static int setup(void **state)
{
	struct sip_msg *m;

	if (sip_msg_new(&m) < 0) {
		return -1;
	}
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	sip_msg_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_manifest, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_facts, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	};

	set_dir();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
