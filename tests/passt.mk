# tests/passt.mk - the passt backend's end-to-end test (real QEMU, the test
# guest, passt in a private network namespace).
EXTRA_DIST += tests/passt-e2e.sh
if BUILD_PLUGIN_PASST
TESTS += tests/passt-e2e.sh
endif
