/* api_state.h: in-memory sign-in state (api_state.c). */
#ifndef YZ_API_STATE_H
#define YZ_API_STATE_H

#include <stdint.h>
#include <stdio.h>

#include "api.h"
#include "lib/scram.h"


struct scram_pending {
	char sid[33];
	int64_t created_ms;
	int64_t account_id; /* 0 when the address is unknown or disabled */
	char address[321];
	struct scram_secret secret; /* real or fake */
	struct scram_client_first cf;
	char server_first[SCRAM_MAX_MSG + 1];
};

int api_pending_put(struct api_state *s, const struct scram_pending *p, struct err *err);
/* Find and remove the exchange with this sid; -1 if unknown or expired. */
int api_pending_take(struct api_state *s, const char *sid, struct scram_pending *out);
/* Count one sign-in request from ip; -1 with *retry_after_r when over the limit. */
int api_throttle_ip(struct api_state *s, const char *ip, int64_t per_minute,
		    int64_t *retry_after_r);

#endif
