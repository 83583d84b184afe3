/* libFuzzer target for the RFC 4568 key-params parser (media_srtp_key_parse:
 * "inline:" base64 key||salt, lifetime, MKI). The first byte chooses the
 * suite. An accepted key has exactly the suite's length and survives
 * media_srtp_key_format and a second parse unchanged. */
#include "media/media.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum media_srtp_suite suites[] = {
	        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
	        MEDIA_SRTP_AEAD_AES_128_GCM,
	};
	struct media_srtp_key k, again;
	char s[MEDIA_SRTP_KEY_PARAMS_MAX];

	if (size == 0) {
		return 0;
	}
	enum media_srtp_suite suite = suites[data[0] % 3];
	if (media_srtp_key_parse(&k, suite, slice_make(data + 1, size - 1)) !=
	    0) {
		if (k.len != 0) {
			abort(); /* a refused key leaves nothing behind */
		}
		return 0;
	}
	if (k.suite != suite || k.len != media_srtp_key_len(suite) ||
	    media_srtp_key_format(&k, s, sizeof(s)) != 0 ||
	    media_srtp_key_parse(&again, suite, slice_from_str(s)) != 0 ||
	    again.len != k.len || memcmp(again.key, k.key, k.len) != 0) {
		abort();
	}
	media_srtp_key_wipe(&k);
	media_srtp_key_wipe(&again);
	return 0;
}
