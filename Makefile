# Quiver -- the two commands a new user needs:
#   make run    install dependencies, build, start `quiver standalone`
#   make test   install dependencies, build, run every test suite
# Other targets: build, asan, bench, format, format-check, lint, clean.
# `make build`/`run`/`bench`/`test` use the Release build in build/;
# `make test` also builds build-asan/ (ASan+UBSan) and build-fuzz/.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./quiver-data

.PHONY: all deps build asan run test bench format format-check lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	    -DQV_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	$(BUILD)/quiver standalone --set localStorage.path=$(DATA_DIR)

test: deps
	@scripts/test.sh

bench: build
	@scripts/install-deps.sh --bench
	@BUILD=$(BUILD) scripts/bench.sh

format:
	@scripts/format.sh fix

format-check:
	@scripts/format.sh check

lint: format-check
	@scripts/lint.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build build-fuzz
