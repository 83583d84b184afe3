/* HTTP provisioning (port 6970, as Cisco phones use it): the prov_fs
 * namespace over HTTP/1.1 GET and HEAD (RFC 9110), read-only, on the
 * caller's libevent loop (evhttp). Other methods get 405, a missing file
 * 404, a malformed name 400 and a name escaping the root 403.
 *
 * Ownership: the caller owns the event_base and the prov_fs, which must
 * outlive the server; http_prov_free closes every connection. */
#ifndef TL_HTTP_PROV_H
#define TL_HTTP_PROV_H

#include "base/tl_err.h"
#include "prov/prov_fs.h"

#include <stdint.h>

struct event_base;
struct http_prov;

struct http_prov_cfg {
	const char *addr;   /* numeric address; NULL: "0.0.0.0" */
	uint16_t port;      /* 0: any (see http_prov_port) */
	unsigned timeout_s; /* idle connection timeout; 0: 30 */
};

int http_prov_new(struct http_prov **out, struct event_base *base,
                  struct prov_fs *fs,
                  const struct http_prov_cfg *cfg) TL_MUST_CHECK;
uint16_t http_prov_port(const struct http_prov *h);
/* Content-Type for a served name (RFC 5280 §4.2.1.13 names the CRL one). */
const char *http_prov_content_type(const char *name);
void http_prov_free(struct http_prov *h);

#endif
