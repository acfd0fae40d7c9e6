/* Parses kept for the indexer (mail.h: mail_parsed_claim). Storing a message parses it (the
 * row needs its envelope, structure and snippet); the indexer, a moment later, needs the same
 * parse for the text it indexes. Rather than read the blob back and parse it a second time,
 * mail_insert hands its parse over here and the indexer takes it.
 *
 * A FIFO list under its own lock: the indexer works oldest first, so what it wants is almost
 * always at the head. Bounded by bytes and by age, so parses the indexer never asks for
 * (messages deleted before it got to them, an indexer that is far behind) cost at most
 * PARSED_BYTES_MAX for at most PARSED_AGE_S; when full, new parses are not kept and the
 * indexer parses those itself, as it always could. */
#include "mail_int.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define PARSED_BYTES_MAX (64u << 20) /* all kept parses */
#define PARSED_ENTRY_MAX (4u << 20)  /* one parse; a bigger one is not kept */
#define PARSED_AGE_S 30

struct mail_parsed {
	struct mail_parsed *next;
	int64_t account, id;
	char blob[BLOB_HEX];
	struct arena *a;
	struct mime_msg *msg;
	size_t bytes;
	uint64_t born_ns;
};

static void entry_free(struct mail_parsed *e)
{
	arena_free(&e->a);
	free(e);
}

/* Under ms->parsed_lock (now read under it too, so the list stays in time order): drop what
 * is older than PARSED_AGE_S. */
static void expire(struct mail_store *ms, uint64_t now)
{
	while (ms->parsed_head && now > ms->parsed_head->born_ns &&
	       now - ms->parsed_head->born_ns > PARSED_AGE_S * 1000000000ull) {
		struct mail_parsed *e = ms->parsed_head;
		ms->parsed_head = e->next;
		if (ms->parsed_head == NULL)
			ms->parsed_tail = NULL;
		ms->parsed_bytes -= e->bytes;
		entry_free(e);
	}
}

void mail_parsed_keep_take(struct mail_store *ms, int64_t account, int64_t id, const char *blob,
			   struct arena *a, struct mime_msg *msg)
{
	size_t bytes = arena_held(a);
	uint64_t now;
	struct mail_parsed *e;

	if (!ms->opts.keep_parsed || bytes > PARSED_ENTRY_MAX) {
		arena_free(&a);
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->account = account;
	e->id = id;
	memcpy(e->blob, blob, BLOB_HEX);
	e->a = a;
	e->msg = msg;
	e->bytes = bytes;
	pthread_mutex_lock(&ms->parsed_lock);
	e->born_ns = now = time_mono_ns();
	expire(ms, now);
	if (ms->parsed_bytes + bytes > PARSED_BYTES_MAX) {
		pthread_mutex_unlock(&ms->parsed_lock);
		entry_free(e);
		return;
	}
	if (ms->parsed_tail)
		ms->parsed_tail->next = e;
	else
		ms->parsed_head = e;
	ms->parsed_tail = e;
	ms->parsed_bytes += bytes;
	pthread_mutex_unlock(&ms->parsed_lock);
}

/* The entry kept for (account, id), off the list, or NULL. */
static struct mail_parsed *unlink_entry(struct mail_store *ms, int64_t account, int64_t id)
{
	struct mail_parsed **pp, *e = NULL, *prev = NULL;

	pthread_mutex_lock(&ms->parsed_lock);
	expire(ms, time_mono_ns());
	for (pp = &ms->parsed_head; *pp; prev = *pp, pp = &(*pp)->next)
		if ((*pp)->id == id && (*pp)->account == account) {
			e = *pp;
			*pp = e->next;
			if (ms->parsed_tail == e)
				ms->parsed_tail = prev;
			ms->parsed_bytes -= e->bytes;
			break;
		}
	pthread_mutex_unlock(&ms->parsed_lock);
	return e;
}

struct mime_msg *mail_parsed_claim(struct mailbox *mb, int64_t id, const char *blob,
				   struct arena **a_r)
{
	struct mail_parsed *e;
	struct mime_msg *msg;

	if (!mb->ms->opts.keep_parsed || (e = unlink_entry(mb->ms, mb->account_id, id)) == NULL)
		return NULL;
	/* the row's blob names what was parsed: a row id reused since (the message deleted and
	 * another stored by a process that keeps no parses) does not get the old parse */
	if (strcmp(e->blob, blob) != 0) {
		entry_free(e);
		return NULL;
	}
	*a_r = e->a;
	msg = e->msg;
	free(e);
	return msg;
}

void mail_parsed_drop(struct mailbox *mb, int64_t id)
{
	struct mail_parsed *e;

	if (mb->ms->opts.keep_parsed && (e = unlink_entry(mb->ms, mb->account_id, id)) != NULL)
		entry_free(e);
}

size_t mail_parsed_bytes(struct mail_store *ms)
{
	size_t n;
	pthread_mutex_lock(&ms->parsed_lock);
	n = ms->parsed_bytes;
	pthread_mutex_unlock(&ms->parsed_lock);
	return n;
}

void mail_parsed_clear(struct mail_store *ms)
{
	pthread_mutex_lock(&ms->parsed_lock);
	while (ms->parsed_head) {
		struct mail_parsed *e = ms->parsed_head;
		ms->parsed_head = e->next;
		entry_free(e);
	}
	ms->parsed_tail = NULL;
	ms->parsed_bytes = 0;
	pthread_mutex_unlock(&ms->parsed_lock);
}
