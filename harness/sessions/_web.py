"""A small local web app for a calibration session (``judgecal session serve``).

Routes (every token is the personal token printed by ``invite`` / ``create``):

``GET /p/<token>``              a participant's page: the blind scoring form (round 1); from
                                review on, everyone's round-1 scores read-only and, while a
                                re-score round is open, the round-2 form
``POST /p/<token>``             save round-1 scores; the ``submit`` button also locks them
``POST /p/<token>/round2``      save round-2 (re-score) scores; ``submit`` locks them
``GET /f/<token>``              the facilitator's page (review table, flagged items first)
``GET /f/<token>/log``          the calibration log, ``text/markdown`` (409 before review)
``POST /f/<token>/review``      start the review (``force`` checkbox)
``POST /f/<token>/resolve``     record (or replace) the resolution of one item
``POST /f/<token>/note``        record a rubric change agreed in the discussion
``POST /f/<token>/rescore``     open the re-score round on the checked items
``POST /f/<token>/finish``      ``review -> resolved``: write the new anchor-set version
``POST /f/<token>/close``       ``resolved -> closed`` (read-only from then on)
``POST /f/<token>/due``         set or extend the due date (draft, scoring)
``GET /f/<token>/insights``     across the store's reviewed sessions: the questions flagged
                                most often and each rater's outliers (``?last=N``)
``GET /o/<token>``              an observer's read-only page (no POST route: an observer
                                token gets 403 on every other route)

What a participant sees: before review, only their own round-1 scores (blind scoring; under
the ``after-submit`` rule, once submitted, also the submitted peers' scores). From
review on, everyone's round-1 scores side by side, read-only (the review has begun; this is
what :func:`scores_visible_to` allows), and the rubric changes recorded so far. Round-2 scores
stay blind for good: a participant only ever sees their own, never another participant's,
in every state. Finishing writes the default ``<stem>.v<N>.jsonl`` beside the anchor set; the
web never takes an output path.

Every action is checked by the library (:class:`Session`), which refuses a wrong state or a
closed session with :class:`SessionError`; the page then lists the message under ``#errors``
with status 400. Every successful POST redirects (303) to the page, which shows ``#message``.

An unknown token gets a bare 403, as does a participant token on a facilitator route. Every
POST carries a CSRF field, the HMAC of the URL token with a random secret generated when the
app is created, and is refused (403) if the field is wrong or if an ``Origin`` header is
present and is not ``http://`` or ``https://`` (a TLS-terminating proxy) on the request's own
(checked) host. No cookies are set. Responses carry
``Content-Security-Policy: default-src 'self'`` (no inline script or style),
``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` (tokens live in the URL: no
other site gets it as a referrer; ``no-referrer`` would make browsers send ``Origin: null`` on
the pages' own forms, which is refused) and ``Cache-Control: no-store``. Tokens are never
logged.

DNS rebinding: a page of ``evil.example`` whose name is made to resolve to 127.0.0.1 is
same-origin with itself: given a token (a leaked link), its script could read the page and
its CSRF field and post with its own, matching ``Origin``. Every request's ``Host`` header
is therefore checked against the names served (see :func:`serve_plan`): another name gets a
bare 400 (``Bad Request: unexpected Host header``) before any route runs. Werkzeug's
``TRUSTED_HOSTS`` is not used: it ignores the port and, in Werkzeug 3.1, cannot match a
bracketed IPv6 literal such as ``[::1]``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import flask
from flask import Flask, abort, redirect, request

from harness._say import scale_text
from harness.anchors import Criterion
from harness.anchors._schema import NA, fmt_num
from harness.reports import (
    MISSING,
    NA_RATING,
    number_text,
    share_text,
    signed_text,
    templates,
)

from . import _card
from ._errors import SessionError
from ._insights import insights
from ._log import calibration_log, stat_text
from ._review import effectiveness, review
from ._store import (
    ItemRef,
    Participant,
    Score,
    SessionInfo,
    SessionStore,
    format_due,
    parse_score,
    scores_visible_to,
    scores_visible_to_observer,
)

# Every page extends the layout of every judgecal page (harness/reports/templates/base.html:
# the title as <h1>, the shared stylesheet linked as /static/session.css); the session header
# opens its content block, and each page closes it.
_BASE = """{% extends "base.html" %}
{% block content %}
<p>Session <code>{{ info.id }}</code> ({{ info.name }}),
state <strong id="state">{{ info.state }}</strong>.</p>
{% if errors %}<div id="errors" role="alert"><p><strong>{{ error_title }}</strong></p><ul>
{% for e in errors %}<li class="error">{{ e }}</li>{% endfor %}</ul></div>{% endif %}
{% if message %}<p id="message" role="status">{{ message }}</p>{% endif %}
{% if info.state == "closed" %}<p id="closed">This session is closed; it is read-only.</p>
{% endif %}
"""

_ITEM_FIELDS = """
{% macro item_fields(items, prefix, editable, lo, hi) %}
{% for it in items %}
<fieldset id="{{ prefix }}item-{{ it.id }}">
<legend>Item {{ it.id }}</legend>
{% if it.ref %}<p class="ref" id="{{ prefix }}ref-{{ it.id }}">Evaluation:
{{ it.ref }}</p>{% endif %}
<h3>Input</h3><pre>{{ it.input }}</pre>
<h3>Output</h3><pre>{{ it.output }}</pre>
<label for="{{ prefix }}score-{{ it.id }}">Score ({{ lo }}–{{ hi }})</label>
<input type="number" id="{{ prefix }}score-{{ it.id }}" name="score-{{ it.id }}"
 min="{{ lo }}" max="{{ hi }}" step="any" value="{{ it.value }}"
{%- if not editable %} disabled{% endif %}>
{% if it.na_ok %}<input type="checkbox" id="{{ prefix }}na-{{ it.id }}" name="na-{{ it.id }}"
 value="1"{% if it.is_na %} checked{% endif %}{% if not editable %} disabled{% endif %}>
<label for="{{ prefix }}na-{{ it.id }}">N/A</label>{% endif %}
</fieldset>
{% endfor %}
{% endmacro %}
{% macro card_fields(items, prefix, editable) %}
{% for it in items %}
<fieldset id="{{ prefix }}item-{{ it.id }}" class="card-item">
<legend>Item {{ it.id }}</legend>
{% if it.ref %}<p class="ref" id="{{ prefix }}ref-{{ it.id }}">Evaluation:
{{ it.ref }}</p>{% endif %}
<div class="pair"><div class="texts">
<h3>Input</h3><pre>{{ it.input }}</pre>
<h3>Output</h3><pre>{{ it.output }}</pre>
</div><div class="questions">
{% for q in it.questions %}
<fieldset class="question" id="{{ prefix }}q-{{ q.id }}-{{ it.id }}">
<legend>{{ q.label }}{% if q.critical %} (critical){% endif %}</legend>
<p class="rubric">{{ q.rubric }}</p>
{% if q.points is not none %}
{% for value, text in q.points %}
<input type="radio" id="{{ prefix }}c-{{ q.id }}-{{ it.id }}-{{ loop.index0 }}"
 name="{{ q.name }}" value="{{ value }}"{% if q.value == value %} checked{% endif %}
{%- if not editable %} disabled{% endif %}>
<label for="{{ prefix }}c-{{ q.id }}-{{ it.id }}-{{ loop.index0 }}">{{ text }}</label>
{% endfor %}
{% if q.na_ok %}<input type="radio" id="{{ prefix }}na-{{ q.id }}-{{ it.id }}"
 name="{{ q.name }}" value="NA"{% if q.is_na %} checked{% endif %}
{%- if not editable %} disabled{% endif %}>
<label for="{{ prefix }}na-{{ q.id }}-{{ it.id }}">N/A</label>{% endif %}
{% else %}
<label for="{{ prefix }}c-{{ q.id }}-{{ it.id }}">Score ({{ q.lo }}–{{ q.hi }})</label>
<input type="number" id="{{ prefix }}c-{{ q.id }}-{{ it.id }}" name="{{ q.name }}"
 min="{{ q.lo }}" max="{{ q.hi }}" step="any" value="{{ q.value }}"
{%- if not editable %} disabled{% endif %}>
{% if q.na_ok %}<input type="checkbox" id="{{ prefix }}na-{{ q.id }}-{{ it.id }}"
 name="{{ q.na_name }}" value="1"{% if q.is_na %} checked{% endif %}
{%- if not editable %} disabled{% endif %}>
<label for="{{ prefix }}na-{{ q.id }}-{{ it.id }}">N/A</label>{% endif %}
{% endif %}
</fieldset>
{% endfor %}
</div></div>
</fieldset>
{% endfor %}
{% endmacro %}
{% macro board_table(board, people, pid, card) %}
<table id="round1-scores">
<thead><tr><th scope="col">item</th>{% if card %}<th scope="col">question</th>{% endif %}
{% for p in people %}<th scope="col">
{{ p.name }}{% if p.id == pid %} (you){% endif %}</th>{% endfor %}</tr></thead>
<tbody>
{% for item, q, cells in board %}<tr id="r1-row-{{ item }}{{ '-' ~ q if q }}">
<th scope="row">{{ item }}</th>{% if card %}<td>{{ q }}</td>{% endif %}
{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}
</tbody></table>
{% endmacro %}
{% macro score_form(form_id, action, items, prefix, editable, submit_label) %}
<form method="post" action="{{ action }}" id="{{ form_id }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
{% if card %}{{ card_fields(items, prefix, editable) }}
{% else %}{{ item_fields(items, prefix, editable, lo, hi) }}{% endif %}
{% if editable %}
<button type="submit" id="{{ form_id }}-save" name="action" value="save">Save</button>
<button type="submit" id="{{ form_id }}-submit" name="action" value="submit">
{{ submit_label }}</button>
{% endif %}
</form>
{% endmacro %}
"""

_PARTICIPANT = _BASE + _ITEM_FIELDS + """
<p>Participant: <strong id="participant-name">{{ name }}</strong>
{% if submitted %}(submitted; your round-1 scores are locked){% endif %}</p>
{% if due %}<p id="due">Scores due: {{ due }}{% if overdue %}
<strong id="overdue-note">(overdue)</strong>{% endif %}.</p>{% endif %}
<h2>Rubric</h2>
<p id="rubric-source">In force: {{ info.rubric_source }}.</p>
<pre id="rubric">{{ info.rubric or "(no rubric text)" }}</pre>
{% if card %}<p id="card-questions">A scorecard: score every question of every item
({{ info.criteria|length }} questions; each shows its own rubric and scale).</p>
{% else %}<p>Scale {{ lo }}–{{ hi }}.</p>{% endif %}
{% if labels %}<dl id="scale-labels">{% for point, text in labels.items() %}
<dt>{{ point }}</dt><dd>{{ text }}</dd>{% endfor %}</dl>{% endif %}
{% if load_error %}<p class="error" id="load-error">{{ load_error }}</p>{% endif %}
{% if notes is not none %}<h2>Rubric changes agreed in the review</h2>
{% if notes %}<ul id="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
{% else %}<p id="no-notes">None recorded.</p>{% endif %}{% endif %}
{% if round1 is not none %}
<h2>Round 1</h2>
{{ score_form("round1", "/p/" ~ token, round1, "", editable,
              "Submit (locks your scores)") }}
{% endif %}
{% if round2 is not none %}
<h2>Re-score round (round 2)</h2>
{% if round2_editable %}<p>Score these items again under the rubric as amended in the
discussion. Your round-2 scores are blind: nobody else sees them.</p>
{% else %}<p id="round2-submitted">You submitted round 2; your re-scores are locked.</p>{% endif %}
{{ score_form("round2", "/p/" ~ token ~ "/round2", round2, "r2-", round2_editable,
              "Submit round 2 (locks your re-scores)") }}
{% endif %}
{% if board is not none %}
{% if info.state in ("draft", "scoring") %}
<h2>Round 1 scores of the participants who have submitted</h2>
<p id="async-note">You have submitted, so the scores of every participant who has submitted
are shown (asynchronous calibration); the others appear once they submit.</p>
{% else %}
<h2>Round 1 scores of everyone</h2>
<p>The review has begun, so every participant's round-1 scores are shown.</p>
{% endif %}
{{ board_table(board, board_people, pid, card) }}
{% endif %}
{% endblock %}
"""

_OBSERVER = _BASE + _ITEM_FIELDS + """
<p>Observer: <strong id="observer-name">{{ name }}</strong>. You can read this session; you
cannot change anything.</p>
<p id="observer-sees">{{ sees_text }}</p>
{% if due %}<p id="due">Scores due: {{ due }}.</p>{% endif %}
{% if overdue %}<p id="overdue">Overdue (not submitted): {{ overdue|join(", ") }}</p>{% endif %}
<h2>Participants</h2>
<ul id="participants">{% for p in info.participants %}<li id="participant-{{ p.id }}">
{{ p.name }} ({{ p.id }}): {{ "submitted" if p.submitted else "not submitted" }}
{%- if p.imported %} (prior review){% endif %}</li>
{% endfor %}</ul>
<h2>Rubric</h2>
<p id="rubric-source">In force: {{ info.rubric_source }}.</p>
<pre id="rubric">{{ info.rubric or "(no rubric text)" }}</pre>
{% if refs %}<h2>Evaluations</h2>
<table id="refs"><thead><tr><th scope="col">item</th><th scope="col">conversation</th>
<th scope="col">date</th></tr></thead><tbody>
{% for item, r in refs %}<tr id="ref-{{ item }}"><th scope="row">{{ item }}</th>
<td>{{ r.conversation or "—" }}</td><td>{{ r.date or "—" }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
<h2>Round 1 scores</h2>
{% if board_people %}{{ board_table(board, board_people, none, card) }}
{% else %}<p id="no-scores">No scores to show yet.</p>{% endif %}
{% if rv %}<h2>Review</h2>
<p id="review-summary">{{ rv.flagged|length }} flagged
{{ "(item, question) pair(s)" if card else "item(s)" }}{% if rv.flagged %}:
{{ rv.flagged|map(attribute="label")|join(", ") }}{% endif %}. Among participants:
ICC(2,1) {{ stat(rv.icc) }}.</p>{% endif %}
{% if notes %}<h2>Rubric changes</h2>
<ul id="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
{% endblock %}
"""

_INSIGHTS = _BASE + """
<p><a id="back" href="/f/{{ token }}">Back to the session</a></p>
<p>Across the sessions of this store, from review on (before review the scores are blind
and nothing is flagged): which questions are flagged most often, and each rater's outliers
per question.</p>
<form method="get" action="/f/{{ token }}/insights" id="insights-form">
<label for="last">The last N sessions</label>
<input type="number" id="last" name="last" min="1" step="1" value="{{ last or '' }}">
<button type="submit" id="insights-button">Show</button>
</form>
<p id="insights-sessions">{{ ins.sessions|length }} reviewed session(s){% if last %} (at
most the last {{ last }}){% endif %}{% if ins.sessions %}:
{% for x in ins.sessions %}{{ x.name }} (<code>{{ x.id }}</code>, {{ x.flagged }}
flagged){{ "; " if not loop.last }}{% endfor %}{% endif %}.</p>
<h2>Questions flagged most often</h2>
<table id="insights-questions">
<thead><tr><th scope="col">question</th><th scope="col">sessions</th>
<th scope="col">pairs</th><th scope="col">flagged</th><th scope="col">share</th></tr></thead>
<tbody>{% for q in ins.questions %}
<tr id="iq-{{ q.question }}"><th scope="row">{{ q.question }}</th>
<td class="num">{{ q.sessions }}</td><td class="num">{{ q.pairs }}</td>
<td class="num">{{ q.flagged }}</td><td class="num">{{ pct(q.flagged_share) }}</td></tr>
{% endfor %}</tbody></table>
<h2>Raters: outliers per question</h2>
<table id="insights-raters">
<thead><tr><th scope="col">rater</th><th scope="col">question</th>
<th scope="col">scored</th><th scope="col">outliers</th></tr></thead>
<tbody>{% for r in ins.raters %}
<tr id="ir-{{ r.rater }}-{{ r.question }}"><th scope="row">{{ r.rater }}</th>
<td>{{ r.question }}</td><td class="num">{{ r.scored }}</td>
<td class="num">{{ r.outliers }}</td></tr>
{% endfor %}</tbody></table>
{% endblock %}
"""

_FACILITATOR = _BASE + """
<p><a id="insights-link" href="/f/{{ token }}/insights">Across sessions: the questions
flagged most often</a></p>
<h2>Participants</h2>
<ul id="participants">{% for p in info.participants %}<li id="participant-{{ p.id }}">
{{ p.name }} ({{ p.id }}): {{ "submitted" if p.submitted else "not submitted" }}
{%- if p.imported %} (prior review){% endif %}</li>
{% endfor %}</ul>
<p id="visibility">Visibility before review: {{ vis_text }}</p>
{% if due %}<p id="due">Scores due: {{ due }}.</p>{% endif %}
{% if overdue %}<p id="overdue">Overdue (not submitted): {{ overdue|join(", ") }}</p>{% endif %}
{% if info.state in ("draft", "scoring") %}
<form method="post" action="/f/{{ token }}/due" id="due-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label for="due-text">Due date (YYYY-MM-DD: the end of that day, UTC; or
YYYY-MM-DDTHH:MM)</label>
<input type="text" id="due-text" name="due" value="{{ due_text }}">
<button type="submit" id="due-button" name="action" value="due">
{{ "Extend the due date" if due else "Set a due date" }}</button>
</form>
{% endif %}
{% if info.observers %}<h2>Observers</h2>
<ul id="observers">{% for o in info.observers %}<li id="observer-{{ o.id }}">{{ o.name }}
({{ o.id }}): sees {{ "every saved score" if o.sees == "always" else
"submitted scores" }} before review</li>{% endfor %}</ul>{% endif %}
{% if refs %}<h2>Evaluations</h2>
<table id="refs"><thead><tr><th scope="col">item</th><th scope="col">conversation</th>
<th scope="col">date</th></tr></thead><tbody>
{% for item, r in refs %}<tr id="ref-{{ item }}"><th scope="row">{{ item }}</th>
<td>{{ r.conversation or "—" }}</td><td>{{ r.date or "—" }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
{% if info.state == "scoring" %}
<form method="post" action="/f/{{ token }}/review" id="begin-review">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="checkbox" id="force" name="force" value="1">
<label for="force">force (not everyone has submitted)</label>
<button type="submit" id="begin-review-button" name="action" value="begin-review">
Start the review</button>
</form>
{% endif %}
{% if info.output_path %}<p id="output">New anchor-set version:
<code id="output-path">{{ info.output_path }}</code></p>{% endif %}
{% if rv %}
<p><a id="log-link" href="/f/{{ token }}/log">Calibration log (Markdown)</a></p>
<h2>Review</h2>
{% if card %}<p>Threshold: SD above {{ pct(rv.threshold) }} of each question's range (on
pass/fail, any disagreement; unordered labels: more than one label);
{{ rv.flagged|length }} flagged (item, question) pair(s), {{ open_items|length }} without a
resolution.</p>
<p id="agreement">Among participants, on the scorecard total: ICC(2,1) {{ stat(rv.icc) }};
Krippendorff's alpha (interval) {{ stat(rv.alpha) }}.</p>
<table id="questions">
<thead><tr><th scope="col">question</th><th scope="col">scale</th>
<th scope="col">flagged</th><th scope="col">N/A</th><th scope="col">ICC(2,1)</th>
<th scope="col">Krippendorff's alpha</th></tr></thead>
<tbody>{% for q in rv.questions.values() %}
<tr id="question-{{ q.criterion }}"><th scope="row">{{ q.label }} ({{ q.criterion }})</th>
<td>{{ q.kind }}</td><td class="num">{{ q.n_flagged }}</td><td class="num">{{ q.n_na }}</td>
<td>{{ stat(q.icc) }}</td><td>{{ stat(q.alpha) }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p>Threshold (SD): {{ fmt(rv.threshold) }}; {{ rv.flagged|length }} flagged item(s),
{{ open_items|length }} without a resolution.</p>
<p id="agreement">Among participants: ICC(2,1) {{ stat(rv.icc) }};
Krippendorff's alpha (interval) {{ stat(rv.alpha) }}.</p>{% endif %}
{% if rv.left_out %}<p id="left-out">ICC and alpha are computed on the participants who
submitted; left out (not submitted when the review began):
{{ rv.left_out|join(", ") }}.</p>{% endif %}
<table id="review">
<thead><tr><th scope="col">item</th>{% if card %}<th scope="col">question</th>{% endif %}
<th scope="col">flag</th>
{% for p in rv.participants %}<th scope="col">{{ p }}</th>{% endfor %}
<th scope="col">n</th><th scope="col">N/A</th><th scope="col">mean</th>
<th scope="col">median</th><th scope="col">SD</th><th scope="col">range</th>
<th scope="col" title="range as a share of the scale range">share</th>
<th scope="col">outliers</th>
{% if with_base %}<th scope="col">Δ {{ rv.baseline_label or "baseline" }}</th>{% endif %}
<th scope="col">resolution</th></tr></thead>
<tbody>
{% for it in rv.items %}
{% set key = it.item_id ~ ('-' ~ it.criterion if it.criterion else '') %}
<tr class="{{ 'flagged' if it.flagged else 'ok' }}" id="row-{{ key }}">
<th scope="row">{{ it.item_id }}</th>{% if card %}<td>{{ it.criterion }}</td>{% endif %}
<td>{{ "⚑" if it.flagged else "" }}</td>
{% for p in rv.participants %}<td class="num{{ ' outlier' if p in it.outliers else '' }}">
{{- fmt(it.scores[p]) }}</td>{% endfor %}
<td class="num">{{ it.n }}</td><td class="num">{{ it.n_na }}</td>
<td class="num">{{ dec(it.mean) }}</td><td class="num">{{ dec(it.median) }}</td>
<td class="num">{{ dec(it.sd) }}</td>
<td class="num">{% if it.min is not none %}{{ fmt(it.min) }}–{{ fmt(it.max) }}
{%- else %}–{% endif %}</td>
<td class="num">{{ pct(it.range_share) }}</td>
<td>{{ it.outliers|join(", ") }}</td>
{% if with_base %}<td class="num">{{ dec(it.baseline_delta, true) }}</td>{% endif %}
<td id="resolution-{{ key }}" class="{{ 'resolved' if it.resolution else
('open' if it.flagged else '') }}">{% if it.resolution %}resolved: consensus
{{ fmt(it.resolution.consensus) }}
{% if it.resolution.rationale %}: {{ it.resolution.rationale }}{% endif %}
{% if it.resolution.note %} [{{ it.resolution.note }}]{% endif %}
{% elif it.flagged %}open{% endif %}</td>
</tr>
{% endfor %}
</tbody></table>
{% if info.state == "review" %}
<h2>Resolutions</h2>
{% for it in rv.flagged %}
{% set key = it.item_id ~ ('-' ~ it.criterion if it.criterion else '') %}
{% set v = res_values[key] %}{% set q = questions.get(it.criterion) %}
<form method="post" action="/f/{{ token }}/resolve" id="resolve-{{ key }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="item" value="{{ it.item_id }}">
{% if it.criterion %}<input type="hidden" name="criterion" value="{{ it.criterion }}">{% endif %}
<fieldset><legend>Item {{ it.item_id }}{% if q %}, question {{ q.label }}{% endif %}
{%- if it.resolution %} (resolved){% endif %}</legend>
{% if it.item_id in texts %}<details class="texts" id="texts-{{ key }}">
<summary>Input and output</summary>
<div class="pair"><pre>{{ texts[it.item_id][0] }}</pre><pre>{{ texts[it.item_id][1] }}</pre></div>
</details>{% endif %}
<label for="res-consensus-{{ key }}">Consensus</label>
{% if q and q.levels %}<select id="res-consensus-{{ key }}" name="consensus">
<option value=""{% if not v.consensus %} selected{% endif %}>(none)</option>
{% for lv in q.levels %}<option value="{{ lv }}"{% if v.consensus == lv %} selected{% endif %}>
{{- lv }}</option>{% endfor %}</select>
{% else %}<input type="number" id="res-consensus-{{ key }}" name="consensus"
 min="{{ q.lo if q else lo }}" max="{{ q.hi if q else hi }}" step="any"
 value="{{ v.consensus }}">{% endif %}
<label for="res-rationale-{{ key }}">Rationale</label>
<input type="text" id="res-rationale-{{ key }}" name="rationale"
 value="{{ v.rationale }}">
<label for="res-note-{{ key }}">Note</label>
<input type="text" id="res-note-{{ key }}" name="note" value="{{ v.note }}">
<button type="submit" id="res-button-{{ key }}" name="action" value="resolve">
{{ "Update resolution" if it.resolution else "Record resolution" }}</button>
</fieldset></form>
{% endfor %}
{% endif %}
{% endif %}
<h2>Rubric changes</h2>
{% if notes %}<ul id="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
{% else %}<p id="no-notes">None recorded.</p>{% endif %}
{% if info.state in ("review", "resolved") %}
<form method="post" action="/f/{{ token }}/note" id="note">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label for="note-text">Rubric change agreed in the discussion</label>
<textarea id="note-text" name="text" rows="3" cols="60">{{ note_text }}</textarea>
<button type="submit" id="note-button" name="action" value="add-note">Add note</button>
</form>
{% endif %}
{% if rv %}
<h2>Re-score round</h2>
{% if info.rescore_items %}
<p>Open on: <span id="rescore-items">{{ info.rescore_items|join(", ") }}</span>.</p>
<ul id="rescore-status">{% for p in info.participants %}<li id="r2-status-{{ p.id }}">
{{ p.name }} ({{ p.id }}): {{ "submitted round 2" if p.rescore_submitted
else "round 2 not submitted" }}</li>{% endfor %}</ul>
{% if eff_lines %}<h2>Effectiveness</h2>
<ul id="effectiveness">{% for id, line in eff_lines %}<li id="{{ id }}">{{ line }}</li>
{% endfor %}</ul>
{% else %}<p id="effectiveness-pending">The effectiveness is shown once every participant
has submitted round 2.</p>{% endif %}
{% elif info.state == "review" %}
<form method="post" action="/f/{{ token }}/rescore" id="rescore">
<input type="hidden" name="csrf" value="{{ csrf }}">
<fieldset><legend>Items to re-score (flagged items are pre-checked)</legend>
{% for item in info.item_ids %}
<input type="checkbox" id="rescore-item-{{ item }}" name="item" value="{{ item }}"
{%- if item in rescore_checked %} checked{% endif %}>
<label for="rescore-item-{{ item }}">{{ item }}</label>
{% endfor %}
</fieldset>
<button type="submit" id="rescore-button" name="action" value="open-rescore">
Open the re-score round</button>
</form>
{% else %}<p id="no-rescore">No re-score round.</p>{% endif %}
{% endif %}
{% if info.state == "review" %}
<h2>Finish</h2>
<form method="post" action="/f/{{ token }}/finish" id="finish">
<input type="hidden" name="csrf" value="{{ csrf }}">
<p>Writes the new anchor-set version beside the set (<code>&lt;stem&gt;.v&lt;N&gt;.jsonl</code>).
Every flagged item needs a resolution, and an open re-score round must be submitted by
everyone.</p>
<button type="submit" id="finish-button" name="action" value="finish">
Finish: write the new version</button>
</form>
{% elif info.state == "resolved" %}
<h2>Close</h2>
<form method="post" action="/f/{{ token }}/close" id="close">
<input type="hidden" name="csrf" value="{{ csrf }}">
<p>Closing makes the session read-only.</p>
<button type="submit" id="close-button" name="action" value="close">Close session</button>
</form>
{% endif %}
{% endblock %}
"""

_EFF_IDS = ("eff-before", "eff-after", "eff-gain", "eff-anchor")
_P_MESSAGES = {"1": "Scores saved.", "submitted": "Scores submitted and locked.",
               "r2": "Round-2 scores saved.", "r2submitted": "Round-2 scores submitted and locked."}
_F_MESSAGES = {"review": "Review started.", "resolved": "Resolution recorded.",
               "note": "Note recorded.", "rescore": "Re-score round opened.",
               "finished": "Session resolved; the new anchor-set version is written.",
               "closed": "Session closed.", "due": "Due date set."}
_VIS_TEXT = {
    "blind": "participants see only their own scores until the review.",
    "after-submit": "a participant who has submitted sees the scores of every peer who has "
                    "submitted (asynchronous calibration).",
}
_SEES_TEXT = {
    "always": "Before the review you see every participant's saved round-1 scores; from the "
              "review on, everyone's.",
    "submitted": "Before the review you see the round-1 scores of the participants who have "
                 "submitted them; from the review on, everyone's.",
}


def _ref_text(ref: ItemRef | None) -> str:
    """An item's evaluation reference as one line (empty without one)."""
    if ref is None:
        return ""
    parts = [f"conversation {ref.conversation}" if ref.conversation else "",
             ref.date or ""]
    return ", ".join(p for p in parts if p)


def _board(info: SessionInfo, visible: Mapping[str, Mapping[str, Any]],
           people: Sequence[Participant]) -> list[tuple[str, str | None, list[str]]]:
    """Rows ``(item, question, cells)`` of the round-1 scores of ``people``, one cell each."""
    if info.criteria is None:
        return [(item, None, [_fmt(visible.get(p.id, {}).get(item)) for p in people])
                for item in info.item_ids]
    return [(item, c, [_fmt(visible.get(p.id, {}).get(item, {}).get(c)) for p in people])
            for item in info.item_ids for c in info.criterion_ids]


def _fmt(value: Any) -> str:
    if value is None:
        return MISSING
    if value == NA:
        return NA_RATING
    if isinstance(value, str):
        return value  # a level of a label question
    return fmt_num(float(value))


def _row_key(item: str, criterion: str | None) -> str:
    """The id suffix of a review row: ``item``, or ``item-question`` in a scorecard."""
    return item if criterion is None else f"{item}-{criterion}"


def _dec(value: float | None, signed: bool = False) -> str:
    return signed_text(value) if signed else number_text(value)


_pct = share_text


def parse_form_scores(form: Mapping[str, str], *, open_items: list[str],
                      session_items: Iterable[str], na_items: Iterable[str],
                      scale: tuple[float, float], round: int) -> tuple[dict[str, Score],
                                                                       list[str]]:
    """The scores of a posted form (``score-<item>`` / ``na-<item>`` fields) and the errors.

    One validator for both rounds: only ``open_items`` may be scored; a score must be on
    ``scale``; N/A (the checkbox, or ``NA`` typed) only on ``na_items``, and not together
    with a score. Empty fields are skipped (saved later).
    """
    lo, hi = scale
    allowed, known, na_ok = set(open_items), set(session_items), set(na_items)
    errors: list[str] = []
    reported: set[str] = set()
    for key in form:
        if key.startswith(("score-", "na-")):
            item = key.split("-", 1)[1]
            if item not in allowed and item not in reported:
                reported.add(item)
                errors.append(f"item {item!r} is not open for scoring in round {round}"
                              if item in known else f"unknown item {item!r}")
    scores: dict[str, Score] = {}
    for item in open_items:
        text = form.get(f"score-{item}", "").strip()
        if form.get(f"na-{item}"):
            if item not in na_ok:
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
            if item not in na_ok:
                errors.append(f"item {item}: N/A is not allowed for this item")
            else:
                scores[item] = NA
            continue
        assert isinstance(v, float)  # parse_score: finite
        if not lo <= v <= hi:
            errors.append(f"item {item}: {text} is off the scale {scale_text(lo, hi)}")
            continue
        scores[item] = v
    return scores, errors


def card_field(criterion: str, item: str) -> str:
    """The form field of one (item, question) pair: ``c-<question>:<item>`` (a question id
    has no ``:``)."""
    return f"c-{criterion}:{item}"


def parse_form_card_scores(form: Mapping[str, str], *, open_items: list[str],
                           session_items: Iterable[str], criteria: list[Criterion],
                           round: int) -> tuple[dict[str, dict[str, str]], list[str]]:
    """A scorecard session's posted values (``c-<question>:<item>``, and
    ``na-<question>:<item>`` beside a number field) and the errors.

    Values are checked as the library checks them (:func:`harness.sessions._card.encode`):
    a level of a label question, a number on a numeric one, N/A (the radio button, the
    checkbox or ``NA`` typed) only where the question allows it, and not together with a
    number. Empty fields are skipped (saved later); only ``open_items`` may be scored.
    """
    allowed, known = set(open_items), set(session_items)
    specs = {c.id: c for c in criteria}
    errors: list[str] = []
    reported: set[str] = set()
    for key in form:
        if key.startswith(("c-", "na-")):
            cid, sep, item = key.split("-", 1)[1].partition(":")
            if not sep or cid not in specs:
                if key not in reported:
                    reported.add(key)
                    errors.append(f"unknown field {key!r}")
            elif item not in allowed and item not in reported:
                reported.add(item)
                errors.append(f"item {item!r} is not open for scoring in round {round}"
                              if item in known else f"unknown item {item!r}")
    scores: dict[str, dict[str, str]] = {}
    for item in open_items:
        for spec in criteria:
            text = form.get(card_field(spec.id, item), "").strip()
            where = f"item {item}, question {spec.id}"
            if form.get(f"na-{spec.id}:{item}"):
                if text:
                    errors.append(f"{where}: give a value or N/A, not both")
                    continue
                text = NA
            if not text:
                continue
            try:
                _card.encode(spec, text, where)
            except SessionError as exc:
                errors.append(str(exc))
                continue
            scores.setdefault(item, {})[spec.id] = text
    return scores, errors


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD = ("0.0.0.0", "::", "")
# a Host header (or --public-host): a DNS name or IPv4 address, or a bracketed IPv6 address,
# and an optional port; anything else (userinfo, path, spaces, a trailing dot) is refused
_HOST_RE = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?",
                      re.ASCII | re.IGNORECASE)


def _split_host(text: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of ``name[:port]``, the name lower-cased; None if malformed."""
    m = _HOST_RE.fullmatch(text)
    if m is None:
        return None
    port = None if m.group(2) is None else int(m.group(2))
    if port is not None and not 0 < port < 65536:
        return None
    return m.group(1).lower(), port


def _is_loopback(bind: str) -> bool:
    if bind.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServePlan:
    """How ``judgecal session serve`` serves a session (from :func:`serve_plan`).

    Attributes
    ----------
    hosts : list of str
        The ``Host`` header values the app answers (``name:port``), for
        :func:`create_app`'s ``hosts``.
    base : str
        The URL the printed links start with.
    warning : str or None
        What to print on stderr before serving (a non-loopback bind), else None.
    """

    hosts: list[str]
    base: str
    warning: str | None


def serve_plan(bind: str, port: int, *, public_hosts: Sequence[str] = (),
               allow_remote: bool = False) -> ServePlan:
    """The hosts, link base and start-up warning for serving on ``bind:port``.

    Parameters
    ----------
    bind : str
        The address to bind (``--host``). A loopback address (127.0.0.0/8, ``::1``,
        ``localhost``) answers to ``127.0.0.1``, ``localhost`` and ``[::1]``; another
        address to itself; a wildcard (``0.0.0.0``, ``::``) to the loopback names and
        ``public_hosts``, which it requires.
    port : int
        The port to bind.
    public_hosts : sequence of str
        ``NAME[:PORT]`` (``--public-host``): the names users type, e.g. a reverse proxy's;
        ``PORT`` defaults to ``port``. A ``Host`` header without a port matches any
        served name.
    allow_remote : bool
        Whether a non-loopback ``bind`` is allowed (``--allow-remote``).

    Returns
    -------
    ServePlan

    Raises
    ------
    ValueError
        A non-loopback bind without ``allow_remote``, a wildcard bind without
        ``public_hosts``, a malformed public host or an invalid port.
    """
    if not 0 < port < 65536:
        raise ValueError(f"invalid port {port}")
    loopback = _is_loopback(bind)
    if not loopback and not allow_remote:
        raise ValueError(f"refusing to bind {bind!r}: only a loopback address (127.0.0.1, "
                         "localhost, ::1) unless --allow-remote (the pages are protected by "
                         "tokens only, over plain HTTP)")
    public: list[tuple[str, int]] = []
    for text in public_hosts:
        hp = _split_host(text)
        if hp is None:
            raise ValueError(f"--public-host {text!r}: give a host name or address, "
                             "optionally with :PORT (no scheme or path)")
        public.append((hp[0], port if hp[1] is None else hp[1]))
    wildcard = bind.strip("[]") in _WILDCARD
    if wildcard and not public:
        raise ValueError(f"binding {bind!r} serves every interface: name the host that "
                         "participants type with --public-host NAME (the Host header of "
                         "every request is checked against it)")
    own = f"[{bind.strip('[]')}]" if ":" in bind else bind.lower()
    names = ([] if wildcard else [own]) + (list(LOOPBACK_NAMES) if loopback or wildcard else [])
    hosts = [f"{n}:{port}" for n in names] + [f"{n}:{p}" for n, p in public]
    base_name, base_port = public[0] if wildcard else (own, port)
    warning = None
    if not loopback:
        warning = (
            f"serving on {own}:{port}, reachable from other machines, over plain HTTP: "
            "the personal tokens in the links travel in the clear, and anyone on the "
            "network who has (or overhears) a link can score as that participant or act as "
            "the facilitator. Prefer binding 127.0.0.1 behind a TLS-terminating reverse "
            "proxy (e.g. Caddy or nginx) and give its name with --public-host.")
    return ServePlan(hosts=list(dict.fromkeys(hosts)),
                     base=f"http://{base_name}:{base_port}", warning=warning)


def _host_matcher(hosts: Iterable[str] | None) -> Any:
    """A predicate on a Host header: its name is one of ``hosts``' (``name[:port]``) and,
    when both give a port, the ports agree. None: the loopback names, any port."""
    allowed: dict[str, set[int | None]] = {}
    for text in LOOPBACK_NAMES if hosts is None else hosts:
        hp = _split_host(text)
        if hp is None:
            raise ValueError(f"not a host name: {text!r}")
        allowed.setdefault(hp[0], set()).add(hp[1])

    def matches(header: str | None) -> bool:
        hp = _split_host(header or "")
        if hp is None or hp[0] not in allowed:
            return False
        ports = allowed[hp[0]]
        return hp[1] is None or None in ports or hp[1] in ports

    return matches


def create_app(store: SessionStore, session_id: str, *,
               hosts: Iterable[str] | None = None) -> Flask:
    """A Flask app serving one session of ``store`` (SessionError if it does not exist).

    ``hosts`` are the ``Host`` header values it answers (``name[:port]``, e.g.
    :attr:`ServePlan.hosts`); default the loopback names on any port. A request naming
    another host gets 400 before any route runs.
    """
    session = store.get(session_id)
    secret = secrets.token_bytes(32)
    host_ok = _host_matcher(hosts)
    # the templates' folder holds base.html, which every page extends
    app = Flask(__name__, template_folder=str(templates.DIRECTORY))
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"  # no cookies are set; just in case
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20

    # compiled once (render_template_string compiles on every request); autoescaped, as
    # Flask's environment escapes templates without a file name
    participant_tpl = app.jinja_env.from_string(_PARTICIPANT)
    facilitator_tpl = app.jinja_env.from_string(_FACILITATOR)
    observer_tpl = app.jinja_env.from_string(_OBSERVER)
    insights_tpl = app.jinja_env.from_string(_INSIGHTS)
    escapes = app.jinja_env.autoescape
    if not (escapes is True or (escapes(None) and escapes("base.html"))):
        raise RuntimeError("the session pages need an autoescaping Jinja environment")

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
        if origin is not None:
            # the host checked by _check_host; http or https, as a TLS-terminating proxy
            # forwards https pages' forms to this plain-HTTP app
            scheme, sep, netloc = origin.partition("://")
            if not (sep and scheme in ("http", "https")
                    and netloc.rstrip("/").lower() == request.host.lower()):
                abort(403)
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode("utf-8"), csrf_for(token).encode("utf-8")):
            abort(403)

    @app.before_request
    def _check_host() -> flask.Response | None:
        # before routing's 404/405 and every view: nothing is read or stored for a
        # request addressed to another name (DNS rebinding)
        if not host_ok(request.headers.get("Host")):
            return flask.Response("Bad Request: unexpected Host header\n", status=400,
                                  content_type="text/plain; charset=utf-8")
        return None

    @app.after_request
    def _headers(resp: flask.Response) -> flask.Response:
        resp.headers["Content-Security-Policy"] = "default-src 'self'"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        # not "no-referrer": with it, browsers send "Origin: null" on the pages' own POSTs,
        # which check_post refuses; same-origin still keeps the URL (token) from other sites
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/static/session.css")
    def _stylesheet() -> flask.Response:
        return flask.Response(str(templates.stylesheet()), mimetype="text/css")

    @app.errorhandler(403)
    def _forbidden(_: Exception) -> tuple[str, int]:
        return "Forbidden\n", 403

    # ------------------------------------------------------------------ participant

    def item_rows(ids: list[str], saved: Mapping[str, Score], form: Mapping[str, str] | None,
                  texts: Mapping[str, tuple[str, str]], na_items: list[str],
                  refs: Mapping[str, ItemRef]) -> list[dict]:
        rows = []
        for item in ids:
            if form is not None:
                value = form.get(f"score-{item}", "")
                is_na = bool(form.get(f"na-{item}"))
            else:
                s = saved.get(item)
                value = fmt_num(float(s)) if s is not None and s != NA else ""
                is_na = s == NA
            inp, outp = texts.get(item, ("", ""))
            rows.append({"id": item, "input": inp, "output": outp, "value": value,
                         "is_na": is_na, "na_ok": item in na_items,
                         "ref": _ref_text(refs.get(item))})
        return rows

    def card_rows(ids: list[str], saved: Mapping[str, Mapping[str, Any]],
                  form: Mapping[str, str] | None, texts: Mapping[str, tuple[str, str]],
                  criteria: list[Criterion], refs: Mapping[str, ItemRef]) -> list[dict]:
        rows = []
        for item in ids:
            questions = []
            for spec in criteria:
                name = card_field(spec.id, item)
                if form is not None:
                    value = form.get(name, "")
                    is_na = value == NA or bool(form.get(f"na-{spec.id}:{item}"))
                else:
                    v = saved.get(item, {}).get(spec.id)
                    is_na = v == NA
                    value = "" if v is None or is_na else (
                        v if isinstance(v, str) else fmt_num(float(v)))
                lo_, hi_ = _card.code_range(spec)
                questions.append({
                    "id": spec.id, "label": spec.label, "rubric": spec.rubric,
                    "critical": spec.critical, "points": _card.points(spec), "name": name,
                    "na_name": f"na-{spec.id}:{item}", "value": "" if is_na else value,
                    "is_na": is_na, "na_ok": spec.na_allowed, "lo": fmt_num(lo_),
                    "hi": fmt_num(hi_)})
            inp, outp = texts.get(item, ("", ""))
            rows.append({"id": item, "input": inp, "output": outp, "questions": questions,
                         "ref": _ref_text(refs.get(item))})
        return rows

    def participant_page(token: str, pid: str, errors: list[str], message: str | None,
                         form: Mapping[str, str] | None = None, form_round: int = 1,
                         error_title: str = "Not saved:") -> str:
        info = session.info
        lo, hi = info.scale
        me = next(p for p in info.participants if p.id == pid)
        load_error = None
        texts: dict[str, tuple[str, str]] = {}
        labels: dict[str, str] = {}
        try:
            card = session.load_scorecard()
            texts = {it.id: (it.input, it.output) for it in card.items}
            if card.single is not None:
                labels = card.single.meta.scale.labels or {}
        except SessionError as exc:
            load_error = str(exc)

        def rows(ids: list[str], saved: Mapping[str, Any], round_: int) -> list[dict]:
            posted = form if form_round == round_ else None
            if info.criteria is not None:
                return card_rows(ids, saved, posted, texts, info.criteria, info.item_refs)
            return item_rows(ids, saved, posted, texts, info.na_items, info.item_refs)

        before_review = info.state in ("draft", "scoring")
        round1 = board = round2 = notes = None
        board_people: list[Participant] = []
        # the visibility rule: only their own before review (blind), their submitted peers'
        # too once they have submitted (after-submit), everyone's from review on
        visible = scores_visible_to(session, pid)
        if before_review:
            own = visible[pid]
            round1 = rows(info.item_ids, own, 1)
            if set(visible) != {pid}:
                board_people = [p for p in info.participants if p.id in visible]
                board = _board(info, visible, board_people)
        else:
            board_people = list(info.participants)
            board = _board(info, visible, board_people)
            notes = [text for _, text in session.notes()]
            if info.rescore_items:
                own2 = session.scores(2).get(pid, {})  # round 2 stays blind: own only
                round2 = rows(info.rescore_items, own2, 2)
        return participant_tpl.render(
            title="Calibration scoring", info=info, errors=errors,
            error_title=error_title, message=message, name=me.name, pid=pid,
            submitted=me.submitted, token=token, csrf=csrf_for(token), lo=fmt_num(lo),
            hi=fmt_num(hi), load_error=load_error, labels=labels, notes=notes, round1=round1,
            editable=info.state == "scoring" and not me.submitted, round2=round2,
            round2_editable=info.state == "review" and not me.rescore_submitted, board=board,
            board_people=board_people, card=info.criteria is not None,
            due=format_due(info.due_at) if info.due_at is not None else None,
            overdue=session.is_overdue() and not me.submitted)

    @app.get("/p/<token>")
    def participant_get(token: str) -> str:
        pid = require(token, "participant")
        assert pid is not None
        return participant_page(token, pid, [], _P_MESSAGES.get(request.args.get("saved", "")))

    def score_round(token: str, pid: str, round: int) -> Any:
        check_post(token)
        info = session.info
        open_items = info.item_ids if round == 1 else (info.rescore_items or [])
        scores: Mapping[str, Any]
        if info.criteria is not None:
            scores, errors = parse_form_card_scores(
                request.form, open_items=open_items, session_items=info.item_ids,
                criteria=info.criteria, round=round)
        else:
            scores, errors = parse_form_scores(
                request.form, open_items=open_items, session_items=info.item_ids,
                na_items=info.na_items, scale=info.scale, round=round)
        submit = request.form.get("action") == "submit"
        title = "Not saved:"
        if not errors:
            try:
                # called even with no scores: the library checks the state and the token
                session.score(pid, token, scores, round=round)
            except SessionError as exc:
                errors.append(str(exc))
            else:
                if submit:
                    try:
                        session.submit(pid, token, round=round)
                    except SessionError as exc:
                        errors.append(str(exc))
                        title = "Saved, but not submitted:"
        if errors:
            return participant_page(token, pid, errors, None, dict(request.form), round,
                                    title), 400
        done = ("submitted" if submit else "1") if round == 1 else (
            "r2submitted" if submit else "r2")
        return redirect(f"/p/{token}?saved={done}", code=303)

    @app.post("/p/<token>")
    def participant_post(token: str) -> Any:
        pid = require(token, "participant")
        assert pid is not None
        return score_round(token, pid, 1)

    @app.post("/p/<token>/round2")
    def participant_round2(token: str) -> Any:
        pid = require(token, "participant")
        assert pid is not None
        return score_round(token, pid, 2)

    # ------------------------------------------------------------------ facilitator

    def facilitator_page(token: str, errors: list[str], message: str | None, *,
                         posted: str | None = None) -> str:
        """``posted`` names the form whose submitted values are shown again (on an error)."""
        info = session.info
        rv = review(session) if info.state in ("review", "resolved", "closed") else None
        lo, hi = info.scale
        res_values: dict[str, dict[str, str]] = {}
        open_items: list[str] = []
        eff_lines: list[tuple[str, str]] = []
        rescore_checked: set[str] = set()
        texts: dict[str, tuple[str, str]] = {}
        questions: dict[str, dict[str, Any]] = {}
        for spec in info.criteria or []:
            qlo, qhi = _card.code_range(spec)
            questions[spec.id] = {"label": spec.label, "levels": spec.scale.levels,
                                  "lo": fmt_num(qlo), "hi": fmt_num(qhi)}
        if rv is not None:
            try:
                texts = session.item_texts()
            except SessionError as exc:
                errors = [*errors, str(exc)]
            for it in rv.items:
                r = it.resolution
                key = _row_key(it.item_id, it.criterion)
                res_values[key] = {
                    "consensus": _fmt(r.consensus) if r and r.consensus is not None else "",
                    "rationale": (r.rationale or "") if r else "",
                    "note": (r.note or "") if r else ""}
                if it.flagged and r is None:
                    open_items.append(it.label)
            posted_key = _row_key(request.form.get("item", ""),
                                  request.form.get("criterion") or None)
            if posted == "resolve" and posted_key in res_values:
                res_values[posted_key] = {
                    k: request.form.get(k, "") for k in ("consensus", "rationale", "note")}
            rescore_checked = ({it.item_id for it in rv.flagged} if posted != "rescore"
                               else set(request.form.getlist("item")))
            if info.rescore_items and all(p.rescore_submitted for p in info.participants):
                eff_lines = list(zip(_EFF_IDS, effectiveness(session).summary(), strict=True))
        return facilitator_tpl.render(
            title="Calibration review", info=info, errors=errors,
            error_title="Not done:", message=message, token=token, csrf=csrf_for(token),
            rv=rv, fmt=_fmt, lo=fmt_num(lo), hi=fmt_num(hi), res_values=res_values,
            open_items=open_items, notes=[text for _, text in session.notes()],
            note_text=request.form.get("text", "") if posted == "note" else "",
            rescore_checked=rescore_checked, eff_lines=eff_lines, dec=_dec, pct=_pct,
            stat=stat_text, with_base=rv is not None and (
                rv.baseline_label is not None or any(it.baseline is not None for it in rv.items)),
            card=info.criteria is not None, questions=questions, texts=texts,
            vis_text=_VIS_TEXT[info.visibility],
            due=format_due(info.due_at) if info.due_at is not None else None,
            overdue=session.overdue(), refs=sorted_refs(info),
            due_text=request.form.get("due", "") if posted == "due" else "")

    def sorted_refs(info: SessionInfo) -> list[tuple[str, ItemRef]]:
        return [(i, info.item_refs[i]) for i in info.item_ids if i in info.item_refs]

    @app.get("/f/<token>")
    def facilitator_get(token: str) -> str:
        require(token, "facilitator")
        return facilitator_page(token, [], _F_MESSAGES.get(request.args.get("done", "")))

    @app.get("/f/<token>/log")
    def facilitator_log(token: str) -> Any:
        require(token, "facilitator")
        state = session.state
        if state in ("draft", "scoring"):
            return flask.Response(
                f"cannot export the calibration log: session {session.id} is in state "
                f"{state!r}; scores are blind until review\n", status=409,
                content_type="text/plain; charset=utf-8")
        return flask.Response(
            calibration_log(session), content_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition":
                     f'inline; filename="calibration-{session.id}.md"'})

    def facilitator_action(token: str, action: Any, done: str, posted: str | None = None,
                           errors: list[str] | None = None) -> Any:
        """Run ``action()`` (after the checks); 400 with the errors, else 303 to the page."""
        errors = list(errors or [])
        if not errors:
            try:
                action()
            except SessionError as exc:
                errors.append(str(exc))
        if errors:
            return facilitator_page(token, errors, None, posted=posted), 400
        return redirect(f"/f/{token}?done={done}", code=303)

    @app.post("/f/<token>/review")
    def facilitator_review(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        return facilitator_action(
            token, lambda: session.begin_review(token, force=bool(request.form.get("force"))),
            "review")

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
        consensus: float | str | None = None
        text = request.form.get("consensus", "").strip()
        criterion = request.form.get("criterion") or None
        if info.criteria is not None:
            try:
                spec = info.spec(criterion or "")
            except SessionError as exc:
                errors.append(str(exc))
            else:
                if text:
                    try:
                        _card.encode(spec, text, f"consensus for item {item}, question "
                                                 f"{spec.id}")
                        consensus = text  # the library codes it (and refuses N/A)
                    except SessionError as exc:
                        errors.append(str(exc))
        elif criterion is not None:
            errors.append("this session scores one criterion: no question to name")
        elif text:
            try:
                consensus = float(text)
            except ValueError:
                errors.append(f"consensus {text!r} is not a number")
            else:
                if not lo <= consensus <= hi:  # also refuses nan and inf
                    errors.append(f"consensus {text} is off the scale "
                                  f"{scale_text(lo, hi)}")
        rationale = request.form.get("rationale", "").strip() or None
        note = request.form.get("note", "").strip() or None
        return facilitator_action(
            token, lambda: session.resolve_item(item, token, consensus=consensus,
                                                rationale=rationale, note=note,
                                                criterion=criterion),
            "resolved", "resolve", errors)

    @app.post("/f/<token>/note")
    def facilitator_note(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        return facilitator_action(
            token, lambda: session.add_note(request.form.get("text", ""), token), "note",
            "note")

    @app.post("/f/<token>/rescore")
    def facilitator_rescore(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        items = request.form.getlist("item")
        return facilitator_action(token, lambda: session.open_rescore(items, token),
                                  "rescore", "rescore")

    @app.post("/f/<token>/finish")
    def facilitator_finish(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)

        def finish() -> None:
            try:
                session.mark_resolved(token)  # the default <stem>.v<N>.jsonl; no path
            except OSError as exc:
                raise SessionError(f"could not write the new anchor-set version: "
                                   f"{exc.strerror or exc}") from exc

        return facilitator_action(token, finish, "finished")

    @app.post("/f/<token>/due")
    def facilitator_due(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        return facilitator_action(
            token, lambda: session.extend_due(request.form.get("due", ""), token), "due",
            "due")

    @app.get("/f/<token>/insights")
    def facilitator_insights(token: str) -> Any:
        require(token, "facilitator")
        text = request.args.get("last", "").strip()
        last: int | None = None
        if text:
            if not text.isascii() or not text.isdigit() or int(text) < 1:
                return flask.Response(f"last must be a whole number of at least 1, got "
                                      f"{text!r}\n", status=400,
                                      content_type="text/plain; charset=utf-8")
            last = int(text)
        return insights_tpl.render(
            title="Across sessions", info=session.info, errors=[], message=None,
            token=token, ins=insights(store, last=last), last=last, pct=_pct)

    # ------------------------------------------------------------------ observer

    @app.get("/o/<token>")
    def observer_get(token: str) -> str:
        oid = require(token, "observer")
        assert oid is not None
        info = session.info
        me = next(o for o in info.observers if o.id == oid)
        visible = scores_visible_to_observer(session, oid)
        people = [p for p in info.participants if p.id in visible]
        rv = review(session) if info.state in ("review", "resolved", "closed") else None
        return observer_tpl.render(
            title="Calibration (observer)", info=info, errors=[], message=None,
            name=me.name, sees_text=_SEES_TEXT[me.sees], board=_board(info, visible, people),
            board_people=people, card=info.criteria is not None, rv=rv, stat=stat_text,
            due=format_due(info.due_at) if info.due_at is not None else None,
            overdue=session.overdue(), refs=sorted_refs(info),
            notes=[text for _, text in session.notes()] if rv is not None else [])

    @app.post("/f/<token>/close")
    def facilitator_close(token: str) -> Any:
        require(token, "facilitator")
        check_post(token)
        return facilitator_action(token, lambda: session.close(token), "closed")

    return app


__all__ = ["LOOPBACK_NAMES", "ServePlan", "card_field", "create_app", "parse_form_card_scores",
           "parse_form_scores", "serve_plan"]
