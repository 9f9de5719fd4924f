# man/local.mk - manual pages.
dist_man_MANS += man/aether.1 man/aether.conf.5 man/aether-plugin.7
dist_doc_DATA += data/aether.conf.example README.md
dist_man_MANS += man/aether-tap.7
dist_man_MANS += man/aether-remote.7
