/*
 * conf_hosts: host names in `server` after start-up, for resolve_interval.
 * conf_host_names() lists what to look up again (for resolve_start());
 * conf_target_refresh() rebuilds a target's servers from what
 * resolve_collect() returned. Neither looks anything up: resolve.c does,
 * off the loop. The caller (the scheduler) rebuilds its job list after a
 * refresh, between rounds, and keeps history by content, so addresses
 * that stay keep theirs.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"
#include "resolve.h"

static int cmp_name(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

int conf_host_names(const struct conf *conf, const char ***names, size_t *n)
{
	const char **l;
	size_t total = 0, k = 0;

	if (!conf || !names || !n)
		return -EINVAL;
	*names = NULL;
	*n = 0;
	for (size_t i = 0; i < conf->n_targets; i++)
		if (conf->targets[i].resolve_interval_ns > 0)
			total += conf->targets[i].n_hosts;
	if (!total)
		return 0;
	l = calloc(total, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];

		for (size_t j = 0; t->resolve_interval_ns > 0 && j < t->n_hosts;
		     j++)
			l[k++] = t->hosts[j].name;
	}
	/* Sorted, then each name once (10,000 targets stay cheap). */
	qsort(l, k, sizeof(*l), cmp_name);
	total = k;
	k = 0;
	for (size_t i = 0; i < total; i++)
		if (!k || strcasecmp(l[k - 1], l[i]))
			l[k++] = l[i];
	*names = l;
	*n = k;
	return 0;
}

static const struct resolve_host *find_host(const struct resolve_host *hosts,
                                            size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (hosts[i].name && !strcasecmp(hosts[i].name, name))
			return &hosts[i];
	return NULL;
}

static bool same_addr(const struct conf_server *a, const struct conf_server *b)
{
	return a->addrlen == b->addrlen &&
	       !memcmp(&a->addr, &b->addr, a->addrlen);
}

/* Append S (NAME copied) unless its address is there. 0 or -ENOMEM. */
static int push(struct conf_server *arr, size_t *n, const struct conf_server *s,
                const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (same_addr(&arr[i], s))
			return 0;
	arr[*n] = *s;
	arr[*n].name = NULL;
	if (name && !(arr[*n].name = strdup(name)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

int conf_target_refresh(struct conf_target *t, const struct resolve_host *hosts,
                        size_t n, bool *changed)
{
	struct conf_server *arr;
	size_t cap = t ? t->n_servers : 0, k = 0;
	bool diff;

	if (!t || (n && !hosts))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		cap += hosts[i].n_addrs;
	arr = calloc(cap ? cap : 1, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_servers; i++)
		if (!t->servers[i].name && push(arr, &k, &t->servers[i], NULL))
			goto nomem;
	for (size_t h = 0; h < t->n_hosts; h++) {
		const struct conf_host *ch = &t->hosts[h];
		const struct resolve_host *rh = find_host(hosts, n, ch->name);

		if (!rh || rh->err) { /* keep what it had */
			for (size_t i = 0; i < t->n_servers; i++) {
				const struct conf_server *s = &t->servers[i];

				if (s->name && s->line == ch->line &&
				    !strcasecmp(s->name, ch->name) &&
				    push(arr, &k, s, s->name))
					goto nomem;
			}
			continue;
		}
		for (size_t i = 0; i < rh->n_addrs; i++) {
			const struct sockaddr_storage *a = &rh->addrs[i];
			struct conf_server s;
			unsigned fam = a->ss_family == AF_INET    ? CONF_IPV4
			               : a->ss_family == AF_INET6 ? CONF_IPV6
			                                          : 0;

			if (!(fam & t->families) ||
			    (fam == CONF_IPV6 &&
			     IN6_IS_ADDR_V4MAPPED(
			         &((const struct sockaddr_in6 *)a)->sin6_addr)))
				continue;
			if (cf_server_init(&s, a,
			                   ch->port ? ch->port : t->port))
				continue;
			s.port = ch->port;
			s.line = ch->line;
			if (push(arr, &k, &s, ch->name))
				goto nomem;
		}
	}
	diff = k != t->n_servers;
	for (size_t i = 0; i < k && !diff; i++) {
		bool found = false;

		for (size_t j = 0; j < t->n_servers && !found; j++)
			found = same_addr(&arr[i], &t->servers[j]);
		diff = !found;
	}
	for (size_t i = 0; i < t->n_servers; i++)
		free(t->servers[i].name);
	free(t->servers);
	t->servers = arr;
	t->n_servers = k;
	if (changed)
		*changed = diff;
	return 0;
nomem:
	for (size_t i = 0; i < k; i++)
		free(arr[i].name);
	free(arr);
	return -ENOMEM;
}
