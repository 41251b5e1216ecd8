"""How the server was started, checked from inside the script (``streamlit run viz.py``).

The project ships ``.streamlit/config.toml`` next to ``viz.py`` (Streamlit reads a config file
beside the main script wherever it is started from): the server binds 127.0.0.1, and the file
watcher polls the project's own source files instead of asking inotify to watch the whole
folder tree (the project's ``.venv`` alone overflows the kernel's watch limit). When a server
runs with other settings (flags on the command line, another config), ``notes()`` says so in
the sidebar. Without a server (``streamlit.testing``), there is nothing to check.
"""

from __future__ import annotations

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def notes() -> list[str]:
    """Plain-text warnings about the running server's address and file watcher."""
    from streamlit import config, runtime

    if not runtime.exists():
        return []
    out = []
    address = config.get_option("server.address")
    if address not in LOOPBACK:
        out.append(f"This server listens on {address or 'every network interface'}: anyone "
                   f"who can reach this machine can read the store. The shipped "
                   f".streamlit/config.toml binds 127.0.0.1; pass --server.address 127.0.0.1 "
                   f"to do the same.")
    if config.get_option("server.fileWatcherType") in ("auto", "watchdog"):
        out.append("The file watcher uses inotify on the whole project folder (its .venv "
                   "can overflow the kernel's limit); the shipped .streamlit/config.toml "
                   "polls the source files instead (server.fileWatcherType = \"poll\").")
    return out
