/* libFuzzer target for the digest header parsers (RFC 7616). The first
 * byte chooses the mode: 0 Authorization value, 1 challenge value, 2 a
 * whole server check with the value as credentials, 3 the client
 * answering the value as a challenge. Parsed slices must stay inside the
 * input. */
#include "base/buf.h"
#include "base/slice.h"
#include "sip/sip_auth.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct slice s, const uint8_t *p, size_t n)
{
	if (s.len && (s.p < p || s.p + s.len > p + n)) {
		abort();
	}
}

static int lookup(void *arg, struct slice user, struct slice realm,
		  enum sip_auth_alg alg, uint8_t ha1[SIP_AUTH_HA1_MAX],
		  size_t *len)
{
	if (!slice_eq_str(user, "alice")) {
		return -TL_ENOTFOUND;
	}
	return sip_auth_ha1(alg, user, realm, SLICE_LIT("pw"), ha1, len);
}

static uint64_t fixed_clock(void *arg)
{
	return 1700000000000ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_auth_srv *srv;
	const uint8_t *p = data + 1;
	size_t n;

	if (size < 1) {
		return 0;
	}
	n = size - 1;
	struct slice v = slice_make(p, n);
	switch (data[0] % 4) {
	case 0: {
		struct sip_auth_creds c;
		if (sip_auth_parse_creds(v, &c) == 0) {
			inside(c.username, p, n);
			inside(c.realm, p, n);
			inside(c.nonce, p, n);
			inside(c.uri, p, n);
			inside(c.response, p, n);
			inside(c.cnonce, p, n);
			inside(c.opaque, p, n);
			if (c.response.len != 2 * sip_auth_alg_len(c.alg)) {
				abort();
			}
		}
		break;
	}
	case 1: {
		struct sip_auth_chal ch;
		if (sip_auth_parse_chal(v, &ch) == 0) {
			inside(ch.realm, p, n);
			inside(ch.nonce, p, n);
			inside(ch.opaque, p, n);
		}
		break;
	}
	case 2: {
		if (!srv) {
			struct sip_auth_cfg cfg = {
				.secret = SLICE_LIT("fuzz-secret-0123456789"),
				.nc_slots = 64,
				.rl_slots = 64,
				.clock_ms = fixed_clock,
			};
			if (sip_auth_new(&srv, &cfg)) {
				abort();
			}
		}
		static const uint8_t ip[4] = {127, 0, 0, 1};
		struct sip_auth_req req = {
			.method = SLICE_LIT("REGISTER"),
			.uri = SLICE_LIT("sip:r"),
			.realm = SLICE_LIT("r"),
			.authz = &v,
			.n_authz = 1,
			.addr = slice_make(ip, 4),
		};
		struct sip_auth_outcome o;
		if (sip_auth_check(srv, &req, lookup, NULL, &o) != 0) {
			abort();
		}
		if (o.verdict == SIP_AUTH_OK) {
			abort(); /* a forged nonce never authenticates */
		}
		break;
	}
	default: {
		struct sip_auth_client *cl = NULL;
		struct sip_auth_cred cred = {.user = SLICE_LIT("alice"),
					     .password = SLICE_LIT("pw")};
		struct buf b;
		if (sip_auth_client_new(&cl)) {
			return 0;
		}
		buf_init(&b, 0);
		if (sip_auth_client_answer(cl, &v, 1, &cred,
					   SLICE_LIT("REGISTER"),
					   SLICE_LIT("sip:r"), &b) == 0) {
			struct sip_auth_creds c;
			/* what we send must parse back */
			if (sip_auth_parse_creds(buf_slice(&b), &c) != 0) {
				abort();
			}
		}
		buf_free(&b);
		sip_auth_client_free(cl);
		break;
	}
	}
	return 0;
}
