"""The human-annotation web app (Flask): ``create_app(test_config=None)``.

Configuration, in order: ``test_config`` (tests) > environment > config file. The store URL
comes from the project's one resolver: ``DATABASE`` in test_config, else ``ARENA_DB``, else
the config file's ``store.url`` (config file from ``ARENA_CONFIG``), else the default SQLite
file. ``ARENA_ADMIN_USER`` / ``ARENA_ADMIN_PASSWORD`` create the first admin on start when no
admin exists. Debug mode is refused: the app must never serve the interactive debugger.

Served by ``arena annotate`` (waitress) or ``flask --app annotate run``.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from typing import Any, Mapping, Optional

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from arena.errors import ConfigError
from arena.store.db import describe, resolve_db_url

log = logging.getLogger(__name__)

ADMIN_USER_ENV = "ARENA_ADMIN_USER"
ADMIN_PASSWORD_ENV = "ARENA_ADMIN_PASSWORD"
CONFIG_ENV = "ARENA_CONFIG"


def _config_store_url(config_path: Optional[str]) -> Optional[str]:
    if not config_path:
        return None
    from arena.config import load_config

    return load_config(config_path).config.store.url


def create_app(test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the app. Raises ConfigError for a bad config file or a debug-mode start."""
    app = Flask(__name__, instance_relative_config=True)
    test_config = dict(test_config or {})
    app.config.from_mapping(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="arena_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
        LOGIN_LIMIT=5,
        LOGIN_WINDOW_S=300,
        # The session cookie is not re-signed and re-sent on every response (that costs a
        # serialisation and an HMAC per request on the hot path); it is still renewed
        # whenever the session changes, and expires PERMANENT_SESSION_LIFETIME after login.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.config.update(test_config)
    if app.debug or os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes") \
            or "--debugger" in sys.argv:
        # The interactive debugger runs arbitrary code for whoever reaches it.
        raise ConfigError("the annotation app refuses to run in debug mode (unset FLASK_DEBUG "
                          "and drop --debug)")
    if not app.config.get("SECRET_KEY"):
        from annotate.security import load_secret_key

        app.config["SECRET_KEY"] = load_secret_key(app.instance_path)
    if os.environ.get("ARENA_COOKIE_SECURE", "").lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True  # behind an HTTPS proxy

    config_path = test_config.get("ARENA_CONFIG") or os.environ.get(CONFIG_ENV)
    url = resolve_db_url(test_config.get("DATABASE"), _config_store_url(config_path))
    app.config["DATABASE"] = url

    from annotate import admin, auth, db, manage, review, security

    store = db.init_app(app, url)
    log.info("annotation app using store %s", describe(url))
    manage.init_app(app)  # before security: its upload limit must precede the CSRF check
    security.init_app(app)
    app.before_request(auth.load_user)
    app.register_blueprint(auth.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(review.api)
    app.register_blueprint(admin.bp)
    _register_errors(app)

    admin_user = test_config.get("ADMIN_USER") or os.environ.get(ADMIN_USER_ENV)
    admin_pw = test_config.get("ADMIN_PASSWORD") or os.environ.get(ADMIN_PASSWORD_ENV)
    created = db.write(lambda c: auth.ensure_admin_from_env(c, admin_user, admin_pw), store)
    if created:
        log.info("created the first admin %r from %s", admin_user, ADMIN_USER_ENV)
    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        from flask import jsonify, request

        if request.path.startswith("/api/"):
            return jsonify(error=err.name, detail=err.description), err.code
        return render_template("error.html", err=err), err.code
