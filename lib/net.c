#define _GNU_SOURCE /* accept4, SOCK_CLOEXEC */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "number.h"

static void close_keep_errno(int fd)
{
	int saved = errno;
	io_close(fd);
	errno = saved;
}

static void address_text(const struct sockaddr_storage *sa, char ip[NET_IP_MAX])
{
	const void *addr = NULL;
	if (sa->ss_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->ss_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (addr == NULL || inet_ntop(sa->ss_family, addr, ip, NET_IP_MAX) == NULL) {
		ip[0] = '?';
		ip[1] = '\0';
	}
}

int net_listen(uint16_t port, int backlog, int *fd, uint16_t *bound_port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	/* A restarted server must not wait out TIME_WAIT of its previous run's connections. */
	int one = 1;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		goto fail;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons(port);
	if (bind(s, (struct sockaddr *)&sin, sizeof sin) != 0)
		goto fail;
	if (listen(s, backlog) != 0)
		goto fail;
	socklen_t len = sizeof sin;
	if (getsockname(s, (struct sockaddr *)&sin, &len) != 0)
		goto fail;
	*fd = s;
	if (bound_port != NULL)
		*bound_port = ntohs(sin.sin_port);
	return 0;
fail:
	close_keep_errno(s);
	return -1;
}

int net_listener_adopt(int fd, uint16_t *bound_port)
{
	int listening = 0, flags;
	socklen_t len = sizeof listening;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
		return -1;
	if (!listening) {
		errno = EINVAL;
		return -1;
	}
	struct sockaddr_storage sa;
	len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	/* Inherited without FD_CLOEXEC (that is how it crossed the exec): set it again, so nothing
	 * we might start later gets the server's listener. */
	if ((flags = fcntl(fd, F_GETFD)) < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -1;
	if (sa.ss_family == AF_INET)
		*bound_port = ntohs(((const struct sockaddr_in *)&sa)->sin_port);
	else if (sa.ss_family == AF_INET6)
		*bound_port = ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port);
	else
		*bound_port = 0;
	return 0;
}

int net_accept(int listen_fd, int *fd, char ip[NET_IP_MAX])
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	int s = accept4(listen_fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
	if (s < 0)
		return -1;
	*fd = s;
	if (ip != NULL)
		address_text(&sa, ip);
	return 0;
}

void net_peer_ip(int fd, char ip[NET_IP_MAX])
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0) {
		ip[0] = '?';
		ip[1] = '\0';
		return;
	}
	address_text(&sa, ip);
}

int net_split_address(const char *address, char *host, size_t host_cap, uint16_t *port)
{
	const char *h, *colon;
	size_t hlen;
	errno = EINVAL;
	if (address == NULL || host == NULL || host_cap == 0)
		return -1;
	if (address[0] == '[') {
		const char *close = strchr(address, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		h = address + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (memchr(h, '[', hlen) != NULL)
			return -1;
	} else {
		/* Like Go's SplitHostPort: a bare IPv6 address needs brackets ("too many colons"). */
		colon = strchr(address, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL)
			return -1;
		h = address;
		hlen = (size_t)(colon - h);
		if (memchr(h, '[', hlen) != NULL || memchr(h, ']', hlen) != NULL)
			return -1;
	}
	if (hlen == 0)
		return -1;
	uint32_t p;
	if (number_parse_u32(colon + 1, 1, 65535, &p) != 0)
		return -1;
	if (hlen >= host_cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int set_blocking(int fd, bool blocking)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -1;
	flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

/* One address: IO_OK with *fd, or a status (IO_ERROR with errno). */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *fd)
{
	int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (s < 0)
		return IO_ERROR;
	/* EINTR on a non-blocking connect still leaves the connection in progress. */
	if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS && errno != EINTR) {
		close_keep_errno(s);
		return IO_ERROR;
	}
	int w = io_wait(s, POLLOUT, deadline);
	if (w != IO_OK) {
		close_keep_errno(s);
		return w;
	}
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
		close_keep_errno(s);
		return IO_ERROR;
	}
	if (err != 0) {
		io_close(s);
		errno = err;
		return IO_ERROR;
	}
	if (set_blocking(s, true) != 0) {
		close_keep_errno(s);
		return IO_ERROR;
	}
	*fd = s;
	return IO_OK;
}

int net_connect(const char *host, uint16_t port, int64_t deadline, int *fd)
{
	char service[8];
	snprintf(service, sizeof service, "%u", (unsigned)port);
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	struct addrinfo *list = NULL;
	int g = getaddrinfo(host, service, &hints, &list);
	if (g != 0) {
		/* EAI_* codes are not errnos; EAI_SYSTEM already left one in errno. */
		if (g != EAI_SYSTEM || errno == 0)
			errno = EHOSTUNREACH;
		return IO_ERROR;
	}
	int status = IO_ERROR;
	int err = EHOSTUNREACH;
	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		status = connect_one(ai, deadline, fd);
		if (status != IO_ERROR)
			break; /* connected, or out of time, or stopped: later addresses cannot help */
		err = errno;
	}
	freeaddrinfo(list);
	if (status == IO_ERROR)
		errno = err;
	return status;
}
