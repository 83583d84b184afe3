/* Private to src/callmgr: what the call and MWI code share to build
 * requests inside a dialog (RFC 3261 §12.2.1.1). */
#ifndef TL_CM_INT_H
#define TL_CM_INT_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "callmgr/cm_reg.h"
#include "net/net.h"

#include <stdint.h>

#define CM_STR 512

/* Our own address as written in Via and Contact. */
struct cm_host {
	char host[NET_ADDR_STRLEN];
	uint16_t port;     /* UDP and TCP */
	uint16_t tls_port; /* TLS, 0: none */
};

/* One dialog as seen from our side. */
struct cm_leg {
	char call_id[160];
	char ltag[40];
	char local[CM_STR];  /* our From or To value, with our tag */
	char remote[CM_STR]; /* the peer's, with its tag */
	char target[CM_STR]; /* the peer's Contact URI */
	enum net_transport tp;
	struct net_addr dst; /* where requests go (the peer's flow) */
	uint32_t cseq;       /* our last CSeq on this leg */
	struct cm_line_info line;
};

void cm_host_set(struct cm_host *h, const char *host, uint16_t port,
                 uint16_t tls_port);
uint16_t cm_host_port(const struct cm_host *h, enum net_transport tp);
/* A random token for tags and Call-IDs (22 base64url characters). */
int cm_rand_token(char *out, size_t n) TL_MUST_CHECK;
/* "Contact: <sip:user@host:port;transport=...>" CRLF. */
void cm_contact_hdr(const struct cm_host *h, struct buf *b,
                    enum net_transport tp, const char *user);
/* A request on leg l with CSeq cseq: start line, Via (new branch), Max-
 * Forwards, From, To, Call-ID, CSeq, then extra (whole header lines),
 * Content-Type when ctype is not empty, Content-Length, body. */
int cm_build_req(const struct cm_host *h, struct buf *b, const char *method,
                 const struct cm_leg *l, uint32_t cseq, const char *extra,
                 struct slice ctype, struct slice body) TL_MUST_CHECK;
/* Copy a slice into a C string; -TL_ETOOBIG when it does not fit. */
int cm_copy(char *dst, size_t n, struct slice s) TL_MUST_CHECK;
/* Monotonic milliseconds. */
uint64_t cm_now_ms(void);
/* s equals the slice v byte for byte. */
bool cm_str_is(const char *s, struct slice v);

#endif
