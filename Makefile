# Ember — the two commands a newcomer needs: `make demo` and `make test`.
# Both install what they need themselves: Debian's OpenBLAS, oneDNN and Open MPI (apt-get) and all-MiniLM-L6-v2 (pip, into .model/).
#
# Everything is built in release with the host CPU's features (-target-cpu native): SwiftPM's default
# x86-64 baseline has no FMA/AVX, which makes the SIMD kernels 3–40x slower, and debug builds run numeric
# loops ~60x slower — too slow even for the tests. See ../shared/spec/swift-performance-notes.md.
SWIFT_FLAGS ?= -c release -Xswiftc -target-cpu -Xswiftc native
# Tests build in release too, with -enable-testing so unit tests can reach internal helpers.
TEST_FLAGS = $(SWIFT_FLAGS) -Xswiftc -enable-testing
EMBER = .build/release/ember
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build deps model bench clean fuzz fuzz-replay

deps:
	@dpkg -s libopenblas-dev libdnnl-dev libopenmpi-dev openmpi-bin python3-yaml >/dev/null 2>&1 || { \
	  echo "installing libopenblas-dev, libdnnl-dev (oneDNN: bf16 products), libopenmpi-dev and openmpi-bin (Open MPI: training under mpirun), python3-yaml (Debian; the tests read model cards' YAML with it)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev libdnnl-dev libopenmpi-dev openmpi-bin python3-yaml >/dev/null; }

model:
	@scripts/fetch-model.sh >/dev/null

build: deps
	swift build $(SWIFT_FLAGS) --product ember

test: deps model
	EMBER_MINILM_DIR="$$(scripts/fetch-model.sh)" swift test $(TEST_FLAGS) --disable-swift-testing

demo: build model
	@demo/demo.sh "$(EMBER)" "$$(scripts/fetch-model.sh)"

bench: build model
	@bench/perf.sh "$(EMBER)" "$$(scripts/fetch-model.sh)"

# libFuzzer + ASan harnesses of the input parsers (Fuzz/, scripts/fuzz.sh): `make fuzz FUZZ_SECONDS=60
# FUZZ_TARGET=all`; `make fuzz-replay` runs every seed and saved finding once.
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?= all
fuzz:
	scripts/fuzz.sh $(FUZZ_TARGET) $(FUZZ_SECONDS)

fuzz-replay:
	scripts/fuzz.sh replay $(FUZZ_TARGET)

clean:
	rm -rf .build
