/* Message waiting indication: the notifier side of the message-summary
 * event package (RFC 3842) over SIP events (RFC 6665).
 *
 * A phone subscribes to its own line's mailbox (Request-URI user = From
 * user = its DN, from where it registered); we answer 200 and NOTIFY the
 * state at once, then whenever `trustline mwi set` changes it in the store
 * (cm_mwi_tick after the store's change counter moved), and a final
 * NOTIFY when the subscription ends. A device whose profile has Auth
 * INVITE (seed 001) may challenge our NOTIFY: we answer once with the
 * line's credentials.
 *
 * Ownership: cm_mwi_new returns an object freed with cm_mwi_free (NULL is
 * a no-op); stack, registrar and store are borrowed. */
#ifndef TL_CM_MWI_H
#define TL_CM_MWI_H

#include "base/buf.h"
#include "base/tl_err.h"
#include "callmgr/cm_reg.h"
#include "sip/sip_stack.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct cm_mwi;

struct cm_mwi_conf {
	const char *host; /* our address in Via, Contact, Message-Account */
	uint16_t port, tls_port;
	uint32_t max_expires; /* 0: 7200 */
	uint32_t min_expires; /* 0: 60 */
	unsigned max_subs;    /* 0: 100,000 */
};

int cm_mwi_new(struct cm_mwi **out, struct sip_stack *stack, struct cm_reg *reg,
               struct store *st, const struct cm_mwi_conf *conf) TL_MUST_CHECK;
void cm_mwi_free(struct cm_mwi *m);

/* A SUBSCRIBE (new or refresh). Always answers. */
void cm_mwi_request(struct cm_mwi *m, const struct sip_stack_req *r);
/* Once a second: end expired subscriptions; when changed, read the
 * mailboxes again and NOTIFY those whose state moved. */
void cm_mwi_tick(struct cm_mwi *m, uint64_t now_ms, bool changed);
/* Live subscriptions. */
unsigned cm_mwi_count(const struct cm_mwi *m);

/* RFC 3842 §5.2 body: Messages-Waiting, Message-Account, Voice-Message
 * "new/old". Negative counts are refused (-TL_EPARSE). */
int cm_mwi_body(struct buf *b, const char *account, int new_msgs,
                int old_msgs) TL_MUST_CHECK;

#endif
