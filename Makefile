# sysrestrict: stamp a syscall policy into ELF binaries, enforce it with seccomp.
# Targets a newcomer can guess; `make help` lists them.

GO       ?= go
BIN      ?= bin
# The loader is built lean: its start-up is on every exec it does.
GOFLAGS_BUILD ?= -trimpath -tags urfave_cli_no_docs
FUZZTIME ?= 10s

PKGS := ./...

.PHONY: all build test vet staticcheck unit fuzz demo bench lint fmt testdata testdata-legacy generate update-groups clean help

all: build

help:
	@echo "make build        build bin/sysrestrict-stamp, bin/sysrestrict-exec and bin/sysrestrict-supervise"
	@echo "make test         go vet, staticcheck, go test ./..., and each fuzz target for $(FUZZTIME)"
	@echo "make demo         stamp a small program, run it through the loader, show the kill"
	@echo "make bench        stamping (one binary, a 1,000-file tree), exec and per-syscall costs, as ratios measured in one run"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make testdata     rebuild the ELF fixtures in testdata/elf (needs the cross toolchains)"
	@echo "make testdata-legacy  record how the stamper before the undo record ($(LEGACY)) stamped them"
	@echo "make generate     regenerate the syscall and group tables (go generate)"
	@echo "make update-groups  recapture systemd's syscall groups, then make generate"
	@echo "make clean        remove build output"

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/sysrestrict-stamp ./cmd/sysrestrict-exec ./cmd/sysrestrict-supervise

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
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s $$pkg > /tmp/sysrestrict-fuzz.log 2>&1 || { cat /tmp/sysrestrict-fuzz.log; exit 1; }; \
	  done; \
	done

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
