#include "base/tl_err.h"

#include <string.h>

static const char *const tl_msgs[] = {
	[TL_EPARSE - TL_EBASE] = "malformed input",
	[TL_ETRUNC - TL_EBASE] = "input truncated",
	[TL_ETRAIL - TL_EBASE] = "trailing bytes after the end",
	[TL_ETOOBIG - TL_EBASE] = "length or count over the limit",
	[TL_EDUP - TL_EBASE] = "duplicate field",
	[TL_EUNKNOWN - TL_EBASE] = "unknown critical field",
	[TL_EAUTH - TL_EBASE] = "authentication failed",
	[TL_ESIG - TL_EBASE] = "signature does not verify",
	[TL_ETRUST - TL_EBASE] = "not trusted",
	[TL_EEXPIRED - TL_EBASE] = "expired",
	[TL_EREVOKED - TL_EBASE] = "revoked",
	[TL_ECRYPTO - TL_EBASE] = "crypto library failure",
	[TL_ESTORE - TL_EBASE] = "database failure",
	[TL_ENOTFOUND - TL_EBASE] = "not found",
	[TL_EEXIST - TL_EBASE] = "already exists",
	[TL_EAGAIN - TL_EBASE] = "need more input",
	[TL_ESTATE - TL_EBASE] = "not allowed in this state",
	[TL_ECONFIG - TL_EBASE] = "bad configuration",
	[TL_EPOLICY - TL_EBASE] = "refused by policy",
	[TL_ESTALE - TL_EBASE] = "stale nonce",
	[TL_ELIMIT - TL_EBASE] = "limit reached",
};

const char *tl_strerror(int err)
{
	if (err < 0) {
		err = -err;
	}
	if (err == 0) {
		return "success";
	}
	if (err > TL_EBASE && err < TL_EMAX) {
		return tl_msgs[err - TL_EBASE];
	}
	if (err < TL_EBASE) {
		return strerror(err);
	}
	return "unknown error";
}
