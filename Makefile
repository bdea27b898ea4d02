# Resumable: the two commands a person needs are `make run` and `make test`.
# Both install what is missing (apt packages) first.

SHELL := /bin/bash
APT_PACKAGES := redis-server redis-tools redis-sentinel libhiredis-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf pkg-config
# The server's default socket: $XDG_RUNTIME_DIR/resumable.sock, else one in
# /tmp/resumable-UID, a directory `serve` creates mode 0700 (and refuses when it
# is not the user's own).
SOCKET ?= $(or $(RESUMABLE_SOCKET),$(if $(XDG_RUNTIME_DIR),$(XDG_RUNTIME_DIR)/resumable.sock,/tmp/resumable-$(shell id -u)/resumable.sock))

# $(call apt_install,PACKAGES): installs the Debian packages that are missing.
define apt_install
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "installing:$$missing"; \
  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
fi
endef
SWIFT_BUILD_FLAGS ?=
empty :=
space := $(empty) $(empty)

.PHONY: deps build release run test test-fast chaos chaos-cluster bench example example-python python python-test proto proto-check layers fuzz tsan asan clean

## deps: install the Debian packages the build and the tests need (when missing)
deps:
	@$(call apt_install,$(APT_PACKAGES))
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

## test: drift check of the code generated from proto/, then every test
## against real redis-server processes the tests start themselves (Swift,
## then the Python client's)
# The suites that run whole process fleets (servers killed, Redis clusters and
# sentinels) or hold 1 s leases: run one at a time after the rest, so that the
# parallel run's load on a 2-core machine cannot starve their leases.
SERIAL_SUITES := ResumableServerTests\.(ChaosTests|CrashRecoveryTests|SentinelFailoverTests|ClusterServeTests|\
  WatchWorkflowTests|OperateRPCTests|WorkflowRPCTests|ParallelTests|RedisFaultTests|EmbeddedRedisTests|\
  SharedLimitTests|SharedLimitCrashTests|SharedLimitProviderTests)|\
  ResumableRedisTests\.(ClusterRoutingTests|SentinelClientTests|CommandTimeoutTests)|ResumableStoreTests\.ReplicaWaitTests

# Each test run has a deadline (scripts/with-deadline.sh): a run that hangs fails
# within it, with its threads' stacks, instead of running into CI's limit.
test: deps proto-check layers
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	scripts/with-deadline.sh 1200 swift test --skip-build $(SWIFT_BUILD_FLAGS) --skip '$(subst $(space),,$(SERIAL_SUITES))'
	scripts/with-deadline.sh 1800 swift test --skip-build $(SWIFT_BUILD_FLAGS) --no-parallel --filter '$(subst $(space),,$(SERIAL_SUITES))'
	$(MAKE) example
	$(MAKE) python-test

## test-fast: the tests that need no redis-server, no server process and no
## subprocess (values, parsing, the step machine and the engine on a manual
## clock and the in-memory store, the wire, rendering, an in-process fake
## client/server): seconds, for the edit loop.
## `make test` runs them too, with everything else.
FAST_SUITES := ResumableBenchTests|ResumableWireTests|ResumableSocketTests|ResumableClientTests|\
  ResumableCLITests\.(ErrorHintsTests|ResumableExitCodeTests|RunStateRenderingTests|TextLogHandlerTests|WatchProgressTests)|\
  ResumableCoreTests\.(AgentDefinitionKeysTests|AttemptLeasesTests|RandomTextTests|JSONValidateTests|WorkerLaneTests|BuiltInPluginTests|CircuitBreakerTests|CoreValueTests|DefinitionsFileTests|EngineClockTests|ErrorClassTests|JSONWriterTests|MoneyTests|PluginRegistryTests|SpendControlTests|StepMachineTests|WorkflowEngineStepTests)|\
  ResumableRedisTests\.(ProtocolErrorTests|RESPReaderTests|RedisAddressTests)|\
  ResumableStoreTests\.(RunEventDecodingTests|StepProgressJSONTests)|ResumableServerTests\.(MetricsEndpointTests|WireMappingTests)
test-fast: deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter '$(subst $(space),,$(FAST_SUITES))'

## example: build examples/custom-plugin (its own package) and run it for real
example: deps
	scripts/example-custom-plugin.sh

PYTHON_DIR := clients/python
PYTHON_VENV := $(PYTHON_DIR)/.venv
PYTHON ?= python3

## python: a virtualenv with the Python SDK installed as a user installs it
## (`pip install ./clients/python`, with its test extra; venv from apt,
## packages from PyPI). Its protobuf module is committed (`make proto`).
python:
	@$(call apt_install,python3-venv)
	@[ -x $(PYTHON_VENV)/bin/python ] || $(PYTHON) -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/python -m pip install -q "./$(PYTHON_DIR)[test]"

## python-test: the Python SDK's tests, on the installed package, against a real
## server (needs `swift build`)
python-test: python
	cd $(PYTHON_DIR) && .venv/bin/pytest -q tests

## example-python: the Python research agent (examples/python-agent) against the
## server `make run` serves (run that first, in another terminal), with the SDK's venv
example-python: python
	RESUMABLE_SOCKET=$(SOCKET) $(PYTHON_VENV)/bin/python examples/python-agent/agent.py

## chaos: the full-size fault-injection suite (many runs; servers and Redis
## killed again and again); `make test` runs a bounded size of the same suite
chaos: deps
	swift build $(SWIFT_BUILD_FLAGS)
	RESUMABLE_CHAOS=full swift test $(SWIFT_BUILD_FLAGS) --filter ChaosTests

## chaos-cluster: the same suite's first test on a local 3-master Redis Cluster,
## whose masters are killed and frozen in turn
chaos-cluster: deps
	swift build $(SWIFT_BUILD_FLAGS)
	RESUMABLE_CHAOS_TOPOLOGY=cluster swift test $(SWIFT_BUILD_FLAGS) --filter ChaosTests.serversAndRedisKilledWhileRunsAreInFlight

## bench: the benchmark suite, the article's experiment, and the throughput rows
## on one Redis against a local 3-master Redis Cluster, on a release build; each
## starts its own servers and Redis (see BENCHMARKS.md).
## BENCH_ARGS are passed to the suite, e.g. BENCH_ARGS="--json bench.json"
bench: release
	.build/release/resumable bench $(BENCH_ARGS)
	.build/release/resumable bench seed
	.build/release/resumable bench --redis-topology cluster

## proto: regenerate, from proto/, Sources/CResumableProto (protoc-c) and
## Sources/ResumableWire/Generated (protoc with scripts/protoc-gen-resumable-swift)
proto: deps
	scripts/generate-proto.sh

## layers: fail when a module imports one Package.swift's header lists above it
layers:
	python3 scripts/check-layers.py

## proto-check: fail when either generated folder is stale
proto-check: deps
	scripts/generate-proto.sh --check

## fuzz: build the libFuzzer targets (-sanitize=fuzzer,address, in .build-fuzz)
## and run each for FUZZ_SECONDS (default 60) from the seed corpus in Fuzz/corpus
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzFrames FuzzMessages FuzzDefinitions
FUZZ_BUILD := RESUMABLE_FUZZ=1 swift build --scratch-path .build-fuzz -c debug \
	-Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld
fuzz: deps
	@for t in $(FUZZ_TARGETS); do $(FUZZ_BUILD) --product $$t || exit 1; done
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p .build-fuzz/corpus/$$t .build-fuzz/artifacts; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  .build-fuzz/debug/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
	    -artifact_prefix=.build-fuzz/artifacts/$$t- .build-fuzz/corpus/$$t Fuzz/corpus/$$t \
	    2> .build-fuzz/$$t.log || { tail -40 .build-fuzz/$$t.log; echo "$$t found a crash: .build-fuzz/artifacts/"; exit 1; }; \
	  grep -E "^Done [0-9]+ runs" .build-fuzz/$$t.log | sed "s/^/$$t: /"; \
	done

## tsan, asan: the test suite under ThreadSanitizer / AddressSanitizer (one-off checks, not CI)
tsan: deps
	swift test --scratch-path .build-tsan --sanitize=thread
asan: deps
	swift test --scratch-path .build-asan --sanitize=address

clean:
	rm -rf .build .build-fuzz .build-tsan .build-asan
