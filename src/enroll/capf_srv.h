/* The CAPF protocol server (reference/cisco-formats.md §4.2,
 * docs/formats/capf.md): TLS on TCP (3804 by default) with the CAPF-role
 * certificate, no client certificate asked; the server speaks first.
 * Each connection is one session, a state machine (docs/capf.md) over the
 * enrolment engine: authenticate (AUTH_REQ/AUTH_RESP), then the device's
 * pending operation (install/upgrade, fetch or delete), then END_SESSION.
 *
 * Hostile peers: a malformed message, a wrong session id or a command
 * out of order ends the session with END_SESSION{REASON=7}; a session is
 * closed when idle for idle_timeout_ms or older than session_timeout_ms.
 *
 * Ownership: capf_srv_new borrows base and the engine (both must outlive
 * the server); capf_srv_free closes every session (NULL is a no-op). */
#ifndef TL_CAPF_SRV_H
#define TL_CAPF_SRV_H

#include "base/tl_err.h"
#include "enroll/enroll.h"
#include "pki/pki.h"

#include <stdint.h>

struct event_base;
struct capf_srv;

struct capf_srv_conf {
	const char *addr;      /* numeric; NULL: 127.0.0.1 */
	uint16_t port;         /* 0: ephemeral (capf_srv_port) */
	const char *cert_file; /* CAPF-role certificate chain (PEM) */
	const char *key_file;
	/* optional: a P-256 CAPF certificate beside the RSA one (listed in
	 * the CTL too), chosen for phones that offer ECDSA: the handshake
	 * then needs no RSA signature */
	const char *cert2_file;
	const char *key2_file;
	const char *keylog_file; /* debugging only; NULL: off */
	/* The key the phone is asked to generate: PKI_ALG_P256 (default),
	 * PKI_ALG_P384 or an RSA size. */
	enum pki_alg key_alg;
	unsigned idle_timeout_ms;    /* 0: 10000 */
	unsigned session_timeout_ms; /* 0: 60000 */
	unsigned max_conns;          /* 0: 1024 */
};

struct capf_srv_stats {
	uint64_t sessions; /* sessions that came up */
	uint64_t installs; /* LSCs issued */
	uint64_t deletes;
	uint64_t fetches;
	uint64_t refused;  /* authorisation or policy refusals */
	uint64_t protocol; /* protocol violations (REASON 7) */
	uint64_t timeouts; /* sessions ended by a timer */
};

int capf_srv_new(struct capf_srv **out, struct event_base *base,
                 struct enroll *e, const struct capf_srv_conf *c) TL_MUST_CHECK;
void capf_srv_free(struct capf_srv *s);
uint16_t capf_srv_port(const struct capf_srv *s);
void capf_srv_get_stats(const struct capf_srv *s, struct capf_srv_stats *out);

#endif
