# gpumem: `make demo` runs the main job, `make test` every check and test.
# Needs only Node/npm, make and g++ (nvcc where present): Deno is installed into .deno/ from the
# npm registry when it is not on PATH, and csrc/ is built into build/.

SHELL := /bin/bash
DENO_VERSION := 2.9.6
LOCAL_DENO := .deno/bin/deno
DENO ?= $(or $(shell command -v deno 2>/dev/null),$(LOCAL_DENO))
NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CXX ?= g++

BUILD := build
CPU_LIB := $(BUILD)/libgpumem_kernels_cpu.so
CUDA_LIB := $(BUILD)/libgpumem_kernels_cuda.so
KERNEL_LIBS := $(CPU_LIB) $(if $(NVCC),$(CUDA_LIB))
CSRC_COMMON := csrc/gpumem.h csrc/status.h csrc/status.cpp csrc/axpy.h csrc/staged_copy.h \
               csrc/staged_copy.cpp csrc/carver.h $(wildcard csrc/bvh/*.h) \
               $(wildcard csrc/knn/*.h) $(wildcard csrc/sim/*.h) $(wildcard csrc/stage/*.h)
CXXFLAGS := -O3 -std=c++17 -fPIC -pthread -Wall -Wextra -Werror
# sm_80 (A100), sm_90 (H100/H200) machine code, plus PTX the driver can JIT for newer GPUs.
CUDA_ARCHS := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -gencode arch=compute_90,code=compute_90
NVCCFLAGS := -O3 -std=c++17 -Xcompiler -fPIC,-pthread,-Wall -cudart static $(CUDA_ARCHS)

# Only the permissions gpumem needs: FFI, its own environment variables, system memory figures.
ENV_VARS := GPUMEM_CUDA_LIBRARY,GPUMEM_KERNELS_LIBRARY,GPUMEM_KERNELS_CPU_LIBRARY,GPUMEM_DEVICE,GPUMEM_LIMIT,GPUMEM_PINNED_LIMIT
PERMISSIONS := --allow-ffi --allow-env=$(ENV_VARS) --allow-sys=systemMemoryInfo
# Tests also read ../shared/traces (the recorded allocation traces), csrc/ (the ABI test),
# tests/fixtures and the bunny beside the peers, take GPUMEM_TEST_SEED (replay a failed test's
# inputs), GPUMEM_BUNNY (its path) and CHROMIUM (the browser's), run the examples with Deno itself
# and the viewer's browser tests in chromium (DevTools on 127.0.0.1), writing into build/.
# --allow-run is whole because Deno refuses to hand a child LD_LIBRARY_PATH (set on GPU hosts)
# under a list of programs.
TEST_FLAGS := --allow-ffi --allow-env=$(ENV_VARS),GPUMEM_TEST_SEED,GPUMEM_BUNNY,CHROMIUM \
              --allow-sys=systemMemoryInfo --allow-read=../shared/traces,../shared/peers/mesh_knn/data,$(BUILD),csrc,tests/fixtures,bench/corpus,src,ffi,mod.ts \
              --allow-write=$(BUILD) --allow-run --allow-net=127.0.0.1 \
              --v8-flags=--expose-gc --sanitize-ops --sanitize-resources

.PHONY: all demo test check test-only bench build deno clean

all: build

demo: build $(DENO)
	$(DENO) run $(PERMISSIONS) --allow-read=../shared/peers/mesh_knn/data --allow-write=$(BUILD) src/cli/demo.ts

# Static checks first, then the tests (tests/gpu show as ignored, with the reason, without a GPU).
test: build $(DENO) check
	@set -o pipefail; $(DENO) test $(TEST_FLAGS) tests/ 2>&1 | tee $(BUILD)/test.log
	@# The examples in the README and in JSDoc run too (they open libraries, so no sanitizers).
	@set -o pipefail; $(DENO) test $(PERMISSIONS) --doc mod.ts src/ README.md 2>&1 | tee -a $(BUILD)/test.log
	@sed 's/\x1b\[[0-9;]*m//g' $(BUILD)/test.log | awk -f tests/summary.awk

check: $(DENO)
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check mod.ts src/ ffi/ tests/ bench/ examples/
	$(DENO) doc --lint mod.ts
	$(DENO) publish --dry-run --allow-dirty --quiet

bench: build $(DENO)
	$(DENO) bench $(PERMISSIONS) bench/

build: $(KERNEL_LIBS)

STAGER_SOURCES := csrc/status.cpp csrc/staged_copy.cpp csrc/stage/host_copy.cpp \
                  csrc/stage/piece_plan.cpp
CPU_SOURCES := $(STAGER_SOURCES) csrc/cpu_kernels.cpp csrc/bvh/bvh_cpu.cpp \
               csrc/knn/points_cpu.cpp csrc/knn/l2_cpu.cpp csrc/sim/particles_cpu.cpp
CUDA_SOURCES := $(STAGER_SOURCES) csrc/cuda_kernels.cu csrc/bvh/bvh_cuda.cu \
                csrc/knn/points_cuda.cu csrc/knn/l2_cuda.cu \
                csrc/knn/l2_mma_cuda.cu csrc/sim/particles_cuda.cu

$(CPU_LIB): $(CSRC_COMMON) $(CPU_SOURCES) csrc/parallel_for.h
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -shared -o $@ $(CPU_SOURCES) -ldl

$(CUDA_LIB): $(CSRC_COMMON) $(CUDA_SOURCES) csrc/cuda_scope.h csrc/cuda_launch.h
	@mkdir -p $(BUILD)
	$(NVCC) $(NVCCFLAGS) -shared -o $@ $(CUDA_SOURCES) -ldl

deno: $(DENO)

# The pinned Deno from the npm registry, when none is on PATH.
$(LOCAL_DENO):
	npm install --prefix .deno --no-save --no-audit --no-fund --loglevel=error deno@$(DENO_VERSION)
	@mkdir -p .deno/bin
	@bin=$$(ls .deno/node_modules/@deno/*/deno 2>/dev/null | head -1); \
	  [ -n "$$bin" ] || bin=.deno/node_modules/deno/deno; \
	  ln -f "$$bin" $@ 2>/dev/null || cp "$$bin" $@
	@$@ --version | head -1

clean:
	rm -rf $(BUILD)
