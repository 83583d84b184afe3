/* The TFTP server (RFC 1350), read requests only, with the option
 * extension (RFC 2347) and the options blksize (RFC 2348), tsize and
 * timeout (RFC 2349) and windowsize (RFC 7440). It serves a struct
 * prov_fs namespace. Every transfer gets a fresh ephemeral UDP socket (its
 * own TID); all transfers run on the caller's libevent loop.
 *
 * Ownership: the caller owns the event_base and the prov_fs, both of which
 * must outlive the server; tftp_srv_free stops every transfer. */
#ifndef TL_TFTP_SRV_H
#define TL_TFTP_SRV_H

#include "base/tl_err.h"
#include "prov/prov_fs.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct tftp_srv;

struct tftp_srv_cfg {
	const char *addr;     /* numeric address; NULL: "0.0.0.0" */
	uint16_t port;        /* 0: any (see tftp_srv_port) */
	unsigned rate;        /* new transfers per second per source
	                       * address; 0: unlimited */
	unsigned max_xfers;   /* concurrent transfers; 0: 10000 */
	unsigned timeout_ms;  /* first retransmission timeout; 0: 1000 */
	unsigned retries;     /* retransmissions before giving up; 0: 5 */
	uint16_t max_blksize; /* 0: 65464 */
	uint16_t max_window;  /* 0: 64 */
	bool netascii;        /* serve netascii mode (converted in memory) */
	size_t netascii_max;  /* largest file converted; 0: 16 MiB */
};

struct tftp_srv_stats {
	uint64_t started;      /* transfers begun */
	uint64_t completed;    /* last block acknowledged */
	uint64_t failed;       /* timed out, aborted by the client, I/O */
	uint64_t refused;      /* requests answered with an error packet */
	uint64_t rate_limited; /* requests dropped by the rate limit */
	uint64_t retransmits;  /* packets sent again after a timeout */
	uint64_t rollovers;    /* transfers whose block number wrapped to 0 */
	unsigned active;       /* transfers in progress */
};

int tftp_srv_new(struct tftp_srv **out, struct event_base *base,
                 struct prov_fs *fs,
                 const struct tftp_srv_cfg *cfg) TL_MUST_CHECK;
/* The bound UDP port (useful with cfg->port 0). */
uint16_t tftp_srv_port(const struct tftp_srv *srv);
void tftp_srv_stats(const struct tftp_srv *srv, struct tftp_srv_stats *st);
void tftp_srv_free(struct tftp_srv *srv);

#endif
