/*
 * The futex seam: the only place that makes system calls on a lock path.
 * Raw syscall(2): liburcu's urcu/futex.h wraps only FUTEX_WAIT and
 * FUTEX_WAKE with relative timeouts, and a timed lock needs an absolute
 * CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET).
 */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

int amutex__futex_wait(uint32_t *word, uint32_t expect,
		       const struct timespec *abs_mono)
{
	int saved = errno, err = 0;

	if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
		    expect, abs_mono, NULL, FUTEX_BITSET_MATCH_ANY) != 0) {
		err = errno;
		if (err == EAGAIN)
			err = 0;
		else if (err != ETIMEDOUT && err != EINTR)
			amutex_die("futex wait failed");
	}
	errno = saved;
	return err;
}

void amutex__futex_wake(uint32_t *word, int n)
{
	int saved = errno;

	if (syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
		    NULL, NULL, 0) < 0)
		amutex_die("futex wake failed");
	errno = saved;
}
