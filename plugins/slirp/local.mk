# plugins/slirp/local.mk - QEMU user networking backend.
if BUILD_PLUGIN_SLIRP
plugin_LTLIBRARIES += plugins/slirp/slirp.la
plugins_slirp_slirp_la_SOURCES = plugins/slirp/slirp.c
plugins_slirp_slirp_la_LDFLAGS = $(PLUGIN_LDFLAGS)
endif
