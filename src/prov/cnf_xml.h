/* Phone configuration files, SEP<MAC>.cnf.xml (cisco-formats.md §2.3, §3;
 * docs/formats/cnf-xml.md lists every element we emit), generated from
 * the store with libxml2.
 *
 * Which files a device is served depends on the cluster security mode
 * (seed 002, 004):
 *   nonsecure cluster: SEP<MAC>.cnf.xml, the full config, no passwords;
 *   mixed cluster:     SEP<MAC>.cnf.xml.sgn only (signed by the TFTP key);
 *                      for a device with a certificate (LSC or MIC) its
 *                      body is the stub (fullConfig false, certHash,
 *                      encrConfig true) and the full config, with line
 *                      passwords, is served as SEP<MAC>.cnf.xml.enc.sgn,
 *                      encrypted to that certificate; without one, the
 *                      body is the full config without passwords.
 * A line password never appears in any file but the encrypted one.
 *
 * The generator produces the XML bodies. Signing and encryption belong to
 * src/trust: the cache applies them through a caller-supplied transform.
 * It builds each file when first asked for (one file, one signature) and
 * keeps it while nothing the device's files derive from changed
 * (store_device_stamp: its row and certificate, its lines, settings such
 * as the cluster mode, profiles), so that other devices' changes (a boot
 * storm's enrolments) do not make it build and sign again.
 *
 * Ownership: cnf_files bodies are owned by the struct (cnf_files_free;
 * the encrypted body is wiped); cnf_cache_new returns an object freed by
 * cnf_cache_free (NULL is a no-op). */
#ifndef TL_CNF_XML_H
#define TL_CNF_XML_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the phone finds the site: the call manager, CAPF and SRST hosts
 * and ports (filled from trustline.conf by the caller). */
struct cnf_site {
	const char *host;          /* processNodeName (call manager, CAPF) */
	uint16_t sip_port;         /* 0: 5060 */
	uint16_t sip_tls_port;     /* 0: 5061 */
	uint16_t capf_port;        /* 0: 3804 */
	unsigned monitor_duration; /* connectionMonitorDuration, 0: 120 */
	const char *voicemail;     /* messagesNumber (pilot), NULL: none */
	const char *device_pool;   /* devicePool/name, NULL: "Default" */
};

/* Everything one config is made of (no store access: fuzzable, testable). */
struct cnf_input {
	const struct cnf_site *site;
	const struct store_device *device;
	const struct store_profile *profile;
	const struct store_line *lines;
	size_t n_lines;
	/* Line passwords, one per line (entries may be NULL), used only by
	 * cnf_xml_full with secrets; NULL: none. */
	const char *const *passwords;
};

/* The full config. secrets false: no authPassword, whatever passwords
 * holds (the plain and signed files); true: the passwords given (the body
 * of .enc.sgn only). The XML is appended to out. */
int cnf_xml_full(struct buf *out, const struct cnf_input *in,
                 bool secrets) TL_MUST_CHECK;
/* The stub of an encrypted config (cisco-formats.md §2.3); -TL_ESTATE when
 * the device has no certificate (no certHash). */
int cnf_xml_stub(struct buf *out, const struct cnf_input *in) TL_MUST_CHECK;

/* ---- which files, and their names ---- */

enum cnf_file {
	CNF_FILE_XML = 0, /* SEP<MAC>.cnf.xml */
	CNF_FILE_SGN = 1, /* SEP<MAC>.cnf.xml.sgn */
	CNF_FILE_ENC = 2, /* SEP<MAC>.cnf.xml.enc.sgn */
	CNF_FILE_MAX
};
#define CNF_SERVES(mask, f) (((mask) >> (f)) & 1u)

/* Bit f set for every file served to d in the cluster mode. */
unsigned cnf_serve(enum store_cluster_mode mode, const struct store_device *d);
/* "SEP<MAC>.cnf.xml" and so on into out. */
int cnf_file_name(enum cnf_file f, const char *mac, char *out,
                  size_t outlen) TL_MUST_CHECK;
/* Parse a requested file name (from the network: bounded, exact): the
 * case of "SEP" and the MAC digits is not significant, the suffix is.
 * -TL_EPARSE when it is not a config name. */
int cnf_file_parse(struct slice name, char mac[13],
                   enum cnf_file *f) TL_MUST_CHECK;

/* ---- from the store ---- */

/* Supplies the password of line dn for the encrypted config (the store
 * keeps only HA1 values). Write it NUL-terminated to out and return 0, or
 * -TL_ENOTFOUND for none. */
typedef int (*cnf_secret_h)(const char *dn, char *out, size_t outlen,
                            void *arg);

struct cnf_files {
	uint64_t generation;           /* store_generation when built */
	unsigned serve;                /* CNF_SERVES bits */
	struct buf body[CNF_FILE_MAX]; /* the XML of each served file */
};

/* Build every file served to device mac (any MAC notation) as of now.
 * -TL_ENOTFOUND for an unknown device. */
int cnf_build(struct cnf_files *out, struct store *st,
              const struct cnf_site *site, const char *mac, cnf_secret_h secret,
              void *arg) TL_MUST_CHECK;
void cnf_files_free(struct cnf_files *f);

/* ---- cache ---- */

/* Turns a body into the bytes served: sign (.sgn), encrypt and sign
 * (.enc.sgn, to the device certificate der). Appends to out. */
typedef int (*cnf_transform_h)(enum cnf_file f, const char *mac,
                               struct slice body, const uint8_t *cert_der,
                               size_t cert_len, struct buf *out, void *arg);

struct cnf_cache;

/* transform NULL: the bodies are served as they are (tests, nonsecure
 * sites). The cache borrows st and site for its life. */
int cnf_cache_new(struct cnf_cache **out, struct store *st,
                  const struct cnf_site *site, cnf_secret_h secret,
                  cnf_transform_h transform, void *arg) TL_MUST_CHECK;
void cnf_cache_free(struct cnf_cache *c);
/* The bytes of file f for mac, borrowed until the next call on c; built
 * on first use, again after a change that affects the device.
 * -TL_ENOTFOUND for an unknown device or a file not served to it. */
int cnf_cache_get(struct cnf_cache *c, const char *mac, enum cnf_file f,
                  struct slice *out) TL_MUST_CHECK;
/* Build now every file served to mac that the cache does not hold yet
 * (a site builds all of them at start, as Cisco's TFTP service does);
 * *n: the files it holds for the device afterwards. */
int cnf_cache_warm(struct cnf_cache *c, const char *mac,
                   unsigned *n) TL_MUST_CHECK;
/* A prov_gen_h (prov_fs.h) over a cache: arg is the struct cnf_cache.
 * Serves SEP<MAC>.cnf.xml, .cnf.xml.sgn and .cnf.xml.enc.sgn for the
 * devices in the store; -TL_ENOTFOUND for any other name or an unknown
 * device (the file system may have it), -TL_EPOLICY for a config file a
 * known device is not served in the cluster mode (never a stale file from
 * disk instead). The bytes are copied into out. */
int cnf_cache_gen(const char *name, struct buf *out, void *arg) TL_MUST_CHECK;
/* Files built (generated and transformed) so far (tests: proves a hit is
 * not a rebuild). */
uint64_t cnf_cache_builds(const struct cnf_cache *c);

#endif
