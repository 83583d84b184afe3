/* Error catalogue: every fallible function returns 0 or a negative code,
 * either -TL_E* from this list or -errno. */
#ifndef TL_ERR_H
#define TL_ERR_H

#define TL_MUST_CHECK __attribute__((warn_unused_result))

enum tl_err {
	TL_EBASE = 4096, /* above every errno value */
	TL_EPARSE,	 /* malformed input */
	TL_ETRUNC,	 /* input ends too early */
	TL_ETRAIL,	 /* trailing bytes after a complete object */
	TL_ETOOBIG,	 /* a length or count over its limit */
	TL_EDUP,	 /* a field that may appear once appears twice */
	TL_EUNKNOWN,	 /* an unknown critical tag or value */
	TL_EAUTH,	 /* authentication failed */
	TL_ESIG,	 /* signature does not verify */
	TL_ETRUST,	 /* signer or peer not trusted */
	TL_EEXPIRED,	 /* certificate, nonce or operation expired */
	TL_EREVOKED,	 /* certificate revoked */
	TL_ECRYPTO,	 /* a crypto library call failed */
	TL_ESTORE,	 /* database failure */
	TL_ENOTFOUND,	 /* no such object */
	TL_EEXIST,	 /* object already exists */
	TL_EAGAIN,	 /* need more input */
	TL_ESTATE,	 /* not allowed in the current state */
	TL_ECONFIG,	 /* bad configuration */
	TL_EPOLICY,	 /* refused by policy */
	TL_ESTALE,	 /* nonce stale: retry with a fresh one */
	TL_ELIMIT,	 /* rate or resource limit reached */
	TL_EMAX
};

/* A static string for people; handles -TL_E* and -errno. */
const char *tl_strerror(int err);

#endif
