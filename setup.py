"""Install with ``pip install -e .[hf,viz,dev]`` (see README.md)."""

from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path("arena/__init__.py").read_text(), version)

setup(
    name="llm-arena",
    version=version["__version__"],
    description="An LLM arena: answers, LLM and human verdicts, and defensible leaderboards",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["arena", "arena.*", "judges", "judges.*", "annotate",
                                    "annotate.*"]),
    py_modules=["run_arena", "viz"],
    include_package_data=True,
    package_data={
        "judges": ["templates/*.txt", "templates/*.yaml"],
        "annotate": ["templates/*.html", "templates/**/*.html", "static/*", "static/**/*"],
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
        "krippendorff>=0.6",
        "scikit-learn>=1.4",
        "threadpoolctl>=3.1",
        "statsmodels>=0.14",
        "pandas>=2.0",
    ],
    extras_require={
        "hf": ["torch==2.13.0", "transformers>=4.45", "accelerate>=0.30", "tokenizers>=0.15"],
        "viz": ["streamlit>=1.30", "plotly>=5"],
        "dev": ["pytest>=8", "pytest-timeout>=2", "playwright>=1.40"],
    },
    entry_points={"console_scripts": ["arena=arena.cli:main"]},
)
