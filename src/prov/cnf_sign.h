/* The transform that turns generated config bodies into the files a
 * phone fetches in a mixed-mode cluster, through src/trust:
 *   SEP<MAC>.cnf.xml.sgn      the body signed by the TFTP key
 *                             (cisco-formats.md §2.1, format 1.0);
 *   SEP<MAC>.cnf.xml.enc.sgn  the body encrypted to the device's
 *                             certificate, then signed (§2.3, format 2.0);
 *   SEP<MAC>.cnf.xml          unchanged (nonsecure cluster).
 * Use it as the cnf_transform_h of a cnf_cache, with a struct trust_sign
 * (the TFTP or CCM+TFTP key and certificate; filename and timestamp are
 * set per file) as its argument. */
#ifndef TL_CNF_SIGN_H
#define TL_CNF_SIGN_H

#include "prov/cnf_xml.h"
#include "trust/trust.h"

/* arg: const struct trust_sign * */
int cnf_sign_transform(enum cnf_file f, const char *mac, struct slice body,
                       const uint8_t *cert_der, size_t cert_len,
                       struct buf *out, void *arg) TL_MUST_CHECK;

#endif
