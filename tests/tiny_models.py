"""Tiny randomly initialised causal LMs + tokenizers saved in a folder, loaded for real with
``from_pretrained`` (there is no model hub on the test machines).

``build_tiny_model(path, chat=True, window=256)`` writes a Qwen2-shaped model (a few hundred
thousand parameters) and a byte-level BPE tokenizer trained on a small corpus. With ``chat``
the tokenizer carries a ChatML template; without it the folder is a "base model" and the
provider must fall back to its plain prompt format.
"""

from __future__ import annotations

from pathlib import Path

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? Paris is the capital of France.",
    "Write a short poem about the sea and the sky and the stars.",
    "Answer the question based on the document below. Summarise the main points.",
    "def add(a, b): return a + b  # numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000",
    "Explain why the sky is blue, in simple words, for a child of ten.",
]


def build_tiny_model(path: Path, *, chat: bool = True, window: int = 256, seed: int = 0,
                     vocab_size: int = 320) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tk.train_from_iterator(CORPUS * 4, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>" if chat else
                                  "<|endoftext|>", pad_token="<|endoftext|>",
                                  model_max_length=window)
    if chat:
        tok.chat_template = CHATML
    tok.save_pretrained(path)

    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=window, tie_word_embeddings=True,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      bos_token_id=None)
    model = Qwen2ForCausalLM(cfg)
    # Larger weights than the default init make greedy choices less tied, so batched and
    # one-at-a-time decoding are compared on clear decisions.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    model.save_pretrained(path)
    return path
