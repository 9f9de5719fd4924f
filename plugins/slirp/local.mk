# plugins/slirp/local.mk - user networking backend: QEMU's slirp, or
# libslirp driven by the plugin as a frame port (when libslirp is found).
if BUILD_PLUGIN_SLIRP
plugin_LTLIBRARIES += plugins/slirp/slirp.la
plugins_slirp_slirp_la_SOURCES = plugins/slirp/slirp.c
plugins_slirp_slirp_la_LDFLAGS = $(PLUGIN_LDFLAGS)
EXTRA_DIST += plugins/slirp/frame.c plugins/slirp/frame.h
if HAVE_LIBSLIRP
plugins_slirp_slirp_la_SOURCES += plugins/slirp/frame.c plugins/slirp/frame.h
plugins_slirp_slirp_la_CFLAGS = $(AM_CFLAGS) $(SLIRP_CFLAGS) -DAE_HAVE_LIBSLIRP=1
plugins_slirp_slirp_la_LIBADD = $(SLIRP_LIBS)
endif
endif
