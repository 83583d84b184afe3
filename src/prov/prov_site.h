/* A site's generated provisioning files: SEP<MAC>.cnf.xml[.sgn|.enc.sgn]
 * built from the store (cnf_xml), signed with the TFTP role's key and
 * encrypted to the device certificate (src/trust), each built when first
 * asked for (or all at start: prov_site_prebuild) and cached until
 * something of its device changes (cnf_xml.h).
 * Plugs into the served namespace as its generator:
 *   prov_fs_set_gen(fs, prov_site_gen, ps);
 *
 * Ownership: prov_site_new returns an object freed with prov_site_free
 * (NULL is a no-op); st is borrowed and must outlive it. */
#ifndef TL_PROV_SITE_H
#define TL_PROV_SITE_H

#include "base/buf.h"
#include "base/tl_err.h"
#include "prov/cnf_xml.h"
#include "store/store.h"

struct event_base;

struct prov_site;

/* pki_dir holds tftp.crt and tftp.key (the TFTP role's certificate and
 * key); site says where phones find the call manager and CAPF (its
 * strings are copied). */
int prov_site_new(struct prov_site **out, struct store *st,
		  const char *pki_dir, const struct cnf_site *site)
	TL_MUST_CHECK;
/* Free it before base, with nothing running on base. */
void prov_site_free(struct prov_site *ps);

/* Build the config files of every device in the store, a few devices per
 * turn of base's loop (where the cache is used), starting with the next
 * turn; the files are then served without a signature to wait for.
 * Progress and the result are logged. */
int prov_site_prebuild(struct prov_site *ps,
                       struct event_base *base) TL_MUST_CHECK;

/* prov_gen_h: the bytes of a generated file, or -TL_ENOTFOUND for a name
 * that is not a config of a known device (the namespace then looks in the
 * TFTP root). */
int prov_site_gen(const char *name, struct buf *out, void *arg);

#endif
