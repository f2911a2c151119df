# whale: `make run` serves the built-in demo model; `make test` runs every test.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
PORT       ?= 8080
FUZZ_SECONDS ?= 10
# The fuzz targets `make test` runs briefly (the parsers of untrusted bytes). `make fuzz` runs all.
empty :=
space := $(empty) $(empty)
QUICK_FUZZ = formats_gguf_fuzz formats_safetensors_fuzz tokenizer_encode_fuzz chat_template_fuzz tensor_quants_fuzz sampling_schema_fuzz

.PHONY: all deps build run test fuzz fuzz-quick bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Serves the built-in demo model (random weights: its output is gibberish by design).
run: build
	$(BUILD)/whale serve --port $(PORT)

# Every test: unit, fixture, CLI, API-client and browser tests (CTest), then a short fuzz run of
# the parsers (FUZZ_SECONDS each).
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) fuzz-quick FUZZ_SECONDS=$(FUZZ_SECONDS)

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWHALE_FUZZ=ON -DWHALE_TESTS=OFF -DWHALE_BENCH=OFF

fuzz-quick: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake -S . -B $(FUZZ_BUILD) -DWHALE_FUZZ_SECONDS=$(FUZZ_SECONDS) > /dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(QUICK_FUZZ)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -R '^($(subst $(space),|,$(QUICK_FUZZ)))$$'

# libFuzzer targets built with clang in their own build folder; a longer run:
#   make fuzz FUZZ_SECONDS=3600
fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake -S . -B $(FUZZ_BUILD) -DWHALE_FUZZ_SECONDS=$(FUZZ_SECONDS) > /dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	cd $(FUZZ_BUILD) && ctest --output-on-failure

bench: build
	@for b in $(BUILD)/bench/*_bench; do echo "== $$b"; $$b --benchmark_min_time=0.2; done

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
