#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "net.h"

#define TEST_DEADLINE 10000

static void assert_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	assert_true(flags >= 0);
	assert_true(flags & FD_CLOEXEC);
}

static void assert_blocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	assert_true(flags >= 0);
	assert_false(flags & O_NONBLOCK);
}

static void test_listen_connect_accept(void **state)
{
	(void)state;
	int lfd = -1;
	uint16_t port = 0;
	assert_int_equal(net_listen(0, 16, &lfd, &port), 0);
	assert_true(lfd >= 0);
	assert_true(port != 0);
	assert_cloexec(lfd);

	int cfd = -1;
	assert_int_equal(net_connect("127.0.0.1", port, io_deadline_after(TEST_DEADLINE), &cfd), IO_OK);
	assert_cloexec(cfd);
	assert_blocking(cfd);

	assert_int_equal(io_wait(lfd, POLLIN, io_deadline_after(TEST_DEADLINE)), IO_OK);
	int afd = -1;
	char ip[NET_IP_MAX];
	assert_int_equal(net_accept(lfd, &afd, ip), 0);
	assert_string_equal(ip, "127.0.0.1");
	assert_cloexec(afd);
	assert_blocking(afd);

	char peer[NET_IP_MAX];
	net_peer_ip(afd, peer);
	assert_string_equal(peer, "127.0.0.1");
	net_peer_ip(cfd, peer);
	assert_string_equal(peer, "127.0.0.1");

	assert_int_equal(io_write_full(cfd, "ping\n", 5, io_deadline_after(TEST_DEADLINE)), IO_OK);
	char line[16];
	size_t len;
	assert_int_equal(io_read_line(afd, line, sizeof line, &len, io_deadline_after(TEST_DEADLINE)),
			 IO_OK);
	assert_string_equal(line, "ping");

	/* a second listener on the same port is refused while the first lives */
	int lfd2 = -1;
	errno = 0;
	assert_int_equal(net_listen(port, 16, &lfd2, NULL), -1);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(lfd2, -1);

	assert_int_equal(io_close(afd), 0);
	assert_int_equal(io_close(cfd), 0);
	assert_int_equal(io_close(lfd), 0);
}

/* An inherited listener: its port is found, it gets FD_CLOEXEC back, and anything that is not
 * a listening socket is refused. */
static void test_listener_adopt(void **state)
{
	(void)state;
	int lfd = -1, flags;
	uint16_t port = 0, adopted = 0;
	assert_int_equal(net_listen(0, 16, &lfd, &port), 0);
	flags = fcntl(lfd, F_GETFD);
	assert_int_equal(fcntl(lfd, F_SETFD, flags & ~FD_CLOEXEC), 0); /* as inherited */
	assert_int_equal(net_listener_adopt(lfd, &adopted), 0);
	assert_int_equal(adopted, port);
	assert_cloexec(lfd);

	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	errno = 0;
	assert_int_equal(net_listener_adopt(s, &adopted), -1); /* not listening */
	assert_int_equal(errno, EINVAL);
	int p[2];
	assert_int_equal(pipe(p), 0);
	errno = 0;
	assert_int_equal(net_listener_adopt(p[0], &adopted), -1);
	assert_int_equal(errno, ENOTSOCK);
	assert_int_equal(io_close(p[0]), 0);
	assert_int_equal(io_close(p[1]), 0);
	errno = 0;
	assert_int_equal(net_listener_adopt(p[0], &adopted), -1); /* closed */
	assert_int_equal(errno, EBADF);
	assert_int_equal(io_close(s), 0);
	assert_int_equal(io_close(lfd), 0);
}

static void test_connect_by_name(void **state)
{
	(void)state;
	int lfd;
	uint16_t port;
	assert_int_equal(net_listen(0, 16, &lfd, &port), 0);
	/* "localhost" may resolve to ::1 first, where nothing listens: the next address is tried */
	int cfd = -1;
	assert_int_equal(net_connect("localhost", port, io_deadline_after(TEST_DEADLINE), &cfd), IO_OK);
	io_close(cfd);
	io_close(lfd);
}

static void test_accept_nothing_pending(void **state)
{
	(void)state;
	int lfd;
	uint16_t port;
	assert_int_equal(net_listen(0, 16, &lfd, &port), 0);
	assert_int_equal(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	int afd = -1;
	char ip[NET_IP_MAX];
	errno = 0;
	assert_int_equal(net_accept(lfd, &afd, ip), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_int_equal(afd, -1);
	io_close(lfd);

	char peer[NET_IP_MAX];
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	net_peer_ip(s, peer); /* not connected */
	assert_string_equal(peer, "?");
	io_close(s);
}

static void test_connect_refused(void **state)
{
	(void)state;
	int lfd;
	uint16_t port;
	assert_int_equal(net_listen(0, 16, &lfd, &port), 0);
	io_close(lfd); /* nothing listens there any more */
	int cfd = -1;
	errno = 0;
	assert_int_equal(net_connect("127.0.0.1", port, io_deadline_after(TEST_DEADLINE), &cfd),
			 IO_ERROR);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(cfd, -1);
}

static void test_connect_unknown_host(void **state)
{
	(void)state;
	int cfd = -1;
	errno = 0;
	assert_int_equal(net_connect("no-such-host.invalid", 80, io_deadline_after(TEST_DEADLINE),
				     &cfd),
			 IO_ERROR);
	assert_int_equal(errno, EHOSTUNREACH);
	assert_int_equal(cfd, -1);
}

/* A listener that never accepts: once its queue is full, new handshakes get no answer. */
static void test_connect_timeout_and_stop(void **state)
{
	(void)state;
	int lfd;
	uint16_t port;
	assert_int_equal(net_listen(0, 0, &lfd, &port), 0);
	int held[32];
	size_t nheld = 0;
	int r = IO_OK;
	while (nheld < sizeof held / sizeof held[0]) {
		int fd = -1;
		r = net_connect("127.0.0.1", port, io_deadline_after(100), &fd);
		if (r != IO_OK)
			break;
		held[nheld++] = fd;
	}
	if (r == IO_OK) {
		/* this network stack queues without limit: nothing to time out against */
		for (size_t i = 0; i < nheld; i++)
			io_close(held[i]);
		io_close(lfd);
		skip();
	}
	assert_int_equal(r, IO_TIMEOUT);

	static volatile sig_atomic_t stop = 1;
	io_set_stop(&stop, NULL);
	int fd = -1;
	assert_int_equal(net_connect("127.0.0.1", port, io_deadline_after(TEST_DEADLINE), &fd),
			 IO_STOPPED);
	assert_int_equal(fd, -1);
	io_set_stop(NULL, NULL);

	for (size_t i = 0; i < nheld; i++)
		io_close(held[i]);
	io_close(lfd);
}

static void test_split_address(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *host;
		uint16_t port;
	} ok[] = {
		{"server:12345", "server", 12345},
		{"127.0.0.1:80", "127.0.0.1", 80},
		{"[::1]:80", "::1", 80},
		{"[fe80::1%eth0]:8080", "fe80::1%eth0", 8080},
		{"a:1", "a", 1},
		{"h:65535", "h", 65535},
		{"h:00080", "h", 80},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char host[64] = "junk";
		uint16_t port = 0;
		if (net_split_address(ok[i].in, host, sizeof host, &port) != 0)
			fail_msg("rejected %s", ok[i].in);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
	}

	static const char *const bad[] = {
		"server",        /* no colon */
		"server:",       /* no port */
		":12345",        /* no host */
		"server:0",      /* port 0 */
		"server:65536",  /* too big */
		"server:99999999999999999999",
		"server:-1",
		"server:+80",
		"server:80 ",
		"server: 80",
		"server:8o",
		"::1:80",        /* IPv6 needs brackets */
		"[::1]80",
		"[::1]",
		"[::1:80",
		"[]:80",
		"a]:80",
		"[a[b]:80",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char host[64] = "keep";
		uint16_t port = 7;
		if (net_split_address(bad[i], host, sizeof host, &port) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(port, 7);
	}

	/* the host must fit */
	char small[6];
	uint16_t port;
	assert_int_equal(net_split_address("server:1", small, sizeof small, &port), -1);
	assert_int_equal(net_split_address("serve:1", small, sizeof small, &port), 0);
	assert_string_equal(small, "serve");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_connect_accept),
		cmocka_unit_test(test_listener_adopt),
		cmocka_unit_test(test_connect_by_name),
		cmocka_unit_test(test_accept_nothing_pending),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_unknown_host),
		cmocka_unit_test(test_connect_timeout_and_stop),
		cmocka_unit_test(test_split_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
