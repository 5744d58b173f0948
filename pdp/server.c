/*
 * server.c -- `pdp serve`: listener, worker threads, signals, reload.
 *
 * Start: load config, bundle and TLS (refusing to start on any error), bind,
 * start N workers, then the main loop handles SIGTERM/SIGINT (drain: stop
 * accepting, let in-flight requests finish, exit 0), SIGHUP and a change of
 * the bundle file (reload), all off the workers' loops.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "tls.h"

static double now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void pdp_server_status_copy(pdp_server *s, pdp_reload_status *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->status;
	pthread_mutex_unlock(&s->lock);
}

static int listen_on(const pdp_config *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->listen_port) };
	if (inet_pton(AF_INET, c->listen_host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	/* TCP_NODELAY is inherited by accepted sockets on Linux: answers go out
	 * at once instead of waiting for the client's delayed ACK (Nagle). */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Writer thread → worker: wake the worker's loop to run completions. */
static void notify_worker(void *arg)
{
	pdp_worker *w = arg;
	event_active(w->audit_ev, EV_READ, 0);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_worker *w = arg;
	pdp_audit_queue_drain(w->aq);
}

/* ---- balancing connections over the workers ----------------------------- */

/* The listener is shared, and whichever worker wakes first accepts: left
 * alone, a burst of connections lands on one worker while the others idle.
 * The accepting worker passes each socket to the worker with the fewest
 * connections instead (a tie stays put), so they differ by one at most. */
static long worker_load(pdp_worker *w)
{
	return atomic_load_explicit(&w->metrics.open_connections, memory_order_relaxed) +
	       atomic_load_explicit(&w->inbound, memory_order_relaxed);
}

bool pdp_worker_hand_off(void *arg, int fd)
{
	pdp_worker *w = arg, *best = w;
	pdp_server *s = w->srv;
	if (atomic_load(&s->draining))
		return false;
	long least = worker_load(w);
	for (int i = 0; i < s->nworkers; i++) {
		long l = worker_load(&s->workers[i]);
		if (l < least) {
			least = l;
			best = &s->workers[i];
		}
	}
	if (best == w)
		return false;
	pthread_mutex_lock(&best->inbox_lock);
	if (best->ninbox == best->inbox_cap) {
		best->inbox_cap = best->inbox_cap ? best->inbox_cap * 2 : 16;
		best->inbox = pdp_xrealloc(best->inbox, best->inbox_cap * sizeof(*best->inbox));
	}
	best->inbox[best->ninbox++] = fd;
	atomic_fetch_add_explicit(&best->inbound, 1, memory_order_relaxed);
	pthread_mutex_unlock(&best->inbox_lock);
	event_active(best->inbox_ev, EV_READ, 0);
	return true;
}

static void inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_worker *w = arg;
	int fds[64];
	size_t n;
	do {
		pthread_mutex_lock(&w->inbox_lock);
		n = w->ninbox < 64 ? w->ninbox : 64;
		w->ninbox -= n;
		memcpy(fds, w->inbox + w->ninbox, n * sizeof(*fds));
		pthread_mutex_unlock(&w->inbox_lock);
		for (size_t i = 0; i < n; i++) {
			pdp_conns_adopt(w->conns, fds[i]);
			atomic_fetch_sub_explicit(&w->inbound, 1, memory_order_relaxed);
		}
	} while (n == 64);
}

/* Runs after the turn's other callbacks (activated by the turn's first
 * submit), so that one write covers every record of the turn. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_worker *w = arg;
	if (w->aq)
		pdp_audit_flush(w->aq);
}

static void *worker_main(void *arg)
{
	pdp_worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "pdp-worker-%d", w->id);
	pthread_setname_np(pthread_self(), name); /* top -H, perf */
	event_base_dispatch(w->base);
	/* drained: wait for the last records and run their completions; a
	 * reply still retrying a full queue fails at its next tick (no queue
	 * left: 503), so this loop ends within a few milliseconds */
	pdp_audit_queue_free(w->aq);
	w->aq = NULL;
	for (int i = 0; i < 10000 && w->npending; i++)
		event_base_loop(w->base, EVLOOP_ONCE);
	for (int i = 0; i < 10 && event_base_loop(w->base, EVLOOP_NONBLOCK) == 0; i++)
		; /* flush the replies */
	return NULL;
}

static int worker_init(pdp_server *s, pdp_worker *w, int id, pdp_policy *p, SSL_CTX *ctx)
{
	w->id = id;
	w->srv = s;
	w->listen_fd = -1;
	w->base = event_base_new();
	if (!w->base)
		return -1;
	w->policy = pdp_policy_ref(p);
	SSL_CTX_up_ref(ctx);
	w->ssl_ctx = ctx;
	w->scratch = pdp_arena_new(1 << 16);
	pthread_mutex_init(&w->inbox_lock, NULL);
	w->inbox_ev = event_new(w->base, -1, EV_PERSIST, inbox_cb, w);
	if (!w->inbox_ev)
		return -1;
	if (s->audit) {
		w->audit_ev = event_new(w->base, -1, EV_PERSIST, drain_cb, w);
		w->flush_ev = event_new(w->base, -1, 0, flush_cb, w);
		w->aq = w->audit_ev && w->flush_ev ? pdp_audit_queue_new(s->audit, notify_worker, w) : NULL;
		if (!w->aq)
			return -1;
		pdp_audit_queue_flush_by_owner(w->aq);
	}
	w->listen_fd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);
	return w->listen_fd >= 0 ? pdp_http_setup(w, w->listen_fd) : -1;
}

static void worker_done(pdp_worker *w)
{
	pdp_audit_queue_free(w->aq);
	if (w->audit_ev)
		event_free(w->audit_ev);
	if (w->flush_ev)
		event_free(w->flush_ev);
	pdp_conns_free(w->conns);
	if (w->inbox_ev) {
		event_free(w->inbox_ev);
		pthread_mutex_destroy(&w->inbox_lock);
	}
	for (size_t i = 0; i < w->ninbox; i++)
		close(w->inbox[i]); /* handed over after this worker stopped */
	free(w->inbox);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	if (w->base)
		event_base_free(w->base);
	pdp_policy_unref(w->policy);
	SSL_CTX_free(w->ssl_ctx);
	pdp_arena_free(w->scratch);
}

/* ---- swapping revisions and TLS contexts, by message ----------------- */

struct swap_msg {
	pdp_worker *w;
	pdp_policy *policy; /* a reference for the worker */
	SSL_CTX *ctx;       /* a reference for the worker */
};

static void swap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct swap_msg *m = arg;
	pdp_policy_unref(m->w->policy);
	m->w->policy = m->policy;
	SSL_CTX_free(m->w->ssl_ctx);
	m->w->ssl_ctx = m->ctx;
	pdp_conns_set_ctx(m->w->conns, m->ctx);
	free(m);
}

static void post_to_workers(pdp_server *s, pdp_policy *p, SSL_CTX *ctx)
{
	for (int i = 0; i < s->nworkers; i++) {
		struct swap_msg *m = pdp_xmalloc(sizeof(*m));
		SSL_CTX_up_ref(ctx);
		*m = (struct swap_msg){ &s->workers[i], pdp_policy_ref(p), ctx };
		struct timeval zero = { 0, 0 };
		if (event_base_once(s->workers[i].base, -1, EV_TIMEOUT, swap_cb, m, &zero) != 0) {
			pdp_policy_unref(m->policy);
			SSL_CTX_free(m->ctx);
			free(m);
		}
	}
}

static void stamp_bundle(pdp_server *s)
{
	struct stat st;
	if (stat(s->cfg.bundle, &st) != 0)
		return;
	s->bundle_stamp = st.st_mtim;
	s->bundle_ino = (long long)st.st_ino;
	s->bundle_size = (long long)st.st_size;
}

static int load_all(pdp_server *s, pdp_policy **ret_p, SSL_CTX **ret_ctx, pdp_buf *err)
{
	pdp_bundle_opts o = { .pubkey = s->has_pubkey ? s->pubkey : NULL };
	if (pdp_bundle_load_file(s->cfg.bundle, &o, ret_p, err) != PDP_OK)
		return -1;
	*ret_ctx = pdp_tls_ctx_new(s->cfg.tls_cert, s->cfg.tls_key, s->cfg.tls_ca, &s->tls_failures, err);
	if (*ret_ctx)
		return 0;
	pdp_policy_unref(*ret_p);
	return -1;
}

static void reload_record_done(void *arg, uint64_t seq, enum pdp_err err)
{
	(void)arg, (void)seq;
	if (err != PDP_OK)
		pdp_log(PDP_LOG_ERROR, "audit_failed", NULL, "the reload record could not be written: %s",
			pdp_err_str(err));
}

/* The audit record of a reload attempt (never dropped: retried while the
 * queue is full; the main thread may wait here, the workers never do). */
static void audit_reload(pdp_server *s, int ok, const char *trigger, const char *caller,
			 const char *old_rev, const char *new_rev, const char *error)
{
	if (!s->main_aq)
		return;
	pdp_buf f;
	pdp_buf_init(&f, 0);
	if (pdp_audit_fields_reload(ok, trigger, caller, old_rev, new_rev, error, &f) == PDP_OK) {
		enum pdp_err e;
		while ((e = pdp_audit_submit(s->main_aq, "reload", f.data, f.len, reload_record_done, NULL)) ==
		       PDP_E_BUSY) {
			struct timespec ms = { 0, 1000000 };
			nanosleep(&ms, NULL);
			pdp_audit_queue_drain(s->main_aq);
		}
		if (e != PDP_OK)
			pdp_log(PDP_LOG_ERROR, "audit_failed", NULL, "reload record refused: %s", pdp_err_str(e));
	}
	pdp_buf_done(&f);
}

static void record_reload(pdp_server *s, const pdp_policy *p, const char *error)
{
	pthread_mutex_lock(&s->lock);
	s->status.last_attempt_at = now_real();
	s->status.last_ok = error == NULL;
	snprintf(s->status.last_error, sizeof(s->status.last_error), "%s", error ? error : "");
	if (p) {
		snprintf(s->status.revision, sizeof(s->status.revision), "%s", pdp_policy_revision(p));
		s->status.loaded_at = s->status.last_attempt_at;
		s->status.ok++;
	} else {
		s->status.failed++;
	}
	pthread_mutex_unlock(&s->lock);
}

int pdp_server_reload(pdp_server *s, const char *why, const char *caller)
{
	pdp_buf err;
	pdp_buf_init(&err, 4096);
	pdp_policy *p = NULL;
	SSL_CTX *ctx = NULL;
	char old_rev[72];
	pthread_mutex_lock(&s->lock);
	snprintf(old_rev, sizeof(old_rev), "%s", s->status.revision);
	pthread_mutex_unlock(&s->lock);
	stamp_bundle(s);
	if (load_all(s, &p, &ctx, &err) != 0) {
		record_reload(s, NULL, err.data ? err.data : "reload failed");
		audit_reload(s, 0, why, caller, old_rev, NULL, err.data ? err.data : "reload failed");
		pdp_log(PDP_LOG_ERROR, "reload_failed", NULL, "reload (%s) refused, the old revision keeps serving: %s",
			why, err.data ? err.data : "?");
		pdp_buf_done(&err);
		return -1;
	}
	post_to_workers(s, p, ctx);
	record_reload(s, p, NULL);
	audit_reload(s, 1, why, caller, old_rev, pdp_policy_revision(p), NULL);
	char fields[128];
	snprintf(fields, sizeof(fields), "\"revision\":\"%s\"", pdp_policy_revision(p));
	pdp_log(PDP_LOG_INFO, "reloaded", fields, "policy and TLS reloaded (%s)", why);
	pdp_policy_unref(p);
	SSL_CTX_free(ctx);
	pdp_buf_done(&err);
	return 0;
}

/* ---- signals and the file watch (main thread) -------------------------- */

static void stop_worker_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_worker *w = arg;
	pdp_conns_stop_accepting(w->conns);
	if (w->listen_fd >= 0) {
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	struct timeval grace = { 0, 200 * 1000 };
	event_base_loopexit(w->base, &grace);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	pdp_server *s = arg;
	if (atomic_exchange(&s->draining, 1))
		return;
	pdp_log(PDP_LOG_INFO, "draining", NULL, "signal %d: no new connections, finishing requests", (int)sig);
	struct timeval zero = { 0, 0 };
	for (int i = 0; i < s->nworkers; i++)
		event_base_once(s->workers[i].base, -1, EV_TIMEOUT, stop_worker_cb, &s->workers[i], &zero);
	event_base_loopexit(s->main_base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	pdp_server_reload(arg, "SIGHUP", NULL);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_server *s = arg;
	struct stat st;
	if (stat(s->cfg.bundle, &st) != 0)
		return;
	if (st.st_mtim.tv_sec == s->bundle_stamp.tv_sec && st.st_mtim.tv_nsec == s->bundle_stamp.tv_nsec &&
	    (long long)st.st_ino == s->bundle_ino && (long long)st.st_size == s->bundle_size)
		return;
	pdp_server_reload(s, "file_change", NULL);
}

static int run_main_loop(pdp_server *s)
{
	struct event *ev[4] = {
		evsignal_new(s->main_base, SIGTERM, on_stop, s),
		evsignal_new(s->main_base, SIGINT, on_stop, s),
		evsignal_new(s->main_base, SIGHUP, on_hup, s),
		s->cfg.bundle_watch_ms ? event_new(s->main_base, -1, EV_PERSIST, on_watch, s) : NULL,
	};
	for (int i = 0; i < 3; i++)
		event_add(ev[i], NULL);
	struct timeval watch = { s->cfg.bundle_watch_ms / 1000, (s->cfg.bundle_watch_ms % 1000) * 1000 };
	if (ev[3])
		event_add(ev[3], &watch);
	event_base_dispatch(s->main_base);
	for (int i = 0; i < 4; i++)
		if (ev[i])
			event_free(ev[i]);
	return 0;
}

/* ---- the audit log -------------------------------------------------------- */

static void notify_main(void *arg)
{
	pdp_server *s = arg;
	event_active(s->main_audit_ev, EV_READ, 0);
}

static void main_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_server *s = arg;
	pdp_audit_queue_drain(s->main_aq);
}

static int open_audit(pdp_server *s, const char *revision)
{
	const pdp_config *c = &s->cfg;
	if (!c->audit_dir) {
		pdp_log(PDP_LOG_WARN, "audit_disabled", NULL, "audit.dir is not set: decisions are not recorded");
		return 0;
	}
	pdp_audit_config ac;
	pdp_audit_config_init(&ac);
	ac.dir = c->audit_dir;
	ac.log_id = c->audit_log_id;
	ac.checkpoint_key = c->audit_key;
	ac.fsync_interval_ms = (unsigned)c->audit_fsync_interval_ms;
	ac.segment_max_bytes = c->audit_segment_max;
	ac.checkpoint_every = c->audit_checkpoint_every;
	ac.checkpoint_every_ms = (unsigned)c->audit_checkpoint_every_ms;
	ac.queue_max_records = c->audit_queue_max;
	ac.fail_timeout_ms = (unsigned)c->audit_fail_timeout_ms;
	ac.new_chain = c->audit_new_chain;
	ac.witness_dir = c->audit_witness_dir;
	ac.hmac_key = c->audit_hmac_key;
	char start[160];
	snprintf(start, sizeof(start), "{\"policy_revision\":\"%s\",\"version\":\"%s\"}", revision, PDP_VERSION);
	ac.start_fields = start;
	pdp_buf err;
	pdp_buf_init(&err, 4096);
	enum pdp_err e = pdp_audit_fsync_parse(c->audit_fsync, &ac.fsync) ? PDP_OK : PDP_E_INVALID;
	if (e != PDP_OK)
		pdp_ignore(pdp_buf_adds(&err, "audit.fsync must be always, interval or none"));
	else
		e = pdp_audit_open(&ac, &s->audit, &err);
	if (e == PDP_OK) {
		s->main_audit_ev = event_new(s->main_base, -1, EV_PERSIST, main_drain_cb, s);
		s->main_aq = pdp_audit_queue_new(s->audit, notify_main, s);
	}
	if (e != PDP_OK)
		pdp_log(PDP_LOG_ERROR, "start_failed", NULL, "audit log %s: %s", c->audit_dir,
			err.data ? err.data : pdp_err_str(e));
	pdp_buf_done(&err);
	return e == PDP_OK && s->main_aq ? 0 : -1;
}

static void close_audit(pdp_server *s)
{
	pdp_audit_queue_free(s->main_aq);
	if (s->main_audit_ev)
		event_free(s->main_audit_ev);
	if (s->audit && pdp_audit_close(s->audit, "shutdown") != PDP_OK)
		pdp_log(PDP_LOG_ERROR, "audit_failed", NULL, "the stop record could not be made durable");
}

/* ---- start and stop ------------------------------------------------------ */

static int start_workers(pdp_server *s, pdp_policy *p, SSL_CTX *ctx)
{
	s->workers = pdp_xcalloc((size_t)s->nworkers, sizeof(*s->workers));
	for (int i = 0; i < s->nworkers; i++)
		if (worker_init(s, &s->workers[i], i, p, ctx) != 0)
			return -1;
	for (int i = 0; i < s->nworkers; i++)
		if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0)
			return -1;
	return 0;
}

static int setup(pdp_server *s, pdp_policy **p, SSL_CTX **ctx)
{
	pdp_buf err;
	pdp_buf_init(&err, 4096);
	int rc = 0;
	if (s->cfg.bundle_pubkey && pdp_key_load_public(s->cfg.bundle_pubkey, s->pubkey, &err) != PDP_OK)
		rc = -1;
	s->has_pubkey = s->cfg.bundle_pubkey != NULL;
	stamp_bundle(s);
	if (rc == 0 && load_all(s, p, ctx, &err) != 0)
		rc = -1;
	if (rc == 0 && (s->listen_fd = listen_on(&s->cfg)) < 0) {
		pdp_ignore(pdp_buf_printf(&err, "cannot listen on %s:%d: %s", s->cfg.listen_host,
					  s->cfg.listen_port, strerror(errno)));
		pdp_policy_unref(*p);
		SSL_CTX_free(*ctx);
		rc = -1;
	}
	if (rc != 0)
		pdp_log(PDP_LOG_ERROR, "start_failed", NULL, "%s", err.data ? err.data : "start failed");
	pdp_buf_done(&err);
	return rc;
}

/* Messages still queued between the loops when they stopped: reload and
 * export requests a worker posted during the drain (answered 503 since the
 * server is draining), their replies, and revisions posted to a worker that
 * had already stopped. Each message frees itself when it runs, so they run
 * once here, on this thread, after the workers are joined: main loop first
 * (it may post to the workers), then each worker's. */
static void run_leftovers(pdp_server *s)
{
	if (s->main_base)
		event_base_loop(s->main_base, EVLOOP_NONBLOCK);
	for (int i = 0; i < s->nworkers && s->workers; i++)
		for (int j = 0; s->workers[i].base && j < 10; j++) /* run, then flush the replies */
			if (event_base_loop(s->workers[i].base, EVLOOP_NONBLOCK) != 0)
				break;
}

int pdp_server_run(pdp_server *s)
{
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	json_object_seed(0);
	if (pdp_tls_init() != 0)
		return 2;
	pthread_mutex_init(&s->lock, NULL);
	s->listen_fd = -1;
	s->nworkers = s->cfg.threads ? s->cfg.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (s->nworkers < 1)
		s->nworkers = 1;
	pdp_policy *p = NULL;
	SSL_CTX *ctx = NULL;
	if (setup(s, &p, &ctx) != 0)
		return 2;
	record_reload(s, p, NULL);
	s->status.ok = 0; /* the first load is not a reload */
	s->main_base = event_base_new();
	int rc = s->main_base && open_audit(s, pdp_policy_revision(p)) == 0 &&
			 start_workers(s, p, ctx) == 0 ? 0 : 2;
	char fields[256];
	snprintf(fields, sizeof(fields), "\"listen\":\"%s:%d\",\"workers\":%d,\"revision\":\"%s\"",
		 s->cfg.listen_host, s->cfg.listen_port, s->nworkers, pdp_policy_revision(p));
	pdp_policy_unref(p);
	SSL_CTX_free(ctx);
	if (rc == 0) {
		pdp_log(PDP_LOG_INFO, "serving", fields, "pdp serving");
		run_main_loop(s);
	}
	for (int i = 0; i < s->nworkers && s->workers; i++)
		if (s->workers[i].thread)
			pthread_join(s->workers[i].thread, NULL);
	run_leftovers(s);
	for (int i = 0; i < s->nworkers && s->workers; i++)
		worker_done(&s->workers[i]);
	free(s->workers);
	close_audit(s);
	if (s->main_base)
		event_base_free(s->main_base);
	close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
	pdp_log(PDP_LOG_INFO, "stopped", NULL, "pdp stopped");
	return rc;
}
