# data/bash-completion/local.mk - the bash completion of aether, installed
# in bashcompletiondir (configure: --with-bash-completion-dir).
if INSTALL_BASH_COMPLETION
bashcompletion_DATA = data/bash-completion/aether
endif
EXTRA_DIST += data/bash-completion/aether
