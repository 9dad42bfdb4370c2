/* net: TCP sockets. All fds are created O_CLOEXEC. */
#ifndef TP0_NET_H
#define TP0_NET_H

#include <stddef.h>
#include <stdint.h>

#define NET_IP_MAX 64 /* room for any textual IPv4/IPv6 address */

/* Binds 0.0.0.0:port (port 0: an ephemeral one) with SO_REUSEADDR and listens. *bound_port
 * receives the port actually bound. 0 or -1 with errno. */
int net_listen(uint16_t port, int backlog, int *fd, uint16_t *bound_port);
/* Takes over a listening socket inherited from the parent (the supervisor owns the server's
 * listener and hands it to each acceptor it starts): checks that fd is a listening stream socket,
 * marks it close-on-exec and puts its bound port in *bound_port. 0 or -1 with errno (EBADF,
 * ENOTSOCK; EINVAL when the socket is not listening). */
int net_listener_adopt(int fd, uint16_t *bound_port);
/* accept4 with SOCK_CLOEXEC; the peer's address as text in ip. 0 or -1 with errno (EINTR,
 * EAGAIN, ECONNABORTED are the caller's to retry). */
int net_accept(int listen_fd, int *fd, char ip[NET_IP_MAX]);
/* The peer's address of a connected socket, as text ("?" if unknown). */
void net_peer_ip(int fd, char ip[NET_IP_MAX]);

/* Splits "host:port" ("[v6]:port" too). 0 or -1 (bad syntax or port). */
int net_split_address(const char *address, char *host, size_t host_cap, uint16_t *port);

/* Resolves host and connects (non-blocking connect, waited with io_wait) before the deadline.
 * Returns an io_status: IO_OK with *fd connected (blocking mode), IO_TIMEOUT, IO_STOPPED, or
 * IO_ERROR with errno (ECONNREFUSED, EHOSTUNREACH, ... or EAI_* lookup failures mapped to
 * EHOSTUNREACH). */
int net_connect(const char *host, uint16_t port, int64_t deadline, int *fd);

#endif
