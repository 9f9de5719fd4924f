/* asan-vdeplug.h - for a test program that talks to VDE switches through
 * libvdeplug: include it in exactly one of its files.
 *
 * libvdeplug loads its transport modules (libvdeplug_vde.so) with
 * RTLD_DEEPBIND, which the AddressSanitizer runtime refuses: it exits the
 * process.  Under ASan the program defines dlopen (found before the
 * runtime's, as libvdeplug calls it by name) and passes each call on
 * without that flag.  Without ASan this header defines nothing. */
#ifndef AE_TESTS_ASAN_VDEPLUG_H
#define AE_TESTS_ASAN_VDEPLUG_H

#if defined(__SANITIZE_ADDRESS__)
#define AE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AE_TEST_ASAN 1
#endif
#endif

#ifdef AE_TEST_ASAN
#include <dlfcn.h>

void *dlopen(const char *file, int flags);
void *dlopen(const char *file, int flags)
{
	static void *(*next)(const char *, int);

	if (!next)
		next = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	if (!next)
		return NULL;
	return next(file, flags & ~RTLD_DEEPBIND);
}
#endif

#endif
