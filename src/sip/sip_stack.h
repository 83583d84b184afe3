/* SIP transport binding: the net layer (UDP/TCP/TLS) + the codec + the
 * transaction layer, for a transaction user (registrar, call manager).
 *
 * Received bytes are parsed (RFC 3261 §18.3 framing, codec), malformed
 * requests answered "400 <reason>" statelessly when they can be (the
 * codec's reason; 505/513 as it says), malformed responses dropped
 * (RFC 3261 §18.1.2 / §16.7 "discard"), everything else handed to the
 * transaction layer. Responses go back over the connection a request came
 * on, or for UDP to the source IP and the rport / Via sent-by port (RFC
 * 3261 §18.2.2, RFC 3581 §4); the response's top Via carries received and
 * rport.
 *
 * Ownership: sip_stack_new creates the net (on the caller's event base)
 * and the transaction layer; sip_stack_free frees both (not from inside a
 * callback). Pointers in struct sip_stack_req are borrowed for the call
 * (keep the transaction with sip_tsx_ref, the connection with
 * net_conn_ref). */
#ifndef TL_SIP_STACK_H
#define TL_SIP_STACK_H

#include "base/slice.h"
#include "base/tl_err.h"
#include "codec/sip/sip_msg.h"
#include "net/net.h"
#include "sip/sip_tsx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct net_tls;
struct sip_stack;

/* A request for the TU. */
struct sip_stack_req {
	/* The server transaction to answer through (sip_tsx_reply); NULL
	 * for an ACK, which has none (the ACK to a 2xx). */
	struct sip_tsx *tsx;
	struct sip_msg *msg;
	enum net_transport tp;
	const struct net_addr *src;   /* where it came from */
	const struct net_addr *local; /* the listener or connection */
	struct net_conn *conn;        /* NULL for UDP */
	/* TLS: the verified subject CN of the peer certificate (a phone's
	 * "SEP<MAC>"), NULL when none was verified. */
	const char *peer_identity;
};

typedef void (*sip_stack_request_h)(struct sip_stack *s,
				    const struct sip_stack_req *r, void *arg);

struct sip_stack_cfg {
	struct event_base *base;
	const struct net_conf *net_conf; /* NULL: net defaults */
	/* Transaction timers (0: RFC 3261 defaults), see sip_tsx.h. */
	unsigned t1_ms;
	unsigned t2_ms;
	unsigned t4_ms;
	unsigned d_ms;
	size_t max_tsx;
	sip_stack_request_h request_h; /* required */
	sip_tsx_cancel_h cancel_h;     /* optional */
	sip_tsx_stray_h stray_h;       /* optional */
	sip_tsx_error_h error_h;       /* optional */
	void *arg;
};

int sip_stack_new(struct sip_stack **out,
		  const struct sip_stack_cfg *cfg) TL_MUST_CHECK;
void sip_stack_free(struct sip_stack *s); /* NULL is a no-op */

/* Listen (net_listen): port 0 picks one, bound gets the address. */
int sip_stack_listen(struct sip_stack *s, enum net_transport tp,
		     const struct net_addr *addr, struct net_tls *tls,
		     struct net_addr *bound) TL_MUST_CHECK;
/* The TLS client context for outgoing TLS (see net_set_tls_client). */
void sip_stack_set_tls_client(struct sip_stack *s, struct net_tls *tls);

struct net *sip_stack_net(struct sip_stack *s);
struct sip_tsx_layer *sip_stack_tsx(struct sip_stack *s);

/* Sends a request through a new client transaction to dst on tp (see
 * sip_tsx_request for the branch rule and the callback). */
int sip_stack_request(struct sip_stack *s, struct sip_tsx **out,
		      const uint8_t *p, size_t len, enum net_transport tp,
		      const struct net_addr *dst, sip_tsx_resp_h h,
		      void *arg) TL_MUST_CHECK;
/* Sends without a transaction (the ACK to a 2xx, ...). */
int sip_stack_send(struct sip_stack *s, enum net_transport tp,
		   const struct net_addr *dst, const uint8_t *p,
		   size_t len) TL_MUST_CHECK;
/* A stateless response to req (RFC 3261 §8.2.6) where r says it came
 * from; reason NULL: the default phrase. */
int sip_stack_reply_stateless(struct sip_stack *s,
			      const struct sip_stack_req *r, uint16_t code,
			      const char *reason) TL_MUST_CHECK;

/* Counters (for tests and statistics). */
struct sip_stack_stats {
	uint64_t rx_requests;
	uint64_t rx_responses;
	uint64_t rx_bad_requests; /* answered 4xx/5xx statelessly */
	uint64_t rx_dropped;      /* unparsable, not answerable */
};
void sip_stack_stats(const struct sip_stack *s, struct sip_stack_stats *out);

#endif
