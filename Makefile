# tofurkey: build, test, install.  `make check` runs every test; the kernel
# and systemd suites need root (CI runs as root).

prefix ?= /usr
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
sysconfdir ?= /etc
# Where this host's systemd looks for packaged units; the fallback is the
# standard location when systemd's pkg-config file is missing.
unitdir ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
generatordir ?= $(or $(shell pkg-config --variable=systemdsystemgeneratordir systemd 2>/dev/null),/usr/lib/systemd/system-generators)
catalogdir ?= $(prefix)/lib/systemd/catalog

CARGO ?= cargo
PYTHON ?= python3
# The release binary is linked statically and not position-independent: a
# run is microseconds of work, so the dynamic loader and self-relocation
# would be most of its cost (see `make bench`).  These flags need an
# explicit --target, or cargo would apply them to proc-macros too.  For the
# same reason getrandom calls getrandom(2) straight away: its default looks
# the function up with dlsym first, costly in a static binary (the syscall is
# in every kernel since 3.17).
TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
STATIC_FLAGS := -C target-feature=+crt-static -C relocation-model=static \
	--cfg getrandom_backend=\"linux_getrandom\"

# Without rustc on PATH (root, with a user's rustup toolchain), `install`
# still finds what `make` built.
BIN := $(if $(TRIPLE),target/$(TRIPLE)/release/tofurkey,$(firstword $(wildcard target/*/release/tofurkey)))

all: $(BIN)

# Cargo knows what is stale; always ask it.  --locked: build what Cargo.lock says.
$(BIN): FORCE
	RUSTFLAGS="$(STATIC_FLAGS)" $(CARGO) build --release --locked --target $(TRIPLE)

# Unit and integration tests (debug build), then the suites that use the
# real kernel and a real systemd with the release binary; tests/check lists
# them and ends with what failed.
check: all deb
	CARGO=$(CARGO) PYTHON=$(PYTHON) tests/check $(BIN)

# Installs what `make` built and never builds: as root, cargo is often not
# on PATH, and a build there would leave root-owned files in target/.
install:
	@test -x "$(BIN)" || { echo "make install: nothing built: run make first" >&2; exit 1; }
	install -D -m 0755 $(BIN) $(DESTDIR)$(sbindir)/tofurkey
	install -d $(DESTDIR)$(unitdir)
	# The unit runs the binary where it was installed (sbindir).
	for u in tofurkey.service tofurkey@.service; do \
	    sed 's|^ExecStart=/usr/sbin/tofurkey|ExecStart=$(sbindir)/tofurkey|' systemd/$$u \
	        >$(DESTDIR)$(unitdir)/$$u && chmod 0644 $(DESTDIR)$(unitdir)/$$u || exit 1; \
	done
	install -m 0644 systemd/tofurkey.timer systemd/tofurkey@.timer $(DESTDIR)$(unitdir)/
	install -m 0644 systemd/tofurkey-nginx-reload.path systemd/tofurkey-nginx-reload.service \
	    $(DESTDIR)$(unitdir)/
	# The generator runs tofurkey --print-timer: where it was installed too.
	install -d $(DESTDIR)$(generatordir)
	sed 's|/usr/sbin/tofurkey|$(sbindir)/tofurkey|' systemd/tofurkey-generator \
	    >$(DESTDIR)$(generatordir)/tofurkey-generator
	chmod 0755 $(DESTDIR)$(generatordir)/tofurkey-generator
	# The settings file is the admin's once there: never replaced.
	test -e $(DESTDIR)$(sysconfdir)/default/tofurkey || \
	    install -D -m 0644 etc/default-tofurkey $(DESTDIR)$(sysconfdir)/default/tofurkey
	install -D -m 0644 systemd/tofurkey.catalog $(DESTDIR)$(catalogdir)/tofurkey.catalog
	install -D -m 0644 tofurkey.8 $(DESTDIR)$(mandir)/man8/tofurkey.8

uninstall:
	rm -f $(DESTDIR)$(sbindir)/tofurkey $(DESTDIR)$(unitdir)/tofurkey.service \
	      $(DESTDIR)$(unitdir)/tofurkey.timer $(DESTDIR)$(catalogdir)/tofurkey.catalog \
	      $(DESTDIR)$(unitdir)/tofurkey@.service $(DESTDIR)$(unitdir)/tofurkey@.timer \
	      $(DESTDIR)$(unitdir)/tofurkey-nginx-reload.path \
	      $(DESTDIR)$(unitdir)/tofurkey-nginx-reload.service \
	      $(DESTDIR)$(generatordir)/tofurkey-generator \
	      $(DESTDIR)$(mandir)/man8/tofurkey.8

# The Debian package of what `make` built (cargo-deb; Cargo.toml's
# [package.metadata.deb] and debian/ say what goes in), into target/debian/.
CARGO_DEB_VERSION := 3.8.0
deb: all
	command -v cargo-deb >/dev/null || $(CARGO) install --locked cargo-deb --version $(CARGO_DEB_VERSION)
	$(CARGO) deb --no-build --locked --target $(TRIPLE) -o target/debian/

# The fleet lab, not part of `make check` (which runs a short one): hosts
# behind a balancer that picks one at random per connection, each system's
# TLS resumptions and TFO through rotations (tests/fleet/fleet.py says how).
# Needs root and nft; about 3 minutes. Writes target/fleet/.
fleet: all
	$(PYTHON) tests/fleet/fleet.py $(BIN)

# Per-run cost: instructions, peak RSS, size, build time (bench/run says how).
bench: all
	bench/run $(BIN)

# Fuzzing, not part of `make check`: each target for FUZZ_SECONDS, one after
# the other; -timeout turns a stuck input into a failure.  cargo-fuzz passes
# -Z flags (sanitizer): stable rustc takes them with RUSTC_BOOTSTRAP=1.
# Needs a C++ compiler (g++) for libFuzzer.  New inputs go to
# fuzz/target/corpus; the seeds in fuzz/corpus stay as committed.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := cli_parse read_key credential_dir dir_path
CARGO_FUZZ_VERSION := 0.13.2

fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p fuzz/target/corpus/$$t && \
	    RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O -a $$t fuzz/target/corpus/$$t fuzz/corpus/$$t -- \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 || exit 1; \
	done

# Mutation testing, not part of `make check` (slow: a build and the cargo
# tests for each mutant). By default every file of src/; MUTANTS_FILES
# names fewer (e.g. MUTANTS_FILES=src/run/mod.rs). It runs inside a private
# network and mount namespace with its own /run, so a mutant that writes
# what it must not reaches neither the host's keys nor its autokey.
# Results go to mutants.out/ (caught.txt, missed.txt, unviable.txt).
# The tests run under nextest (.cargo/mutants.toml).
CARGO_MUTANTS_VERSION := 27.1.0
CARGO_NEXTEST_VERSION := 0.9.151
MUTANTS_FILES ?=

mutants:
	command -v cargo-mutants >/dev/null || $(CARGO) install --locked cargo-mutants --version $(CARGO_MUTANTS_VERSION)
	command -v cargo-nextest >/dev/null || $(CARGO) install --locked cargo-nextest --version $(CARGO_NEXTEST_VERSION)
	unshare --net --mount --propagation private sh -c 'mount -t tmpfs tmpfs /run && \
	    exec $(CARGO) mutants --no-shuffle $(foreach f,$(MUTANTS_FILES),--file $(f))'

clean:
	$(CARGO) clean

.PHONY: all check deb install uninstall fleet bench fuzz mutants clean FORCE
