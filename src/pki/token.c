/* Token administration (see pki_token.h). */
#include "pki/p11_int.h"
#include "pki/pki_token.h"

#include <errno.h>
#include <limits.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int pki_token_softhsm_env(const char *tokens_dir, bool create)
{
	char conf[PATH_MAX], store[PATH_MAX], abs[PATH_MAX];
	char text[PATH_MAX + 256];
	struct stat sb;
	int n, err;

	if (!realpath(tokens_dir, abs)) {
		if (!create || errno != ENOENT) {
			return -errno;
		}
		if (mkdir(tokens_dir, 0700) < 0) {
			return -errno;
		}
		if (!realpath(tokens_dir, abs)) {
			return -errno;
		}
	}
	n = snprintf(conf, sizeof(conf), "%s/softhsm2.conf", abs);
	if (n < 0 || (size_t)n >= sizeof(conf)) {
		return -TL_ETOOBIG;
	}
	n = snprintf(store, sizeof(store), "%s/store", abs);
	if (n < 0 || (size_t)n >= sizeof(store)) {
		return -TL_ETOOBIG;
	}
	if (create) {
		if (mkdir(store, 0700) < 0 && errno != EEXIST) {
			return -errno;
		}
		if (stat(conf, &sb) < 0) {
			n = snprintf(text, sizeof(text),
			             "# SoftHSM2 token store of this site\n"
			             "directories.tokendir = %s\n"
			             "objectstore.backend = file\n"
			             "log.level = ERROR\n"
			             "slots.removable = false\n",
			             store);
			if (n < 0 || (size_t)n >= sizeof(text)) {
				return -TL_ETOOBIG;
			}
			err = pki_file_write(conf, text, (size_t)n, 0600);
			if (err) {
				return err;
			}
		}
	}
	/* an operator's SOFTHSM2_CONF wins (DESIGN.md "Keys") */
	if (setenv("SOFTHSM2_CONF", conf, 0) < 0) {
		return -errno;
	}
	return 0;
}

int pki_token_pin_read(const char *path, char *pin, size_t pinlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		return -errno;
	}
	/* STYLE 12: no stdio buffer keeps a copy of the PIN */
	setvbuf(f, NULL, _IONBF, 0);
	if (!fgets(pin, (int)pinlen, f)) {
		fclose(f);
		OPENSSL_cleanse(pin, pinlen);
		return -TL_EPARSE;
	}
	fclose(f);
	n = strcspn(pin, "\r\n");
	pin[n] = '\0';
	return n ? 0 : -TL_EPARSE;
}

static int find_free_slot(struct p11 *p, const char *label, CK_SLOT_ID *out)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	bool found = false;
	CK_RV rv;

	rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char lab[33];

		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) {
			continue;
		}
		if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
			if (!found) {
				*out = slots[i];
				found = true;
			}
			continue;
		}
		p11_str(lab, sizeof(lab), ti.label, sizeof(ti.label));
		if (!strcmp(lab, label)) {
			return -TL_EEXIST;
		}
	}
	return found ? 0 : -TL_ENOTFOUND;
}

int pki_token_init(const char *module, const char *label, const char *so_pin,
                   const char *pin)
{
	struct p11 p;
	CK_UTF8CHAR lab[32];
	CK_SLOT_ID slot;
	CK_RV rv;
	int err;

	if (!so_pin || !pin || strlen(pin) < 4 || strlen(so_pin) < 4) {
		return -TL_EPOLICY;
	}
	err = p11_label(lab, label);
	if (err) {
		return err;
	}
	err = p11_load(&p, module);
	if (err) {
		return err;
	}
	err = find_free_slot(&p, label, &slot);
	if (err) {
		goto out;
	}
	rv = p.f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin,
	                      (CK_ULONG)strlen(so_pin), lab);
	if (rv != CKR_OK) {
		err = p11_err(rv);
		goto out;
	}
	/* SoftHSM2 moves an initialised token to a new slot id: find it
	 * again by its label. */
	err = p11_find_token(&p, label, &p.slot);
	if (!err) {
		err = p11_open(&p, NULL);
	}
	if (err) {
		goto out;
	}
	rv = p.f->C_Login(p.s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin,
	                  (CK_ULONG)strlen(so_pin));
	if (rv != CKR_OK) {
		err = p11_err(rv);
		goto out;
	}
	p.logged_in = true;
	rv = p.f->C_InitPIN(p.s, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
	err = p11_err(rv);
out:
	p11_close(&p);
	return err;
}

static int open_token(struct p11 *p, const char *module, const char *label,
                      const char *pin)
{
	int err = p11_load(p, module);

	if (err) {
		return err;
	}
	err = p11_find_token(p, label, &p->slot);
	if (!err) {
		err = p11_open(p, pin);
	}
	if (err) {
		p11_close(p);
	}
	return err;
}

/* DER OIDs of the named curves (RFC 5480 §2.1.1.1) */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

int pki_token_keygen(const char *module, const char *label, const char *pin,
                     const char *key_label, uint8_t id, enum pki_alg alg)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE exp[] = {0x01, 0x00, 0x01};
	CK_ULONG bits = 0;
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub[8], priv[8];
	CK_ULONG npub = 0, npriv = 0;
	CK_OBJECT_HANDLE hpub, hpriv;
	size_t llen = strlen(key_label);
	struct p11 p;
	CK_RV rv;
	int err;

	switch (alg) {
	case PKI_ALG_RSA2048:
		bits = 2048;
		break;
	case PKI_ALG_RSA3072:
		bits = 3072;
		break;
	case PKI_ALG_RSA4096:
		bits = 4096;
		break;
	case PKI_ALG_P256:
	case PKI_ALG_P384:
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		break;
	default:
		return -TL_EUNKNOWN;
	}
	pub[npub++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	pub[npub++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof(no)};
	pub[npub++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
	pub[npub++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)key_label, llen};
	pub[npub++] = (CK_ATTRIBUTE){CKA_ID, &id, 1};
	if (bits) {
		pub[npub++] =
		        (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
		pub[npub++] =
		        (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp, sizeof(exp)};
	} else if (alg == PKI_ALG_P256) {
		pub[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p256,
		                             sizeof(oid_p256)};
	} else {
		pub[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p384,
		                             sizeof(oid_p384)};
	}
	/* The private key never leaves the token (DESIGN.md "Keys") */
	priv[npriv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	priv[npriv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof(yes)};
	priv[npriv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
	priv[npriv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
	priv[npriv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof(yes)};
	priv[npriv++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)key_label, llen};
	priv[npriv++] = (CK_ATTRIBUTE){CKA_ID, &id, 1};

	err = open_token(&p, module, label, pin);
	if (err) {
		return err;
	}
	if (!p11_find_obj(&p, CKO_PRIVATE_KEY, key_label, &hpriv)) {
		err = -TL_EEXIST;
		goto out;
	}
	rv = p.f->C_GenerateKeyPair(p.s, &mech, pub, npub, priv, npriv, &hpub,
	                            &hpriv);
	err = p11_err(rv);
out:
	p11_close(&p);
	return err;
}

typedef int (*i2d_fn)(const void *obj, unsigned char **pp);

static int i2d_buf(const void *obj, i2d_fn f, struct buf *b)
{
	unsigned char *der = NULL;
	int len = f(obj, &der);

	if (len <= 0) {
		return -TL_ECRYPTO;
	}
	buf_put(b, der, (size_t)len);
	OPENSSL_free(der);
	return buf_err(b);
}

static int i2d_cert(const void *x, unsigned char **pp)
{
	return i2d_X509(x, pp);
}

static int i2d_name(const void *n, unsigned char **pp)
{
	return i2d_X509_NAME(n, pp);
}

static int i2d_int(const void *i, unsigned char **pp)
{
	return i2d_ASN1_INTEGER(i, pp);
}

int pki_token_put_cert(const char *module, const char *label, const char *pin,
                       const char *obj_label, uint8_t id, X509 *cert)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	struct buf val, subj, iss, ser;
	CK_OBJECT_HANDLE h;
	struct p11 p;
	CK_RV rv;
	int err;

	buf_init(&val, 0);
	buf_init(&subj, 0);
	buf_init(&iss, 0);
	buf_init(&ser, 0);
	err = i2d_buf(cert, i2d_cert, &val);
	if (!err) {
		err = i2d_buf(X509_get_subject_name(cert), i2d_name, &subj);
	}
	if (!err) {
		err = i2d_buf(X509_get_issuer_name(cert), i2d_name, &iss);
	}
	if (!err) {
		err = i2d_buf(X509_get0_serialNumber(cert), i2d_int, &ser);
	}
	if (err) {
		goto done;
	}
	err = open_token(&p, module, label, pin);
	if (err) {
		goto done;
	}
	while (!p11_find_obj(&p, CKO_CERTIFICATE, obj_label, &h)) {
		rv = p.f->C_DestroyObject(p.s, h);
		if (rv != CKR_OK) {
			err = p11_err(rv);
			goto out;
		}
	}
	{
		CK_ATTRIBUTE t[] = {
		        {CKA_CLASS, &cls, sizeof(cls)},
		        {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
		        {CKA_TOKEN, &yes, sizeof(yes)},
		        {CKA_PRIVATE, &no, sizeof(no)},
		        {CKA_LABEL, (void *)obj_label, strlen(obj_label)},
		        {CKA_ID, &id, 1},
		        {CKA_VALUE, val.p, val.len},
		        {CKA_SUBJECT, subj.p, subj.len},
		        {CKA_ISSUER, iss.p, iss.len},
		        {CKA_SERIAL_NUMBER, ser.p, ser.len},
		};

		rv = p.f->C_CreateObject(p.s, t, sizeof(t) / sizeof(t[0]), &h);
		err = p11_err(rv);
	}
out:
	p11_close(&p);
done:
	buf_free(&val);
	buf_free(&subj);
	buf_free(&iss);
	buf_free(&ser);
	return err;
}

int pki_token_key_protected(const char *module, const char *label,
                            const char *pin, const char *key_label)
{
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, never = CK_FALSE;
	CK_ATTRIBUTE flags[] = {
	        {CKA_SENSITIVE, &sens, sizeof(sens)},
	        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
	        {CKA_NEVER_EXTRACTABLE, &never, sizeof(never)},
	};
	static const CK_ATTRIBUTE_TYPE secrets[] = {
	        CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_VALUE};
	CK_OBJECT_HANDLE h;
	struct p11 p;
	CK_RV rv;
	int err;

	err = open_token(&p, module, label, pin);
	if (err) {
		return err;
	}
	err = p11_find_obj(&p, CKO_PRIVATE_KEY, key_label, &h);
	if (err) {
		goto out;
	}
	rv = p.f->C_GetAttributeValue(p.s, h, flags, 3);
	if (rv != CKR_OK || !sens || extr || !never) {
		err = -TL_EPOLICY;
		goto out;
	}
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		uint8_t tmp[1024];
		CK_ATTRIBUTE a = {secrets[i], tmp, sizeof(tmp)};

		rv = p.f->C_GetAttributeValue(p.s, h, &a, 1);
		if (rv == CKR_OK &&
		    a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
			OPENSSL_cleanse(tmp, sizeof(tmp));
			err = -TL_EPOLICY;
			goto out;
		}
	}
out:
	p11_close(&p);
	return err;
}

static void describe(struct p11 *p, struct pki_token_info *ti)
{
	CK_OBJECT_HANDLE h;
	EVP_PKEY *pub = NULL;
	struct buf der;
	const unsigned char *q;
	X509 *x;

	if (p11_open(p, NULL)) {
		return;
	}
	if (!p11_find_obj(p, CKO_PUBLIC_KEY, NULL, &h)) {
		CK_UTF8CHAR lab[64];
		CK_ATTRIBUTE a = {CKA_LABEL, lab, sizeof(lab) - 1};
		char name[65];

		ti->has_key = true;
		if (p->f->C_GetAttributeValue(p->s, h, &a, 1) == CKR_OK &&
		    a.ulValueLen < sizeof(lab)) {
			p11_str(name, sizeof(name), lab, a.ulValueLen);
			if (!p11_public(p, name, &pub)) {
				int bits = EVP_PKEY_get_bits(pub);

				snprintf(ti->key_alg, sizeof(ti->key_alg),
				         "%s%d",
				         EVP_PKEY_get_base_id(pub) ==
				                         EVP_PKEY_RSA
				                 ? "rsa"
				                 : "p",
				         bits);
				EVP_PKEY_free(pub);
			}
		}
	}
	if (!p11_find_obj(p, CKO_CERTIFICATE, NULL, &h)) {
		buf_init(&der, 0);
		if (!p11_attr(p, h, CKA_VALUE, &der)) {
			q = der.p;
			x = d2i_X509(NULL, &q, (long)der.len);
			if (x) {
				ti->has_cert = true;
				if (pki_serial_hex(x, ti->cert_serial,
				                   sizeof(ti->cert_serial)) ||
				    pki_name_str(X509_get_subject_name(x),
				                 ti->cert_subject,
				                 sizeof(ti->cert_subject))) {
					ti->cert_serial[0] = '\0';
				}
				{
					struct tm tm;

					if (ASN1_TIME_to_tm(
					            X509_get0_notAfter(x),
					            &tm) == 1) {
						ti->cert_not_after =
						        (int64_t)timegm(&tm);
					}
				}
				X509_free(x);
			}
		}
		buf_free(&der);
	}
	(void)p->f->C_CloseSession(p->s);
	p->has_session = false;
}

int pki_token_list(const char *module, pki_token_h h, void *arg)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	struct p11 p;
	CK_RV rv;
	int err;

	err = p11_load(&p, module);
	if (err) {
		return err;
	}
	rv = p.f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		err = p11_err(rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		struct pki_token_info ti;
		CK_TOKEN_INFO tk;

		if (p.f->C_GetTokenInfo(slots[i], &tk) != CKR_OK) {
			continue;
		}
		memset(&ti, 0, sizeof(ti));
		ti.slot = (unsigned long)slots[i];
		ti.initialized = (tk.flags & CKF_TOKEN_INITIALIZED) != 0;
		p11_str(ti.label, sizeof(ti.label), tk.label, sizeof(tk.label));
		p11_str(ti.serial, sizeof(ti.serial), tk.serialNumber,
		        sizeof(tk.serialNumber));
		p11_str(ti.model, sizeof(ti.model), tk.model, sizeof(tk.model));
		p11_str(ti.manufacturer, sizeof(ti.manufacturer),
		        tk.manufacturerID, sizeof(tk.manufacturerID));
		if (ti.initialized) {
			p.slot = slots[i];
			describe(&p, &ti);
		}
		if (h(&ti, arg)) {
			break;
		}
	}
out:
	p11_close(&p);
	return err;
}
