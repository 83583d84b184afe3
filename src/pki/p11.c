/* PKCS#11 plumbing through p11-kit (see p11_int.h). */
#include "pki/p11_int.h"

#include "base/log.h"

#include <errno.h>
#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <stdlib.h>
#include <string.h>

#define P11_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

const char *p11_module_path(const char *module)
{
	const char *env;

	if (module && *module) {
		return module;
	}
	env = getenv("TL_PKCS11_MODULE");
	return (env && *env) ? env : P11_DEFAULT_MODULE;
}

int p11_err(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_LOCKED:
	case CKR_USER_NOT_LOGGED_IN:
		return -TL_EAUTH;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return -ENOMEM;
	case CKR_ATTRIBUTE_SENSITIVE:
	case CKR_KEY_UNEXTRACTABLE:
		return -TL_EPOLICY;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SLOT_ID_INVALID:
		return -TL_ENOTFOUND;
	case CKR_SESSION_EXISTS:
	case CKR_TOKEN_WRITE_PROTECTED:
		return -TL_ESTATE;
	default:
		/* PKCS#11 v2.40 §5.1 return values, for whoever reads the
		 * log: the code says more than "crypto library failure" */
		log_warn("pkcs11", "token call failed: CKR 0x%lx",
		         (unsigned long)rv);
		return -TL_ECRYPTO;
	}
}

int p11_load(struct p11 *p, const char *module)
{
	CK_RV rv;

	memset(p, 0, sizeof(*p));
	p->f = p11_kit_module_load(p11_module_path(module), 0);
	if (!p->f) {
		return -ENOENT;
	}
	rv = p11_kit_module_initialize(p->f);
	if (rv != CKR_OK) {
		p11_kit_module_release(p->f);
		p->f = NULL;
		return p11_err(rv);
	}
	return 0;
}

void p11_close(struct p11 *p)
{
	if (!p->f) {
		return;
	}
	if (p->has_session) {
		if (p->logged_in) {
			(void)p->f->C_Logout(p->s);
		}
		(void)p->f->C_CloseSession(p->s);
	}
	(void)p11_kit_module_finalize(p->f);
	p11_kit_module_release(p->f);
	memset(p, 0, sizeof(*p));
}

void p11_str(char *dst, size_t dstlen, const CK_UTF8CHAR *src, size_t srclen)
{
	size_t n = srclen;

	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0')) {
		n--;
	}
	if (n >= dstlen) {
		n = dstlen - 1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int p11_label(CK_UTF8CHAR dst[32], const char *label)
{
	size_t n = strlen(label);

	if (n == 0 || n > 32) {
		return -TL_ETOOBIG;
	}
	memset(dst, ' ', 32);
	memcpy(dst, label, n);
	return 0;
}

int p11_find_token(struct p11 *p, const char *label, CK_SLOT_ID *slot)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;
	int err = -TL_ENOTFOUND;

	rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	if (n == 0) {
		return -TL_ENOTFOUND;
	}
	slots = calloc(n, sizeof(*slots));
	if (!slots) {
		return -ENOMEM;
	}
	rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		err = p11_err(rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char lab[33];

		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !(ti.flags & CKF_TOKEN_INITIALIZED)) {
			continue;
		}
		p11_str(lab, sizeof(lab), ti.label, sizeof(ti.label));
		if (!strcmp(lab, label)) {
			*slot = slots[i];
			err = 0;
			break;
		}
	}
out:
	free(slots);
	return err;
}

int p11_open(struct p11 *p, const char *pin)
{
	CK_RV rv;

	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	                         NULL, NULL, &p->s);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	p->has_session = true;
	if (!pin) {
		return 0;
	}
	rv = p->f->C_Login(p->s, CKU_USER, (CK_UTF8CHAR_PTR)pin,
	                   (CK_ULONG)strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		return p11_err(rv);
	}
	p->logged_in = (rv == CKR_OK);
	return 0;
}

int p11_find_obj(struct p11 *p, CK_OBJECT_CLASS cls, const char *label,
                 CK_OBJECT_HANDLE *obj)
{
	CK_ATTRIBUTE tmpl[2] = {
	        {CKA_CLASS, &cls, sizeof(cls)},
	        {CKA_LABEL, (void *)label, label ? strlen(label) : 0},
	};
	CK_ULONG found = 0;
	CK_RV rv;

	rv = p->f->C_FindObjectsInit(p->s, tmpl, label ? 2 : 1);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	rv = p->f->C_FindObjects(p->s, obj, 1, &found);
	(void)p->f->C_FindObjectsFinal(p->s);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	return found == 1 ? 0 : -TL_ENOTFOUND;
}

int p11_attr(struct p11 *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
             struct buf *out)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	CK_RV rv;
	int err;

	rv = p->f->C_GetAttributeValue(p->s, obj, &a, 1);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
	    a.ulValueLen > 65536) {
		return -TL_ETOOBIG;
	}
	err = buf_reserve(out, a.ulValueLen);
	if (err) {
		return err;
	}
	a.pValue = out->p + out->len;
	rv = p->f->C_GetAttributeValue(p->s, obj, &a, 1);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	out->len += a.ulValueLen;
	return 0;
}

static int rsa_public(struct p11 *p, CK_OBJECT_HANDLE obj, EVP_PKEY **out)
{
	struct buf n, e;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int err;

	buf_init(&n, 0);
	buf_init(&e, 0);
	err = p11_attr(p, obj, CKA_MODULUS, &n);
	if (!err) {
		err = p11_attr(p, obj, CKA_PUBLIC_EXPONENT, &e);
	}
	if (err) {
		goto out;
	}
	err = -TL_ECRYPTO;
	bn_n = BN_bin2bn(n.p, (int)n.len, NULL);
	bn_e = BN_bin2bn(e.p, (int)e.len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn_n || !bn_e || !bld ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
		goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		goto out;
	}
	err = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	buf_free(&n);
	buf_free(&e);
	return err;
}

static int ec_public(struct p11 *p, CK_OBJECT_HANDLE obj, EVP_PKEY **out)
{
	struct buf par, pt;
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *os = NULL;
	const unsigned char *q;
	const unsigned char *point;
	size_t point_len;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	const char *group;
	int err;

	buf_init(&par, 0);
	buf_init(&pt, 0);
	err = p11_attr(p, obj, CKA_EC_PARAMS, &par);
	if (!err) {
		err = p11_attr(p, obj, CKA_EC_POINT, &pt);
	}
	if (err) {
		goto out;
	}
	err = -TL_EUNKNOWN;
	q = par.p;
	oid = d2i_ASN1_OBJECT(NULL, &q, (long)par.len);
	if (!oid || q != par.p + par.len) {
		goto out;
	}
	group = OBJ_nid2sn(OBJ_obj2nid(oid));
	if (!group || OBJ_obj2nid(oid) == NID_undef) {
		goto out;
	}
	/* PKCS#11 v2.40 §2.3.3: CKA_EC_POINT is the DER OCTET STRING of the
	 * ANSI X9.62 point; some modules give the bare point. */
	q = pt.p;
	os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)pt.len);
	if (os && q == pt.p + pt.len) {
		point = ASN1_STRING_get0_data(os);
		point_len = (size_t)ASN1_STRING_length(os);
	} else {
		point = pt.p;
		point_len = pt.len;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	                                             (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	                                              (void *)point, point_len);
	params[2] = OSSL_PARAM_construct_end();
	err = -TL_ECRYPTO;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		goto out;
	}
	err = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	buf_free(&par);
	buf_free(&pt);
	return err;
}

int p11_public(struct p11 *p, const char *label, EVP_PKEY **out)
{
	CK_OBJECT_HANDLE obj;
	CK_KEY_TYPE kt;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	struct buf der;
	const unsigned char *q;
	X509 *x;
	int err;

	*out = NULL;
	if (!p11_find_obj(p, CKO_PUBLIC_KEY, label, &obj)) {
		if (p->f->C_GetAttributeValue(p->s, obj, &a, 1) != CKR_OK) {
			return -TL_ECRYPTO;
		}
		if (kt == CKK_RSA) {
			return rsa_public(p, obj, out);
		}
		if (kt == CKK_EC) {
			return ec_public(p, obj, out);
		}
		return -TL_EUNKNOWN;
	}
	err = p11_find_obj(p, CKO_CERTIFICATE, label, &obj);
	if (err) {
		return err;
	}
	buf_init(&der, 0);
	err = p11_attr(p, obj, CKA_VALUE, &der);
	if (err) {
		goto out;
	}
	q = der.p;
	x = d2i_X509(NULL, &q, (long)der.len);
	if (!x) {
		err = -TL_EPARSE;
		goto out;
	}
	*out = X509_get_pubkey(x);
	X509_free(x);
	err = *out ? 0 : -TL_ECRYPTO;
out:
	buf_free(&der);
	return err;
}
