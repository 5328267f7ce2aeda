"""Allocation round trips of gpumem's peers on the same GPU: PyTorch's caching allocator and
CuPy's MemoryPool (and MemoryAsyncPool). Prints one JSON object: {name: {size: microseconds}};
names with "miss" time the miss path (the cache emptied before each allocation).

Method, the same as bench/pool_compare.ts: warm the cache with one round trip, then time batches
of round trips with perf_counter_ns and report the median batch's time per round trip (2000 a
batch for cached round trips, 20 for misses).
"""
import json
import statistics
import sys
import time

SIZES = [256, 1 << 20, 64 << 20]
BATCHES, PER_BATCH, PER_MISS_BATCH = 15, 2000, 20


def per_call_us(body, per_batch=PER_BATCH):
    body()
    samples = []
    for _ in range(BATCHES):
        start = time.perf_counter_ns()
        for _ in range(per_batch):
            body()
        samples.append((time.perf_counter_ns() - start) / per_batch / 1000)
    return statistics.median(samples)


def main():
    results = {}
    try:
        import torch
        torch.cuda.init()
        torch.empty(1, device="cuda")  # create the context outside the timing
        alloc = torch.cuda.caching_allocator_alloc
        delete = torch.cuda.caching_allocator_delete
        results["torch caching_allocator_alloc+delete"] = {
            n: per_call_us(lambda n=n: delete(alloc(n))) for n in SIZES
        }
        results["torch.empty+del"] = {
            n: per_call_us(lambda n=n: torch.empty(n, dtype=torch.uint8, device="cuda")) for n in SIZES
        }

        def torch_miss(n):
            torch.cuda.empty_cache()
            delete(alloc(n))

        results["torch miss: empty_cache+alloc+delete"] = {
            n: per_call_us(lambda n=n: torch_miss(n), PER_MISS_BATCH) for n in SIZES
        }
    except Exception as error:  # report, keep going with the other peer
        print(f"torch: {error}", file=sys.stderr)
    try:
        import cupy
        pool = cupy.cuda.MemoryPool()
        results["cupy MemoryPool malloc+free"] = {n: per_call_us(lambda n=n: pool.malloc(n)) for n in SIZES}

        def cupy_miss(n):
            pool.free_all_blocks()
            pool.malloc(n)

        results["cupy miss: free_all_blocks+malloc+free"] = {
            n: per_call_us(lambda n=n: cupy_miss(n), PER_MISS_BATCH) for n in SIZES
        }
        async_pool = cupy.cuda.MemoryAsyncPool()
        results["cupy MemoryAsyncPool malloc+free"] = {
            n: per_call_us(lambda n=n: async_pool.malloc(n)) for n in SIZES
        }
    except Exception as error:
        print(f"cupy: {error}", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
