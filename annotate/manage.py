"""Admin research pages (``manage`` blueprint, under ``/admin``, admins only): the task
dashboard, task settings (guidelines, swap probes, gold rule), gold items, exclusion of
annotators, exports, one item with its verdicts, and creating a task from uploaded files.

Every form goes through the same functions the tests call (``annotate.gold``,
``annotate.dashboard``, ``annotate.export``, ``annotate.importer``); bad input is shown back
with the field named and writes nothing.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any

from flask import (Blueprint, Response, abort, flash, g, jsonify, redirect, render_template,
                   request, url_for)
from sqlalchemy import select, update
from werkzeug.utils import secure_filename

from arena.errors import InputError
from arena.store.annotation_schema import Task, TaskItem
from arena.types import Mode
from annotate import adjudicate, db, export, gold, skips, tasks, validate
from annotate.admin import _form_spec

log = logging.getLogger(__name__)

bp = Blueprint("manage", __name__, url_prefix="/admin")
UPLOAD_LIMIT = 64 * 1024 * 1024


@bp.before_request
def _admins_only() -> None:
    if g.get("user") is None or g.user["role"] != "admin":
        abort(403)


def _task(conn: Any, task_id: int) -> Any:
    t = conn.execute(select(Task).where(Task.id == task_id)).first()
    if t is None:
        abort(404)
    return t


def _rounds() -> int:
    try:
        return min(max(int(request.args.get("rounds", 200)), 0), 2000)
    except ValueError:
        return 200


@bp.route("/tasks/<int:task_id>/dashboard")
def task_dashboard(task_id: int) -> Any:
    from annotate import dashboard  # the ratings stack loads on first use, not at start

    from annotate.adjudicate_views import disagreement_page

    from annotate.figures import AGREEMENT, FRAMES, signature

    rounds = _rounds()
    st = db.app_store()
    with db.read() as conn:
        shared = FRAMES.shared(st.url, task_id, signature(conn, task_id))
    with db.read() as conn, dashboard.memo(shared):
        t = _task(conn, task_id)
        summary = dashboard.task_summary(conn, task_id)
        annotators = dashboard.annotator_rows(conn, task_id)
        figures, updating = AGREEMENT.get(conn, st.url, task_id, rounds, st.reader.begin)
        agree = figures.report if figures is not None else dashboard.AgreementReport()
        board, left_out = dashboard.live_leaderboard(conn, task_id, rounds=rounds)
        disagree = disagreement_page(conn, task_id, 1, DASHBOARD_DISAGREEMENTS)
        skip_summary = skips.summary(conn, task_id)
        pairs = None
        if (t.settings or {}).get("adaptive"):
            from annotate import adaptive

            pairs = adaptive.pair_report(conn, task_id, t.settings)
        skip_rows = list(skips.rows(conn, task_id))[-DASHBOARD_SKIPS:][::-1]
    return render_template("admin/dashboard.html", t=t, summary=summary, annotators=annotators,
                           agree=agree, board=board, left_out=left_out, disagree=disagree,
                           stat_keys=dashboard.STAT_KEYS, categories=dashboard.CATEGORIES,
                           isfinite=math.isfinite, adjudication=adjudicate.mode_of(t.settings),
                           figures=figures, updating=updating,
                           skip_summary=skip_summary, skip_rows=skip_rows,
                           skip_total=sum(n for _, n in skip_summary), pairs=pairs,
                           gold_rule=gold.rule_of(t.settings))


DASHBOARD_DISAGREEMENTS = 20
DASHBOARD_SKIPS = 50


@bp.route("/tasks/<int:task_id>/skips.<fmt>")
def export_skips(task_id: int, fmt: str) -> Any:
    """The task's skips with their reasons (pseudonymised unless ``?names=real``)."""
    real = request.args.get("names") == "real"
    with db.read() as conn:
        t = _task(conn, task_id)
        try:
            text = skips.export_text(conn, task_id, fmt, real_names=real)
        except InputError:
            abort(404)
    name = secure_filename(f"task-{t.id}-skips")
    mime = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return Response(text, mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@bp.route("/tasks/<int:task_id>/leaderboard.json")
def leaderboard_json(task_id: int) -> Any:
    from annotate import dashboard
    from arena.ratings.report import to_jsonable

    with db.read() as conn:
        _task(conn, task_id)
        board, left_out = dashboard.live_leaderboard(conn, task_id, rounds=_rounds())
    return jsonify(to_jsonable({"describe": board.describe(), "rows": board.rows,
                                "empty_reason": board.empty_reason,
                                "excluded_verdicts": left_out}))


def _float(f: Any, name: str, default: float) -> float:
    raw = (f.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
    except ValueError:
        raise InputError(f"expected a number, got {raw!r}", field=name) from None
    if not math.isfinite(value):
        raise InputError(f"expected a number, got {raw!r}", field=name)
    return value


@bp.route("/tasks/<int:task_id>/settings", methods=["POST"])
def task_settings(task_id: int) -> Any:
    f = request.form
    with db.read() as conn:
        t = _task(conn, task_id)
    try:
        spec = tasks.TaskSpec(
            name=t.name, mode=t.mode, scale=t.scale,
            swap_share=_float(f, "swap_share", 0.0), swap_gap=int(_float(f, "swap_gap", 3)),
            gold_share=_float(f, "gold_share", gold.DEFAULT_SHARE),
            gold_threshold=_float(f, "gold_threshold", gold.DEFAULT_THRESHOLD),
            gold_min=int(_float(f, "gold_min", gold.DEFAULT_MIN)),
            adaptive=f.get("adaptive") == "1",
            adaptive_ci=_float(f, "adaptive_ci", 0.95),
            adaptive_cap=int(_float(f, "adaptive_cap", 50)))
        tasks.validate_research(spec)  # the same checks as at creation
    except InputError as err:
        flash(str(err))
        return redirect(url_for("admin.task", task_id=task_id)), 303
    settings = dict(t.settings or {})
    settings.update(swap_share=spec.swap_share, swap_gap=spec.swap_gap,
                    gold_share=spec.gold_share, gold_threshold=spec.gold_threshold,
                    gold_min=spec.gold_min, adaptive=spec.adaptive,
                    adaptive_ci=spec.adaptive_ci, adaptive_cap=spec.adaptive_cap)
    try:
        settings["adjudication"] = adjudicate.check_mode(
            f.get("adjudication") or adjudicate.mode_of(settings))
    except InputError as err:
        flash(str(err))
        return redirect(url_for("admin.task", task_id=task_id)), 303
    guidelines = f.get("guidelines", t.guidelines or "")
    if settings.get("adaptive"):
        from annotate import adaptive

        adaptive.PLANS.forget(task_id)  # the next claim plans with the new settings
    db.write(lambda c: c.execute(update(Task).where(Task.id == task_id).values(
        settings=settings, guidelines=guidelines)))
    flash("Settings saved.")
    return redirect(url_for("admin.task", task_id=task_id)), 303


@bp.route("/tasks/<int:task_id>/gold", methods=["POST"])
def gold_mark(task_id: int) -> Any:
    f = request.form
    try:
        item_id = validate.int_field(f.get("item_id"), "item_id", 1)
        if item_id is None:
            raise InputError("give the item number", field="item_id")
    except InputError as err:
        flash(str(err))
        return redirect(url_for("admin.task", task_id=task_id)), 303
    action = f.get("action", "mark")
    try:
        with db.read() as conn:
            owner = conn.execute(select(TaskItem.task_id).where(TaskItem.id == item_id)).scalar()
        if owner != task_id:
            raise LookupError(item_id)
        if action == "unmark":
            db.write(lambda c: gold.unmark_gold(c, item_id))
        elif action == "broken":
            side = f.get("side", "a")
            with db.read() as conn:
                it = conn.execute(select(TaskItem.answer_a_id, TaskItem.answer_b_id)
                                  .where(TaskItem.id == item_id)).first()
            aid = it.answer_a_id if side == "a" or it.answer_b_id is None else it.answer_b_id
            new = db.write(lambda c: gold.add_broken_gold(c, task_id, aid,
                                                          f.get("broken_text") or None))
            flash(f"Gold item {new} added (its broken side is the wrong answer).")
        else:
            expect: dict[str, Any] = {"accept": f.getlist("accept"), "min": f.get("min"),
                                      "max": f.get("max")}
            db.write(lambda c: gold.mark_gold(c, item_id, expect))
            flash(f"Item {item_id} is a gold item.")
    except LookupError:
        abort(404)
    except InputError as err:
        flash(str(err))
    return redirect(url_for("admin.task", task_id=task_id)), 303


@bp.route("/tasks/<int:task_id>/gold/apply", methods=["POST"])
def gold_apply(task_id: int) -> Any:
    with db.read() as conn:
        _task(conn, task_id)
    failed = db.write(lambda c: gold.apply_rule(c, task_id))
    flash(f"Gold rule applied: {len(failed)} annotator(s) excluded." if failed else
          "Gold rule applied: nobody falls below the threshold.")
    return redirect(url_for("manage.task_dashboard", task_id=task_id)), 303


@bp.route("/users/<int:user_id>/excluded", methods=["POST"])
def set_excluded(user_id: int) -> Any:
    excluded = request.form.get("excluded") == "1"
    try:
        db.write(lambda c: gold.set_excluded(c, user_id, excluded,
                                             f"by {g.user['username']}" if excluded else None))
    except LookupError:
        abort(404)
    back = request.form.get("task_id", "")
    if back.isdigit():
        return redirect(url_for("manage.task_dashboard", task_id=int(back))), 303
    return redirect(url_for("admin.index")), 303


@bp.route("/tasks/<int:task_id>/export.<fmt>")
def export_task(task_id: int, fmt: str) -> Any:
    real = request.args.get("names") == "real"
    with db.read() as conn:
        t = _task(conn, task_id)
        try:
            text = export.export_text(conn, task_id, fmt, real_names=real,
                                      include_superseded=request.args.get("all") == "1")
        except InputError:
            abort(404)
    if real:
        log.info("admin %s exported task %d with real annotator names", g.user["username"],
                 task_id)
    name = secure_filename(f"task-{t.id}-{t.name}")[:80] or f"task-{t.id}"
    mime = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return Response(text, mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@bp.route("/tasks/import", methods=["GET", "POST"])
def import_task() -> Any:
    from annotate.importer import import_task as do_import

    form: Any = request.form if request.method == "POST" else {}
    if request.method == "GET":
        return render_template("admin/import.html", form={}, error=None,
                               modes=[m.value for m in Mode], scales=tasks.SCALES)
    qfile = request.files.get("questions")
    afiles = [f for f in request.files.getlist("answers") if f and f.filename]
    rfiles = [f for f in request.files.getlist("references") if f and f.filename]
    try:
        spec = _form_spec(request.form)
        if qfile is None or not qfile.filename:
            raise InputError("choose a question file", field="questions")
        with tempfile.TemporaryDirectory(prefix="arena-import-") as tmp:
            qpath = Path(tmp) / (secure_filename(qfile.filename) or "questions.jsonl")
            qfile.save(qpath)
            apaths, rpaths = [], []
            for kind, files, out in (("answers", afiles, apaths),
                                     ("references", rfiles, rpaths)):
                for i, f in enumerate(files):
                    p = Path(tmp) / kind / f"{i}-{secure_filename(f.filename) or kind + '.jsonl'}"
                    p.parent.mkdir(exist_ok=True)
                    f.save(p)
                    out.append(p)
            source = validate.check_text((request.form.get("source") or "").strip(), "source",
                                         200) or None
            if rpaths:
                spec.show_references = True
            done = db.write(lambda c: do_import(c, spec, qpath, apaths, source=source,
                                                created_by=g.user["id"], references=rpaths))
    except InputError as err:
        return render_template("admin/import.html", form=form, error=str(err),
                               modes=[m.value for m in Mode], scales=tasks.SCALES), 400
    flash(f"Task created from files: {done.items} items over {', '.join(done.models)} "
          f"(source {done.source!r}). " + "; ".join(done.notes))
    return redirect(url_for("admin.task", task_id=done.task_id)), 303


def bigger_uploads() -> None:
    """before_request, after the role check and before anything reads the body: the whole app
    keeps its 1 MB request limit; only an admin's file import may send more."""
    if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST" \
            and g.get("user") is not None and g.user["role"] == "admin":
        request.max_content_length = UPLOAD_LIMIT


UPLOAD_ENDPOINTS = {"manage.import_task", "authoring.index"}


def init_app(app: Any) -> None:
    """Register the blueprint (the upload hook is registered by the app factory, in order)."""
    app.register_blueprint(bp)
