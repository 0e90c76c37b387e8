/*
 * The futex seam: the only place that makes system calls on a lock path.
 * Raw syscall(2): liburcu's urcu/futex.h wraps only FUTEX_WAIT and
 * FUTEX_WAKE with relative timeouts, and a timed lock needs an absolute
 * deadline on CLOCK_MONOTONIC or CLOCK_REALTIME (FUTEX_WAIT_BITSET).
 */
#include "mutex.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static int op(int base, int how)
{
	return base | (how & AMUTEX_FUTEX_SHARED ? 0 : FUTEX_PRIVATE_FLAG) |
	       (how & AMUTEX_FUTEX_REALTIME ? FUTEX_CLOCK_REALTIME : 0);
}

int amutex__futex_wait(uint32_t *word, uint32_t expect,
		       const struct timespec *abs, int how)
{
	int saved = errno, err = 0;

	if (syscall(SYS_futex, word, op(FUTEX_WAIT_BITSET, how), expect, abs,
		    NULL, FUTEX_BITSET_MATCH_ANY) != 0) {
		err = errno;
		if (err == EAGAIN)
			err = 0;
		else if (err != ETIMEDOUT && err != EINTR)
			amutex__die("futex wait failed");
	}
	errno = saved;
	return err;
}

void amutex__futex_wake(uint32_t *word, int n, int how)
{
	int saved = errno;

	if (syscall(SYS_futex, word, op(FUTEX_WAKE, how & AMUTEX_FUTEX_SHARED), n,
		    NULL, NULL, 0) < 0)
		amutex__die("futex wake failed");
	errno = saved;
}
