# Resumable: the two commands a person needs are `make run` and `make test`.
# Both install what is missing (apt packages) first.

SHELL := /bin/bash
APT_PACKAGES := redis-server libhiredis-dev libprotobuf-c-dev protobuf-c-compiler pkg-config
SOCKET ?= $(or $(RESUMABLE_SOCKET),/tmp/resumable.sock)
SWIFT_BUILD_FLAGS ?=

.PHONY: deps build release run test chaos proto proto-check clean

## deps: install the Debian packages the build and the tests need (when missing)
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.x (swift.org) first" >&2; exit 1; }

## build: debug build of everything
build: deps
	swift build $(SWIFT_BUILD_FLAGS)

## release: optimized build of the resumable executable
release: deps
	swift build -c release --product resumable

## run: serve the example workflows on the embedded Redis (Ctrl-C stops it)
run: release
	.build/release/resumable serve --socket $(SOCKET) --workflows examples/workflows.yaml

## test: drift check of the generated protobuf-c sources, then every test
## against real redis-server processes the tests start themselves
test: deps proto-check
	swift build $(SWIFT_BUILD_FLAGS)
	swift test $(SWIFT_BUILD_FLAGS)

## chaos: the full-size fault-injection suite (many runs; servers and Redis
## killed again and again); `make test` runs a bounded size of the same suite
chaos: deps
	swift build $(SWIFT_BUILD_FLAGS)
	RESUMABLE_CHAOS=full swift test $(SWIFT_BUILD_FLAGS) --filter ChaosTests

## proto: regenerate Sources/CResumableProto from proto/
proto: deps
	scripts/generate-proto.sh

## proto-check: fail when Sources/CResumableProto is stale
proto-check: deps
	scripts/generate-proto.sh --check

clean:
	rm -rf .build
