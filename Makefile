# sysrestrict: stamp a syscall policy into ELF binaries, enforce it with seccomp.
# Targets a newcomer can guess; `make help` lists them.

GO       ?= go
BIN      ?= bin
# The loader is built lean: its start-up is on every exec it does.
GOFLAGS_BUILD ?= -trimpath -tags urfave_cli_no_docs
FUZZTIME ?= 10s

# make install: the commands and their man pages under PREFIX; the
# debhelper add-on and the RPM files where debhelper and rpm look for
# them, whatever PREFIX (docs/packaging.md). DESTDIR is prepended to all.
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
PERL_VENDORLIB ?= /usr/share/perl5
RPMCONFIGDIR   ?= /usr/lib/rpm
RPMMACRODIR    ?= $(RPMCONFIGDIR)/macros.d
VERSION        := $(shell sed -n 's/^var Version = "\(.*\)"$$/\1/p' internal/version/version.go)

PKGS := ./...

.PHONY: all build install uninstall test vet staticcheck unit fuzz demo bench lint fmt testdata testdata-legacy generate update-groups clean help

all: build

help:
	@echo "make build        build bin/sysrestrict-stamp, bin/sysrestrict-exec and bin/sysrestrict-supervise"
	@echo "make install      install the commands, man pages, dh_sysrestrict and the RPM macros (PREFIX=$(PREFIX), DESTDIR)"
	@echo "make test         go vet, staticcheck, go test ./..., and each fuzz target for $(FUZZTIME)"
	@echo "make demo         stamp a small program, run it through the loader, show the kill"
	@echo "make bench        stamping (one binary, a 1,000-file tree), exec and per-syscall costs, embedded start-up, --audit's overhead, as ratios measured in one run"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make testdata     rebuild the ELF fixtures in testdata/elf (needs the cross toolchains)"
	@echo "make testdata-legacy  record how the stamper before the undo record ($(LEGACY)) stamped them"
	@echo "make generate     regenerate the syscall and group tables (go generate)"
	@echo "make update-groups  recapture systemd's syscall groups, then make generate"
	@echo "make clean        remove build output"

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/sysrestrict-stamp ./cmd/sysrestrict-exec ./cmd/sysrestrict-supervise

# Installs what bin/ and the committed man pages hold; nothing is
# fetched (the Go build uses the module cache or vendor/). The loader
# finds sysrestrict-supervise in its own directory, so the three
# commands go together into BINDIR.
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(PERL_VENDORLIB)/Debian/Debhelper/Sequence $(DESTDIR)$(RPMCONFIGDIR) $(DESTDIR)$(RPMMACRODIR)
	install -m 0755 $(BIN)/sysrestrict-stamp $(BIN)/sysrestrict-exec $(BIN)/sysrestrict-supervise $(DESTDIR)$(BINDIR)/
	install -m 0644 man/sysrestrict-stamp.1 man/sysrestrict-exec.1 man/sysrestrict-supervise.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0755 packaging/debian/dh_sysrestrict $(DESTDIR)$(BINDIR)/
	pod2man --section=1 --center=sysrestrict --release="sysrestrict $(VERSION)" --name=DH_SYSRESTRICT \
	  packaging/debian/dh_sysrestrict $(DESTDIR)$(MANDIR)/man1/dh_sysrestrict.1
	install -m 0644 packaging/debian/sysrestrict.pm $(DESTDIR)$(PERL_VENDORLIB)/Debian/Debhelper/Sequence/sysrestrict.pm
	install -m 0755 packaging/rpm/brp-sysrestrict $(DESTDIR)$(RPMCONFIGDIR)/brp-sysrestrict
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/rpm/macros.sysrestrict > $(DESTDIR)$(RPMMACRODIR)/macros.sysrestrict
	chmod 0644 $(DESTDIR)$(RPMMACRODIR)/macros.sysrestrict

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,sysrestrict-stamp sysrestrict-exec sysrestrict-supervise dh_sysrestrict) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man1/,sysrestrict-stamp.1 sysrestrict-exec.1 sysrestrict-supervise.1 dh_sysrestrict.1) \
	  $(DESTDIR)$(PERL_VENDORLIB)/Debian/Debhelper/Sequence/sysrestrict.pm \
	  $(DESTDIR)$(RPMCONFIGDIR)/brp-sysrestrict $(DESTDIR)$(RPMMACRODIR)/macros.sysrestrict

test: vet staticcheck unit fuzz

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

unit:
	$(GO) test -count=1 $(PKGS)

# Every fuzz target, briefly, seeded from testdata/. Longer runs:
#   make fuzz FUZZTIME=5m
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh $(PKGS)

lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

demo: build
	./scripts/demo.sh

bench: build
	./scripts/bench.sh

testdata:
	$(MAKE) -C testdata/elf

# How the last stamper without the undo record stamped each fixture, for
# pkg/elfnote/legacy_test.go: built from git, run, recorded as diffs.
LEGACY ?= 850dcc2
testdata-legacy:
	rm -rf .legacy && mkdir .legacy && git archive $(LEGACY) | tar -x -C .legacy
	cd .legacy && $(GO) build -o sysrestrict-stamp ./cmd/sysrestrict-stamp
	$(GO) run ./internal/gen/legacystamps -stamper .legacy/sysrestrict-stamp -commit $(LEGACY) \
	  -fixtures testdata/elf -o pkg/elfnote/testdata/legacy.json
	rm -rf .legacy

generate:
	$(GO) generate ./...

update-groups:
	{ echo "# Captured by 'make update-groups' from: systemd-analyze syscall-filter --no-pager"; \
	  echo "# $$(systemd-analyze --version | head -1)"; \
	  systemd-analyze syscall-filter --no-pager 2>/dev/null; } > internal/gen/groups/systemd-syscall-filter.txt
	$(MAKE) generate

clean:
	rm -rf $(BIN) .bench .legacy
