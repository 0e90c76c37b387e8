/*
 * The futex seam: the only place that makes system calls on a lock path.
 * Raw syscall(2): liburcu's urcu/futex.h wraps only FUTEX_WAIT and
 * FUTEX_WAKE with relative timeouts, and a timed lock needs an absolute
 * deadline on CLOCK_MONOTONIC or CLOCK_REALTIME (FUTEX_WAIT_BITSET).
 *
 * Callers treat every return of a wait as "look at the word again": the
 * kernel may return early for a signal (EINTR), because the word changed
 * (EAGAIN), or for no reason its caller can see. A wake's result is
 * ignored: a wake may legally land on memory that its owner has already
 * unmapped (EFAULT) or reused, as glibc's unlock does too.
 *
 * Test builds (AMUTEX_TEST_SEAMS) inject each of those returns at random.
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

#ifdef AMUTEX_TEST_SEAMS
struct amutex__faults amutex__faults;
uint64_t amutex__faults_injected;

/* 1 with a chance of per_mille / 1000, from a per-thread xorshift. */
static int roll(unsigned per_mille)
{
	static __thread uint64_t x;

	if (!per_mille)
		return 0;
	if (!x)
		x = (uint64_t)(uintptr_t)&x * 0x9e3779b97f4a7c15ull | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	if (x % 1000 >= per_mille)
		return 0;
	__atomic_add_fetch(&amutex__faults_injected, 1, __ATOMIC_RELAXED);
	return 1;
}

/* A fault instead of the call: its result, or -1 to make the call. */
static int wait_fault(const struct timespec *abs)
{
	const struct amutex__faults *f = &amutex__faults;

	if (roll(__atomic_load_n(&f->eintr, __ATOMIC_RELAXED)))
		return EINTR;
	if (roll(__atomic_load_n(&f->eagain, __ATOMIC_RELAXED)))
		return 0;
	if (abs && roll(__atomic_load_n(&f->early_timeout, __ATOMIC_RELAXED)))
		return ETIMEDOUT;
	return -1;
}
#endif

int amutex__futex_wait(uint32_t *word, uint32_t expect,
		       const struct timespec *abs, int how)
{
	return amutex__futex_wait_bits(word, expect, abs, how, FUTEX_BITSET_MATCH_ANY);
}

int amutex__futex_wait_bits(uint32_t *word, uint32_t expect,
			    const struct timespec *abs, int how, uint32_t bits)
{
	int saved = errno, err = 0;
#ifdef AMUTEX_TEST_SEAMS
	struct timespec soon;

	if ((err = wait_fault(abs)) >= 0)
		return err;
	err = 0;
	if (roll(__atomic_load_n(&amutex__faults.spurious, __ATOMIC_RELAXED))) {
		/* Sleep a little at most, then return as if woken. */
		clock_gettime(how & AMUTEX_FUTEX_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, &soon);
		soon.tv_nsec += 50000;
		if (soon.tv_nsec >= 1000000000) {
			soon.tv_sec++;
			soon.tv_nsec -= 1000000000;
		}
		if (!abs || soon.tv_sec < abs->tv_sec ||
		    (soon.tv_sec == abs->tv_sec && soon.tv_nsec < abs->tv_nsec)) {
			syscall(SYS_futex, word, op(FUTEX_WAIT_BITSET, how), expect, &soon,
				NULL, bits);
			errno = saved;
			return 0;
		}
	}
#endif
	if (syscall(SYS_futex, word, op(FUTEX_WAIT_BITSET, how), expect, abs,
		    NULL, bits) != 0) {
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
	amutex__futex_wake_bits(word, n, how, FUTEX_BITSET_MATCH_ANY);
}

void amutex__futex_wake_bits(uint32_t *word, int n, int how, uint32_t bits)
{
	int saved = errno;

	if (bits == FUTEX_BITSET_MATCH_ANY)
		syscall(SYS_futex, word, op(FUTEX_WAKE, how & AMUTEX_FUTEX_SHARED), n, NULL, NULL, 0);
	else
		syscall(SYS_futex, word, op(FUTEX_WAKE_BITSET, how & AMUTEX_FUTEX_SHARED), n, NULL,
			NULL, bits);
#ifdef AMUTEX_TEST_SEAMS
	/* The callers must not care: pretend the memory was gone. */
	if (roll(__atomic_load_n(&amutex__faults.wake_efault, __ATOMIC_RELAXED)))
		errno = EFAULT;
#endif
	errno = saved;
}
