"""Admin pages (``admin`` blueprint): accounts, invites, tasks and their progress.

Only users with role ``admin`` reach these views (403 otherwise). Account and task creation
call the same functions as the CLI and tests (``auth.create_user``, ``tasks.create_task``);
bad form input is shown back with the field named, and nothing is written.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select, update

from arena.errors import InputError
from arena.store.annotation_schema import Assignment, Task, TaskItem, User
from arena.types import Mode
from annotate import accounts, assign, auth, db, members, tasks, validate

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _admins_only() -> None:
    # The app checks the role before reading any body (auth.require_role); this repeats it
    # for the blueprint on its own.
    if g.get("user") is None or g.user["role"] != "admin":
        abort(403)


def _task_rows(conn: Any, archived: bool = False) -> list[Any]:
    items = (select(TaskItem.task_id, func.count().label("n_items"))
             .group_by(TaskItem.task_id).subquery())
    done = (select(Assignment.task_id, func.count().label("verdicts"))
            .where(*assign.ITEM_VERDICT).group_by(Assignment.task_id).subquery())
    return list(conn.execute(
        select(Task.id, Task.name, Task.public_title, Task.mode, Task.scale, Task.overlap,
               Task.status, Task.restricted, func.coalesce(items.c.n_items, 0).label("items"),
               func.coalesce(done.c.verdicts, 0).label("verdicts"))
        .outerjoin(items, items.c.task_id == Task.id)
        .outerjoin(done, done.c.task_id == Task.id).where(Task.archived.is_(archived))
        .order_by(Task.id)).all())


@bp.route("/")
def index() -> Any:
    with db.read() as conn:
        users = conn.execute(select(User.id, User.username, User.role, User.active,
                                    User.pseudonym, User.excluded, User.excluded_note,
                                    User.owner,
                                    User.password_hash.is_not(None)
                                    .label("has_password"))
                             .order_by(User.id)).all()
        show_archived = request.args.get("archived") == "1"
        task_rows = _task_rows(conn, archived=show_archived)
        n_archived = conn.execute(select(func.count()).select_from(Task)
                                  .where(Task.archived.is_(True))).scalar_one()
    return render_template("admin/index.html", users=users, tasks=task_rows,
                           roles=auth.ROLES, show_archived=show_archived, n_archived=n_archived)


@bp.route("/users", methods=["POST"])
def create_user() -> Any:
    f = request.form
    password = f.get("password") or None
    try:
        uid, token = db.write(lambda c: auth.create_user(c, f.get("username", ""),
                                                         f.get("role", "annotator"), password))
    except InputError as err:
        flash(str(err))
        return redirect(url_for("admin.index")), 303
    link = url_for("auth.invite", token=token, _external=True) if token else None
    return render_template("admin/user_created.html", username=f.get("username", "").strip(),
                           link=link)


def _account_change(fn: Any) -> Any:
    """Run an ``annotate.accounts`` change; a forbidden one is a 403 with the reason, an
    unknown account a 404."""
    try:
        return db.write(fn)
    except LookupError:
        abort(404)
    except PermissionError as err:
        abort(403, description=str(err))


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
def new_invite(user_id: int) -> Any:
    """A new invite link, or for an account with a password a reset link (its sessions end)."""
    actor = int(g.user["id"])
    username, token = _account_change(lambda c: accounts.issue_link(c, actor, user_id))
    return render_template("admin/user_created.html", username=username, reset=True,
                           link=url_for("auth.invite", token=token, _external=True))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int) -> Any:
    active = request.form.get("active") == "1"
    actor = int(g.user["id"])
    if user_id == actor and not active:
        flash("You cannot deactivate your own account.")
        return redirect(url_for("admin.index")), 303
    _account_change(lambda c: accounts.set_active(c, actor, user_id, active))
    return redirect(url_for("admin.index")), 303


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def set_role(user_id: int) -> Any:
    """Change a role (the owner only); the account's sessions end."""
    role = request.form.get("role", "")
    actor = int(g.user["id"])
    try:
        _account_change(lambda c: accounts.set_role(c, actor, user_id, role))
    except InputError as err:
        flash(str(err))
    return redirect(url_for("admin.index")), 303


def _form_spec(f: Any) -> tasks.TaskSpec:
    """A TaskSpec from the task form; InputError names a bad field (nothing is written)."""
    def as_int(name: str, default: int, lo: int = 0, hi: int = validate.MAX_ID) -> int:
        return validate.int_field(f.get(name), name, lo, hi, default)  # type: ignore

    def as_float(name: str, default: float) -> float:
        got = validate.float_field(f.get(name), name, -1e9, 1e9)
        return default if got is None else got

    scale = f.get("scale", "pairwise")
    mode = f.get("mode", Mode.PAIRWISE_ALL.value)
    limit = validate.int_field(f.get("question_limit"), "question_limit", 1,
                               tasks.MAX_QUESTIONS)
    return tasks.TaskSpec(
        name=f.get("name", ""), public_title=f.get("public_title") or None, mode=mode,
        scale=scale, models=f.getlist("models") or [m.strip() for m in
                                                    (f.get("models_csv") or "").split(",")
                                                    if m.strip()],
        baseline=f.get("baseline") or None,
        sources=f.getlist("sources"), categories=f.getlist("categories"),
        question_limit=limit, from_battles=f.get("from_battles") == "1",
        overlap=as_int("overlap", 1, 1, 100),
        lease_seconds=as_int("lease_minutes", 15, 1, 7 * 24 * 60) * 60,
        criteria=[c.strip() for c in (f.get("criteria") or "").split(",") if c.strip()],
        criteria_max=as_int("criteria_max", 5, 2, 10),
        show_references=f.get("show_references") == "1",
        guidelines=f.get("guidelines", ""),
        swap_share=as_float("swap_share", 0.0), swap_gap=as_int("swap_gap", 3, 0, 1000),
        gold_share=as_float("gold_share", 0.1), gold_threshold=as_float("gold_threshold", 0.7),
        gold_min=as_int("gold_min", 3, 1, 1000),
        adjudication=f.get("adjudication") or "final",
        adaptive=f.get("adaptive") == "1",
        adaptive_ci=as_float("adaptive_ci", 0.95), adaptive_cap=as_int("adaptive_cap", 50, 1,
                                                                       100_000))


@bp.route("/tasks/new", methods=["GET", "POST"])
def new_task() -> Any:
    with db.read() as conn:
        cat = tasks.catalogue(conn)
    if request.method == "GET":
        return render_template("admin/task_new.html", cat=cat, modes=[m.value for m in Mode],
                               scales=tasks.SCALES, form={}, error=None)
    try:
        spec = _form_spec(request.form)
        tid, n, missing = db.write(lambda c: tasks.create_task(c, spec, g.user["id"]))
    except InputError as err:
        return render_template("admin/task_new.html", cat=cat, modes=[m.value for m in Mode],
                               scales=tasks.SCALES, form=request.form, error=str(err)), 400
    flash(f"Task created with {n} items" + (f" ({missing} left out: an answer is missing)"
                                            if missing else "") + ".")
    return redirect(url_for("admin.task", task_id=tid)), 303


@bp.route("/tasks/<int:task_id>")
def task(task_id: int) -> Any:
    with db.read() as conn:
        t = conn.execute(select(Task).where(Task.id == task_id)).first()
        if t is None:
            abort(404)
        done = assign.done_per_item(task_id)
        items = conn.execute(select(TaskItem.id, TaskItem.question_id, TaskItem.model_a,
                                    TaskItem.model_b, TaskItem.held_count,
                                    func.coalesce(done.c.done, 0).label("done"),
                                    TaskItem.kind, TaskItem.gold)
                             .outerjoin(done, done.c.item_id == TaskItem.id)
                             .where(TaskItem.task_id == task_id)
                             .order_by(TaskItem.seq).limit(500)).all()
        per_user = conn.execute(
            select(User.username, Assignment.status, func.count(),
                   func.avg(Assignment.time_on_task_s))
            .join(User, User.id == Assignment.annotator_id)
            .where(Assignment.task_id == task_id)
            .group_by(User.username, Assignment.status).order_by(User.username)).all()
        n_items = conn.execute(select(func.count()).select_from(TaskItem)
                               .where(TaskItem.task_id == task_id)).scalar_one()
        accounts_ = conn.execute(select(User.id, User.username, User.role, User.active)
                                 .order_by(User.username)).all()
        chosen = set(members.members(conn, task_id))
    annotators: dict[str, dict[str, Any]] = {}
    for name, status, n, avg in per_user:
        a = annotators.setdefault(name, {"done": 0, "skipped": 0, "leased": 0, "expired": 0,
                                         "avg_s": None})
        a[status] = n
        if status == "done":
            a["avg_s"] = avg
    return render_template("admin/task.html", t=t, items=items, n_items=n_items,
                           annotators=annotators, accounts=accounts_, chosen=chosen)


@bp.route("/tasks/<int:task_id>/status", methods=["POST"])
def task_status(task_id: int) -> Any:
    status = request.form.get("status")
    if status not in ("active", "paused", "closed"):
        abort(400, description="field 'status': active, paused or closed")
    _task_update(task_id, status=status)
    return redirect(url_for("admin.task", task_id=task_id)), 303


def _task_update(task_id: int, **values: Any) -> None:
    got = db.write(lambda c: c.execute(update(Task).where(Task.id == task_id).values(**values)
                                       .returning(Task.id)).scalar())
    if got is None:
        abort(404)


@bp.route("/tasks/<int:task_id>/rename", methods=["POST"])
def rename_task(task_id: int) -> Any:
    """The admins' name and the public title annotators see."""
    name = (request.form.get("name") or "").strip()
    title = (request.form.get("public_title") or "").strip() or None
    try:
        validate.check_text(name, "name", tasks.MAX_NAME)
        if not name:
            raise InputError("give the task a name", field="name")
        if title is not None:
            validate.check_text(title, "public_title", tasks.MAX_NAME)
    except InputError as err:
        flash(str(err))
        return redirect(url_for("admin.task", task_id=task_id)), 303
    _task_update(task_id, name=name, public_title=title)
    flash("Task renamed.")
    return redirect(url_for("admin.task", task_id=task_id)), 303


@bp.route("/tasks/<int:task_id>/archive", methods=["POST"])
def archive_task(task_id: int) -> Any:
    """Archive (hidden from every list; no verdicts taken) or bring back."""
    archived = request.form.get("archived") == "1"
    _task_update(task_id, archived=archived)
    flash("Task archived: hidden from annotators and the task list." if archived
          else "Task brought back from the archive.")
    return redirect(url_for("admin.task", task_id=task_id)), 303


@bp.route("/tasks/<int:task_id>/members", methods=["POST"])
def task_members(task_id: int) -> Any:
    """Restrict the task to the chosen annotators, or open it to everyone."""
    f = request.form
    try:
        ids = [validate.int_field(v, "members", 1) for v in f.getlist("members")]
        db.write(lambda c: members.set_members(c, task_id, [i for i in ids if i],
                                               f.get("restricted") == "1"))
    except LookupError:
        abort(404)
    except InputError as err:
        flash(str(err))
        return redirect(url_for("admin.task", task_id=task_id)), 303
    flash("Annotators saved.")
    return redirect(url_for("admin.task", task_id=task_id)), 303
