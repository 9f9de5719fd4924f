# plugins/passt/local.mk - user-mode networking by passt(1): one passt per
# VM NIC, started through the host's helper service.  No library: passt is
# only needed at run time (configure looks for it, for the tests).
if BUILD_PLUGIN_PASST
plugin_LTLIBRARIES += plugins/passt/passt.la
plugins_passt_passt_la_SOURCES = plugins/passt/passt.c
plugins_passt_passt_la_LDFLAGS = $(PLUGIN_LDFLAGS)

if PRELOADED_PLUGINS
aether_LDADD += -dlpreopen plugins/passt/passt.la
endif
endif

dist_man_MANS += man/aether-passt.7

include $(top_srcdir)/tests/passt.mk
