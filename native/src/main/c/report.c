/* The shim's report lines on stdout (docs/SHIM-PROTOCOL.md) and the small checked helpers around
 * them. The shim only: the child and the init never write to the JVM. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Writes one whole line to the owner (stdout, or an adopting owner's connection); a reader that is gone
 * (EPIPE) must not stop the teardown. With no owner (after LEAVE, until one attaches) the line is dropped. */
void emit(struct shim *s, const char *line, size_t len)
{
	while (len > 0 && !s->stdout_gone && s->out_fd >= 0) {
		ssize_t n = write(s->out_fd, line, len);
		if (n > 0) {
			line += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			/* stdout was inherited non-blocking: wait until the JVM drains it. */
			struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };
			if (poll(&p, 1, -1) < 0 && errno != EINTR) {
				fprintf(stderr, "snakepit-shim: poll stdout: %s\n", strerror(errno));
				s->stdout_gone = 1;
				s->failed = 1;
			}
		} else {
			if (errno != EPIPE && errno != ECONNRESET) {
				fprintf(stderr, "snakepit-shim: write stdout: %s\n", strerror(errno));
				s->failed = 1;
			}
			s->stdout_gone = 1;
		}
	}
}

void emitf(struct shim *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2; /* truncated, but still one line */
	line[n] = '\n';
	emit(s, line, (size_t)n + 1);
}

/* Reports a failed system call (errno); the shim then heads for the teardown and exits 70. */
void shimerr(struct shim *s, const char *fmt, ...)
{
	int e = errno;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	s->failed = 1;
	if (s->shimerr_lines++ < SHIMERR_MAX)
		emitf(s, "SHIMERR %s: %s (errno %d)", what, strerror(e), e);
	errno = e;
}

/* Before the fork there is nothing to tear down. */
void die(struct shim *s, const char *what)
{
	shimerr(s, "%s", what);
	exit(EX_SOFTWARE);
}

void close_fd(struct shim *s, int *fd)
{
	/* Linux releases the descriptor even when close reports EINTR. */
	if (*fd >= 0 && close(*fd) < 0 && errno != EINTR)
		shimerr(s, "close fd %d", *fd);
	*fd = -1;
}

long long now_ms(struct shim *s)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
		shimerr(s, "clock_gettime");
		return 0;
	}
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void set_nonblocking(struct shim *s, int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		die(s, "fcntl O_NONBLOCK");
}
