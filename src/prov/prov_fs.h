/* The provisioning namespace: what the TFTP server and the HTTP server on
 * port 6970 serve, read-only. A name resolves, in order, to
 *   1. a mapped file (prov_fs_map: e.g. "crl.der" -> the site's pki/crl.der),
 *   2. a generated file (the prov_gen_h callback: SEP<MAC>.cnf.xml[.sgn] ...),
 *   3. a regular file under the root directory (the site's tftp/).
 * Names are checked first (prov_fs_name_check): relative, no "..", no empty
 * component, no control characters, at most PROV_NAME_MAX bytes. Symbolic
 * links may point anywhere inside the root, never outside it.
 *
 * Ownership: a struct prov_fs is created by prov_fs_new and released by
 * prov_fs_free; each struct prov_file by prov_fs_open / prov_file_close. */
#ifndef TL_PROV_FS_H
#define TL_PROV_FS_H

#include "base/buf.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROV_NAME_MAX 255

/* Generated files. Fill out (the caller owns it, initialised empty) and
 * return 0; return -TL_ENOTFOUND to fall through to the file system, or
 * another negative error (the request fails with an access violation). */
typedef int (*prov_gen_h)(const char *name, struct buf *out, void *arg);

struct prov_fs;
struct prov_file;

/* root: the directory served (must exist). */
int prov_fs_new(struct prov_fs **out, const char *root) TL_MUST_CHECK;
void prov_fs_free(struct prov_fs *fs);
/* Install (or, with h NULL, remove) the generator. */
void prov_fs_set_gen(struct prov_fs *fs, prov_gen_h h, void *arg);
/* Serve the file at path (any location) under name. Later maps of the same
 * name replace earlier ones. */
int prov_fs_map(struct prov_fs *fs, const char *name,
                const char *path) TL_MUST_CHECK;

/* 0 if name is acceptable; -TL_ETOOBIG (overlong), -TL_EPARSE (empty,
 * control character, backslash) or -TL_EPOLICY (absolute, "..", "."). */
int prov_fs_name_check(const char *name, size_t len) TL_MUST_CHECK;

/* Open name for reading. Errors: the name_check ones, -TL_ENOTFOUND,
 * -TL_EPOLICY (symlink leaving the root, not a regular file), -errno,
 * or the generator's error. */
int prov_fs_open(struct prov_fs *fs, const char *name,
                 struct prov_file **out) TL_MUST_CHECK;
uint64_t prov_file_size(const struct prov_file *f);
/* Copy up to n bytes at off into dst; *got is less than n only at the end
 * of the file. */
int prov_file_read(struct prov_file *f, uint64_t off, void *dst, size_t n,
                   size_t *got) TL_MUST_CHECK;
/* The file descriptor of a file-system file (for sendfile-style output),
 * or -1 for a generated one. */
int prov_file_fd(const struct prov_file *f);
/* The bytes of a generated (in-memory) file, or SLICE_NULL. */
struct slice prov_file_mem(const struct prov_file *f);
/* Convert to netascii (RFC 1350 / RFC 764: LF -> CR LF, CR -> CR NUL) in
 * memory; files over max bytes give -TL_ETOOBIG. */
int prov_file_netascii(struct prov_file *f, size_t max) TL_MUST_CHECK;
void prov_file_close(struct prov_file *f);

#endif
