/* exitcodes.h - the exit statuses of aether and aether-agent. */
#ifndef AE_EXITCODES_H
#define AE_EXITCODES_H

/* Exit statuses of `aether run` (also in aether(1)). */
enum {
	AE_EXIT_OK = 0,        /* the guest shut down; network detached */
	AE_EXIT_ERROR = 1,     /* configuration or runtime error */
	AE_EXIT_USAGE = 2,     /* bad command line */
	AE_EXIT_NETWORK = 3,   /* the backend failed to load, init or attach */
	AE_EXIT_QEMU = 4,      /* QEMU failed to start or exited with an error */
	AE_EXIT_CRASH = 5,     /* QEMU was killed by a signal */
	AE_EXIT_SIGNAL = 128,  /* + N: stopped because aether got signal N */
};

#endif
