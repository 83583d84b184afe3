# Trustline: `make run` starts a demo site, `make test` runs every test.
# Builds: build/ (release, build/trustline; -O2 warnings are errors too),
# build/asan (ASan+UBSan, tests),
# build/fuzz (clang libFuzzer targets).

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 8
CMAKE ?= cmake

.PHONY: all deps build asan fuzz-build run test unit integ fuzz-smoke fuzz \
	bench check clean

all: build

deps:
	@scripts/deps

build: deps
	@$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build build -j $(JOBS)

asan: deps
	@$(CMAKE) -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DTL_SANITIZE=ON \
		>/dev/null
	@$(CMAKE) --build build/asan -j $(JOBS)

fuzz-build: deps
	@CC=clang $(CMAKE) -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug \
		-DTL_FUZZ=ON >/dev/null
	@$(CMAKE) --build build/fuzz -j $(JOBS)

run: build
	@scripts/run-site

check:
	@tools/check-banned
	@tools/check-layers

unit: asan
	@cd build/asan && ctest -L unit --output-on-failure -j $(JOBS)

integ: asan
	@cd build/asan && ctest -L integ --output-on-failure

fuzz-smoke: fuzz-build
	@tools/fuzz-run build/fuzz $(FUZZ_SECONDS)

test: check build asan fuzz-build
	@cd build/asan && ASAN_OPTIONS=detect_leaks=1 \
		ctest --output-on-failure -j $(JOBS)
	@tools/fuzz-run build/fuzz $(FUZZ_SECONDS)

fuzz: fuzz-build
	@tools/fuzz-run build/fuzz 300

bench: build
	@bench/run-all

clean:
	rm -rf build
