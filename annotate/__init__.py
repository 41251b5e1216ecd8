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
    from annotate.instance import instance_dir, protect_sqlite

    test_config = dict(test_config or {})
    # The instance folder (secret key) lives outside the code checkout: Flask's default is a
    # folder beside the package.
    app = Flask(__name__, instance_path=str(instance_dir(test_config)))
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

    from annotate import (admin, adjudicate_views, auth, authoring_views, db, manage, review,
                          security, validate)

    protect_sqlite(url)  # mode 0600 before SQLite creates or opens the file
    store = db.init_app(app, url)
    log.info("annotation app using store %s", describe(url))
    security.init_app(app)
    # Order matters: who is asking and whether they may (neither reads the body), then the
    # admin upload limit, then the checks that read the form (validation, CSRF).
    app.before_request(auth.load_user)
    app.before_request(auth.require_role)
    app.before_request(manage.bigger_uploads)
    app.before_request(validate.check_request)
    app.before_request(security.check_csrf)
    manage.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(review.api)
    app.register_blueprint(admin.bp)
    app.register_blueprint(adjudicate_views.bp)
    app.register_blueprint(authoring_views.bp)
    _register_errors(app)
    _register_commands(app)

    admin_user = test_config.get("ADMIN_USER") or os.environ.get(ADMIN_USER_ENV)
    admin_pw = test_config.get("ADMIN_PASSWORD") or os.environ.get(ADMIN_PASSWORD_ENV)
    created = db.write(lambda c: auth.ensure_admin_from_env(c, admin_user, admin_pw), store)
    if created:
        log.info("created the first admin %r from %s", admin_user, ADMIN_USER_ENV)
    return app


def _register_errors(app: Flask) -> None:
    from arena.errors import InputError

    @app.errorhandler(InputError)
    def input_error(err: InputError) -> Any:
        # Bad input found by annotate.validate (or a view that lets it through): a 400 that
        # names the field; nothing was written.
        from flask import jsonify, request

        if request.path.startswith("/api/"):
            return jsonify(error="Bad Request", detail=str(err), field=err.field), 400
        return render_template("error.html", err=_Shown(400, "Bad Request", str(err))), 400

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        from flask import jsonify, request

        if request.path.startswith("/api/"):
            return jsonify(error=err.name, detail=err.description), err.code
        return render_template("error.html", err=err), err.code


def _register_commands(app: Flask) -> None:
    import click

    @app.cli.command("end-sessions")
    @click.argument("username")
    def end_sessions_command(username: str) -> None:
        """End every session of USERNAME (e.g. after a cookie was stolen)."""
        from sqlalchemy import select

        from arena.store.annotation_schema import User
        from annotate import accounts, db

        def do(conn: Any) -> bool:
            uid = conn.execute(select(User.id).where(User.username == username)).scalar()
            if uid is None:
                return False
            accounts.end_sessions(conn, int(uid))
            return True

        if not db.write(do):
            raise click.ClickException(f"no account named {username!r}")
        click.echo(f"ended every session of {username!r}")


class _Shown:
    """What error.html shows: code, name, description."""

    def __init__(self, code: int, name: str, description: str) -> None:
        self.code, self.name, self.description = code, name, description
