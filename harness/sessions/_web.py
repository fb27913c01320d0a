"""A small local web app for a calibration session (``judgecal session serve``).

Routes (every token is the personal token printed by ``invite`` / ``create``):

``GET /p/<token>``            a participant's blind scoring page (only their own scores)
``POST /p/<token>``           save scores; the ``submit`` button also locks them
``GET /f/<token>``            the facilitator's review page (flagged items first)
``POST /f/<token>/review``    start the review (``force`` checkbox)
``POST /f/<token>/resolve``   record the resolution of one item

An unknown token gets a bare 403. Every POST carries a CSRF field, the HMAC of the URL token
with a random secret generated when the app is created, and is refused (403) if the field is
wrong or if an ``Origin`` header is present and is not the app's own origin. No cookies are set.
Responses carry ``Content-Security-Policy: default-src 'self'``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer`` (tokens live in the URL) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from typing import Any

import flask
from flask import Flask, abort, redirect, render_template_string, request

from harness.anchors._schema import NA, fmt_num

from ._errors import SessionError
from ._review import review
from ._store import SessionStore, parse_score

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<p>Session <code>{{ info.id }}</code> ({{ info.name }}),
state <strong>{{ info.state }}</strong>.</p>
{% if errors %}<div id="errors" role="alert"><p><strong>Not saved:</strong></p><ul>
{% for e in errors %}<li class="error">{{ e }}</li>{% endfor %}</ul></div>{% endif %}
{% if message %}<p id="message">{{ message }}</p>{% endif %}
"""

_PARTICIPANT = _BASE + """
<p>Participant: <strong>{{ name }}</strong>
{% if submitted %}(submitted; your scores are locked){% endif %}</p>
<h2>Rubric</h2>
<pre id="rubric">{{ info.rubric or "(no rubric text)" }}</pre>
<p>Scale {{ lo }}–{{ hi }}.</p>
{% if load_error %}<p class="error">{{ load_error }}</p>{% endif %}
<form method="post" action="/p/{{ token }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
{% for it in items %}
<fieldset id="item-{{ it.id }}">
<legend>Item {{ it.id }}</legend>
<h3>Input</h3><pre>{{ it.input }}</pre>
<h3>Output</h3><pre>{{ it.output }}</pre>
<label>Score ({{ lo }}–{{ hi }})
<input type="number" name="score-{{ it.id }}" min="{{ lo }}" max="{{ hi }}" step="any"
 value="{{ it.value }}"{% if not editable %} disabled{% endif %}></label>
{% if it.na_ok %}<label><input type="checkbox" name="na-{{ it.id }}" value="1"
{% if it.is_na %} checked{% endif %}{% if not editable %} disabled{% endif %}> N/A</label>
{% endif %}
</fieldset>
{% endfor %}
{% if editable %}
<button type="submit" name="action" value="save">Save</button>
<button type="submit" name="action" value="submit">Submit (locks your scores)</button>
{% endif %}
</form>
</body></html>
"""

_FACILITATOR = _BASE + """
<h2>Participants</h2>
<ul>{% for p in info.participants %}<li>{{ p.name }} ({{ p.id }}):
{{ "submitted" if p.submitted else "not submitted" }}</li>{% endfor %}</ul>
{% if info.state == "scoring" %}
<form method="post" action="/f/{{ token }}/review">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label><input type="checkbox" name="force" value="1"> force (not everyone has submitted)</label>
<button type="submit">Start the review</button>
</form>
{% endif %}
{% if rv %}
<h2>Review</h2>
<p>Threshold (SD): {{ fmt(rv.threshold) }}; {{ rv.flagged|length }} flagged item(s).</p>
<table id="review">
<thead><tr><th>item</th><th>flag</th>{% for p in rv.participants %}<th>{{ p }}</th>{% endfor %}
<th>SD</th><th>range</th><th>outliers</th><th>resolution</th></tr></thead>
<tbody>
{% for it in rv.items %}
<tr class="{{ 'flagged' if it.flagged else 'ok' }}" id="row-{{ it.item_id }}">
<td>{{ it.item_id }}</td><td>{{ "⚑" if it.flagged else "" }}</td>
{% for p in rv.participants %}<td>{{ fmt(it.scores[p]) }}</td>{% endfor %}
<td>{{ fmt(it.sd) }}</td><td>{{ fmt(it.min) }}–{{ fmt(it.max) }}</td>
<td>{{ it.outliers|join(", ") }}</td>
<td>{% if it.resolution %}consensus {{ fmt(it.resolution.consensus) }}
{% if it.resolution.rationale %}: {{ it.resolution.rationale }}{% endif %}
{% if it.resolution.note %} [{{ it.resolution.note }}]{% endif %}{% endif %}</td>
</tr>
{% endfor %}
</tbody></table>
{% if info.state == "review" %}
<h2>Resolutions</h2>
{% for it in rv.flagged %}
<form method="post" action="/f/{{ token }}/resolve" id="resolve-{{ it.item_id }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="item" value="{{ it.item_id }}">
<fieldset><legend>Item {{ it.item_id }}</legend>
<label>Consensus <input type="number" name="consensus" min="{{ lo }}" max="{{ hi }}"
 step="any"></label>
<label>Rationale <input type="text" name="rationale"></label>
<label>Note <input type="text" name="note"></label>
<button type="submit">Record resolution</button>
</fieldset></form>
{% endfor %}
{% endif %}
{% endif %}
</body></html>
"""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if value == NA:
        return "N/A"
    return fmt_num(float(value))


def create_app(store: SessionStore, session_id: str) -> Flask:
    """A Flask app serving one session of ``store`` (SessionError if it does not exist)."""
    session = store.get(session_id)
    secret = secrets.token_bytes(32)
    app = Flask(__name__)
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"  # no cookies are set; just in case
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20

    def csrf_for(token: str) -> str:
        return hmac.new(secret, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def who(token: str) -> tuple[str, str | None] | None:
        return session.identify(token)

    def require(token: str, role: str) -> str | None:
        w = who(token)
        if w is None or w[0] != role:
            abort(403)
        return w[1]

    def check_post(token: str) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
            abort(403)
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode("utf-8"), csrf_for(token).encode("utf-8")):
            abort(403)

    @app.after_request
    def _headers(resp: flask.Response) -> flask.Response:
        resp.headers["Content-Security-Policy"] = "default-src 'self'"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(403)
    def _forbidden(_: Exception) -> tuple[str, int]:
        return "Forbidden\n", 403

    # ------------------------------------------------------------------ participant

    def participant_page(token: str, pid: str, errors: list[str], message: str | None,
                         form: dict[str, str] | None = None) -> str:
        info = session.info
        lo, hi = info.scale
        me = next(p for p in info.participants if p.id == pid)
        own = session.scores(1).get(pid, {})  # only this participant's scores
        load_error = None
        texts: dict[str, tuple[str, str]] = {}
        try:
            for it in session.load_anchor_set().items:
                texts[it.id] = (it.input, it.output)
        except SessionError as exc:
            load_error = str(exc)
        items = []
        for item in info.item_ids:
            saved = own.get(item)
            if form is not None:
                value = form.get(f"score-{item}", "")
                is_na = bool(form.get(f"na-{item}"))
            else:
                value = fmt_num(float(saved)) if saved not in (None, NA) else ""
                is_na = saved == NA
            inp, outp = texts.get(item, ("", ""))
            items.append({"id": item, "input": inp, "output": outp, "value": value,
                          "is_na": is_na, "na_ok": item in info.na_items})
        return render_template_string(
            _PARTICIPANT, title="Calibration scoring", info=info, errors=errors,
            message=message, name=me.name, submitted=me.submitted, token=token,
            csrf=csrf_for(token), items=items, lo=fmt_num(lo), hi=fmt_num(hi),
            load_error=load_error, editable=info.state == "scoring" and not me.submitted)

    @app.get("/p/<token>")
    def participant_get(token: str) -> str:
        pid = require(token, "participant")
        assert pid is not None
        saved = request.args.get("saved")
        message = {"1": "Scores saved.", "submitted": "Scores submitted and locked."}.get(
            saved or "")
        return participant_page(token, pid, [], message)

    @app.post("/p/<token>")
    def participant_post(token: str) -> Any:
        pid = require(token, "participant")
        assert pid is not None
        check_post(token)
        info = session.info
        lo, hi = info.scale
        known = set(info.item_ids)
        errors: list[str] = []
        scores: dict[str, float | str] = {}
        for key in request.form:
            if key.startswith(("score-", "na-")):
                item = key.split("-", 1)[1]
                if item not in known:
                    errors.append(f"unknown item {item!r}")
        for item in info.item_ids:
            text = request.form.get(f"score-{item}", "").strip()
            na = bool(request.form.get(f"na-{item}"))
            if na:
                if item not in info.na_items:
                    errors.append(f"item {item}: N/A is not allowed for this item")
                elif text:
                    errors.append(f"item {item}: give a score or N/A, not both")
                else:
                    scores[item] = NA
                continue
            if not text:
                continue
            try:
                v = parse_score(text)
            except SessionError as exc:
                errors.append(f"item {item}: {exc}")
                continue
            if v == NA:
                if item not in info.na_items:
                    errors.append(f"item {item}: N/A is not allowed for this item")
                else:
                    scores[item] = NA
                continue
            assert isinstance(v, float)
            if not (math.isfinite(v) and lo <= v <= hi):
                errors.append(f"item {item}: {text} is off the scale "
                              f"{fmt_num(lo)}–{fmt_num(hi)}")
                continue
            scores[item] = v
        submit = request.form.get("action") == "submit"
        if not errors:
            try:
                if scores:
                    session.score(pid, token, scores)
                if submit:
                    session.submit(pid, token)
            except SessionError as exc:
                errors.append(str(exc))
        if errors:
            return participant_page(token, pid, errors, None, dict(request.form)), 400
        return redirect(f"/p/{token}?saved={'submitted' if submit else '1'}", code=303)

    # ------------------------------------------------------------------ facilitator

    def facilitator_page(token: str, errors: list[str], message: str | None) -> str:
        info = session.info
        rv = review(session) if info.state in ("review", "resolved", "closed") else None
        lo, hi = info.scale
        return render_template_string(
            _FACILITATOR, title="Calibration review", info=info, errors=errors,
            message=message, token=token, csrf=csrf_for(token), rv=rv, fmt=_fmt,
            lo=fmt_num(lo), hi=fmt_num(hi))

    @app.get("/f/<token>")
    def facilitator_get(token: str) -> str:
        require(token, "facilitator")
        msg = {"review": "Review started.", "resolved": "Resolution recorded."}.get(
            request.args.get("done") or "")
        return facilitator_page(token, [], msg)

    @app.post("/f/<token>/review")
    def facilitator_review(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        try:
            session.begin_review(token, force=bool(request.form.get("force")))
        except SessionError as exc:
            return facilitator_page(token, [str(exc)], None), 400
        return redirect(f"/f/{token}?done=review", code=303)

    @app.post("/f/<token>/resolve")
    def facilitator_resolve(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        info = session.info
        lo, hi = info.scale
        errors: list[str] = []
        item = request.form.get("item", "")
        if item not in info.item_ids:
            errors.append(f"unknown item {item!r}")
        consensus: float | None = None
        text = request.form.get("consensus", "").strip()
        if text:
            try:
                consensus = float(text)
            except ValueError:
                errors.append(f"consensus {text!r} is not a number")
            else:
                if not (math.isfinite(consensus) and lo <= consensus <= hi):
                    errors.append(f"consensus {text} is off the scale "
                                  f"{fmt_num(lo)}–{fmt_num(hi)}")
        rationale = request.form.get("rationale", "").strip() or None
        note = request.form.get("note", "").strip() or None
        if not errors:
            try:
                session.resolve_item(item, token, consensus=consensus, rationale=rationale,
                                     note=note)
            except SessionError as exc:
                errors.append(str(exc))
        if errors:
            return facilitator_page(token, errors, None), 400
        return redirect(f"/f/{token}?done=resolved", code=303)

    return app


__all__ = ["create_app"]
