#include "service.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "log.h"
#include "request.h"
#include "store.h"

enum ctx_state {
	CTX_IDLE, /* no operation in flight: before start, or after the socket closed */
	CTX_RECV,
	CTX_SEND,
	CTX_HELD, /* a query waiting for the draw; the context keeps its request */
	CTX_COMMIT, /* a reply waiting for the sync that makes what it reports durable */
};

struct service_ctx {
	struct storage_service *svc;
	nng_ctx ctx;
	nng_aio *aio;
	enum ctx_state state;
	bool counted;     /* a shutdown answer service_stop waits for */
	uint32_t agency;  /* of a held query */
	uint32_t offset;
	uint32_t pipe_id; /* the held query's worker: released if that pipe closes */
	uint64_t lsn;     /* COMMIT: the write its reply waits for */
	nng_msg *parked;  /* COMMIT: the reply */
	/* What the frames of the request stored, to log once durable. */
	struct request_result res[SERVICE_FRAMES_MAX];
	uint32_t nres;
};

struct storage_service {
	pthread_mutex_t mu;
	pthread_cond_t answered; /* a shutdown answer went out */
	pthread_cond_t written;  /* something to sync, or closing: wakes the committer */
	pthread_t committer;
	bool committer_started;
	nng_socket sock;
	bool sock_open;
	bool closing;            /* no operation is started any more */
	bool failed;             /* a sync failed: nothing more is acknowledged */
	uint64_t lsn_written;    /* writes appended so far */
	uint64_t lsn_synced;     /* of them, covered by a finished sync */
	struct service_ctx **queue; /* COMMIT contexts in commit order: a ring of count slots */
	uint32_t queue_head, queue_len;
	uint32_t held;
	uint32_t answers_pending;
	struct proto_writer reply;
	struct request_handler handler;
	uint32_t count;
	struct service_ctx ctx[];
};

static void lock(struct storage_service *s)
{
	/* Fails only on a programming error (EDEADLK with error-checking mutexes). */
	if (pthread_mutex_lock(&s->mu) != 0)
		abort();
}

static void unlock(struct storage_service *s)
{
	if (pthread_mutex_unlock(&s->mu) != 0)
		abort();
}

/* ----------------------------------------------------------------------------------------------
 * The state machine. Every function below runs with the lock held. Starting an nng operation
 * under it is safe: nng completes aios on its own threads (never inside nng_ctx_send/recv), and
 * those callbacks only then wait for the lock. */

static void start_recv(struct service_ctx *c)
{
	c->state = CTX_RECV;
	nng_ctx_recv(c->ctx, c->aio);
}

/* Puts the frame in s->reply into msg (a new one when NULL). The message, or NULL when none
 * could be built (then msg is freed). */
static nng_msg *build_reply(struct storage_service *s, nng_msg *msg)
{
	int rv = 0;

	if (msg == NULL)
		rv = nng_msg_alloc(&msg, 0);
	else
		nng_msg_clear(msg);
	if (rv == 0)
		rv = nng_msg_append(msg, s->reply.buf, s->reply.len);
	if (rv == 0)
		return msg;
	log_error("storage_reply", "fail", "error: %s", nng_strerror(rv));
	if (msg != NULL)
		nng_msg_free(msg);
	return NULL;
}

static void send_msg(struct service_ctx *c, nng_msg *msg)
{
	nng_aio_set_msg(c->aio, msg);
	c->state = CTX_SEND;
	nng_ctx_send(c->ctx, c->aio);
}

/* Sends the frame in s->reply on c, reusing msg when given. false if no message could be
 * built: the request is dropped (its worker times out) and c receives again. */
static bool send_reply(struct storage_service *s, struct service_ctx *c, nng_msg *msg)
{
	msg = build_reply(s, msg);
	if (msg == NULL) {
		start_recv(c);
		return false;
	}
	send_msg(c, msg);
	return true;
}

static void answer_held(struct storage_service *s)
{
	for (uint32_t i = 0; i < s->count; i++) {
		struct service_ctx *c = &s->ctx[i];

		if (c->state != CTX_HELD)
			continue;
		s->held--;
		request_answer_held(&s->handler, c->agency, c->offset, &s->reply);
		send_reply(s, c, NULL);
	}
}

/* The store can no longer promise anything: refuse everything, drop the parked replies (none
 * of them was acknowledged), and have the main thread exit non-zero. */
static void fail(struct storage_service *s, const char *why)
{
	if (s->failed)
		return;
	s->failed = true;
	store_fail(s->handler.store);
	log_event(LOG_CRITICAL, "storage_sync", "fail", "error: %s | unacknowledged: %u", why,
	             (unsigned)s->queue_len);
	while (s->queue_len > 0) {
		struct service_ctx *c = s->queue[s->queue_head];

		s->queue_head = (s->queue_head + 1) % s->count;
		s->queue_len--;
		nng_msg_free(c->parked);
		c->parked = NULL;
		start_recv(c); /* its worker times out, and its client resends to the next storage */
	}
	if (kill(getpid(), SIGUSR1) != 0)
		abort(); /* cannot fail for our own pid; exiting is the only safe course left */
}

/* Runs the draw (every DONE is durable by now) and answers the queries held for it. */
static void draw(struct storage_service *s)
{
	if (request_run_draw(&s->handler, false) != 0 && store_failed(s->handler.store))
		fail(s, "the draw could not be recorded");
	answer_held(s);
}

/* Parks c's reply (msg) until the sync that covers write number lsn_written has finished. */
static void park(struct storage_service *s, struct service_ctx *c, nng_msg *msg)
{
	c->state = CTX_COMMIT;
	c->parked = msg;
	c->lsn = s->lsn_written;
	s->queue[(s->queue_head + s->queue_len) % s->count] = c;
	s->queue_len++;
	pthread_cond_signal(&s->written);
}

/* Logs what c's request stored; if it was the last DONE, runs the draw (so the sorteo line, and
 * the settle after it, come before this reply and every held one); then sends c's reply. */
static void complete(struct storage_service *s, struct service_ctx *c, nng_msg *reply)
{
	bool completes = false;

	for (uint32_t i = 0; i < c->nres; i++) {
		request_log_stored(&c->res[i]);
		completes = completes || c->res[i].completes;
	}
	if (completes)
		draw(s);
	send_msg(c, reply);
}

/* Sends, in commit order, every parked reply that lsn_synced covers. */
static void release_synced(struct storage_service *s)
{
	while (s->queue_len > 0 && !s->failed) {
		struct service_ctx *c = s->queue[s->queue_head];
		nng_msg *reply = c->parked;

		if (c->lsn > s->lsn_synced)
			break;
		s->queue_head = (s->queue_head + 1) % s->count;
		s->queue_len--;
		c->parked = NULL;
		complete(s, c, reply);
	}
}

static void *commit_loop(void *arg)
{
	struct storage_service *s = arg;

	lock(s);
	for (;;) {
		while (s->lsn_written == s->lsn_synced && !s->closing && !s->failed)
			pthread_cond_wait(&s->written, &s->mu);
		if (s->failed || s->lsn_written == s->lsn_synced)
			break; /* closing, with nothing left to sync */
		uint64_t target = s->lsn_written;

		/* Unlocked: requests keep arriving and writing while the disk works; they are the
		 * next group. */
		unlock(s);
		int rc = store_sync(s->handler.store);
		int saved = errno;
		lock(s);
		if (rc != 0) {
			errno = saved;
			fail(s, strerror(saved));
			break;
		}
		s->lsn_synced = target;
		release_synced(s);
	}
	unlock(s);
	return NULL;
}

/* Whether the worker that sent msg is still connected. Its pipe may have closed between the
 * receive and this callback taking the lock, and then on_pipe_removed already ran without
 * finding this context held. */
static bool sender_connected(nng_msg *msg)
{
	nng_sockaddr addr;

	return nng_pipe_get_addr(nng_msg_get_pipe(msg), NNG_OPT_REMADDR, &addr) == 0;
}

static void hold(struct storage_service *s, struct service_ctx *c, nng_msg *msg,
                 const struct request_result *res)
{
	if (!sender_connected(msg)) {
		nng_msg_free(msg);
		log_debug("storage_query_release", "success", "agency: %u | reason: worker gone",
		          (unsigned)res->agency);
		start_recv(c);
		return;
	}
	c->state = CTX_HELD;
	c->agency = res->agency;
	c->offset = res->offset;
	c->pipe_id = (uint32_t)nng_pipe_id(nng_msg_get_pipe(msg));
	nng_msg_free(msg);
	s->held++;
	if (s->held == s->count)
		log_warning("storage_contexts", "in_progress",
		            "held: %u | contexts: %u | reason: every context waits for the draw",
		            (unsigned)s->held, (unsigned)s->count);
}

/* The bytes of the frame at p: its header's length, or what is left when the header is
 * short or claims more (request_handle then refuses it as TRUNCATED). */
static size_t frame_size(const uint8_t *p, size_t left)
{
	uint32_t len;

	if (left < PROTO_HEADER_SIZE)
		return left;
	len = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	return len <= left - PROTO_HEADER_SIZE ? PROTO_HEADER_SIZE + len : left;
}

/* Several frames in one message: the batches a worker had read, forwarded together so that one
 * message, one commit group and one reply carry them all (each frame still gets its own reply
 * frame, in order). Only batches: a held query or the DONE that runs the draw travel alone. A
 * new message with the replies, or NULL when none could be built. */
static nng_msg *handle_frames(struct storage_service *s, struct service_ctx *c,
                              const uint8_t *body, size_t len)
{
	nng_msg *out;
	size_t at = 0;
	int refused = 0; /* the code of the first ERROR among the replies */

	if (nng_msg_alloc(&out, 0) != 0)
		return NULL;
	c->nres = 0;
	while (at < len) {
		size_t n = frame_size(body + at, len - at);
		struct request_result *res = &c->res[c->nres];

		bool last = c->nres == SERVICE_FRAMES_MAX - 1;

		memset(res, 0, sizeof(*res));
		if (refused != 0)
			/* The batches after an error are refused with it: the session ends there, and
			 * a later batch of a refused session must not be stored (it could land in
			 * another session's sequence of the agency). */
			proto_encode_error(&s->reply, (uint8_t)refused,
			                   "an earlier batch of this request was refused");
		else if (last && at + n < len)
			proto_encode_error(&s->reply, PROTO_E_MALFORMED, "too many frames in one request");
		else if (n >= PROTO_HEADER_SIZE && body[at + 2] != PROTO_BATCH)
			proto_encode_error(&s->reply, PROTO_E_TYPE,
			                   "only batches are forwarded together");
		else
			request_handle(&s->handler, body + at, n, &s->reply, res);
		c->nres++;
		if (refused == 0 && s->reply.len > PROTO_HEADER_SIZE + 1 &&
		    s->reply.buf[2] == PROTO_ERROR)
			refused = s->reply.buf[PROTO_HEADER_SIZE];
		if (nng_msg_append(out, s->reply.buf, s->reply.len) != 0) {
			nng_msg_free(out);
			return NULL;
		}
		if (last)
			break; /* the rest, if any, was refused above */
		at += n;
	}
	return out;
}

static void on_received(struct storage_service *s, struct service_ctx *c, int rv)
{
	bool wrote = false, durable = false;
	nng_msg *msg, *out;
	const uint8_t *body;
	size_t len;

	if (rv != 0) {
		if (s->closing || rv == NNG_ECLOSED) {
			c->state = CTX_IDLE;
			return;
		}
		log_debug("storage_receive", "fail", "error: %s", nng_strerror(rv));
		start_recv(c);
		return;
	}
	msg = nng_aio_get_msg(c->aio);
	nng_aio_set_msg(c->aio, NULL);
	if (s->closing) {
		nng_msg_free(msg);
		c->state = CTX_IDLE;
		return;
	}
	body = nng_msg_body(msg);
	len = nng_msg_len(msg);
	/* The session the frames come from (proto.h); a message too short for one is refused as a
	 * truncated frame below. */
	s->handler.session = 0;
	if (len >= PROTO_SESSION_SIZE) {
		s->handler.session = proto_get_session(body);
		body += PROTO_SESSION_SIZE;
		len -= PROTO_SESSION_SIZE;
	}
	if (frame_size(body, len) == len) {
		c->nres = 1;
		request_handle(&s->handler, body, len, &s->reply, &c->res[0]);
		if (c->res[0].held) {
			hold(s, c, msg, &c->res[0]);
			return;
		}
		out = build_reply(s, msg);
	} else {
		out = handle_frames(s, c, body, len);
		nng_msg_free(msg);
		if (out == NULL)
			log_error("storage_reply", "fail", "error: out of memory");
	}
	for (uint32_t i = 0; i < c->nres; i++) {
		wrote = wrote || c->res[i].wrote;
		durable = durable || c->res[i].durable;
	}
	if (wrote)
		s->lsn_written++;
	if (!store_syncs(s->handler.store))
		s->lsn_synced = s->lsn_written; /* unsafe mode: written counts as durable */
	if (out == NULL) {
		/* Nothing is acknowledged: the worker times out and its client resends. */
		start_recv(c);
		return;
	}
	if ((wrote || durable) && s->lsn_written > s->lsn_synced) {
		park(s, c, out);
		return;
	}
	complete(s, c, out);
}

static void on_sent(struct storage_service *s, struct service_ctx *c, int rv)
{
	if (rv != 0) {
		/* After a failed send the message is still ours. */
		nng_msg_free(nng_aio_get_msg(c->aio));
		nng_aio_set_msg(c->aio, NULL);
		if (rv != NNG_ECLOSED)
			log_debug("storage_reply", "fail", "error: %s", nng_strerror(rv));
	}
	if (c->counted) {
		c->counted = false;
		s->answers_pending--;
		pthread_cond_broadcast(&s->answered);
	}
	if (s->closing || rv == NNG_ECLOSED) {
		c->state = CTX_IDLE;
		return;
	}
	start_recv(c);
}

static void on_aio(void *arg)
{
	struct service_ctx *c = arg;
	struct storage_service *s = c->svc;
	int rv = nng_aio_result(c->aio);

	lock(s);
	if (c->state == CTX_RECV)
		on_received(s, c, rv);
	else if (c->state == CTX_SEND)
		on_sent(s, c, rv);
	unlock(s);
}

/* A worker's REQ socket closed: nobody waits for the answers to its held queries any more. */
static void on_pipe_removed(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct storage_service *s = arg;
	uint32_t id = (uint32_t)nng_pipe_id(pipe);

	(void)ev;
	lock(s);
	for (uint32_t i = 0; i < s->count && !s->closing; i++) {
		struct service_ctx *c = &s->ctx[i];

		if (c->state != CTX_HELD || c->pipe_id != id)
			continue;
		s->held--;
		log_debug("storage_query_release", "success", "agency: %u | reason: worker gone",
		          (unsigned)c->agency);
		start_recv(c);
	}
	unlock(s);
}

/* ---------------------------------------------------------------------------------------------- */

static void release(struct storage_service *s)
{
	if (s->committer_started) {
		/* It syncs what is still written and releases those replies before it ends. */
		lock(s);
		s->closing = true;
		pthread_cond_signal(&s->written);
		unlock(s);
		pthread_join(s->committer, NULL);
		s->committer_started = false;
	}
	if (s->sock_open)
		nng_close(s->sock); /* closes every context; their aios finish with NNG_ECLOSED */
	for (uint32_t i = 0; i < s->count; i++) {
		if (s->ctx[i].aio != NULL) {
			nng_aio_stop(s->ctx[i].aio); /* waits for a callback still running */
			nng_aio_free(s->ctx[i].aio);
		}
		if (s->ctx[i].parked != NULL)
			nng_msg_free(s->ctx[i].parked); /* never acknowledged */
	}
	free(s->queue);
	pthread_cond_destroy(&s->written);
	pthread_cond_destroy(&s->answered);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int init_sync(struct storage_service *s)
{
	pthread_condattr_t attr;
	int rv;

	rv = pthread_condattr_init(&attr);
	if (rv != 0)
		return rv;
	rv = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rv == 0)
		rv = pthread_cond_init(&s->answered, &attr);
	pthread_condattr_destroy(&attr);
	if (rv != 0)
		return rv;
	rv = pthread_cond_init(&s->written, NULL);
	if (rv != 0) {
		pthread_cond_destroy(&s->answered);
		return rv;
	}
	rv = pthread_mutex_init(&s->mu, NULL);
	if (rv != 0) {
		pthread_cond_destroy(&s->written);
		pthread_cond_destroy(&s->answered);
	}
	return rv;
}

int service_open(struct storage_service **out, const char *url, uint32_t contexts,
                 struct store *store, char *err, size_t err_cap)
{
	struct storage_service *s;
	const char *what;
	int rv;

	if (contexts < SERVICE_CONTEXTS_MIN || contexts > SERVICE_CONTEXTS_MAX) {
		snprintf(err, err_cap, "contexts: %u not in %u..%u", (unsigned)contexts,
		         (unsigned)SERVICE_CONTEXTS_MIN, (unsigned)SERVICE_CONTEXTS_MAX);
		return -1;
	}
	s = calloc(1, sizeof(*s) + contexts * sizeof(s->ctx[0]));
	if (s == NULL || (s->queue = calloc(contexts, sizeof(s->queue[0]))) == NULL) {
		snprintf(err, err_cap, "calloc: %s", strerror(errno));
		free(s);
		return -1;
	}
	rv = init_sync(s);
	if (rv != 0) {
		snprintf(err, err_cap, "pthread init: %s", strerror(rv));
		free(s->queue);
		free(s);
		return -1;
	}
	request_handler_init(&s->handler, store);
	s->count = contexts;

	what = "nng_rep0_open";
	rv = nng_rep0_open(&s->sock);
	if (rv != 0)
		goto fail;
	s->sock_open = true;
	what = "nng_socket_set_size(recv-size-max)";
	rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, SERVICE_RECV_MAX);
	if (rv != 0)
		goto fail;
	what = "nng_pipe_notify";
	rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, on_pipe_removed, s);
	if (rv != 0)
		goto fail;
	for (uint32_t i = 0; i < contexts; i++) {
		struct service_ctx *c = &s->ctx[i];

		c->svc = s;
		c->state = CTX_IDLE;
		what = "nng_aio_alloc";
		rv = nng_aio_alloc(&c->aio, on_aio, c);
		if (rv != 0)
			goto fail;
		what = "nng_ctx_open";
		rv = nng_ctx_open(&c->ctx, s->sock);
		if (rv != 0)
			goto fail;
	}
	what = "pthread_create";
	rv = pthread_create(&s->committer, NULL, commit_loop, s);
	if (rv != 0) {
		snprintf(err, err_cap, "%s: %s", what, strerror(rv));
		release(s);
		return -1;
	}
	s->committer_started = true;
	what = "nng_listen";
	rv = nng_listen(s->sock, url, NULL, 0);
	if (rv != 0)
		goto fail;
	lock(s);
	for (uint32_t i = 0; i < contexts; i++)
		start_recv(&s->ctx[i]);
	unlock(s);
	log_debug("storage_listen", "success", "ipc: %s | contexts: %u | recv_max: %u", url,
	          (unsigned)contexts, (unsigned)SERVICE_RECV_MAX);
	*out = s;
	return 0;
fail:
	snprintf(err, err_cap, "%s: %s", what, nng_strerror(rv));
	release(s);
	return -1;
}

static struct timespec deadline_after(int64_t ms)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		ts.tv_sec = 0, ts.tv_nsec = 0; /* cannot fail for CLOCK_MONOTONIC */
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void service_stop(struct storage_service *s, int64_t grace_ms)
{
	struct timespec deadline = deadline_after(grace_ms);
	uint32_t answered = 0;

	lock(s);
	s->handler.stopping = true;
	for (uint32_t i = 0; i < s->count; i++) {
		struct service_ctx *c = &s->ctx[i];

		if (c->state != CTX_HELD)
			continue;
		s->held--;
		proto_encode_error(&s->reply, PROTO_E_SHUTTING_DOWN, "the server is stopping");
		if (send_reply(s, c, NULL)) {
			c->counted = true;
			s->answers_pending++;
			answered++;
		}
	}
	while (s->answers_pending > 0) {
		int rv = pthread_cond_timedwait(&s->answered, &s->mu, &deadline);

		if (rv == ETIMEDOUT)
			break;
	}
	if (answered > 0)
		log_info("storage_held_queries", s->answers_pending == 0 ? "success" : "fail",
		         "answered: %u | unsent: %u | error: shutting down", (unsigned)answered,
		         (unsigned)s->answers_pending);
	unlock(s);
}

void service_close(struct storage_service *s)
{
	lock(s);
	s->closing = true;
	pthread_cond_signal(&s->written);
	unlock(s);
	release(s);
}

void service_library_fini(void)
{
	nng_fini();
}

uint32_t service_held(struct storage_service *s)
{
	uint32_t held;

	lock(s);
	held = s->held;
	unlock(s);
	return held;
}
