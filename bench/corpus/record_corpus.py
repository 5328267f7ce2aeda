"""Records the allocation-trace corpus of issue 18 on a GPU host: eight PyTorch workloads unlike
each other, each traced with torch.cuda.memory._record_memory_history (the alloc and
free_completed events, in the format of shared/traces), run once with PyTorch's default allocator
and once with expandable segments for PyTorch's two figures, each in a fresh process (so nothing
of an earlier workload stays reserved). Models are built from configs with random weights (the
GPU host has no network). Writes bench/corpus/NAME.json.gz
and prints one line a workload; `--snapshot PATH` also dumps PyTorch's own snapshot of the first
workload run (torch.cuda.memory._dump_snapshot), which `deno task viz PATH` opens.

    python3 bench/corpus/record_corpus.py [--only NAME,...] [--scale 0.5] [--out DIR] [--jobs 8]
                                          [--snapshot x.pickle]
    python3 bench/corpus/record_corpus.py --dry-run     (no GPU: each workload's code, 2 steps)
"""
import argparse, concurrent.futures, contextlib, gzip, json, os, random, subprocess, sys, time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
# Where the workloads run: the GPU; `--dry-run` runs each for two steps on the CPU (no trace),
# to check the workloads' code where no GPU is.
DEVICE = "cuda"
HALF = torch.float16


def seeded(seed):
    random.seed(seed)
    torch.manual_seed(seed)


# --- the workloads: make(scale) returns (step(i), steps) --------------------------------------


def llm_kv_cache(scale):
    """GPT-2-like decoder, generation with a KV cache: prompts of varying length and batch."""
    from transformers import GPT2Config, GPT2LMHeadModel
    model = GPT2LMHeadModel(GPT2Config(n_layer=8, n_embd=768, n_head=12, n_positions=2048)).to(DEVICE).to(HALF).eval()

    def step(i):
        batch, prompt = random.choice([1, 2, 4, 8]), random.randint(16, 768)
        ids = torch.randint(0, 50257, (batch, prompt), device=DEVICE)
        with torch.no_grad():
            model.generate(ids, max_new_tokens=random.randint(16, 128), do_sample=False, use_cache=True,
                           pad_token_id=0)
    return step, max(2, int(24 * scale))


def finetune_checkpointing(scale):
    """BERT-like encoder fine-tuning with gradient checkpointing, AdamW, varying lengths."""
    from transformers import BertConfig, BertForSequenceClassification
    model = BertForSequenceClassification(BertConfig(num_hidden_layers=8, hidden_size=768)).to(DEVICE)
    model.gradient_checkpointing_enable()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(i):
        batch, length = random.choice([8, 16, 32]), random.choice([64, 128, 256, 512])
        ids = torch.randint(0, 30522, (batch, length), device=DEVICE)
        labels = torch.randint(0, 2, (batch,), device=DEVICE)
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, max(2, int(40 * scale))


class UNet(torch.nn.Module):
    """A small diffusion UNet: strided convolutions down, transposed ones up, each level's output
    concatenated back on the way up, a time embedding added at every level down."""

    def __init__(self, widths=(64, 128, 256, 512)):
        super().__init__()
        nn = torch.nn
        self.time = nn.Sequential(nn.Linear(1, 256), nn.SiLU(), nn.Linear(256, 256))
        self.inp = nn.Conv2d(3, widths[0], 3, padding=1)
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.GroupNorm(8, b), nn.SiLU(),
                          nn.Conv2d(b, b, 3, padding=1), nn.GroupNorm(8, b), nn.SiLU())
            for a, b in zip(widths, widths[1:]))
        self.temb = nn.ModuleList(nn.Linear(256, b) for b in widths[1:])
        # Up from level k+1 to k: upsample to widths[k], concatenate level k's output, convolve.
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(widths[k + 1], widths[k], 4, stride=2, padding=1) for k in reversed(range(len(widths) - 1)))
        self.merge = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * widths[k], widths[k], 3, padding=1), nn.GroupNorm(8, widths[k]), nn.SiLU())
            for k in reversed(range(len(widths) - 1)))
        self.out = nn.Conv2d(widths[0], 3, 3, padding=1)

    def forward(self, x, t):
        emb = self.time(t[:, None].float())
        h = self.inp(x)
        levels = [h]
        for down, temb in zip(self.down, self.temb):
            h = down(h) + temb(emb)[:, :, None, None]
            levels.append(h)
        h = levels.pop()
        for upsample, merge in zip(self.upsample, self.merge):
            h = merge(torch.cat([upsample(h), levels.pop()], 1))
        return self.out(h)


def diffusion_unet(scale):
    """DDPM-like training of a UNet: random timesteps, noise targets, varying batch and size."""
    model = UNet().to(DEVICE)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(i):
        batch, size = random.choice([4, 8, 16]), random.choice([64, 96, 128])
        x = torch.randn(batch, 3, size, size, device=DEVICE)
        t = torch.randint(0, 1000, (batch,), device=DEVICE)
        noise = torch.randn_like(x)
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = torch.nn.functional.mse_loss(model(x + noise, t), noise)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, max(2, int(40 * scale))


def vision_transformer(scale):
    """timm ViT-S/16 training, bf16 autocast, varying batch."""
    import timm
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=1000).to(DEVICE)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(i):
        batch = random.choice([16, 32, 64, 96])
        x = torch.randn(batch, 3, 224, 224, device=DEVICE)
        y = torch.randint(0, 1000, (batch,), device=DEVICE)
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, max(2, int(30 * scale))


def detection(scale):
    """torchvision Faster R-CNN (MobileNetV3 FPN) training on images of varying size and boxes."""
    import torchvision
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=21).to(DEVICE).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step(i):
        images, targets = [], []
        for _ in range(random.choice([2, 4, 6])):
            h, w = random.choice([320, 480, 640, 800]), random.choice([320, 480, 640, 800])
            images.append(torch.rand(3, h, w, device=DEVICE))
            n = random.randint(1, 20)
            xy = torch.rand(n, 2, device=DEVICE) * torch.tensor([w * 0.7, h * 0.7], device=DEVICE)
            wh = torch.rand(n, 2, device=DEVICE) * 100 + 10
            targets.append({"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(1, 21, (n,), device=DEVICE)})
        loss = sum(model(images, targets).values())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, max(2, int(30 * scale))


def gnn_varying_graphs(scale):
    """torch_geometric GraphSAGE over random graphs of 5k-200k nodes."""
    from torch_geometric.nn import GraphSAGE
    model = GraphSAGE(128, 256, num_layers=4, out_channels=16).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i):
        nodes = random.randint(5_000, 200_000)
        edges = nodes * random.randint(4, 16)
        x = torch.randn(nodes, 128, device=DEVICE)
        edge_index = torch.randint(0, nodes, (2, edges), device=DEVICE)
        y = torch.randint(0, 16, (nodes,), device=DEVICE)
        loss = torch.nn.functional.cross_entropy(model(x, edge_index), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, max(2, int(40 * scale))


def two_streams(scale):
    """A producer stream prefetching batches, the compute stream training on them, record_stream."""
    model = torch.nn.Sequential(*[torch.nn.Linear(2048, 2048) for _ in range(6)]).to(DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    side = torch.cuda.Stream() if DEVICE == "cuda" else None

    def step(i):
        batch = random.choice([256, 512, 1024, 2048])
        with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
            x = torch.randn(batch, 2048, device=DEVICE)
            extra = [torch.randn(random.randint(1, 64) * 4096, device=DEVICE) for _ in range(4)]
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
            x.record_stream(torch.cuda.current_stream())
            for e in extra:
                e.record_stream(torch.cuda.current_stream())
        loss = model(x).square().mean() + sum(e.sum() for e in extra) * 0
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        del x, extra
    return step, max(2, int(60 * scale))


def train_with_inference_bursts(scale):
    """A ResNet-18 training step, then an inference burst of varying batch and count."""
    import torchvision
    model = torchvision.models.resnet18(num_classes=100).to(DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

    def step(i):
        x = torch.randn(random.choice([32, 64]), 3, 160, 160, device=DEVICE)
        y = torch.randint(0, 100, (x.shape[0],), device=DEVICE)
        model.train()
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        model.eval()
        with torch.no_grad():
            for _ in range(random.randint(1, 6)):
                model(torch.randn(random.choice([1, 8, 64, 256]), 3, random.choice([128, 224]), 224, device=DEVICE))
    return step, max(2, int(30 * scale))


WORKLOADS = {
    "llm_kv_cache": llm_kv_cache,
    "finetune_checkpointing": finetune_checkpointing,
    "diffusion_unet": diffusion_unet,
    "vision_transformer": vision_transformer,
    "detection": detection,
    "gnn_varying_graphs": gnn_varying_graphs,
    "two_streams": two_streams,
    "train_with_inference_bursts": train_with_inference_bursts,
}


def run(name, scale, snapshot=None):
    """Runs one workload traced; returns PyTorch's figures and the events."""
    seeded(1)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.memory._record_memory_history(enabled="all", context=None, stacks="python", max_entries=8_000_000)
    start = time.time()
    step, steps = WORKLOADS[name](scale)
    for i in range(steps):
        step(i)
    torch.cuda.synchronize()
    snap = torch.cuda.memory._snapshot()
    if snapshot:
        torch.cuda.memory._dump_snapshot(snapshot)
    torch.cuda.memory._record_memory_history(enabled=None)
    figures = {"max_allocated": torch.cuda.max_memory_allocated(), "max_reserved": torch.cuda.max_memory_reserved(),
               "seconds": time.time() - start, "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")}
    live, next_id, events = {}, 0, []
    for e in snap["device_traces"][torch.cuda.current_device()]:
        if e["action"] == "alloc":
            live[e["addr"]] = next_id
            events.append(["a", next_id, e["size"], e["stream"]])
            next_id += 1
        elif e["action"] == "free_completed" and e["addr"] in live:
            events.append(["f", live.pop(e["addr"]), 0, e["stream"]])
    return figures, events


def peak_live(events):
    sizes, live, peak = {}, 0, 0
    for op, i, size, _ in events:
        if op == "a":
            sizes[i] = size
            live += size
            peak = max(peak, live)
        else:
            live -= sizes.pop(i, 0)
    return peak


def record(name, scale, out, snapshot=None):
    """Runs one workload traced with PyTorch's default allocator and writes out/NAME.json.gz."""
    figures, events = run(name, scale, snapshot)
    trace = {"workload": name, "torch": figures, "events": events, "peak_live": peak_live(events)}
    with gzip.open(os.path.join(out, f"{name}.json.gz"), "wt") as f:
        json.dump(trace, f)
    return {"events": len(events), "peak_live": trace["peak_live"], "torch": figures}


def child(flag, name, scale, out, env=None, snapshot=None):
    """Runs this script with `flag NAME` in a fresh process (nothing of an earlier workload stays
    allocated there) and returns the JSON it prints last, or raises with its stderr."""
    command = [sys.executable, __file__, flag, name, "--scale", str(scale), "--out", out]
    if snapshot:
        command += ["--snapshot", snapshot]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-400:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", default=HERE, help="where the traces go (default: beside this script)")
    parser.add_argument("--snapshot", help="also dump PyTorch's snapshot of the first workload here")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (each its own process)")
    parser.add_argument("--dry-run", action="store_true", help="two steps of each on the CPU, no trace")
    parser.add_argument("--record", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--expandable-figures", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dry_run:
        global DEVICE, HALF
        DEVICE, HALF = "cpu", torch.float32
        for name in args.only.split(","):
            seeded(1)
            start = time.time()
            try:
                step, steps = WORKLOADS[name](0.01)
                for i in range(2):
                    step(i)
                print(json.dumps({"workload": name, "ok": True, "seconds": round(time.time() - start, 1)}), flush=True)
            except Exception as error:
                print(json.dumps({"workload": name, "error": repr(error)[:400]}), flush=True)
        return
    if args.record:  # the child that traces with the default allocator
        print(json.dumps(record(args.record, args.scale, args.out, args.snapshot)))
        return
    if args.expandable_figures:  # the child run with expandable segments
        figures, _ = run(args.expandable_figures, args.scale)
        print(json.dumps(figures))
        return
    os.makedirs(args.out, exist_ok=True)
    names = args.only.split(",")
    expandable_env = {**os.environ, "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    # Every run is a process of its own, so they may run side by side (--jobs): the allocation
    # sequence of a seeded workload does not depend on what else the GPU runs.
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = {name: (pool.submit(child, "--record", name, args.scale, args.out, None,
                                   args.snapshot if n == 0 else None),
                       pool.submit(child, "--expandable-figures", name, args.scale, args.out, expandable_env))
                for n, name in enumerate(names)}
        for name in names:
            print(json.dumps(finish(name, args.out, *runs[name])), flush=True)


def finish(name, out, recorded, expandable):
    """Adds the expandable-segments figures to a recorded trace; returns the workload's line."""
    try:
        recorded = recorded.result()
    except Exception as error:  # one workload failing leaves the others to run
        return {"workload": name, "error": repr(error)[:400]}
    try:
        expandable, error = expandable.result(), None
    except Exception as failure:
        expandable, error = None, repr(failure)[:400]
    path = os.path.join(out, f"{name}.json.gz")
    if expandable is not None:
        with gzip.open(path, "rt") as f:
            trace = json.load(f)
        trace["torch_expandable"] = expandable
        with gzip.open(path, "wt") as f:
            json.dump(trace, f)
    ratio = lambda f: round(f["max_reserved"] / recorded["peak_live"], 4) if f else None
    return {"workload": name, "events": recorded["events"], "peak_live": recorded["peak_live"],
            "torch": ratio(recorded["torch"]), "torch_expandable": ratio(expandable),
            "seconds": round(recorded["torch"]["seconds"], 1), "expandable_error": error}


if __name__ == "__main__":
    main()
