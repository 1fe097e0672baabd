# swift-snn — build, train, test, benchmark.
#   make train   install missing system packages, release build, train the default spiking CNN on digits
#   make test    install missing system packages, check the C kernels (scripts/check-native.sh), build,
#                run the whole test suite, then the data-parallel tests under mpirun (scripts/test-mpi.sh;
#                skipped without Open MPI, which WITH_MPI=1 scripts/install-deps.sh installs)
#   make bench   release build, then the benchmark workloads as JSON lines
#   make install release build, then copy snn to $(PREFIX)/bin (default /usr/local)
#   make fuzz    build the readers' fuzz targets (libFuzzer + AddressSanitizer) and run each for
#                FUZZ_SECONDS (default 60) seconds, as many at a time as there are cores
#   make format  format every Swift file with swift-format (.swift-format: 120 columns, 4 spaces, layout only)
#   make lint    check that every Swift file is as swift-format leaves it (CI runs it)
#   make sanitize  the tests under AddressSanitizer and the kernel tests under ThreadSanitizer
#                (SANITIZERS="address thread" by default; slow: about half an hour on 2 cores)
SWIFT ?= swift
PREFIX ?= /usr/local
RELEASE_FLAGS = -c release

FUZZ_SECONDS ?= 60
SANITIZERS ?= address thread

.PHONY: deps train test check-native bench build release install fuzz sanitize format lint clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product snn

train: release
	.build/release/snn train --dataset digits --model spiking-cnn --time-steps 4 --epochs 10 $(TRAIN_FLAGS)

check-native: deps
	@scripts/check-native.sh

test: check-native
	@SNN_PYTHON="$$(scripts/test-python.sh)"; export SNN_PYTHON; \
	if [ -z "$$SNN_PYTHON" ]; then echo "note: no Python with safetensors and nir; the Python interoperability tests will be skipped"; fi; \
	$(SWIFT) build --build-tests && $(SWIFT) test && scripts/test-mpi.sh .build/debug

bench: release
	.build/release/snn info
	.build/release/snn bench gemm --json
	.build/release/snn bench conv --json
	.build/release/snn bench lif --json
	.build/release/snn bench train-step --json

install: release
	install -d "$(PREFIX)/bin"
	install -m 755 .build/release/snn "$(PREFIX)/bin/snn"

# Package manifests stay as written (their layout is SwiftPM's convention, not ours).
SWIFT_SOURCES = $$(git ls-files '*.swift' | grep -v 'Package.swift$$')

format:
	$(SWIFT) format --in-place --configuration .swift-format $(SWIFT_SOURCES)

lint:
	$(SWIFT) format lint --strict --configuration .swift-format $(SWIFT_SOURCES)

fuzz: deps
	SWIFT=$(SWIFT) scripts/fuzz.sh $(FUZZ_SECONDS)

sanitize: deps
	SWIFT=$(SWIFT) scripts/sanitize.sh "$(SANITIZERS)"

clean:
	rm -rf .build .build-fuzz .build-asan .build-tsan .venv-test
