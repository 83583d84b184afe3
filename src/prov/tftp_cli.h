/* A TFTP client (RFC 1350 read requests) with blksize, tsize, timeout
 * (RFC 2348, 2349) and windowsize (RFC 7440), retransmission with backoff
 * and a size limit. It runs on the caller's libevent loop
 * (tftp_cli_start) or on its own (tftp_cli_fetch, blocking).
 *
 * Ownership: tftp_cli_start returns a handle the caller frees with
 * tftp_cli_free (which cancels a running transfer). The done callback is
 * called once, as the client's last action; it may free the client. */
#ifndef TL_TFTP_CLI_H
#define TL_TFTP_CLI_H

#include "base/buf.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct tftp_cli;

struct tftp_cli_req {
	struct sockaddr_storage server; /* address and port of the server */
	socklen_t server_len;
	const char *file;
	uint16_t blksize;    /* 0: no option (512-byte blocks) */
	uint16_t window;     /* 0: no option (1) */
	bool tsize;          /* ask for the size (and check it early) */
	unsigned timeout_ms; /* first retransmission timeout; 0: 1000 */
	unsigned retries;    /* retransmissions before giving up; 0: 5 */
	size_t max_size;     /* largest file accepted; 0: 64 MiB */
};

struct tftp_cli_info {
	uint16_t blksize;     /* negotiated */
	uint16_t window;      /* negotiated */
	bool oack;            /* the server answered with an OACK */
	uint64_t tsize;       /* from the OACK, or 0 */
	uint64_t blocks;      /* DATA blocks received in order */
	unsigned retransmits; /* packets sent again after a timeout */
	unsigned dups;        /* DATA blocks received out of order */
	uint16_t errcode;     /* the server's TFTP error code, if any */
	char errmsg[128];     /* and its message (printable ASCII) */
};

/* Errors given to done: 0; -ETIMEDOUT (no answer after the retries);
 * -TL_ETOOBIG (over max_size); -TL_EPARSE (bad OACK); for a server error
 * packet: -TL_ENOTFOUND (1), -EACCES (2), -TL_EPOLICY (8), -EPROTO
 * (others), with the code and message in tftp_cli_info. */
typedef void (*tftp_cli_done_h)(struct tftp_cli *c, int err, void *arg);

int tftp_cli_start(struct tftp_cli **out, struct event_base *base,
                   const struct tftp_cli_req *req, tftp_cli_done_h done,
                   void *arg) TL_MUST_CHECK;
/* The bytes received so far (all of them after done with 0). The caller
 * may take them: the client never touches them after done. */
struct buf *tftp_cli_data(struct tftp_cli *c);
void tftp_cli_info(const struct tftp_cli *c, struct tftp_cli_info *info);
void tftp_cli_free(struct tftp_cli *c);

/* Blocking fetch on a private event loop: out (initialised by the caller)
 * receives the file; info (optional) the details. */
int tftp_cli_fetch(const struct tftp_cli_req *req, struct buf *out,
                   struct tftp_cli_info *info) TL_MUST_CHECK;

#endif
