# tofurkey: build, test, install.  `make check` runs every test; the kernel
# and systemd suites need root (CI runs as root).

prefix ?= /usr
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
# Where this host's systemd looks for packaged units; the fallback is the
# standard location when systemd's pkg-config file is missing.
unitdir ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
catalogdir ?= $(prefix)/lib/systemd/catalog

CARGO ?= cargo
BIN := target/release/tofurkey
PYTHON ?= python3

all: $(BIN)

# Cargo knows what is stale; always ask it.  --locked: build what Cargo.lock says.
$(BIN): FORCE
	$(CARGO) build --release --locked

# Unit and integration tests (debug build), then the suites that use the
# real kernel and a real systemd with the release binary.
check: all
	$(CARGO) test --locked
	TOFURKEY_BIN=$(abspath $(BIN)) $(PYTHON) tests/kernel/test_tfo_cluster.py
	TOFURKEY_BIN=$(abspath $(BIN)) $(PYTHON) tests/systemd/test_units.py

install: all
	install -D -m 0755 $(BIN) $(DESTDIR)$(sbindir)/tofurkey
	install -D -m 0644 systemd/tofurkey.service $(DESTDIR)$(unitdir)/tofurkey.service
	install -D -m 0644 systemd/tofurkey.timer $(DESTDIR)$(unitdir)/tofurkey.timer
	install -D -m 0644 systemd/tofurkey.catalog $(DESTDIR)$(catalogdir)/tofurkey.catalog
	install -D -m 0644 tofurkey.8 $(DESTDIR)$(mandir)/man8/tofurkey.8

uninstall:
	rm -f $(DESTDIR)$(sbindir)/tofurkey $(DESTDIR)$(unitdir)/tofurkey.service \
	      $(DESTDIR)$(unitdir)/tofurkey.timer $(DESTDIR)$(catalogdir)/tofurkey.catalog \
	      $(DESTDIR)$(mandir)/man8/tofurkey.8

clean:
	$(CARGO) clean

.PHONY: all check install uninstall clean FORCE
