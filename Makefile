# make install / make uninstall: the same as scripts/install and scripts/uninstall, which say
# what they do. Variables: PREFIX (/usr/local), UNITDIR (/etc/systemd/system), DESTDIR (staging).
PREFIX ?= /usr/local
UNITDIR ?= /etc/systemd/system
DESTDIR ?=

.PHONY: install uninstall purge
install:
	PREFIX='$(PREFIX)' UNITDIR='$(UNITDIR)' DESTDIR='$(DESTDIR)' scripts/install
uninstall:
	PREFIX='$(PREFIX)' UNITDIR='$(UNITDIR)' DESTDIR='$(DESTDIR)' scripts/uninstall
purge:
	PREFIX='$(PREFIX)' UNITDIR='$(UNITDIR)' DESTDIR='$(DESTDIR)' scripts/uninstall --purge
