/* Call control: a back-to-back user agent (RFC 3261 §6 "B2BUA", RFC 7092
 * §3.1) between two registered phones, with the call security status of
 * seed 002 and Cisco's Call-Info (cisco-formats.md §7).
 *
 * A call has two legs: leg A towards the caller (we are its UAS), leg B
 * towards the callee (we are its UAC, with our own Call-ID and tags).
 * Dial by directory number; 404 for an unknown number, 480 when the
 * number has no live binding, the callee's busy (486) and errors relayed;
 * a no-answer timer cancels leg B; forward all / busy / no answer from the
 * site settings; hold and resume by relayed re-INVITE; early media by
 * relayed 18x with SDP; a callee that challenges our INVITE (Auth INVITE,
 * seed 001) is answered with its line's credentials. Every call writes a
 * call detail record.
 *
 * Media is not anchored: SDP is parsed and printed again for the other
 * leg (codec/sdp), with a=crypto only on TLS legs and only between two
 * encrypted devices (RFC 4568 §8.3).
 *
 * Ownership: cm_calls_new returns an object freed with cm_calls_free (NULL
 * is a no-op); the base, stack, registrar and store are borrowed and must
 * outlive it. */
#ifndef TL_CM_CALL_H
#define TL_CM_CALL_H

#include "base/tl_err.h"
#include "callmgr/cm_reg.h"
#include "codec/sdp/sdp.h"
#include "net/net.h"
#include "sip/sip_stack.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct cm_calls;

/* Call security status, lowest first (cisco-formats.md §7). */
enum cm_sec {
	CM_SEC_UNKNOWN = 0,
	CM_SEC_NOT_AUTHENTICATED = 1,
	CM_SEC_AUTHENTICATED = 2,
	CM_SEC_ENCRYPTED = 3,
};

struct cm_calls_conf {
	const char *host;      /* our address in Via and Contact */
	uint16_t port;         /* UDP and TCP */
	uint16_t tls_port;     /* TLS */
	unsigned no_answer_ms; /* 0: 20 s */
	unsigned max_calls;    /* 0: 50,000 */
	/* Optional: the caller's copy of the store's change counter, moved
	 * past our own CDR writes so that they do not look like changes
	 * made by someone else (which reload the lines). */
	uint64_t *store_gen;
};

int cm_calls_new(struct cm_calls **out, struct event_base *base,
                 struct sip_stack *stack, struct cm_reg *reg, struct store *st,
                 const struct cm_calls_conf *conf) TL_MUST_CHECK;
void cm_calls_free(struct cm_calls *c);

/* A request for call control: INVITE (new or in a dialog), ACK, BYE,
 * UPDATE. Always answers (or absorbs an ACK). */
void cm_calls_request(struct cm_calls *c, const struct sip_stack_req *r);
/* A CANCEL matched the INVITE server transaction t (see sip_tsx.h). */
void cm_calls_cancel(struct cm_calls *c, struct sip_tsx *t);
/* The ring time for new calls (ms, 0: the configured default). */
void cm_calls_set_no_answer(struct cm_calls *c, unsigned ms);
/* Site setting holding the ring time in seconds (`trustline calls
 * ring-time`). */
#define CM_RING_SETTING "cm.no_answer_s"
/* Calls in progress or connected. */
unsigned cm_calls_active(const struct cm_calls *c);

/* ---- policy, pure (tested alone) ---- */

/* A party's own status: its profile's mode, but NotAuthenticated on a
 * leg that is not TLS. */
enum cm_sec cm_sec_party(enum store_sec_mode mode, enum net_transport tp);
/* The call's status: the lowest of the parties; Encrypted only when the
 * media negotiated on both legs is SRTP. */
enum cm_sec cm_sec_call(enum cm_sec a, enum cm_sec b, bool srtp);
/* "NotAuthenticated", "Authenticated", "Encrypted" (Call-Info), "Unknown"
 * for CM_SEC_UNKNOWN. */
const char *cm_sec_name(enum cm_sec s);
/* "nonsecure", "authenticated", "encrypted" (CDR), "unknown". */
const char *cm_sec_cdr_name(enum cm_sec s);
/* How SDP is printed for a leg towards a party reached on to_tp, in a
 * call between parties of modes a and b reached on a_tp and b_tp: SDES
 * keys only on TLS and only when both are encrypted devices on TLS, then
 * restricted to AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM. */
struct sdp_out cm_sdp_policy(enum store_sec_mode a, enum net_transport a_tp,
                             enum store_sec_mode b, enum net_transport b_tp,
                             enum net_transport to_tp);

#endif
