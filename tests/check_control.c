/* check_control.c - the control socket server of `aether run` without a
 * VM: the test opens the server on a socket in a temp directory and drives
 * it the way the supervisor's loop does (ae_control_fill, poll,
 * ae_control_dispatch), with small limits (ae_control_set_limits):
 *   - requests are answered (ping, stats, forward list, errors);
 *   - a client that connects and sends nothing, or half a line, is dropped
 *     after the client timeout, without a reply, and the slot it held
 *     serves the next client;
 *   - clients beyond the busy limit get "error EIO busy, try again" (also
 *     through ae_control_request, the client of `aether forward`) while the
 *     clients holding the slots are still served; once they are gone,
 *     stats and forward list work again;
 *   - the client reads a refusal although the server reset the
 *     connection after it (it closed without reading the request);
 *   - the supervisor's own limits: 8 clients, 5 s.
 * Waits are bounded by a generous deadline (a failure, never a result). */
#include "config.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "check-main.h"
#include "control.h"

#define DEADLINE_MS 20000 /* a bound on every wait: reaching it fails */

static struct ae_control *ctl;
static struct ae_ini *ini;
static char sock_path[sizeof ((struct sockaddr_un *)0)->sun_path];
static int last_timeout; /* what ae_control_fill asked poll for */

static void srv_open(unsigned max_clients, unsigned timeout_ms)
{
	static const char conf[] = "[network.slirp]\n"
				   "hostfwd = tcp:127.0.0.1:2222-:22\n"
				   "hostfwd = udp::5353-:53\n";
	struct ae_control_target t = {.name = "ctltest"};
	char err[512];
	int rc;

	ck_tmp_setup();
	ck_assert_int_lt(snprintf(sock_path, sizeof sock_path, "%s/control.sock",
				  ck_tmpdir), (int)sizeof sock_path);
	rc = ae_ini_parse_text(conf, sizeof conf - 1, "check_control", &ini,
			       err, sizeof err);
	ck_assert_msg(rc == 0, "ini: %s", err);
	t.section = ae_ini_find(ini, "network.slirp");
	ck_assert_ptr_nonnull(t.section);
	rc = ae_control_open(sock_path, &t, &ctl, err, sizeof err);
	ck_assert_msg(rc == 0, "ae_control_open: %s", err);
	if (max_clients)
		ae_control_set_limits(ctl, max_clients, timeout_ms);
}

static void srv_close(void)
{
	ae_control_close(ctl);
	ctl = NULL;
	ae_ini_free(ini);
	ini = NULL;
	ck_tmp_teardown();
}

static uint64_t ms_since(uint64_t t0)
{
	return (ae_now_ns() - t0) / 1000000ull;
}

/* One round of the supervisor's loop; poll waits at most cap_ms (or what
 * the server asks for, if less). */
static void pump(int cap_ms)
{
	struct pollfd p[1 + AE_CONTROL_MAX_CLIENTS];
	int t = -1;
	unsigned n;

	n = ae_control_fill(ctl, p, AE_ARRAY_SIZE(p), &t);
	ck_assert_uint_eq(n, AE_ARRAY_SIZE(p));
	last_timeout = t;
	ck_assert_int_ge(poll(p, n, t >= 0 && t < cap_ms ? t : cap_ms), 0);
	ae_control_dispatch(ctl, p, n);
}

/* ---- a raw client: nonblocking, everything it got kept ---- */

struct tc {
	int fd;
	char buf[4096];
	size_t len;
	int eof; /* the server closed (EOF or reset) */
};

static void tc_connect(struct tc *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof *c);
	memcpy(sa.sun_path, sock_path, sizeof sock_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0,
		      "connect %s: %s", sock_path, strerror(errno));
}

static void tc_send(struct tc *c, const char *s)
{
	ck_assert_int_eq(send(c->fd, s, strlen(s), MSG_NOSIGNAL),
			 (ssize_t)strlen(s));
}

/* Read what is there; true once the server has closed. */
static int tc_poll(struct tc *c)
{
	ssize_t n;

	while (!c->eof) {
		n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			continue;
		}
		if (n == 0 || errno == ECONNRESET || errno == EPIPE)
			c->eof = 1;
		else
			ck_assert_msg(errno == EAGAIN, "read: %s",
				      strerror(errno));
		break;
	}
	return c->eof;
}

static void tc_close(struct tc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Run the server until the client is closed by it. */
static void pump_until_closed(struct tc *c, const char *what)
{
	uint64_t t0 = ae_now_ns();

	while (!tc_poll(c)) {
		ck_assert_msg(ms_since(t0) < DEADLINE_MS,
			      "%s: the server did not close it within %d ms",
			      what, DEADLINE_MS);
		pump(100);
	}
}

/* Run the server until it holds a client: fill then asks poll to wake
 * for that client's deadline. */
static void pump_until_held(const char *what)
{
	uint64_t t0 = ae_now_ns();

	do {
		ck_assert_msg(ms_since(t0) < DEADLINE_MS,
			      "%s: no client deadline after %d ms (not "
			      "accepted, or fill gives poll no timeout)",
			      what, DEADLINE_MS);
		pump(100);
		pump(0); /* fill again: the accepted client's deadline */
	} while (last_timeout < 0);
}

/* A client that is served still, not closed: nothing to read. */
static void assert_open(struct tc *c, const char *what)
{
	ck_assert_msg(!tc_poll(c), "%s: closed by the server (got \"%s\")",
		      what, c->buf);
	ck_assert_msg(c->len == 0, "%s: got \"%s\" before asking", what,
		      c->buf);
}

/* ---- the real client (blocking) in a thread, the server here ---- */

struct req {
	const char *line;
	char *reply;
	char err[512];
	int rc;
	volatile int done;
	pthread_t th;
};

static void *req_thread(void *arg)
{
	struct req *q = arg;

	q->rc = ae_control_request(sock_path, q->line, &q->reply, q->err,
				   sizeof q->err);
	__atomic_store_n(&q->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void request(struct req *q, const char *line)
{
	uint64_t t0 = ae_now_ns();

	memset(q, 0, sizeof *q);
	q->line = line;
	ck_assert_int_eq(pthread_create(&q->th, NULL, req_thread, q), 0);
	while (!__atomic_load_n(&q->done, __ATOMIC_ACQUIRE)) {
		ck_assert_msg(ms_since(t0) < DEADLINE_MS,
			      "request '%s': no answer within %d ms", line,
			      DEADLINE_MS);
		pump(20);
	}
	pthread_join(q->th, NULL);
}

static void request_ok(const char *line, const char *want)
{
	struct req q;

	request(&q, line);
	ck_assert_msg(q.rc == 0, "'%s': %d %s", line, q.rc, q.err);
	ck_assert_ptr_nonnull(q.reply);
	ck_assert_str_eq(q.reply, want);
	free(q.reply);
}

static const char list_reply[] = "ok\ntcp 127.0.0.1:2222 22\n"
				 "udp 0.0.0.0:5353 53\n";
static const char busy_reply[] = "error EIO busy, try again\n";

/* ---- tests ---------------------------------------------------------- */


/* ---- network switch / show (the supervisor's side is a fake here) ---- */

static struct {
	int rc;
	char backend[32];
	struct ae_ini_section opts; /* a copy of what the request gave */
	struct ae_ini *newini;
	int calls;
} fake;

static int fake_switch(void *ctx, const char *backend,
		       const struct ae_ini_section *opts, char *err,
		       size_t errlen)
{
	struct ae_control_target t = {.name = "ctltest"};
	static const char conf[] = "[network.tap]\nbridge = br0\n";
	size_t i;

	ck_assert_ptr_eq(ctx, &fake);
	fake.calls++;
	snprintf(fake.backend, sizeof fake.backend, "%s", backend);
	fake.opts.n_entries = opts->n_entries;
	fake.opts.entries = ae_xcalloc(opts->n_entries + 1,
				       sizeof *fake.opts.entries);
	for (i = 0; i < opts->n_entries; i++) {
		fake.opts.entries[i].key = ae_xstrdup(opts->entries[i].key);
		fake.opts.entries[i].value =
			ae_xstrdup(opts->entries[i].value);
		fake.opts.entries[i].line = opts->entries[i].line;
		ck_assert_str_eq(opts->entries[i].file, AE_CONTROL_ORIGIN);
	}
	if (fake.rc < 0)
		return ae_seterr(err, errlen, -fake.rc,
				 "backend %s could not attach the network: "
				 "no switch at /nonexistent", backend);
	ck_assert_int_eq(ae_ini_parse_text(conf, sizeof conf - 1, "fake",
					   &fake.newini, err, errlen), 0);
	t.section = ae_ini_find(fake.newini, "network.tap");
	t.backend = "tap";
	t.attachment = "tap ae3";
	t.net_switch = fake_switch;
	t.net_ctx = &fake;
	ae_control_retarget(ctl, &t);
	return 0;
}

static void fake_reset(void)
{
	ae_control_free_pairs(&fake.opts);
	fake.calls = 0;
}

static void srv_open_switchable(void)
{
	struct ae_control_target t = {.name = "ctltest"};
	char err[256];

	srv_open(0, 0);
	/* the same target, with what network show and switch need */
	t.section = ae_ini_find(ini, "network.slirp");
	t.backend = "slirp";
	t.attachment = "frame slirp";
	t.net_switch = fake_switch;
	t.net_ctx = &fake;
	ae_control_retarget(ctl, &t);
	(void)err;
}

static void expect_reply(const char *req, const char *want)
{
	char *r = ae_control_handle(ctl, req);

	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r, want);
	free(r);
}

static void expect_error(const char *req, const char *want)
{
	char *r = ae_control_handle(ctl, req);

	ck_assert_ptr_nonnull(r);
	ck_assert_msg(!strncmp(r, want, strlen(want)),
		      "reply \"%s\" does not start with \"%s\"", r, want);
	free(r);
}

START_TEST(test_network_show_switch)
{
	srv_open_switchable();
	expect_reply("network show",
		     "ok\nbackend slirp\n"
		     "option hostfwd tcp:127.0.0.1:2222-:22\n"
		     "option hostfwd udp::5353-:53\n"
		     "attachment frame slirp\n");
	/* the options as written: bare and quoted (spaces, escapes) */
	expect_reply("network switch tap  bridge=br0 ifname=\"a b\\\"c\\;\\#\" "
		     "x=\"\"",
		     "ok\nbackend tap\n"
		     "dropped-forward tcp 127.0.0.1:2222 22\n"
		     "dropped-forward udp 0.0.0.0:5353 53\n");
	ck_assert_int_eq(fake.calls, 1);
	ck_assert_str_eq(fake.backend, "tap");
	ck_assert_uint_eq(fake.opts.n_entries, 3);
	ck_assert_str_eq(fake.opts.entries[0].key, "bridge");
	ck_assert_str_eq(fake.opts.entries[0].value, "br0");
	ck_assert_str_eq(fake.opts.entries[1].key, "ifname");
	ck_assert_str_eq(fake.opts.entries[1].value, "a b\"c;#");
	ck_assert_int_eq(fake.opts.entries[1].line, 2);
	ck_assert_str_eq(fake.opts.entries[2].key, "x");
	ck_assert_str_eq(fake.opts.entries[2].value, "");
	/* the server now speaks of the new backend; forwards went */
	expect_reply("forward list", "ok\n");
	expect_reply("network show", "ok\nbackend tap\noption bridge br0\n"
				     "attachment tap ae3\n");
	fake_reset();
	ae_ini_free(fake.newini);
	fake.newini = NULL;
	srv_close();
}
END_TEST

START_TEST(test_network_switch_fails)
{
	srv_open_switchable();
	fake.rc = -ENOENT;
	expect_reply("network switch vde",
		     "error ENOENT backend vde could not attach the network: "
		     "no switch at /nonexistent\n");
	fake.rc = 0;
	ck_assert_int_eq(fake.calls, 1);
	fake_reset();
	/* nothing changed */
	expect_reply("forward list", list_reply);
	expect_error("network show", "ok\nbackend slirp\n");
	/* malformed requests never reach the supervisor */
	expect_error("network switch tap bridge",
		     "error EINVAL 'bridge' is not KEY=VALUE");
	expect_error("network switch tap =x", "error EINVAL '=x' is not");
	expect_error("network switch tap BR=1",
		     "error EINVAL 'BR' is not an option name");
	expect_error("network switch tap a=\"open",
		     "error EINVAL too many words or an open quote");
	expect_error("network switch tap a=\"x\"y",
		     "error EINVAL a: ");
	expect_error("network switch Tap!", "error EINVAL 'Tap!' is not a "
					    "backend name");
	expect_error("network switch", "error EINVAL usage: network switch");
	expect_error("network frob", "error EINVAL usage: network switch");
	ck_assert_int_eq(fake.calls, 0);
	srv_close();
}
END_TEST

START_TEST(test_network_not_switchable)
{
	srv_open(0, 0);
	expect_error("network switch tap",
		     "error EOPNOTSUPP ctltest: this VM cannot switch");
	expect_reply("network show",
		     "ok\nbackend unknown\n"
		     "option hostfwd tcp:127.0.0.1:2222-:22\n"
		     "option hostfwd udp::5353-:53\n"
		     "attachment unknown\n");
	srv_close();
}
END_TEST

START_TEST(test_quote_round_trip)
{
	static const char *vals[] = {"br0", "a b", "q\"uote", "back\\slash",
				     "semi;colon", "hash#", "", "tab\there",
				     "x=y,z:1/2"};
	char err[128], *w[1], *pair;
	struct ae_ini_section s;
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(vals); i++) {
		pair = ae_control_format_pair("key", vals[i], err, sizeof err);
		ck_assert_ptr_nonnull(pair);
		w[0] = pair;
		ck_assert_int_eq(ae_control_parse_pairs(w, 1, "tap", &s, err,
							sizeof err),
				 0);
		ck_assert_str_eq(s.name, "network.tap");
		ck_assert_uint_eq(s.n_entries, 1);
		ck_assert_str_eq(s.entries[0].key, "key");
		ck_assert_str_eq(s.entries[0].value, vals[i]);
		ae_control_free_pairs(&s);
		free(pair);
	}
	pair = ae_control_format_pair("key", "x=y", err, sizeof err);
	ck_assert_str_eq(pair, "key=x=y"); /* the first '=' splits */
	free(pair);
	pair = ae_control_format_pair("key", "a b", err, sizeof err);
	ck_assert_str_eq(pair, "key=\"a b\"");
	free(pair);
	ck_assert_ptr_null(ae_control_format_pair("key", "new\nline", err,
						  sizeof err));
	ck_assert_err_has(err, "control character");
}
END_TEST

START_TEST(test_requests)
{
	struct req q;

	srv_open(0, 0);
	request_ok("ping", "ok\n");
	request_ok("stats", "ok\n");
	request_ok("forward list", list_reply);
	request(&q, "frobnicate");
	ck_assert_int_eq(q.rc, -EINVAL);
	ck_assert_ptr_nonnull(q.reply);
	ck_assert_err_has(q.reply, "error EINVAL unknown request 'frobnicate'");
	free(q.reply);
	srv_close();
}
END_TEST

/* One slot, 300 ms: an idle client holds the slot (the next one is busy)
 * until the timeout drops it without a reply; then the slot serves. */
START_TEST(test_idle_dropped)
{
	struct tc idle, other;
	uint64_t t0;
	struct req q;

	srv_open(1, 300);
	t0 = ae_now_ns();
	tc_connect(&idle);
	pump_until_held("idle client");
	ck_assert_msg(last_timeout >= 0 && last_timeout <= 301,
		      "fill asked for %d ms with a 300 ms client pending",
		      last_timeout);
	tc_connect(&other);
	tc_send(&other, "ping\n");
	pump_until_closed(&other, "a client beyond the limit");
	ck_assert_str_eq(other.buf, busy_reply);
	tc_close(&other);

	pump_until_closed(&idle, "the idle client");
	ck_assert_msg(idle.len == 0, "the idle client got \"%s\"", idle.buf);
	ck_assert_msg(ms_since(t0) >= 300,
		      "the idle client was dropped after %llu ms, before the "
		      "300 ms timeout", (unsigned long long)ms_since(t0));
	tc_close(&idle);

	/* the slot is free again: served, not busy */
	request(&q, "stats");
	ck_assert_msg(q.rc == 0, "stats after the drop: %d %s", q.rc, q.err);
	ck_assert_str_eq(q.reply, "ok\n");
	free(q.reply);
	srv_close();
}
END_TEST

/* Half a request and then nothing: dropped at the timeout too. */
START_TEST(test_partial_line_dropped)
{
	struct tc slow;

	srv_open(2, 300);
	tc_connect(&slow);
	tc_send(&slow, "forward li");
	pump_until_held("a client with half a line");
	pump_until_closed(&slow, "a client with half a line");
	ck_assert_msg(slow.len == 0, "half a line was answered: \"%s\"",
		      slow.buf);
	tc_close(&slow);
	request_ok("forward list", list_reply);
	srv_close();
}
END_TEST

/* Two slots held by clients that have not asked yet: three more clients
 * are busy (one of them the real client), the holders are served when
 * they ask, and once they are gone everything works. */
START_TEST(test_busy)
{
	struct tc h1, h2, b[3];
	struct req q;
	int i;

	srv_open(2, 60000);
	tc_connect(&h1);
	tc_connect(&h2);
	pump_until_held("two clients");
	for (i = 0; i < 3; i++) {
		tc_connect(&b[i]);
		tc_send(&b[i], i == 1 ? "forward list\n" : "stats\n");
	}
	for (i = 0; i < 3; i++) {
		pump_until_closed(&b[i], "a client beyond the limit");
		ck_assert_str_eq(b[i].buf, busy_reply);
		tc_close(&b[i]);
	}
	request(&q, "stats");
	ck_assert_msg(q.rc == -EIO, "a busy stats: rc %d (%s), want -EIO",
		      q.rc, q.err);
	ck_assert_err_has(q.err, "busy, try again");
	ck_assert_ptr_nonnull(q.reply);
	ck_assert_str_eq(q.reply, busy_reply);
	free(q.reply);

	/* the holders are still connected, and served when they ask */
	assert_open(&h1, "the first client holding a slot");
	assert_open(&h2, "the second client holding a slot");
	tc_send(&h1, "ping\n");
	pump_until_closed(&h1, "the first client's ping");
	ck_assert_str_eq(h1.buf, "ok\n");
	tc_close(&h1);
	assert_open(&h2, "the second client holding a slot");
	tc_send(&h2, "forward list\n");
	pump_until_closed(&h2, "the second client's forward list");
	ck_assert_str_eq(h2.buf, list_reply);
	tc_close(&h2);

	/* both slots free: two clients held at once, then served */
	tc_connect(&h1);
	tc_connect(&h2);
	pump_until_held("two new clients");
	tc_send(&h2, "stats\n");
	tc_send(&h1, "forward list\n");
	pump_until_closed(&h2, "stats");
	pump_until_closed(&h1, "forward list");
	ck_assert_str_eq(h2.buf, "ok\n");
	ck_assert_str_eq(h1.buf, list_reply);
	tc_close(&h1);
	tc_close(&h2);
	request_ok("stats", "ok\n");
	request_ok("forward list", list_reply);
	srv_close();
}
END_TEST

/* A client that goes away without asking frees its slot at once. */
START_TEST(test_gone_frees_slot)
{
	struct tc h;

	srv_open(1, 60000);
	tc_connect(&h);
	pump_until_held("a client");
	tc_close(&h);
	request_ok("stats", "ok\n");
	srv_close();
}
END_TEST

/* The client against a server that answers and closes without reading
 * the request, as a busy server does: the kernel then resets the
 * connection after the answer (ECONNRESET); the answer still counts. */
START_TEST(test_client_reads_refusal)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct req q;
	char peek[64];
	ssize_t n;
	int lfd, fd;

	ck_tmp_setup();
	ck_assert_int_lt(snprintf(sock_path, sizeof sock_path, "%s/fake.sock",
				  ck_tmpdir), (int)sizeof sock_path);
	memcpy(sa.sun_path, sock_path, sizeof sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	memset(&q, 0, sizeof q);
	q.line = "stats";
	ck_assert_int_eq(pthread_create(&q.th, NULL, req_thread, &q), 0);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	/* the whole request is there, unread */
	do {
		n = recv(fd, peek, sizeof peek - 1, MSG_PEEK);
		ck_assert_int_gt(n, 0);
		peek[n] = '\0';
	} while (!strchr(peek, '\n'));
	ck_assert_int_eq(write(fd, busy_reply, sizeof busy_reply - 1),
			 (ssize_t)sizeof busy_reply - 1);
	close(fd);
	pthread_join(q.th, NULL);
	close(lfd);
	ck_assert_msg(q.rc == -EIO, "rc %d (%s), want -EIO", q.rc, q.err);
	ck_assert_err_has(q.err, "busy, try again");
	ck_assert_ptr_nonnull(q.reply);
	ck_assert_str_eq(q.reply, busy_reply);
	free(q.reply);
	ck_tmp_teardown();
}
END_TEST

/* What `aether run` uses: 8 clients at a time, 5 s each. */
START_TEST(test_default_limits)
{
	struct tc h[AE_CONTROL_MAX_CLIENTS], extra;
	int i;

	ck_assert_int_eq(AE_CONTROL_MAX_CLIENTS, 8);
	ck_assert_int_eq(AE_CONTROL_CLIENT_TIMEOUT_MS, 5000);
	srv_open(0, 0);
	for (i = 0; i < AE_CONTROL_MAX_CLIENTS; i++)
		tc_connect(&h[i]);
	pump_until_held("8 clients");
	ck_assert_msg(last_timeout > 0 && last_timeout <= 5001,
		      "fill asked for %d ms with 5 s clients pending",
		      last_timeout);
	tc_connect(&extra);
	tc_send(&extra, "stats\n");
	pump_until_closed(&extra, "a 9th client");
	ck_assert_str_eq(extra.buf, busy_reply);
	tc_close(&extra);
	for (i = 0; i < AE_CONTROL_MAX_CLIENTS; i++) {
		assert_open(&h[i], "a client holding a slot");
		tc_send(&h[i], "ping\n");
	}
	for (i = 0; i < AE_CONTROL_MAX_CLIENTS; i++) {
		pump_until_closed(&h[i], "ping");
		ck_assert_str_eq(h[i].buf, "ok\n");
		tc_close(&h[i]);
	}
	request_ok("forward list", list_reply);
	srv_close();
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_requests);
	tcase_add_test(tc, test_network_show_switch);
	tcase_add_test(tc, test_network_switch_fails);
	tcase_add_test(tc, test_network_not_switchable);
	tcase_add_test(tc, test_quote_round_trip);
	tcase_add_test(tc, test_idle_dropped);
	tcase_add_test(tc, test_partial_line_dropped);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_gone_frees_slot);
	tcase_add_test(tc, test_client_reads_refusal);
	tcase_add_test(tc, test_default_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(control_suite());
}
