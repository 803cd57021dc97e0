/*
 * refresh: periodic re-resolution of host names; see include/refresh.h.
 * Owns the timer, the resolver's descriptor in the loop, and the finished
 * batch until it is applied.
 */
#include "refresh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "log.h"
#include "resolve.h"

struct refresh {
	struct conf *conf;
	struct loop *loop;
	struct resolve *res;
	struct loop_timer timer;
	struct loop_handler h;
	int64_t every_ns;
	struct resolve_host *hosts; /* a finished batch, not applied yet */
	size_t n_hosts;
};

static void refresh_tick(struct loop_timer *t)
{
	struct refresh *r =
	    (struct refresh *)((char *)t - offsetof(struct refresh, timer));
	const char **names = NULL;
	size_t n = 0;
	int rc;

	loop_timer_set(r->loop, t, clock_mono_ns() + r->every_ns);
	if (r->hosts != NULL)
		return; /* the last batch is still waiting for a round gap */
	if (conf_host_names(r->conf, &names, &n) < 0 || n == 0) {
		free(names);
		return;
	}
	rc = resolve_start(r->res, names, n);
	free(names);
	if (rc < 0 && rc != -EBUSY)
		log_msg(LOG_WARN, "cannot look host names up again: %s",
		        strerror(-rc));
}

static void refresh_done(struct loop_handler *h, uint32_t events)
{
	struct refresh *r =
	    (struct refresh *)((char *)h - offsetof(struct refresh, h));
	struct resolve_host *hosts;
	size_t n;

	(void)events;
	if (resolve_collect(r->res, &hosts, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (hosts[i].err)
			log_msg(LOG_WARN,
			        "look-up of %s failed (%s): its "
			        "addresses so far stay",
			        hosts[i].name,
			        hosts[i].error_text ? hosts[i].error_text
			                            : "error");
	resolve_hosts_free(r->hosts, r->n_hosts);
	r->hosts = hosts;
	r->n_hosts = n;
}

int refresh_new(struct refresh **out, struct conf *conf, struct loop *loop)
{
	struct refresh *r;
	int64_t every = 0;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < conf->n_targets; i++) {
		int64_t ns = conf->targets[i].resolve_interval_ns;

		if (ns > 0 && conf->targets[i].n_hosts > 0 &&
		    (every == 0 || ns < every))
			every = ns;
	}
	if (every == 0)
		return 0;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->conf = conf;
	r->loop = loop;
	r->every_ns = every;
	r->timer.fn = refresh_tick;
	r->h.fn = refresh_done;
	rc = resolve_new(&r->res);
	if (rc == 0)
		rc = loop_add(loop, resolve_fd(r->res), EPOLLIN, &r->h);
	if (rc == 0)
		rc = loop_timer_set(loop, &r->timer, clock_mono_ns() + every);
	if (rc < 0) {
		refresh_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void refresh_free(struct refresh *r)
{
	if (r == NULL)
		return;
	loop_timer_cancel(r->loop, &r->timer);
	if (r->res) {
		loop_del(r->loop, resolve_fd(r->res));
		resolve_free(r->res);
	}
	resolve_hosts_free(r->hosts, r->n_hosts);
	free(r);
}

bool refresh_apply(struct refresh *r)
{
	bool any = false;

	if (r == NULL || r->hosts == NULL)
		return false;
	for (size_t i = 0; i < r->conf->n_targets; i++) {
		struct conf_target *t = &r->conf->targets[i];
		bool changed = false;

		if (t->resolve_interval_ns <= 0 || t->n_hosts == 0)
			continue;
		if (conf_target_refresh(t, r->hosts, r->n_hosts, &changed) <
		    0) {
			log_msg(LOG_WARN,
			        "out of memory applying look-ups "
			        "of target %s",
			        t->name);
			continue;
		}
		/* The array is new even when the set is the same. */
		any = true;
		if (changed)
			log_msg(LOG_INFO,
			        "target %s: addresses changed, %zu now",
			        t->name, t->n_servers);
	}
	resolve_hosts_free(r->hosts, r->n_hosts);
	r->hosts = NULL;
	r->n_hosts = 0;
	return any;
}
