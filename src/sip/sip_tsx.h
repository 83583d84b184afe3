/* SIP transactions: RFC 3261 §17 with the RFC 6026 corrections (the
 * Accepted state and Timers L and M), CANCEL handling (§9).
 *
 * The transaction layer knows no sockets: messages leave through a send
 * callback with a struct sip_tsx_peer naming where they go, and timers run
 * on the caller's libevent base. sip_stack.h binds it to the net layer.
 *
 * State machines are state x event tables with one handler per cell
 * (sip_tsx.c): INVITE client (timers A, B, D, M), non-INVITE client (E, F,
 * K), INVITE server (G, H, I, L), non-INVITE server (J).
 *
 * Ownership: struct sip_tsx_layer is created by sip_tsx_layer_new and freed
 * by sip_tsx_layer_free (which ends every transaction without calling the
 * TU). A struct sip_tsx is refcounted: the layer holds a reference while it
 * is alive; pointers given to callbacks are borrowed for the call. A TU
 * that answers later keeps one with sip_tsx_ref and drops it with
 * sip_tsx_unref; every reference must be dropped before the layer is
 * freed. Once terminated, a transaction refuses sends with -TL_ESTATE.
 * Messages handed to callbacks are valid for the call only, except
 * sip_tsx_req(), which lives as long as the transaction object. */
#ifndef TL_SIP_TSX_H
#define TL_SIP_TSX_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "codec/sip/sip_msg.h"
#include "net/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sip_tsx_layer;
struct sip_tsx;

/* Where a message goes (or came from). conn, when set, is used first
 * (responses go back on the connection the request came on, RFC 3261
 * §18.2.2); addr/local/tp otherwise. The layer takes its own reference on
 * conn while it keeps the peer. */
struct sip_tsx_peer {
	enum net_transport tp;
	struct net_addr addr;
	struct net_addr local; /* unset: any */
	struct net_conn *conn; /* may be NULL */
	/* Streams: where a response goes when conn has closed (RFC 3261
	 * §18.2.2: the source IP and the Via sent-by port); unset: addr. */
	struct net_addr alt;
};

/* Sends one message. Returns 0 or a negative error (a transport error:
 * RFC 3261 §17.1.4, §17.2.4). */
typedef int (*sip_tsx_send_h)(const struct sip_tsx_peer *to, const uint8_t *p,
			      size_t len, void *arg);

/* A request that created a server transaction t (owned by the layer;
 * borrowed here), or an ACK that matched none (t NULL: the ACK to a 2xx,
 * which is the TU's business, RFC 3261 §17.2.3 / RFC 6026 §8.7). src is
 * where it came from and where responses go. The TU answers with
 * sip_tsx_reply / sip_tsx_respond, now or later (keeping a reference).
 * For an INVITE not answered by the time this returns, the layer sends
 * 100 Trying itself (RFC 3261 §17.2.1). */
typedef void (*sip_tsx_request_h)(struct sip_tsx *t, struct sip_msg *req,
				  const struct sip_tsx_peer *src, void *arg);
/* RFC 3261 §9.2: a CANCEL matched the pending INVITE server transaction
 * t. The layer has answered 200 to the CANCEL; when this returns and the
 * TU has not sent a final response, the layer answers 487 to the INVITE. */
typedef void (*sip_tsx_cancel_h)(struct sip_tsx *t, void *arg);
/* A response that matched no client transaction (RFC 3261 §17.1.3: e.g.
 * a 2xx retransmission for an INVITE whose transaction is gone); the TU
 * may ACK it. */
typedef void (*sip_tsx_stray_h)(struct sip_msg *resp,
				const struct sip_tsx_peer *src, void *arg);
/* A server transaction ended abnormally: -ETIMEDOUT (Timer H, no ACK) or a
 * transport error. Optional. */
typedef void (*sip_tsx_error_h)(struct sip_tsx *t, int err, void *arg);

/* Client transaction: a response (resp set, code its status), or a
 * timeout (resp NULL, code 408, RFC 3261 §17.1.1.2 / §17.1.2.2) or a
 * transport error (resp NULL, code 503, RFC 3261 §8.1.3.1). Called for
 * each provisional and for the final response; for an INVITE also for
 * each 2xx retransmission while the transaction is Accepted (RFC 6026
 * §7.2), so that the TU ACKs them. */
typedef void (*sip_tsx_resp_h)(struct sip_tsx *t, struct sip_msg *resp,
			       uint16_t code, void *arg);

struct sip_tsx_cfg {
	struct event_base *base;
	/* RFC 3261 §17.1.1.1 defaults: T1 500 ms, T2 4 s, T4 5 s; Timer D
	 * 32 s (unreliable transports). 0: the default. */
	unsigned t1_ms;
	unsigned t2_ms;
	unsigned t4_ms;
	unsigned d_ms;
	/* Live transactions, 0: 262144. A non-INVITE server transaction
	 * over UDP lives 64*T1 after its answer (Timer J) and holds its key
	 * and its last response, about 1.5 KB. */
	size_t max_tsx;
	sip_tsx_send_h send_h;
	sip_tsx_request_h request_h;
	sip_tsx_cancel_h cancel_h; /* optional */
	sip_tsx_stray_h stray_h;   /* optional */
	sip_tsx_error_h error_h;   /* optional */
	void *arg;
};

int sip_tsx_layer_new(struct sip_tsx_layer **out,
		      const struct sip_tsx_cfg *cfg) TL_MUST_CHECK;
/* Ends every transaction (no callbacks). NULL is a no-op. */
void sip_tsx_layer_free(struct sip_tsx_layer *l);
/* Live transactions (for tests and statistics). */
size_t sip_tsx_layer_count(const struct sip_tsx_layer *l);

/* A received message, parsed (RFC 3261 §17.1.3, §17.2.3 matching). mode
 * is how it was framed (a new server transaction re-parses its own copy).
 * src: where it came from and, for requests, where responses go (see
 * sip_stack.c for RFC 3261 §18.2.2 / RFC 3581). Returns 0 when handled
 * (absorbed, passed on or dropped), or an error (-ENOMEM, -TL_ELIMIT:
 * the caller may answer 503 statelessly). */
int sip_tsx_recv(struct sip_tsx_layer *l, struct sip_msg *m, enum sip_mode mode,
		 const struct sip_tsx_peer *src) TL_MUST_CHECK;

/* ---- server side ---- */

/* Sends a response built from the request (RFC 3261 §8.2.6): status
 * line, Via (the top one with received/rport per RFC 3581 when the
 * request asked or came from elsewhere), From, To (with the transaction's
 * To tag unless code is 100 or the request had one), Call-ID, CSeq, then
 * hdrs (whole "Name: value\r\n" lines, may be empty), Content-Type when
 * ctype is set, Content-Length and body. reason NULL: the default phrase.
 * -TL_ESTATE when the state does not allow this response. */
int sip_tsx_reply(struct sip_tsx *t, uint16_t code, const char *reason,
		  struct slice hdrs, struct slice ctype,
		  struct slice body) TL_MUST_CHECK;
/* Builds what sip_tsx_reply sends, without a transaction (stateless
 * responses): src is where req came from (received/rport; NULL: the Vias
 * are copied unchanged); to_tag goes into To when req's has none and code
 * is not 100 (empty: no tag). */
int sip_tsx_build_response(struct buf *b, struct sip_msg *req,
			   const struct net_addr *src, uint16_t code,
			   const char *reason, struct slice to_tag,
			   struct slice hdrs, struct slice ctype,
			   struct slice body) TL_MUST_CHECK;
/* Sends a response the TU built whole (code must be its status). */
int sip_tsx_respond(struct sip_tsx *t, uint16_t code, const uint8_t *p,
		    size_t len) TL_MUST_CHECK;
/* The To tag the layer uses in this transaction's responses. */
struct slice sip_tsx_to_tag(const struct sip_tsx *t);
/* The peer the request came from (responses go there). */
const struct sip_tsx_peer *sip_tsx_peer(const struct sip_tsx *t);

/* ---- client side ---- */

/* Sends a request through a new client transaction. p/len is the whole
 * request, whose top Via has a branch starting with the magic cookie
 * "z9hG4bK" (see sip_tsx_branch). INVITE gets an INVITE client
 * transaction, anything else but ACK a non-INVITE one (ACK is sent with
 * sip_tsx_send_stateless). h gets the responses. out (optional) gets a new
 * reference. */
int sip_tsx_request(struct sip_tsx **out, struct sip_tsx_layer *l,
		    const uint8_t *p, size_t len,
		    const struct sip_tsx_peer *dst, sip_tsx_resp_h h,
		    void *arg) TL_MUST_CHECK;
/* RFC 3261 §9.1: cancel a pending INVITE client transaction. The CANCEL
 * is sent at once in Proceeding, or as soon as a provisional response
 * arrives in Calling. -TL_ESTATE once a final response came. */
int sip_tsx_cancel(struct sip_tsx *t) TL_MUST_CHECK;
/* A fresh branch: "z9hG4bK" + 22 random base64url characters + NUL. */
#define SIP_TSX_BRANCH_LEN 30
int sip_tsx_branch(char out[SIP_TSX_BRANCH_LEN]) TL_MUST_CHECK;

/* Sends without a transaction (ACK for 2xx, stateless responses). */
int sip_tsx_send_stateless(struct sip_tsx_layer *l,
			   const struct sip_tsx_peer *to, const uint8_t *p,
			   size_t len) TL_MUST_CHECK;

/* ---- both ---- */

enum sip_tsx_state {
	SIP_TSX_CALLING,
	SIP_TSX_TRYING,
	SIP_TSX_PROCEEDING,
	SIP_TSX_COMPLETED,
	SIP_TSX_CONFIRMED,
	SIP_TSX_ACCEPTED,
	SIP_TSX_TERMINATED,
};

enum sip_tsx_kind {
	SIP_TSX_IC, /* INVITE client */
	SIP_TSX_NC, /* non-INVITE client */
	SIP_TSX_IS, /* INVITE server */
	SIP_TSX_NS, /* non-INVITE server */
};

enum sip_tsx_state sip_tsx_state(const struct sip_tsx *t);
enum sip_tsx_kind sip_tsx_kind(const struct sip_tsx *t);
const char *sip_tsx_state_name(enum sip_tsx_state s);
/* The request of the transaction (the layer's parsed copy). */
struct sip_msg *sip_tsx_req(const struct sip_tsx *t);
/* The last final status sent or received, 0 if none yet. */
uint16_t sip_tsx_final(const struct sip_tsx *t);

struct sip_tsx *sip_tsx_ref(struct sip_tsx *t);
void sip_tsx_unref(struct sip_tsx *t); /* NULL is a no-op */

#endif
