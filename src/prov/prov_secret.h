/* Line passwords for the encrypted phone config (issue 7, option (a)):
 * the store keeps HA1 values for digest, and beside them a sealed copy of
 * the password, AES-256-GCM under the site's secrets key (pki/secrets.key,
 * 32 random bytes, 0600), as the setting "line_secret.<DN>". The
 * provisioning server opens it only to put authPassword into
 * SEP<MAC>.cnf.xml.enc.sgn, and only when the password still matches the
 * line's stored HA1 (a stale copy is never served).
 *
 * Sealed text: "v1:" base64(nonce[12] || ciphertext || tag[16]), the
 * associated data "trustline line secret v1" NUL DN. */
#ifndef TL_PROV_SECRET_H
#define TL_PROV_SECRET_H

#include "base/tl_err.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define PROV_SECRET_KEY_LEN 32
#define PROV_SECRET_PW_MAX  128

/* Read pki_dir/secrets.key; with create, make it (0600) when missing. */
int prov_secret_key_load(const char *pki_dir, bool create,
                         uint8_t key[PROV_SECRET_KEY_LEN]) TL_MUST_CHECK;
/* Seal password for line dn and store it (a setting). */
int prov_secret_put(struct store *st, const uint8_t key[PROV_SECRET_KEY_LEN],
                    const char *dn, const char *password) TL_MUST_CHECK;
/* The password of line dn into out, when sealed, intact, and matching the
 * line's HA1 (MD5 of user:realm:password): else -TL_ENOTFOUND (none or
 * stale), -TL_EAUTH (tampered). */
int prov_secret_get(struct store *st, const uint8_t key[PROV_SECRET_KEY_LEN],
                    const char *dn, char *out, size_t outlen) TL_MUST_CHECK;

#endif
