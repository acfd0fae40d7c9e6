/* maint.h: the daemon's housekeeping thread (hourly purge of expunged mail past retention). */
#ifndef YZ_MAINT_H
#define YZ_MAINT_H

struct mail_store;
struct maint;

/* NULL if the thread cannot start. */
struct maint *maint_start(struct mail_store *ms);
void maint_stop(struct maint **mp);

#endif
