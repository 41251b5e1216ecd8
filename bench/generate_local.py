"""Benchmark: local generation tokens/s, one prompt at a time vs batched vs batched with a
static KV cache. Needs only torch and transformers (no arena imports, no hub access: the
model is a randomly initialised Qwen2 of the chosen shape, the prompts random token ids).

    python bench/generate_local.py --shape tiny --device cpu            # a quick CPU figure
    python bench/generate_local.py --shape qwen05b --device cuda --dtype bfloat16 \\
        --prompts 64 --prompt-len 300 --new-tokens 128 --batch-size 64

Every prompt generates exactly ``--new-tokens`` tokens (end tokens are disabled), prompt
lengths vary by +-20 % around ``--prompt-len`` so batches are left-padded as in real use.
One-at-a-time runs ``--single`` prompts (default 4) and reports their rate. Warm-up batches
(and compilation, for the static cache on GPUs) are not timed; their time is printed apart.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

SHAPES = {
    # Qwen2.5-0.5B-Instruct's shape.
    "qwen05b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                    num_key_value_heads=2, intermediate_size=4864, vocab_size=151936),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=704, vocab_size=8000),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, intermediate_size=128, vocab_size=1000),
}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build(shape: str, device: str, dtype: torch.dtype, window: int, attn: str) -> Qwen2ForCausalLM:
    cfg = Qwen2Config(**SHAPES[shape], max_position_embeddings=window, tie_word_embeddings=True,
                      eos_token_id=None, bos_token_id=None, pad_token_id=0)
    cfg._attn_implementation = attn
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg)
    return model.to(dtype).eval()


def make_prompts(n: int, length: int, vocab: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lo, hi = max(1, int(length * 0.8)), max(2, int(length * 1.2) + 1)
    lens = torch.randint(lo, hi, (n,), generator=g).tolist()
    return [torch.randint(1, vocab, (k,), generator=g) for k in lens]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def generate(model: Qwen2ForCausalLM, prompts: list[torch.Tensor], new_tokens: int,
             device: str, static: bool) -> int:
    """Greedy generation of one left-padded batch; returns the number of new tokens."""
    width = max(len(p) for p in prompts)
    ids = torch.zeros((len(prompts), width), dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = p
        mask[i, width - len(p):] = 1
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
              pad_token_id=0, eos_token_id=None)
    if static:
        kw["cache_implementation"] = "static"
    with torch.inference_mode():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kw)
    return int((out.shape[1] - width) * out.shape[0])


def run_mode(model: Qwen2ForCausalLM, prompts: list[torch.Tensor], args: argparse.Namespace,
             batch: int, static: bool) -> tuple[float, float, int]:
    """(tokens/s, warm-up seconds, tokens) with batches of ``batch`` (longest first)."""
    order = sorted(prompts, key=len, reverse=True)
    t0 = time.perf_counter()
    generate(model, order[:batch], args.new_tokens, args.device, static)  # warm-up
    sync(args.device)
    warm = time.perf_counter() - t0
    tokens = 0
    t0 = time.perf_counter()
    for start in range(0, len(order), batch):
        tokens += generate(model, order[start:start + batch], args.new_tokens, args.device,
                           static)
    sync(args.device)
    return tokens / (time.perf_counter() - t0), warm, tokens


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                    help="default: bfloat16 on cuda, float32 on cpu")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=300)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--single", type=int, default=4, help="prompts timed one at a time")
    ap.add_argument("--modes", default="single,batched,static")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")]
    window = int(args.prompt_len * 1.2) + args.new_tokens + 8
    t0 = time.perf_counter()
    model = build(args.shape, args.device, dtype, window, args.attn)
    n_params = sum(p.numel() for p in model.parameters())
    prompts = make_prompts(args.prompts, args.prompt_len, SHAPES[args.shape]["vocab_size"])
    dev_name = (torch.cuda.get_device_name(0) if args.device.startswith("cuda")
                else f"cpu ({torch.get_num_threads()} threads)")
    print(f"torch {torch.__version__}, model {args.shape} ({n_params / 1e6:.1f} M params, "
          f"{str(dtype).replace('torch.', '')}, {args.attn}) on {dev_name}, built in "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"{args.prompts} prompts of ~{args.prompt_len} tokens, {args.new_tokens} new tokens "
          f"each, batch {args.batch_size}")
    print(f"{'mode':28} {'tok/s':>10} {'x single':>9} {'warm-up s':>10} {'tokens':>8}")
    base = None
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        if mode == "single":
            rate, warm, toks = run_mode(model, prompts[:max(1, args.single)], args, 1, False)
            label = "one at a time"
        elif mode in ("batched", "static"):
            static = mode == "static"
            try:
                rate, warm, toks = run_mode(model, prompts, args, args.batch_size, static)
            except Exception as exc:  # e.g. a static cache this build cannot compile
                print(f"{mode:28} failed: {type(exc).__name__}: {exc}")
                continue
            label = f"batch {args.batch_size}" + (", static cache" if static else
                                                  ", default cache")
        else:
            print(f"unknown mode {mode!r}", file=sys.stderr)
            return 2
        base = base or rate
        print(f"{label:28} {rate:10.1f} {rate / base:8.1f}x {warm:10.2f} {toks:8d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
