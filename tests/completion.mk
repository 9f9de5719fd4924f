# tests/completion.mk - the bash completion (data/bash-completion/aether);
# no QEMU, no root: one of the unit suites.
TESTS += tests/completion.sh
dist_noinst_SCRIPTS += tests/completion.sh
unit_tests += tests/completion.sh
