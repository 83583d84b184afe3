/* The enrolment services of a site directory (docs/capf.md): the site CA
 * opened for issuing (token or file key, pki_site.h), the manufacturer CA
 * for MICs, the engine, the CAPF server (pki/capf.crt) and the EST server
 * (the given TLS certificate, normally pki/ccm.crt). What `trustline
 * serve` starts.
 *
 * Ownership: borrows base and st (they must outlive it). */
#ifndef TL_ENROLL_SVC_H
#define TL_ENROLL_SVC_H

#include "base/tl_err.h"
#include "store/store.h"

#include <stdint.h>

struct event_base;
struct enroll_svc;

struct enroll_svc_conf {
	const char *site_dir;
	const char *listen;  /* numeric address */
	uint16_t capf_port;  /* 0: no CAPF server */
	uint16_t est_port;   /* 0: no EST server */
	const char *crl_url; /* CRL distribution point in LSCs; NULL */
	const char *est_cert_file, *est_key_file;
	const char *est_cert2_file, *est_key2_file; /* optional */
	const char *client_ca_file; /* site CA + manufacturer CA */
	const char *keylog_file;
};

int enroll_svc_new(struct enroll_svc **out, struct event_base *base,
                   struct store *st,
                   const struct enroll_svc_conf *c) TL_MUST_CHECK;
void enroll_svc_free(struct enroll_svc *s);

#endif
