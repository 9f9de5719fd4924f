# core/local.mk - the launcher and the core library tests link against.
noinst_LTLIBRARIES += libaether-core.la
libaether_core_la_SOURCES = \
	core/util.c core/util.h \
	core/conffile.c core/conffile.h \
	core/options.c core/options.h \
	core/loader.c core/loader.h \
	core/helper.c core/helper.h \
	core/instance.c core/instance.h \
	core/mac.c core/mac.h \
	core/runtime.c core/runtime.h \
	core/vmconf.c core/vmconf.h \
	core/qemu-argv.c core/qemu-argv.h \
	core/qmp.c core/qmp.h \
	core/qga.c core/qga.h \
	core/ready.c core/ready.h \
	core/supervisor.c core/supervisor.h core/exitcodes.h \
	core/store.c core/store.h \
	core/lifecycle.h \
	core/vmref.c core/vmref.h \
	core/seed.c core/seed.h \
	core/vm-create.c \
	core/vm-start.c \
	core/vm-info.c \
	core/vm-network.c \
	core/json.c core/json.h \
	core/relay.c core/relay.h \
	core/relay-port.c core/relay-port.h \
	core/control.c core/control.h \
	core/net.h core/netconf.c core/addrpool.c core/addrpool.h
libaether_core_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(JANSSON_CFLAGS)
# The host agent's config and create journal (agent/local.mk): aether
# check-config validates [agent], aether gc rolls back interrupted creates.
libaether_core_la_LIBADD = libaether-agentcore.la $(LTDL_LIBS) $(INIH_LIBS) \
	$(JANSSON_LIBS) $(VDEPLUG_LIBS)

bin_PROGRAMS += aether
aether_SOURCES = core/main.c
aether_LDADD = libaether-core.la

# Managed networks: the NAT and forward rules in aether's own nftables
# table (libnftables; read back as JSON with jansson).  check_nft runs in
# private network namespaces (root; skips otherwise).
if MANAGED_NETWORKS
libaether_core_la_SOURCES += core/nft.c core/nft.h
libaether_core_la_CFLAGS += $(NFT_CFLAGS)
libaether_core_la_LIBADD += $(NFT_LIBS)
if HAVE_CHECK
check_PROGRAMS += tests/check_nft
TESTS += tests/check_nft
unit_tests += tests/check_nft
tests_check_nft_SOURCES = tests/check_nft.c tests/check-main.h
tests_check_nft_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(NFT_CFLAGS)
tests_check_nft_LDADD = libaether-core.la $(NFT_LIBS) $(CHECK_LIBS)
endif
# Managed networks ([net.NAME], aether net): the network model and its
# config, address reservations, the bridge (libnl-route-3) and dnsmasq.
# check_net is their unit suite (its bridge tests run in a private
# network namespace and skip without root).
libaether_core_la_SOURCES += core/net.c core/net-cmd.c \
	core/bridge.c core/bridge.h core/dnsmasq.c core/dnsmasq.h
libaether_core_la_CFLAGS += $(CORE_NL_CFLAGS)
libaether_core_la_LIBADD += $(CORE_NL_LIBS)
if HAVE_CHECK
check_PROGRAMS += tests/check_net
TESTS += tests/check_net
unit_tests += tests/check_net
tests_check_net_SOURCES = tests/check_net.c tests/check-main.h
tests_check_net_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
tests_check_net_LDADD = libaether-core.la $(CHECK_LIBS)
endif
endif
