/* placeholder until SPF/DKIM/DMARC land */
#include "mailauth.h"

int mailauth_new(const struct mailauth_opts *o, struct dns_resolver *dns, struct mailauth **ma_r,
		 struct err *err)
{
	*ma_r = NULL;
	return 0;
}

void mailauth_free(struct mailauth **map)
{
	*map = NULL;
}

int mailauth_spf(struct mailauth *ma, const char *client_ip, const char *helo,
		 const char *mail_from, enum mailauth_result *r, struct err *err)
{
	*r = MA_NONE;
	return 0;
}

int mailauth_check(struct mailauth *ma, const char *client_ip, const char *helo,
		   const char *mail_from, enum mailauth_result spf, const char *msg, size_t len,
		   struct arena *a, struct mailauth_verdict *v, struct err *err)
{
	return err_set(err, ERR_INTERNAL, "mailauth: not built yet");
}

int mailauth_dkim_sign(struct mailauth *ma, const char *domain, const char *selector,
		       const char *key_pem, const char *msg, size_t len, struct arena *a,
		       const char **header_r, struct err *err)
{
	return err_set(err, ERR_INTERNAL, "mailauth: not built yet");
}

int mailauth_dkim_keygen(char **key_pem_r, char **txt_r, struct err *err)
{
	return err_set(err, ERR_INTERNAL, "mailauth: not built yet");
}

const char *mailauth_result_name(enum mailauth_result r)
{
	return "none";
}
