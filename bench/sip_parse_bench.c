/* SIP parser throughput, single thread: a typical REGISTER with digest
 * credentials and an INVITE with SDP, each parsed and then read the way
 * the registrar / call control reads them (top Via, From/To tags,
 * Call-ID, CSeq, Contact, Expires, Authorization parameters, Supported;
 * for the INVITE also Route, Content-Type and the body). Prints messages
 * per second and nanoseconds per message. Driven by bench/sip_parse.sh. */
#include "codec/sip/sip_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 3665 §2.1 message F3: the textbook REGISTER with credentials. */
static const char reg3665[] =
        "REGISTER sips:ss2.biloxi.example.com SIP/2.0\r\n"
        "Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92"
        "\r\n"
        "Max-Forwards: 70\r\n"
        "From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH\r\n"
        "To: Bob <sips:bob@biloxi.example.com>\r\n"
        "Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n"
        "CSeq: 2 REGISTER\r\n"
        "Contact: <sips:bob@client.biloxi.example.com>\r\n"
        "Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\","
        " nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\","
        " uri=\"sips:ss2.biloxi.example.com\","
        " response=\"dfe56131d1958046689d83306477ecc\"\r\n"
        "Content-Length: 0\r\n"
        "\r\n";

/* A Cisco 88xx phone's REGISTER: long Contact and Supported. */
static const char reg[] =
        "REGISTER sip:cucm.example.com SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 192.0.2.10:51234;branch=z9hG4bK5d1e7f0a;rport\r\n"
        "From: <sip:1001@cucm.example.com>;tag=00250b0c0d0e0f10\r\n"
        "To: <sip:1001@cucm.example.com>\r\n"
        "Call-ID: 00250b0c-0d0e0001-1a2b3c4d-5e6f7a8b@192.0.2.10\r\n"
        "Max-Forwards: 70\r\n"
        "CSeq: 102 REGISTER\r\n"
        "User-Agent: Cisco-CP8845/12.8.1\r\n"
        "Contact: <sip:1001@192.0.2.10:51234;transport=tcp>;"
        "+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00250b0c0d0e>\";"
        "+u.sip!devicename.ccm.cisco.com=\"SEP00250B0C0D0E\";"
        "+u.sip!model.ccm.cisco.com=\"36670\"\r\n"
        "Supported: replaces,join,sdp-anat,norefersub,resource-priority,"
        "extended-refer,X-cisco-callinfo,X-cisco-serviceuri,X-cisco-"
        "escapecodes,"
        "X-cisco-service-control,X-cisco-srtp-fallback,X-cisco-monrec,"
        "X-cisco-config,X-cisco-sis-7.0.0,X-cisco-xsi-8.5.1\r\n"
        "Authorization: Digest username=\"1001\",realm=\"trustline\","
        "uri=\"sip:cucm.example.com\",response=\"4bf2e1c0a2d9f7b64c1e3a5d7f90"
        "b2c4e6a8c0d2f4b6a8c0e2d4f6a8b0c2e4f\",nonce=\"MTc2NDA2MDAwMDpkM2Y0"
        "YTViNmM3ZDhlOWYwYTFiMmMzZDRlNWY2\",algorithm=SHA-256,qop=auth,"
        "cnonce=\"1a2b3c4d\",nc=00000001\r\n"
        "Expires: 3600\r\n"
        "Content-Length: 0\r\n"
        "\r\n";

static const char inv[] =
        "INVITE sip:1002@cucm.example.com;user=phone SIP/2.0\r\n"
        "Via: SIP/2.0/TLS 192.0.2.10:51235;branch=z9hG4bK2a3b4c5d;rport\r\n"
        "From: \"Alice\" <sip:1001@cucm.example.com>;tag=00250b0c0d0e0021\r\n"
        "To: <sip:1002@cucm.example.com>\r\n"
        "Call-ID: 00250b0c-0d0e0002-5e6f7a8b-1a2b3c4d@192.0.2.10\r\n"
        "Max-Forwards: 70\r\n"
        "Session-ID: "
        "1e2d3c4b5a6900000000000000000000;remote="
        "00000000000000000000000000000000\r\n"
        "Date: Tue, 25 Nov 2026 08:00:00 GMT\r\n"
        "CSeq: 101 INVITE\r\n"
        "User-Agent: Cisco-CP8845/12.8.1\r\n"
        "Contact: <sip:1001@192.0.2.10:51235;transport=tls>;"
        "+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00250b0c0d0e>\"\r\n"
        "Expires: 180\r\n"
        "Accept: application/sdp\r\n"
        "Allow: ACK,BYE,CANCEL,INVITE,NOTIFY,OPTIONS,REFER,REGISTER,UPDATE,"
        "SUBSCRIBE,INFO\r\n"
        "Supported: replaces,join,sdp-anat,norefersub,X-cisco-callinfo,"
        "X-cisco-srtp-fallback,X-cisco-sis-7.0.0\r\n"
        "Allow-Events: kpml,dialog\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Disposition: session;handling=optional\r\n"
        "Content-Length: 366\r\n"
        "\r\n"
        "v=0\r\n"
        "o=Cisco-SIPUA 12345 0 IN IP4 192.0.2.10\r\n"
        "s=SIP Call\r\n"
        "b=AS:4064\r\n"
        "t=0 0\r\n"
        "m=audio 24580 RTP/SAVP 0 8 18 101\r\n"
        "c=IN IP4 192.0.2.10\r\n"
        "b=TIAS:64000\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
        "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:18 G729/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\n"
        "a=sendrecv\r\n";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile size_t sink;

/* What a registrar reads of a REGISTER. */
static int read_register(struct sip_msg *m)
{
	struct sip_iter it;
	struct sip_contact c;
	struct sip_auth a;
	struct slice v, tok;
	uint32_t exp = 3600;
	bool q;
	size_t acc = 0;
	int rc;

	acc += sip_msg_via(m)->branch.len + sip_msg_from(m)->tag.len;
	acc += sip_msg_to(m)->uri.user.len + sip_msg_call_id(m).len;
	acc += sip_msg_cseq(m)->num;
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	while ((rc = sip_iter_contact(&it, &c)) == 1) {
		acc += c.instance.len + c.addr.uri.port;
	}
	if (rc < 0) {
		return -1;
	}
	rc = sip_msg_expires(m, &exp);
	if (rc != 0 && rc != -TL_ENOTFOUND) {
		return -1;
	}
	acc += exp;
	sip_msg_iter(&it, m, SIP_HDR_AUTHORIZATION);
	if (sip_iter_auth(&it, &a) != 1) {
		return -1;
	}
	/* one pass over the credentials, as a digest check reads them */
	{
		struct slice st = a.params, n;
		int seen = 0;

		while ((rc = sip_auth_param_next(&st, &n, &v, &q)) == 1) {
			acc += n.len + v.len;
			seen++;
		}
		if (rc < 0 || seen < 6) {
			return -1;
		}
	}
	sip_msg_iter(&it, m, SIP_HDR_SUPPORTED);
	while (sip_iter_token(&it, &tok) == 1) {
		acc += tok.len;
	}
	sink += acc;
	return 0;
}

/* What call control reads of an INVITE before handing the SDP on. */
static int read_invite(struct sip_msg *m)
{
	struct sip_iter it;
	struct sip_contact c;
	struct slice tok;
	size_t acc = 0;
	int rc;

	acc += sip_msg_via(m)->branch.len + sip_msg_from(m)->tag.len;
	acc += sip_msg_ruri(m)->user.len + sip_msg_call_id(m).len;
	acc += (size_t)sip_msg_max_forwards(m);
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	while ((rc = sip_iter_contact(&it, &c)) == 1) {
		acc += c.addr.uri.port;
	}
	if (rc < 0) {
		return -1;
	}
	sip_msg_iter(&it, m, SIP_HDR_ROUTE);
	while (sip_iter_next(&it, &tok) == 1) {
		acc += tok.len;
	}
	sip_msg_iter(&it, m, SIP_HDR_SUPPORTED);
	while (sip_iter_token(&it, &tok) == 1) {
		acc += tok.len;
	}
	acc += sip_msg_has_token(m, SIP_HDR_REQUIRE, "100rel");
	acc += sip_msg_ctype(m)->subtype.len + sip_msg_body(m).len;
	sink += acc;
	return 0;
}

/* Runs for secs in 20 rounds; prints the mean over all rounds and the
 * best round (the machine may be shared: the best round is the one least
 * disturbed by other processes). */
static void run(const char *name, const char *msg, double secs,
                int (*reader)(struct sip_msg *))
{
	struct sip_msg *m;
	size_t len = strlen(msg);
	uint8_t *copy = malloc(len);
	unsigned long total = 0;
	double all = 0, best = 1e30;

	if (copy == NULL || sip_msg_new(&m) != 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memcpy(copy, msg, len);
	for (int round = 0; round < 20; round++) {
		unsigned long n = 0;
		double t0 = now(), t;

		do {
			for (int i = 0; i < 2000; i++) {
				if (sip_msg_parse(m, copy, len,
				                  SIP_MODE_STREAM) != 0 ||
				    reader(m) != 0) {
					fprintf(stderr,
					        "%s: parse failed: %s\n", name,
					        sip_msg_error(m)
					                ? sip_msg_error(m)
					                : "accessor");
					exit(1);
				}
			}
			n += 2000;
			t = now() - t0;
		} while (t < secs / 20);
		total += n;
		all += t;
		if (t / (double)n < best) {
			best = t / (double)n;
		}
	}
	printf("sip_parse_%s_bytes %zu\n", name, len);
	printf("sip_parse_%s_per_s %.0f\n", name, (double)total / all);
	printf("sip_parse_%s_ns %.1f\n", name, all * 1e9 / (double)total);
	printf("sip_parse_%s_best_per_s %.0f\n", name, 1.0 / best);
	printf("sip_parse_%s_best_ns %.1f\n", name, best * 1e9);
	sip_msg_free(m);
	free(copy);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;

	if (secs <= 0) {
		secs = 2.0;
	}
	run("register_rfc3665", reg3665, secs, read_register);
	run("register_cisco", reg, secs, read_register);
	run("invite", inv, secs, read_invite);
	return 0;
}
