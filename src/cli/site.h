/* A site directory (DESIGN.md "Command line"): its paths and the daemon
 * settings in trustline.conf (INI). Commands read it with site_load; only
 * `trustline init` writes it. */
#ifndef TL_SITE_H
#define TL_SITE_H

#include "base/tl_err.h"

#include <stddef.h>
#include <stdint.h>

#define SITE_PATH_MAX 4096

struct site_ports {
	uint16_t sip;	   /* UDP and TCP */
	uint16_t sip_tls;
	uint16_t tftp;
	uint16_t http;	   /* provisioning, 6970 */
	uint16_t capf;
	uint16_t srst_cred;
	uint16_t admin;	   /* admin API and EST */
};

struct site {
	char dir[SITE_PATH_MAX];
	char conf[SITE_PATH_MAX];   /* trustline.conf */
	char db[SITE_PATH_MAX];	    /* trustline.db */
	char pki[SITE_PATH_MAX];    /* pki/ */
	char tokens[SITE_PATH_MAX]; /* tokens/ */
	char tftp[SITE_PATH_MAX];   /* tftp/ */
	char log[SITE_PATH_MAX];    /* log/ */
	char name[128];		    /* [site] name */
	char listen[64];	    /* [net] listen address */
	char host[256];		    /* [net] host name in certificates */
	/* [sip] digest: challenge order, "sha256,md5" (default),
	 * "md5,sha256" or "md5" (for clients that read only the first). */
	char digest[16];
	/* [sip] t1_ms: RFC 3261 T1, the round-trip estimate (default 500;
	 * 50..5000). Timers B, F, H and J are 64 x T1. */
	unsigned t1_ms;
	/* [net] max_conns (1..1048576), max_conns_per_ip (1..1048576),
	 * idle_timeout_s (10..86400): the SIP service's connection limits
	 * (docs/net.md); 0: the net layer's default (4096, 128, 300 s). */
	unsigned max_conns;
	unsigned max_conns_per_ip;
	unsigned idle_timeout_s;
	struct site_ports ports;
};

/* Fill paths for dir and the defaults (standard ports, or the --base-port
 * scheme when base_port is non-zero). Reads nothing. */
int site_defaults(struct site *s, const char *dir, uint16_t base_port)
	TL_MUST_CHECK;
/* Read dir/trustline.conf over the defaults. -ENOENT when the site does
 * not exist; -TL_ECONFIG (with a message on stderr) for a bad file. */
int site_load(struct site *s, const char *dir) TL_MUST_CHECK;
/* Write trustline.conf atomically (temporary file, fsync, rename). */
int site_write_conf(const struct site *s) TL_MUST_CHECK;
/* Build dir/rel into out. */
int site_path(const struct site *s, const char *rel, char *out,
	      size_t outlen) TL_MUST_CHECK;

#endif
