/* Request building shared by call control and MWI (cm_int.h). */
#include "callmgr/cm_int.h"

#include "codec/sip/sip_msg.h"
#include "sip/sip_tsx.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void cm_host_set(struct cm_host *h, const char *host, uint16_t port,
                 uint16_t tls_port)
{
	snprintf(h->host, sizeof(h->host), "%s", host ? host : "127.0.0.1");
	h->port = port;
	h->tls_port = tls_port;
}

uint16_t cm_host_port(const struct cm_host *h, enum net_transport tp)
{
	return tp == NET_TLS && h->tls_port ? h->tls_port : h->port;
}

int cm_rand_token(char *out, size_t n)
{
	char br[SIP_TSX_BRANCH_LEN];
	int err = sip_tsx_branch(br);

	if (!err) {
		snprintf(out, n, "%s", br + 7); /* after "z9hG4bK" */
	}
	return err;
}

static const char *via_tp(enum net_transport tp)
{
	return tp == NET_TLS ? "TLS" : tp == NET_TCP ? "TCP" : "UDP";
}

void cm_contact_hdr(const struct cm_host *h, struct buf *b,
                    enum net_transport tp, const char *user)
{
	buf_printf(b, "Contact: <sip:%s@%s:%u%s>\r\n", user, h->host,
	           cm_host_port(h, tp),
	           tp == NET_TLS   ? ";transport=tls"
	           : tp == NET_TCP ? ";transport=tcp"
	                           : "");
}

int cm_build_req(const struct cm_host *h, struct buf *b, const char *method,
                 const struct cm_leg *l, uint32_t cseq, const char *extra,
                 struct slice ctype, struct slice body)
{
	char branch[SIP_TSX_BRANCH_LEN];
	int err = sip_tsx_branch(branch);

	if (err) {
		return err;
	}
	err = sip_build_request(b, slice_from_str(method),
	                        slice_from_str(l->target));
	/* RFC 3581: rport, so that answers find us behind a NAT too. */
	if (!err) {
		err = sip_build_hdrf(
		        b, "Via", "SIP/2.0/%s %s:%u;branch=%s;rport",
		        via_tp(l->tp), h->host, cm_host_port(h, l->tp), branch);
	}
	if (!err) {
		err = sip_build_hdrf(b, "Max-Forwards", "70");
	}
	if (!err) {
		err = sip_build_hdrf(b, "From", "%s", l->local);
	}
	if (!err) {
		err = sip_build_hdrf(b, "To", "%s", l->remote);
	}
	if (!err) {
		err = sip_build_hdrf(b, "Call-ID", "%s", l->call_id);
	}
	if (!err) {
		err = sip_build_hdrf(b, "CSeq", "%u %s", cseq, method);
	}
	if (err) {
		return err;
	}
	buf_put_str(b, extra);
	return sip_build_end(b, ctype, body);
}

int cm_copy(char *dst, size_t n, struct slice s)
{
	return slice_to_cstr(s, dst, n);
}

bool cm_str_is(const char *s, struct slice v)
{
	return strlen(s) == v.len && memcmp(s, v.p, v.len) == 0;
}

uint64_t cm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
